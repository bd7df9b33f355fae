package columnar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/format/parquet"
	"mlps.dev/mlps/stages/measure"
)

// openFile is a file's footer and what the query selects in it.
type openFile struct {
	pf   *parquet.File
	cols []int // the projection's column chunks, the predicate's included
	pred int   // the predicate's column chunk, or -1
}

// counts are one worker's figures, summed at the end; across processes
// each process sends its sum to the lead (part).
type counts struct {
	Queries     int64 `json:"queries"`
	Rows        int64 `json:"rows"`
	Bytes       int64 `json:"bytes"`
	FooterBytes int64 `json:"footer_bytes"`
	FileBytes   int64 `json:"file_bytes"`
	GroupsRead  int64 `json:"row_groups_read"`
	GroupsSkip  int64 `json:"row_groups_skipped"`
	NoStats     int64 `json:"row_groups_without_statistics"` // row groups read for want of statistics
	Hits        int64 `json:"footer_cache_hits"`
	Misses      int64 `json:"footer_cache_misses"`
	Reads       int64 `json:"reads"`
}

func (c *counts) add(o *counts) {
	c.Queries += o.Queries
	c.Rows += o.Rows
	c.Bytes += o.Bytes
	c.FooterBytes += o.FooterBytes
	c.FileBytes += o.FileBytes
	c.GroupsRead += o.GroupsRead
	c.GroupsSkip += o.GroupsSkip
	c.NoStats += o.NoStats
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.Reads += o.Reads
}

// worker runs queries one after the other with its own buffer, meter
// and figures.
type worker struct {
	t      *task
	b      backends.Backend
	rec    *measure.Worker
	cache  *footerCache
	buf    []byte
	rng    *rand.Rand
	pcg    *rand.PCG
	lat    *measure.Histogram
	counts counts
}

// Ranks is the stage's workers over all processes, as many as run: a
// stage of fewer queries than workers runs a worker a query
// (stages.Spread).
func (t *task) Ranks() int { return int(min(int64(t.spec.Workers), t.spec.Queries)) }

// Run runs the stage's queries. Across processes each runs its share of
// the workers and of the query numbers (queryRange), with a footer cache
// of its own as each host's engine would have, all start the queries
// together, and the lead gathers every process's counters and latencies,
// so that its metrics are of every query, as in a run of one process.
func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.layout.Target)
	if err != nil {
		return nil, err
	}
	group := env.Group()
	_, local := group.(stages.LocalGroup)
	ranks := t.Ranks()
	first, count := group.Share(ranks)
	lo, hi := queryRange(first, count, ranks, t.spec.Queries)
	cache := newFooterCache(t.spec.CacheBytes)
	workers := make([]*worker, min(int64(count), hi-lo))
	for i := range workers {
		pcg := rand.NewPCG(0, 0)
		workers[i] = &worker{t: t, b: b, rec: env.Meter.Worker(), cache: cache, buf: make([]byte, readBytes),
			pcg: pcg, rng: rand.New(pcg), lat: measure.NewHistogram()}
	}
	name := "columnar-query/" + env.Stage
	if !local {
		// The slowest process's time then spans every process's queries.
		if err := group.Sync(ctx, name); err != nil {
			return nil, fmt.Errorf("starting the queries with the other processes: %w", err)
		}
	}
	var next atomic.Int64
	next.Store(lo)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error {
			for {
				q := next.Add(1) - 1
				if q >= hi {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := w.query(gctx, q); err != nil {
					return err
				}
			}
		})
	}
	err = g.Wait()
	p := part{Seconds: time.Since(start).Seconds(), Latency: measure.NewHistogram()}
	for _, w := range workers {
		p.Counts.add(&w.counts)
		p.Latency.Merge(w.lat)
	}
	if err == nil && !local {
		err = t.gather(ctx, group, name, &p)
	}
	return t.metrics(&p), err
}

// part is a process's figures as it sends them to the lead: counters, its
// queries' time and their latency histogram, never a record per query.
type part struct {
	Counts  counts             `json:"counts"`
	Seconds float64            `json:"seconds"`
	Latency *measure.Histogram `json:"latency"`
}

// gather sends this process's figures to the lead, which adds every
// other process's to its own p, each checked first, with the slowest
// process's seconds: the processes started together.
func (t *task) gather(ctx context.Context, group stages.Group, name string, p *part) error {
	parts, err := group.Gather(ctx, name+"/figures", p)
	if err != nil {
		return fmt.Errorf("gathering the processes' figures: %w", err)
	}
	if !group.Lead() {
		return nil
	}
	// Part 0 is the lead's own, already in p.
	for i, raw := range parts[1:] {
		proc := i + 1
		var o part
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("process %d's figures: %w", proc, err)
		}
		if err := t.check(&o, proc, len(parts)); err != nil {
			return fmt.Errorf("process %d's figures: %w", proc, err)
		}
		p.Counts.add(&o.Counts)
		p.Seconds = max(p.Seconds, o.Seconds)
		p.Latency.Merge(o.Latency)
	}
	return nil
}

// check holds process proc's part, of procs, to what its share of the
// queries must give: all of its queries, each one latency, one footer
// each from the cache or storage, every row group of its file read or
// skipped.
func (t *task) check(o *part, proc, procs int) error {
	first, count := stages.ShareOf(proc, procs, t.Ranks())
	lo, hi := queryRange(first, count, t.Ranks(), t.spec.Queries)
	c := &o.Counts
	for _, n := range []int64{c.Queries, c.Rows, c.Bytes, c.FooterBytes, c.FileBytes, c.GroupsRead, c.GroupsSkip, c.NoStats, c.Hits, c.Misses, c.Reads} {
		if n < 0 {
			return fmt.Errorf("a negative count: %+v", *c)
		}
	}
	groups := (t.layout.SamplesPerFile + t.pq.RowGroupRows - 1) / t.pq.RowGroupRows
	switch {
	case o.Latency == nil:
		return errors.New("no latencies")
	case c.Queries != hi-lo:
		return fmt.Errorf("%d queries, its share is %d (queries %d-%d)", c.Queries, hi-lo, lo, hi-1)
	case o.Latency.Count() != uint64(c.Queries):
		return fmt.Errorf("%d latencies of %d queries", o.Latency.Count(), c.Queries)
	case c.Hits+c.Misses != c.Queries:
		return fmt.Errorf("%d footers from the cache and %d read for %d queries", c.Hits, c.Misses, c.Queries)
	case c.GroupsRead+c.GroupsSkip != c.Queries*groups:
		return fmt.Errorf("%d row groups read and %d skipped by %d queries of %d row groups each", c.GroupsRead, c.GroupsSkip, c.Queries, groups)
	case c.FooterBytes > c.Bytes:
		return fmt.Errorf("%d bytes of footers of %d read", c.FooterBytes, c.Bytes)
	case math.IsNaN(o.Seconds) || math.IsInf(o.Seconds, 0) || o.Seconds < 0:
		return fmt.Errorf("%v seconds", o.Seconds)
	}
	return nil
}

// metrics are the stage's figures from p, one process's or, gathered on
// the lead, every process's.
func (t *task) metrics(p *part) stages.Metrics {
	c, lat, secs := &p.Counts, p.Latency, p.Seconds
	ms := func(q float64) float64 { return float64(lat.Quantile(q)) / 1e6 }
	m := stages.Metrics{
		"queries":             c.Queries,
		"throughput_qps":      perSecond(float64(c.Queries), secs),
		"mean_latency_ms":     float64(lat.Mean()) / 1e6,
		"p50_latency_ms":      ms(0.50),
		"p95_latency_ms":      ms(0.95),
		"p99_latency_ms":      ms(0.99),
		"p999_latency_ms":     ms(0.999),
		"rows_read":           c.Rows,
		"rows_per_second":     perSecond(float64(c.Rows), secs),
		"bytes_read":          c.Bytes,
		"footer_bytes_read":   c.FooterBytes,
		"file_bytes":          c.FileBytes,
		"bytes_read_fraction": 0.0,
		"reads":               c.Reads,
		"row_groups_read":     c.GroupsRead,
		"row_groups_skipped":  c.GroupsSkip,
		"footer_cache_hits":   c.Hits,
		"footer_cache_misses": c.Misses,
	}
	if c.FileBytes > 0 {
		m["bytes_read_fraction"] = float64(c.Bytes) / float64(c.FileBytes)
	}
	if t.pred != nil {
		m["row_groups_without_statistics"] = c.NoStats
	}
	return m
}

// queryRange is the query numbers lo..hi-1 of a process that runs
// workers first..first+count-1 of all: the stage's queries split in
// proportion to the workers, in order, so that the processes' ranges are
// apart and together exactly 0..queries-1. A query's file is drawn from
// its number, so which process runs it changes nothing it reads.
func queryRange(first, count, all int, queries int64) (lo, hi int64) {
	// queries×first could overflow where queries mod all × first, below
	// all², cannot.
	at := func(k int) int64 {
		n := int64(all)
		return queries/n*int64(k) + queries%n*int64(k)/n
	}
	return at(first), at(first + count)
}

func perSecond(x, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return x / secs
}

// query runs query q: its file is drawn from the workload's seed and the
// query's number, so that a run's queries are the same whatever the
// workers' timing.
func (w *worker) query(ctx context.Context, q int64) error {
	t := w.t
	start := time.Now()
	w.pcg.Seed(t.seed, content.Stream("columnar-query/"+t.id, q))
	file := w.rng.Int64N(t.layout.Files)
	name := t.layout.FileName(file)
	of, hit, err := w.cache.get(file, func() (*openFile, int64, error) { return w.open(ctx, file, name) })
	if err != nil {
		return fmt.Errorf("query %d: %s: %w", q, name, err)
	}
	if hit {
		w.counts.Hits++
	} else {
		w.counts.Misses++
	}
	fetch := func(off, n int64) (io.ReadCloser, error) { return w.fetch(ctx, name, off, n) }
	for g := range of.pf.NumRowGroups() {
		if of.pred >= 0 {
			skip, known := t.pred.skip(of.pf, g, of.pred)
			if !known {
				w.counts.NoStats++
			}
			if skip {
				w.counts.GroupsSkip++
				continue
			}
		}
		if _, err := of.pf.ReadRowGroupFrom(g, of.cols, w.buf, fetch); err != nil {
			return fmt.Errorf("query %d: %s: %w", q, name, err)
		}
		w.counts.GroupsRead++
		w.counts.Rows += of.pf.RowGroupRows(g)
	}
	w.lat.Record(time.Since(start))
	w.counts.Queries++
	w.counts.FileBytes += t.fileBytes
	return nil
}

// open reads file's footer and selects the projection in it; it returns
// the bytes the footer holds in memory, for the cache.
func (w *worker) open(ctx context.Context, file int64, name string) (*openFile, int64, error) {
	rr := &rangeReader{ctx: ctx, w: w, name: name}
	pf, err := parquet.Open(rr, w.t.layout.FileSize(file))
	rr.w = nil // the cached File must not keep this worker
	if err != nil {
		return nil, 0, err
	}
	of := &openFile{pf: pf, pred: -1}
	names := w.t.names
	if names == nil {
		names = pf.Columns()
	}
	if of.cols, err = pf.Select(names); err != nil {
		return nil, 0, err
	}
	if p := w.t.pred; p != nil {
		c, err := pf.Select([]string{p.column})
		if err != nil {
			return nil, 0, err
		}
		if len(c) != 1 {
			return nil, 0, fmt.Errorf("the predicate's column %s is %d column chunks in the file, not one", p.column, len(c))
		}
		of.pred = c[0]
	}
	return of, pf.MemoryBytes() + int64(cap(of.cols))*8, nil
}

// fetch opens one ranged read of n bytes at off of the file, metered as
// one operation that ends when the reader is closed.
func (w *worker) fetch(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	op := w.rec.Begin(measure.Read, w.t.layout.Target)
	rc, err := w.b.Open(ctx, name, off, n)
	if err != nil {
		w.ended(op, err, false)
		return nil, err
	}
	return &meteredReader{w: w, op: op, rc: rc, r: op.Reader(rc, nil)}, nil
}

// ended records op, a read of data or of the footer, into the worker's
// figures.
func (w *worker) ended(op *measure.Operation, err error, footer bool) {
	op.End(err)
	w.counts.Reads++
	w.counts.Bytes += op.Bytes()
	if footer {
		w.counts.FooterBytes += op.Bytes()
	}
}

type meteredReader struct {
	w  *worker
	op *measure.Operation
	rc io.ReadCloser
	r  io.Reader
}

func (m *meteredReader) Read(p []byte) (int, error) { return m.r.Read(p) }

func (m *meteredReader) Close() error {
	err := m.rc.Close()
	m.w.ended(m.op, errors.Join(m.op.Err(), err), false)
	return err
}

// rangeReader is a file as the io.ReaderAt parquet.Open reads its footer
// through: each ReadAt is one ranged read, metered as one operation.
type rangeReader struct {
	ctx  context.Context
	w    *worker
	name string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	w := r.w
	if w == nil {
		return 0, errors.New("columnar: the footer's reader is closed")
	}
	op := w.rec.Begin(measure.Read, w.t.layout.Target)
	rc, err := w.b.Open(r.ctx, r.name, off, int64(len(p)))
	var n int
	if err == nil {
		n, err = io.ReadFull(op.Reader(rc, nil), p)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	w.ended(op, err, true)
	return n, err
}
