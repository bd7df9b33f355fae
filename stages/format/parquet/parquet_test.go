package parquet

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/format/formattest"
)

// fillFor binds a generator to one file's stream, as the dataset writer
// does.
func fillFor(seed uint64, index int64) func(p []byte, off int64) {
	g, s := content.New(seed), content.Stream("train", index)
	return func(p []byte, off int64) { g.Fill(p, s, off) }
}

// dlrmColumns is the shape of the dlrm workload: 200 columns, 761 bytes a
// row.
var dlrmColumns = []Column{
	{Name: "label", Type: "float32"},
	{Name: "dense", Type: "float32", Repeat: 13},
	{Name: "sparse", Type: "int32", Repeat: 26},
	{Name: "pad", Type: "bytes", Width: 3, Repeat: 39},
	{Name: "pad4", Type: "bytes", Width: 4, Repeat: 121},
}

// fluxColumns is the shape of the flux workload: five float32 lists,
// 2,164,832 bytes a row.
var fluxColumns = []Column{
	{Name: "t5_encodings", Type: "float32", Elements: 524328},
	{Name: "clip", Type: "float32", Elements: 409},
	{Name: "mean", Type: "float32", Elements: 8232},
	{Name: "logvar", Type: "float32", Elements: 8232},
	{Name: "timestamp", Type: "float32", Elements: 7},
}

var mixedColumns = []Column{
	{Name: "label", Type: "int32"},
	{Name: "x", Type: "float64", Elements: 3},
	{Name: "pad", Type: "bytes", Width: 5, Repeat: 2},
	{Name: "ids", Type: "int64", Elements: 2, Repeat: 2},
	{Name: "img", Type: "bytes", Width: 7, Elements: 4},
	{Name: "f", Type: "float32", Elements: 1, Repeat: 1},
}

// shapes are the specs the tests write. Big ones are skipped with -short.
var shapes = []struct {
	name string
	spec Spec
	big  bool
}{
	{"one row", Spec{Columns: []Column{{Name: "a", Type: "float32"}}, RowGroupRows: 8192, Rows: 1}, false},
	{"mixed", Spec{Columns: mixedColumns, RowGroupRows: 4, Rows: 10}, false},
	{"mixed one group", Spec{Columns: mixedColumns, RowGroupRows: 100, Rows: 100}, false},
	// 4000-byte rows: 262 rows a page, so chunks of 600 rows have three
	// pages and the last group's (300 rows) two.
	{"pages", Spec{Columns: []Column{
		{Name: "v", Type: "float32", Elements: 1000},
		{Name: "s", Type: "bytes", Width: 4000},
	}, RowGroupRows: 600, Rows: 1500}, false},
	// Rows over a page: one row a page.
	{"big rows", Spec{Columns: []Column{
		{Name: "a", Type: "float32"},
		{Name: "w", Type: "bytes", Width: 30000, Elements: 40},
	}, RowGroupRows: 3, Rows: 5}, false},
	// parquet-go reads fixed-size values of up to 32767 bytes only; pyarrow
	// has no such limit.
	{"wide bytes", Spec{Columns: []Column{{Name: "w", Type: "bytes", Width: 3 << 20}}, RowGroupRows: 2, Rows: 5}, false},
	{"dlrm", Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 20000}, false},
	{"dlrm groups of 1", Spec{Columns: dlrmColumns, RowGroupRows: 1, Rows: 20}, false},
	{"flux", Spec{Columns: fluxColumns, RowGroupRows: 2, Rows: 3}, false},
	{"flux 288", Spec{Columns: fluxColumns, RowGroupRows: 64, Rows: 288}, true},
}

func write(t testing.TB, s Spec, fill func([]byte, int64), buf []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := Write(&b, s, fill, buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("Write returned %d, wrote %d", n, b.Len())
	}
	return b.Bytes()
}

// payload lists the value extents of s by column: Payload's extents, each
// given to the column whose page it is.
func payload(t testing.TB, s Spec) [][]Extent {
	t.Helper()
	l, err := plan(s)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := Payload(s)
	if err != nil {
		t.Fatal(err)
	}
	var flat []Extent
	for e := range seq {
		flat = append(flat, e)
	}
	cols := make([][]Extent, len(l.leaves))
	for g := range l.groups {
		for i := range l.leaves {
			for _, r := range l.chunk(&l.leaves[i], g).runs {
				for range r.count {
					cols[i] = append(cols[i], flat[0])
					flat = flat[1:]
				}
			}
		}
	}
	if len(flat) != 0 {
		t.Fatalf("%d extents left over", len(flat))
	}
	return cols
}

// statExtents returns the file extents of the statistics' min and max
// values of a file of s: the metadata that depends on the values.
func statExtents(t testing.TB, s Spec) []Extent {
	t.Helper()
	l, err := plan(s)
	if err != nil {
		t.Fatal(err)
	}
	var es []Extent
	o := out{dry: true, off: l.data, statAt: func(e Extent) { es = append(es, e) }}
	l.footer(&o)
	return es
}

// TestSizeIsExact proves Size exact and the layout independent of the
// values: for every shape and seed the file is Size bytes, and two files of
// different seeds differ only inside Payload's extents and the statistics'
// values.
func TestSizeIsExact(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			if sh.big && testing.Short() {
				t.Skip("big")
			}
			size, err := Size(sh.spec)
			if err != nil {
				t.Fatal(err)
			}
			if sh.big {
				var w countingWriter
				if n, err := Write(&w, sh.spec, fillFor(1, 3), nil); err != nil || n != size || w.n != size {
					t.Fatalf("Write = %d, %v, wrote %d; Size says %d", n, err, w.n, size)
				}
				return
			}
			var first []byte
			for _, seed := range []uint64{1, 2, 1 << 40} {
				b := write(t, sh.spec, fillFor(seed, 3), make([]byte, 1<<20))
				if int64(len(b)) != size {
					t.Fatalf("seed %d: wrote %d bytes, Size says %d", seed, len(b), size)
				}
				if first == nil {
					first = b
					continue
				}
				// Everything outside the values and their statistics must
				// be equal.
				x, y := slices.Clone(first), b
				for _, col := range append(payload(t, sh.spec), statExtents(t, sh.spec)) {
					for _, e := range col {
						clear(x[e.Off : e.Off+e.Len])
						clear(y[e.Off : e.Off+e.Len])
					}
				}
				if i := mismatch(x, y); i >= 0 {
					t.Fatalf("seed %d: the metadata differs from seed 1's at offset %d", seed, i)
				}
			}
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func shape(name string) Spec {
	for _, sh := range shapes {
		if sh.name == name {
			return sh.spec
		}
	}
	panic(name)
}

func mismatch(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// leafPath is the schema path of column c's values.
func leafPath(name string, list bool) []string {
	if list {
		return []string{name, "list", "element"}
	}
	return []string{name}
}

// TestReadBack reads each file with parquet-go: the schema (names, types,
// lists), the row groups, and every value, which must be the fill content
// at the file offsets Payload gives.
func TestReadBack(t *testing.T) {
	kinds := map[string]pq.Kind{
		"float32": pq.Float, "float64": pq.Double, "int32": pq.Int32,
		"int64": pq.Int64, "bytes": pq.FixedLenByteArray,
	}
	for _, sh := range shapes {
		// Big shapes are held in memory here; parquet-go reads fixed-size
		// values of up to 32767 bytes only. TestSizeIsExact covers both.
		if sh.big || sh.name == "wide bytes" {
			continue
		}
		t.Run(sh.name, func(t *testing.T) {
			s := sh.spec
			fill := fillFor(3, 9)
			b := write(t, s, fill, nil)
			f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}

			l, _ := plan(s)
			var names []string
			for _, col := range s.Columns {
				for i := range max(col.Repeat, 1) {
					name := col.Name
					if col.Repeat > 1 {
						name = fmt.Sprintf("%s_%d", col.Name, i)
					}
					names = append(names, name)
					list := col.Elements > 1
					leaf, ok := f.Schema().Lookup(leafPath(name, list)...)
					if !ok {
						t.Fatalf("no column %v in\n%s", leafPath(name, list), f.Schema())
					}
					if k := leaf.Node.Type().Kind(); k != kinds[col.Type] {
						t.Errorf("%s: kind %v, want %v", name, k, kinds[col.Type])
					}
					if col.Type == "bytes" && leaf.Node.Type().Length() != int(col.Width) {
						t.Errorf("%s: length %d, want %d", name, leaf.Node.Type().Length(), col.Width)
					}
					lv := 0
					if list {
						lv = 1
					}
					if leaf.MaxRepetitionLevel != lv || leaf.MaxDefinitionLevel != lv || !leaf.Node.Required() {
						t.Errorf("%s: levels %d/%d required %v, want %d/%d required",
							name, leaf.MaxRepetitionLevel, leaf.MaxDefinitionLevel, leaf.Node.Required(), lv, lv)
					}
				}
			}
			var got []string
			for _, fl := range f.Schema().Fields() {
				got = append(got, fl.Name())
			}
			if !slices.Equal(got, names) {
				t.Fatalf("columns %v, want %v", got, names)
			}

			rgs := f.RowGroups()
			if int64(len(rgs)) != l.groups || f.NumRows() != s.Rows {
				t.Fatalf("%d row groups of %d rows, want %d of %d", len(rgs), f.NumRows(), l.groups, s.Rows)
			}
			// The values of every column, as parquet-go decodes them.
			values := make([][]byte, len(l.leaves))
			for g, rg := range rgs {
				want := min(s.RowGroupRows, s.Rows-int64(g)*s.RowGroupRows)
				if rg.NumRows() != want {
					t.Fatalf("row group %d has %d rows, want %d", g, rg.NumRows(), want)
				}
				rows := rg.Rows()
				buf := make([]pq.Row, 16)
				read := int64(0)
				for {
					n, err := rows.ReadRows(buf)
					for _, row := range buf[:n] {
						elem := make([]int64, len(l.leaves))
						for _, v := range row {
							// A list's elements are defined (1), and all but
							// a row's first repeat (1).
							c, rep, def := v.Column(), 0, 0
							if l.leaves[c].list() {
								def = 1
								if elem[c] > 0 {
									rep = 1
								}
							}
							if v.RepetitionLevel() != rep || v.DefinitionLevel() != def {
								t.Fatalf("column %d: levels %d/%d, want %d/%d", c, v.RepetitionLevel(), v.DefinitionLevel(), rep, def)
							}
							elem[c]++
							values[c] = append(values[c], v.Bytes()...)
						}
						for c, n := range elem {
							if n != l.leaves[c].elems {
								t.Fatalf("column %d: a row of %d values, want %d", c, n, l.leaves[c].elems)
							}
						}
					}
					read += int64(n)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				rows.Close()
				if read != want {
					t.Fatalf("row group %d: read %d rows, want %d", g, read, want)
				}
			}
			for c, col := range payload(t, s) {
				var want []byte
				for _, e := range col {
					p := make([]byte, e.Len)
					fill(p, e.Off)
					if !bytes.Equal(p, b[e.Off:e.Off+e.Len]) {
						t.Fatalf("the file's bytes at %d are not fill's", e.Off)
					}
					want = append(want, p...)
				}
				if !bytes.Equal(values[c], want) {
					t.Fatalf("column %s: parquet-go reads other values than fill's, first at byte %d",
						l.leaves[c].name, mismatch(values[c], want))
				}
			}
		})
	}
}

// TestSchemaText pins the schema of the mixed shape as parquet-go prints
// it.
func TestSchemaText(t *testing.T) {
	s := Spec{Columns: mixedColumns, RowGroupRows: 4, Rows: 5}
	b := write(t, s, fillFor(1, 1), nil)
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := `message schema {
	required int32 label (INT(32,true));
	required group x (LIST) {
		repeated group list {
			required double element;
		}
	}
	required fixed_len_byte_array(5) pad_0;
	required fixed_len_byte_array(5) pad_1;
	required group ids_0 (LIST) {
		repeated group list {
			required int64 element (INT(64,true));
		}
	}
	required group ids_1 (LIST) {
		repeated group list {
			required int64 element (INT(64,true));
		}
	}
	required group img (LIST) {
		repeated group list {
			required fixed_len_byte_array(7) element;
		}
	}
	required float f;
}`
	if got := f.Schema().String(); got != want {
		t.Fatalf("schema\n%q\nwant\n%q", got, want)
	}
	if got := f.Metadata().CreatedBy; got != createdBy {
		t.Errorf("created_by %q", got)
	}
}

func TestRowBytes(t *testing.T) {
	for _, tt := range []struct {
		cols []Column
		want int64
	}{
		{dlrmColumns, 761},
		{fluxColumns, 2164832},
		{mixedColumns, 4 + 24 + 10 + 32 + 28 + 4},
	} {
		if got := RowBytes(tt.cols); got != tt.want {
			t.Errorf("RowBytes(%v) = %d, want %d", tt.cols, got, tt.want)
		}
	}
}

// invalid are specs without a file, and what the error must say.
var invalid = []struct {
	name string
	spec Spec
	want string
}{
	{"no rows", Spec{Columns: okColumns, RowGroupRows: 1}, "at least 1"},
	{"no row group rows", Spec{Columns: okColumns, Rows: 1}, "at least 1"},
	{"no columns", Spec{RowGroupRows: 1, Rows: 1}, "no columns"},
	{"type", Spec{Columns: []Column{{Name: "a", Type: "float16"}}, RowGroupRows: 1, Rows: 1}, "float16"},
	{"no width", Spec{Columns: []Column{{Name: "a", Type: "bytes"}}, RowGroupRows: 1, Rows: 1}, "width 0"},
	{"width", Spec{Columns: []Column{{Name: "a", Type: "int32", Width: 4}}, RowGroupRows: 1, Rows: 1}, "bytes columns only"},
	{"no name", Spec{Columns: []Column{{Type: "int32"}}, RowGroupRows: 1, Rows: 1}, "no name"},
	{"twice", Spec{Columns: []Column{{Name: "a", Type: "int32", Repeat: 2}, {Name: "a_1", Type: "int32"}}, RowGroupRows: 1, Rows: 1}, `"a_1" is used twice`},
	{"negative", Spec{Columns: []Column{{Name: "a", Type: "int32", Elements: -1}}, RowGroupRows: 1, Rows: 1}, "negative"},
	{"huge row", Spec{Columns: []Column{{Name: "a", Type: "float64", Elements: 1 << 28}}, RowGroupRows: 1, Rows: 1}, "does not fit in a page"},
	{"huge file", Spec{Columns: dlrmColumns, RowGroupRows: 1 << 40, Rows: 1 << 55}, "2^62"},
	{"row groups", Spec{Columns: okColumns, RowGroupRows: 1, Rows: 1 << 32}, "too many"},
	{"footer", Spec{Columns: dlrmColumns, RowGroupRows: 1, Rows: 1 << 24}, "4 GiB"},
}

// okColumns is a valid column for the invalid specs that are not about
// columns.
var okColumns = []Column{{Name: "a", Type: "float32"}}

func TestSpecErrors(t *testing.T) {
	for _, tt := range invalid {
		_, err := Size(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}

// specKey identifies a spec of the tables here, which share column slices:
// a Spec is not comparable, its columns being a slice.
type specKey struct {
	cols         *Column
	rows, rgRows int64
}

func keyOf(s Spec) specKey {
	k := specKey{rows: s.Rows, rgRows: s.RowGroupRows}
	if len(s.Columns) > 0 {
		k.cols = &s.Columns[0]
	}
	return k
}

func TestConformance(t *testing.T) {
	var cases, bad []Spec
	names := map[specKey]string{}
	for _, sh := range shapes {
		if !sh.big {
			cases = append(cases, sh.spec)
			names[keyOf(sh.spec)] = sh.name
		}
	}
	for _, tt := range invalid {
		bad = append(bad, tt.spec)
		names[keyOf(tt.spec)] = tt.name
	}
	formattest.Run(t, formattest.Format[Spec]{
		Size:    Size,
		Write:   Write,
		Cases:   cases,
		Large:   Spec{Columns: fluxColumns, RowGroupRows: 64, Rows: 64}, // 139 MB, rows of 2 MB
		Invalid: bad,
		Name:    func(s Spec) string { return cmp.Or(names[keyOf(s)], "flux 64") },
		Allocs:  100, // the plan: a column name map and a leaf per column
		Packed:  true,
		Payload: func(s Spec) []formattest.Extent {
			seq, _ := Payload(s) // the suite asks of valid specs only
			var es []formattest.Extent
			for e := range seq {
				es = append(es, formattest.Extent(e))
			}
			return es
		},
	})
}

// countingReader counts what is read through it.
type countingReader struct {
	r            io.ReaderAt
	bytes, calls atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	c.calls.Add(1)
	return n, err
}

func TestOpenAgreesWithParquetGo(t *testing.T) {
	for _, sh := range shapes {
		if sh.big { // held in memory here; TestSizeIsExact covers it
			continue
		}
		t.Run(sh.name, func(t *testing.T) {
			b := write(t, sh.spec, fillFor(1, 1), nil)
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			pf, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)), pq.SkipPageIndex(true), pq.SkipBloomFilters(true))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, fl := range pf.Schema().Fields() {
				names = append(names, fl.Name())
			}
			if !slices.Equal(f.Columns(), names) {
				t.Fatalf("columns %v, parquet-go %v", f.Columns(), names)
			}
			n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
			footerAgrees(t, f, b[len(b)-8-n:len(b)-8])
		})
	}
}

// footerAgrees checks f's row groups and column chunks against parquet-go's
// decoding of the footer.
func footerAgrees(t *testing.T, f *File, footer []byte) {
	t.Helper()
	var d format.FooterDecoder
	md, _, err := d.Decode(footer)
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRowGroups() != len(md.RowGroups) || f.leaves != len(md.RowGroups[0].Columns) {
		t.Fatalf("%d row groups of %d columns, parquet-go %d of %d",
			f.NumRowGroups(), f.leaves, len(md.RowGroups), len(md.RowGroups[0].Columns))
	}
	for g, rg := range md.RowGroups {
		if f.RowGroupRows(g) != rg.NumRows {
			t.Fatalf("row group %d: %d rows, parquet-go %d", g, f.RowGroupRows(g), rg.NumRows)
		}
		for c, cc := range rg.Columns {
			got, m := f.chunks[g*f.leaves+c], cc.MetaData
			if got != (extents{m.DataPageOffset, m.TotalCompressedSize, m.NumValues}) {
				t.Fatalf("row group %d column %d: %+v, parquet-go offset %d, %d bytes, %d values",
					g, c, got, m.DataPageOffset, m.TotalCompressedSize, m.NumValues)
			}
		}
	}
}

// virtualFile is a file of which only the footer is stored: Open of the
// full-size dlrm file without writing 3.6 GB.
type virtualFile struct {
	size   int64
	footer []byte // the last bytes
}

func (v *virtualFile) ReadAt(p []byte, off int64) (int, error) {
	start := v.size - int64(len(v.footer))
	if off < start || off+int64(len(p)) > v.size {
		return 0, fmt.Errorf("read of %d at %d outside the footer", len(p), off)
	}
	return copy(p, v.footer[off-start:]), nil
}

// fullFooter returns the footer Write ends a file of s with, and the size.
func fullFooter(t testing.TB, s Spec) *virtualFile {
	l, err := plan(s)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	o := out{w: &b, buf: make([]byte, 1<<20)}
	l.footer(&o)
	o.meta(binary.LittleEndian.AppendUint32(nil, uint32(o.off)))
	o.meta([]byte(magic))
	o.flush()
	size, _ := Size(s)
	if size != l.data+int64(b.Len()) {
		t.Fatalf("Size %d, data %d + footer %d", size, l.data, b.Len())
	}
	return &virtualFile{size: size, footer: b.Bytes()}
}

// TestOpenFullDLRM opens the footer of a real-size dlrm file: 4,718,592
// rows in 576 row groups of 200 columns.
func TestOpenFullDLRM(t *testing.T) {
	s := Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 4718592}
	v := fullFooter(t, s)
	r := &countingReader{r: v}
	f, err := Open(r, v.size)
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRowGroups() != 576 || f.RowGroupRows(575) != 8192 || f.leaves != 200 {
		t.Fatalf("%d row groups, the last of %d rows, %d columns", f.NumRowGroups(), f.RowGroupRows(575), f.leaves)
	}
	if r.bytes.Load() != int64(len(v.footer)) || r.calls.Load() != 2 || f.FooterBytes() != int64(len(v.footer)) {
		t.Fatalf("Open read %d bytes in %d reads (says %d), the footer is %d", r.bytes.Load(), r.calls.Load(), f.FooterBytes(), len(v.footer))
	}
	footerAgrees(t, f, v.footer[:len(v.footer)-8])
	t.Logf("%d bytes of footer for a file of %d bytes", len(v.footer), v.size)
}

func TestSelect(t *testing.T) {
	s := Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 10}
	b := write(t, s, fillFor(1, 1), nil)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	seq := func(from, n int) []int {
		var s []int
		for i := range n {
			s = append(s, from+i)
		}
		return s
	}
	for _, tt := range []struct {
		names []string
		want  []int
	}{
		{[]string{"label"}, []int{0}},
		{[]string{"dense"}, seq(1, 13)},
		{[]string{"dense_12", "label"}, []int{13, 0}},
		{[]string{"label", "dense", "sparse"}, seq(0, 40)},
		{[]string{"dense_3", "dense"}, append([]int{4}, slices.Delete(seq(1, 13), 3, 4)...)},
		{[]string{"pad"}, seq(40, 39)}, // not pad4's
		{[]string{"pad4"}, seq(79, 121)},
		{nil, nil},
	} {
		got, err := f.Select(tt.names)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Select(%q) = %v, %v; want %v", tt.names, got, err, tt.want)
		}
	}
	_, err = f.Select([]string{"label", "dens"})
	want := `parquet: no column "dens"; the columns are label, dense (dense_0..dense_12), sparse (sparse_0..sparse_25), pad (pad_0..pad_38), pad4 (pad4_0..pad4_120)`
	if err == nil || err.Error() != want {
		t.Errorf("Select(dens): %v\nwant %s", err, want)
	}
	if got := f.Columns(); len(got) != 200 || got[0] != "label" || got[199] != "pad4_120" {
		t.Errorf("Columns() = %v", got)
	}
}

// TestReadRowGroup: a loader's reads fetch exactly the selected column
// chunks, far less than the file when few columns are selected.
func TestReadRowGroup(t *testing.T) {
	for _, tt := range []struct {
		name    string
		spec    Spec
		columns []string
		buf     int
	}{
		{"dlrm 40 of 200", Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 20000}, []string{"label", "dense", "sparse"}, 1 << 20},
		{"dlrm scattered", Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 20000}, []string{"pad4_3", "label", "sparse_7", "pad_30"}, 1 << 20},
		{"dlrm all", Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 20000}, []string{"label", "dense", "sparse", "pad", "pad4"}, 1 << 20},
		{"flux t5", Spec{Columns: fluxColumns, RowGroupRows: 2, Rows: 3}, []string{"t5_encodings"}, 64 << 10},
		{"flux small", Spec{Columns: fluxColumns, RowGroupRows: 2, Rows: 3}, []string{"clip", "timestamp"}, 0},
		{"pages", shape("pages"), []string{"s"}, 100 << 10},
		{"big rows", shape("big rows"), []string{"w"}, 100 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := write(t, tt.spec, fillFor(1, 1), nil)
			r := &countingReader{r: bytes.NewReader(b)}
			f, err := Open(r, int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			cols, err := f.Select(tt.columns)
			if err != nil {
				t.Fatal(err)
			}
			r.bytes.Store(0)
			var want, total int64
			for g := range f.NumRowGroups() {
				for _, c := range cols {
					want += f.chunks[g*f.leaves+c].len
				}
				n, err := f.ReadRowGroup(g, cols, make([]byte, tt.buf))
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
			if total != want || r.bytes.Load() != want {
				t.Fatalf("read %d bytes (says %d), the selected chunks are %d", r.bytes.Load(), total, want)
			}
			t.Logf("%d columns: %d of %d bytes (%.1f%%)", len(cols), total, len(b), 100*float64(total)/float64(len(b)))
			if len(cols) < f.leaves/4 && total > int64(len(b))/2 {
				t.Fatalf("%d of %d columns read %d of %d bytes", len(cols), f.leaves, total, len(b))
			}
		})
	}
}

func TestReadRowGroupErrors(t *testing.T) {
	s := Spec{Columns: mixedColumns, RowGroupRows: 4, Rows: 10}
	b := write(t, s, fillFor(1, 1), nil)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadRowGroup(3, []int{0}, nil); err == nil {
		t.Error("row group 3 of 3 read")
	}
	if _, err := f.ReadRowGroup(0, []int{f.leaves}, nil); err == nil {
		t.Error("a column past the last read")
	}
	if _, err := f.ReadRowGroup(0, []int{1}, nil); err != nil {
		t.Fatal(err)
	}
	// A page whose compressed_page_size is one more: the zigzag varint
	// after type and uncompressed_page_size.
	c := f.chunks[1]
	h, _, _ := pageHeaderOf(b[c.off:])
	at := c.off + int64(len(appendI32(appendI32(nil, 0, 1, 0), 1, 2, int32(h.size)))) + 1
	bad := slices.Clone(b)
	bad[at] += 2
	g, _ := Open(bytes.NewReader(bad), int64(len(bad)))
	if _, err := g.ReadRowGroup(0, []int{1}, nil); err == nil {
		t.Error("a corrupt page header passed")
	}
	if _, err := Open(bytes.NewReader(b[:len(b)-1]), int64(len(b)-1)); err == nil {
		t.Error("a truncated file opened")
	}
}

// TestWalkerSplits feeds the walker the pages of several chunks in pieces
// of every small size, so that page headers are split at every byte.
func TestWalkerSplits(t *testing.T) {
	s := Spec{Columns: mixedColumns, RowGroupRows: 4, Rows: 10}
	b := write(t, s, fillFor(1, 1), nil)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	chunks := f.chunks[:f.leaves]
	run := []int{0, 1, 2, 3, 4, 5, 6, 7}
	data := b[chunks[0].off : chunks[7].off+chunks[7].len]
	for piece := 1; piece <= 40; piece++ {
		var w walker
		if err := w.start(chunks, run); err != nil {
			t.Fatal(err)
		}
		for p := data; len(p) > 0; p = p[min(piece, len(p)):] {
			if err := w.pages(p[:min(piece, len(p))]); err != nil {
				t.Fatalf("pieces of %d: %v", piece, err)
			}
		}
		if err := w.finish(); err != nil {
			t.Fatalf("pieces of %d: %v", piece, err)
		}
		// One byte short.
		w.start(chunks, run)
		w.pages(data[:len(data)-1])
		if err := w.finish(); err == nil {
			t.Fatalf("pieces of %d: a cut-off page passed", piece)
		}
	}
}
