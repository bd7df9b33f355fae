// Package columnar implements the columnar-query stage: queries served
// straight from a parquet dataset on storage, as a columnar engine serves
// them. A query picks a file, reads its footer (once per file while a
// bounded cache holds it), skips the row groups whose min and max
// statistics rule the predicate out, and fetches only the projected
// columns' chunks of the rest, each run of chunks adjacent in the file in
// one ranged read. It reports latency per query, queries and rows per
// second, and the bytes that came back from storage against the bytes of
// the files queried.
//
// Adjacent chunks are coalesced, gaps never: a run of adjacent chunks is
// the same bytes as its chunks read one by one, in one request instead of
// several, which is what an object store's per-request latency rewards
// (dlrm's 40 training columns are adjacent, so a row group is one request,
// not 40). Reading across a gap would fetch bytes no column asked for,
// and bytes_read would no longer be the projection's.
//
// Each worker runs its queries one after the other, a query's runs one
// after the other, through its one buffer of readBytes: memory is that
// buffer per worker, plus the footer cache's bound and a footer per worker
// being read, whatever the files' sizes.
package columnar

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/format/parquet"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#ColumnarQuery.
type Spec struct {
	dsl.Common
	Dataset    string     `json:"dataset"`
	Columns    []string   `json:"columns,omitempty"`
	Predicate  *Predicate `json:"predicate,omitempty"`
	Queries    int64      `json:"queries"`
	Workers    int        `json:"workers"`
	CacheBytes int64      `json:"cache_bytes"`
}

// Predicate mirrors schema.#ColumnarPredicate. The bounds stay numbers as
// written until the column's type says how to read them: an int64 bound
// needs all of its digits, which a float64 would round.
type Predicate struct {
	Column string       `json:"column"`
	Min    *json.Number `json:"min,omitempty"`
	Max    *json.Number `json:"max,omitempty"`
}

func init() {
	stages.Register(stages.Kind{Name: "columnar-query", Plan: plan})
}

// readBytes is the size of each read call into a worker's buffer: a
// worker's memory, whatever the size of the runs it fetches.
const readBytes = 1 << 20

type task struct {
	id     string
	spec   Spec
	seed   uint64
	layout *dataset.Layout
	pq     parquet.Spec
	// names is the projection as Select takes it: the spec's columns, or
	// every column.
	names []string
	// pred is the predicate's range, nil without one.
	pred *bounds
	// perFile is the bytes of a file's projected chunks, the predicate's
	// included; footer what opening a file reads; fileBytes a file's size.
	perFile, footer, fileBytes int64
	leaves                     int // the projection's column chunks per row group
	pageCache                  bool
}

// bounds is a predicate's range in the column's own type.
type bounds struct {
	column string
	float  bool
	// For an integer column.
	lo, hi int64
	// For a floating point one.
	flo, fhi float64
}

func plan(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(path ...any) []any { return append([]any{"stages", id}, path...) }
	l, err := dataset.Resolve(w, s.Dataset, at("dataset")...)
	if err != nil {
		return nil, err
	}
	if l.Access() != dataset.RowGroups {
		return nil, w.ErrorAt(at("dataset"), "a columnar query reads parquet files, and dataset %s is %s: name a parquet dataset", l.Name, l.Format)
	}
	if err := in.Stores(l.Target, fmt.Sprintf("dataset %s has no footers to read: query a dataset on a target that stores", l.Name), at("dataset")...); err != nil {
		return nil, err
	}
	t := &task{id: id, spec: s, seed: w.Seed, layout: l, pageCache: in.Targets[l.Target].Traits.PageCache}
	t.pq = parquet.Spec{RowGroupRows: l.Parquet.RowGroupRows, Rows: l.SamplesPerFile}
	for _, c := range l.Parquet.Columns {
		t.pq.Columns = append(t.pq.Columns, parquet.Column(c))
	}
	if s.Columns != nil && len(s.Columns) == 0 {
		return nil, w.ErrorAt(at("columns"), "columns is empty: name the columns to read, or leave columns out to read every column")
	}
	for i, name := range s.Columns {
		if _, err := parquet.ColumnBytes(t.pq, []string{name}); err != nil {
			return nil, w.ErrorAt(at("columns", i), "dataset %s has %s", l.Name, strings.TrimPrefix(err.Error(), "parquet: "))
		}
	}
	t.names = s.Columns
	if p := s.Predicate; p != nil {
		if t.pred, err = predicate(w, at("predicate"), l, t.pq, p); err != nil {
			return nil, err
		}
		if !slices.Contains(t.names, p.Column) && t.names != nil {
			// An engine fetches the predicate's column to filter the rows of
			// the groups it keeps (this stage does not decode the values).
			t.names = append(slices.Clip(t.names), p.Column)
		}
	}
	names := t.names
	if names == nil {
		names = columnNames(l.Parquet.Columns)
	}
	if t.perFile, err = parquet.ColumnBytes(t.pq, names); err != nil {
		return nil, err // the names were checked one by one
	}
	if t.footer, err = parquet.OpenBytes(t.pq); err != nil {
		return nil, err
	}
	t.fileBytes = l.FileSize(0) // parquet rows have one size: so do the files
	for _, c := range l.Parquet.Columns {
		for k := range max(c.Repeat, 1) {
			name := c.Name
			if c.Repeat > 1 {
				name = fmt.Sprintf("%s_%d", c.Name, k)
			}
			if selects(names, c.Name, name) {
				t.leaves++
			}
		}
	}
	// Every figure of the plan must fit in 64 bits.
	if float64(s.Queries)*float64(t.perFile+t.footer) > math.MaxInt64/4 {
		return nil, w.ErrorAt(at("queries"), "%d queries of %s each read more than 2 EiB: lower queries", s.Queries, measure.IEC(t.perFile))
	}
	return t, nil
}

// selects reports whether the projection names selects the column name,
// a copy of base (or base itself).
func selects(names []string, base, name string) bool {
	return slices.Contains(names, name) || slices.Contains(names, base)
}

// columnNames lists the columns of a dataset, copies expanded.
func columnNames(cols []dsl.Column) []string {
	var names []string
	for _, c := range cols {
		if c.Repeat <= 1 {
			names = append(names, c.Name)
			continue
		}
		for k := range c.Repeat {
			names = append(names, fmt.Sprintf("%s_%d", c.Name, k))
		}
	}
	return names
}

// predicate checks p against the dataset's columns and returns its range
// in the column's type.
func predicate(w *dsl.Workload, at []any, l *dataset.Layout, pq parquet.Spec, p *Predicate) (*bounds, error) {
	field := func(f string) []any { return append(slices.Clip(at), f) }
	var col *dsl.Column
	for i, c := range l.Parquet.Columns {
		if c.Name == p.Column && c.Repeat > 1 {
			return nil, w.ErrorAt(field("column"), "column %s of dataset %s is %d columns (%s_0..%s_%d): a predicate is on one of them, such as %s_0",
				c.Name, l.Name, c.Repeat, c.Name, c.Name, c.Repeat-1, c.Name)
		}
		if c.Name == p.Column || c.Repeat > 1 && slices.Contains(columnNames([]dsl.Column{c}), p.Column) {
			col = &l.Parquet.Columns[i]
		}
	}
	if col == nil {
		_, err := parquet.ColumnBytes(pq, []string{p.Column})
		if err == nil { // a name Select takes that is no column's: a repeated column's
			err = fmt.Errorf("no column %q", p.Column)
		}
		return nil, w.ErrorAt(field("column"), "dataset %s has %s", l.Name, strings.TrimPrefix(err.Error(), "parquet: "))
	}
	b := &bounds{column: p.Column}
	switch col.Type {
	case "int32", "int64":
	case "float32", "float64":
		b.float = true
	default:
		return nil, w.ErrorAt(field("column"), "column %s of dataset %s is %s, whose chunks carry no min and max statistics: a predicate is on an int32, int64, float32 or float64 column",
			p.Column, l.Name, col.Type)
	}
	if p.Min == nil && p.Max == nil {
		return nil, w.ErrorAt(at, "a predicate needs min, max or both: a range on column %s", p.Column)
	}
	b.lo, b.hi = math.MinInt64, math.MaxInt64
	b.flo, b.fhi = math.Inf(-1), math.Inf(1)
	var lo, hi *big.Rat
	for _, e := range []struct {
		name string
		n    *json.Number
		r    **big.Rat
		i    *int64
		f    *float64
	}{{"min", p.Min, &lo, &b.lo, &b.flo}, {"max", p.Max, &hi, &b.hi, &b.fhi}} {
		if e.n == nil {
			continue
		}
		r, ok := new(big.Rat).SetString(e.n.String())
		if !ok {
			return nil, w.ErrorAt(field(e.name), "%s is not a number", e.n)
		}
		*e.r = r
		if !b.float {
			if !r.IsInt() {
				return nil, w.ErrorAt(field(e.name), "column %s is %s: %s must be an integer, not %s", p.Column, col.Type, e.name, e.n)
			}
			// A bound past the int64s matches like the int64 nearest it:
			// no value lies beyond.
			*e.i = clampInt(r.Num())
		} else {
			*e.f, _ = r.Float64()
		}
	}
	if lo != nil && hi != nil && lo.Cmp(hi) > 0 {
		return nil, w.ErrorAt(field("max"), "max %s is below min %s: no row could match", p.Max, p.Min)
	}
	return b, nil
}

func clampInt(x *big.Int) int64 {
	switch {
	case x.IsInt64():
		return x.Int64()
	case x.Sign() < 0:
		return math.MinInt64
	}
	return math.MaxInt64
}

// skip reports whether row group g of f cannot hold a row in b's range
// by its statistics; known is false when the chunk has none to go by, or
// of another type than the dataset defines, and the group is read.
func (b *bounds) skip(f *parquet.File, g, chunk int) (skip, known bool) {
	st, ok := f.Stats(g, chunk)
	if !ok || st.Float != b.float {
		return false, false
	}
	if b.float {
		return st.MaxFloat < b.flo || st.MinFloat > b.fhi, true
	}
	return st.MaxInt < b.lo || st.MinInt > b.hi, true
}

func (b *bounds) String() string {
	if b.float {
		return fmt.Sprintf("%s in [%g, %g]", b.column, b.flo, b.fhi)
	}
	return fmt.Sprintf("%s in [%d, %d]", b.column, b.lo, b.hi)
}

func (t *task) Reads() []string  { return []string{t.spec.Dataset} }
func (t *task) Writes() []string { return nil }

// Work is the bytes of the projection of every query's file, and of the
// footers: read once a file when the cache can hold every file's, else
// once a query. The predicate's skips and the cache's evictions are not
// known before the run, so the figures are expectations.
func (t *task) Work() stages.Work {
	q := t.spec.Queries
	opens := q
	if t.spec.CacheBytes > 0 {
		opens = min(q, t.layout.Files)
	}
	groups := (t.layout.SamplesPerFile + t.pq.RowGroupRows - 1) / t.pq.RowGroupRows
	return stages.Work{
		ReadBytes: q*t.perFile + opens*t.footer,
		Files:     q,
		Ops:       q*groups + opens,
		Expected:  true,
	}
}

func (t *task) Concurrency() int { return t.spec.Workers }

func (t *task) Describe() string {
	l := t.layout
	cols := fmt.Sprintf("%d of %d columns", t.leaves, len(columnNames(l.Parquet.Columns)))
	desc := fmt.Sprintf("runs %d columnar queries on dataset %s (%d parquet files of %s), each of one file: %s (%.1f%% of its bytes)",
		t.spec.Queries, l.Name, l.Files, measure.IEC(t.fileBytes), cols, 100*float64(t.perFile)/float64(t.fileBytes))
	if t.pred != nil {
		desc += ", row groups skipped by their statistics unless " + t.pred.String()
	}
	cache := "no footer cache"
	if t.spec.CacheBytes > 0 {
		cache = "a footer cache of " + measure.IEC(t.spec.CacheBytes)
	}
	return desc + fmt.Sprintf(", %d workers, %s", t.spec.Workers, cache)
}

// Warnings flags a dataset the host's page cache could hold, when the
// target reads through it: repeated queries of a file would then measure
// memory.
func (t *task) Warnings(h stages.Host) []string {
	l := t.layout
	if data := l.TotalBytes(); t.pageCache && h.MemoryBytes > 0 && data <= h.MemoryBytes {
		return []string{fmt.Sprintf("dataset %s (%s) fits in this host's memory (%s): queries may be served from the page cache",
			l.Name, measure.IEC(data), measure.IEC(h.MemoryBytes))}
	}
	return nil
}

// Headline says the stage's key figures in one line.
func (t *task) Headline(m stages.Metrics) string {
	q, _ := m["queries"].(int64)
	qps, _ := m["throughput_qps"].(float64)
	p99, _ := m["p99_latency_ms"].(float64)
	read, _ := m["bytes_read"].(int64)
	files, _ := m["file_bytes"].(int64)
	frac, _ := m["bytes_read_fraction"].(float64)
	rgRead, _ := m["row_groups_read"].(int64)
	rgSkip, _ := m["row_groups_skipped"].(int64)
	hits, _ := m["footer_cache_hits"].(int64)
	misses, _ := m["footer_cache_misses"].(int64)
	line := fmt.Sprintf("%d queries at %.1f qps, p99 %.2f ms; read %s of the %s queried (%.1f%%), %d row groups read",
		q, qps, p99, measure.IEC(read), measure.IEC(files), 100*frac, rgRead)
	if t.pred != nil {
		line += fmt.Sprintf(", %d skipped", rgSkip)
	}
	return line + fmt.Sprintf("; footers: %d from the cache, %d read", hits, misses)
}
