package parquet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// chunkValues returns the value bytes of row group g's chunk of leaf c:
// fill's bytes at the chunk's pages' extents, of exts (payload's).
func chunkValues(l *layout, exts [][]Extent, fill func([]byte, int64), c int, g int64) []byte {
	// The chunks of earlier row groups come first in the leaf's extents.
	skip := int64(0)
	for h := range g {
		for _, r := range l.chunk(&l.leaves[c], h).runs {
			skip += r.count
		}
	}
	var pages int64
	for _, r := range l.chunk(&l.leaves[c], g).runs {
		pages += r.count
	}
	var out []byte
	for _, e := range exts[c][skip : skip+pages] {
		p := make([]byte, e.Len)
		fill(p, e.Off)
		out = append(out, p...)
	}
	return out
}

// wantStats computes a chunk's statistics from its values, the plain way:
// ok is false for a chunk of NaNs only.
func wantStats(typ string, v []byte) (Stats, bool) {
	switch typ {
	case "int32", "int64":
		size := 4
		if typ == "int64" {
			size = 8
		}
		st := Stats{MinInt: math.MaxInt64, MaxInt: math.MinInt64}
		for i := 0; i < len(v); i += size {
			x := plainInt(v[i : i+size])
			st.MinInt, st.MaxInt = min(st.MinInt, x), max(st.MaxInt, x)
		}
		return st, true
	}
	size := 4
	if typ == "float64" {
		size = 8
	}
	st := Stats{Float: true, MinFloat: math.Inf(1), MaxFloat: math.Inf(-1)}
	any := false
	for i := 0; i < len(v); i += size {
		x := plainFloat(v[i : i+size])
		if math.IsNaN(x) {
			continue
		}
		any = true
		st.MinFloat, st.MaxFloat = math.Min(st.MinFloat, x), math.Max(st.MaxFloat, x)
	}
	return st, any
}

// TestStatistics: every numeric column chunk's min and max, as our reader
// and parquet-go decode them from the footer, are those of its values;
// bytes columns have none.
func TestStatistics(t *testing.T) {
	for _, sh := range shapes {
		if sh.big || sh.name == "wide bytes" || sh.name == "flux" {
			continue // held in memory; flux's lists are covered by "pages"
		}
		t.Run(sh.name, func(t *testing.T) {
			s := sh.spec
			fill := fillFor(5, 2)
			b := write(t, s, fill, nil)
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
			var d format.FooterDecoder
			md, _, err := d.Decode(b[len(b)-8-n : len(b)-8])
			if err != nil {
				t.Fatal(err)
			}
			if len(md.ColumnOrders) != f.leaves {
				t.Errorf("%d column orders for %d columns", len(md.ColumnOrders), f.leaves)
			}
			l, _ := plan(s)
			exts := payload(t, s)
			checked, nans := 0, 0
			for g := range f.NumRowGroups() {
				for c := range f.leaves {
					typ := columnType(s, l.leaves[c].name)
					got, ok := f.Stats(g, c)
					pgo := md.RowGroups[g].Columns[c].MetaData.Statistics
					if typ == "bytes" {
						if ok || pgo.MinValue != nil || pgo.MaxValue != nil {
							t.Fatalf("bytes column %s has statistics %+v (parquet-go %x..%x)", l.leaves[c].name, got, pgo.MinValue, pgo.MaxValue)
						}
						continue
					}
					want, wok := wantStats(typ, chunkValues(l, exts, fill, c, int64(g)))
					if !wok {
						nans++
						want = Stats{}
					}
					// -0 and +0 compare equal: the encoding's choice of zero
					// is TestStatisticsEdges'.
					if ok != wok || got != want && !(want.Float && got.MinFloat == want.MinFloat && got.MaxFloat == want.MaxFloat) {
						t.Fatalf("row group %d column %s: stats %+v %v, want %+v %v", g, l.leaves[c].name, got, ok, want, wok)
					}
					// parquet-go decodes the same bytes.
					if !bytes.Equal(pgo.MinValue, encodedMin(got)) && ok {
						t.Fatalf("row group %d column %s: parquet-go min %x, ours %+v", g, l.leaves[c].name, pgo.MinValue, got)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("no numeric chunk checked")
			}
			if nans > 0 {
				t.Logf("%d chunks of NaNs only", nans)
			}
		})
	}
}

// encodedMin is the PLAIN encoding of a decoded min, for comparison with
// the footer's bytes; for a float, the 4-byte form when it is a float32.
func encodedMin(s Stats) []byte {
	if !s.Float {
		if s.MinInt == int64(int32(s.MinInt)) && s.MaxInt == int64(int32(s.MaxInt)) {
			return binary.LittleEndian.AppendUint32(nil, uint32(int32(s.MinInt)))
		}
		return binary.LittleEndian.AppendUint64(nil, uint64(s.MinInt))
	}
	if float64(float32(s.MinFloat)) == s.MinFloat {
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(s.MinFloat)))
	}
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(s.MinFloat))
}

// columnType is the type of the expanded column name of s.
func columnType(s Spec, name string) string {
	for _, c := range s.Columns {
		if c.Name == name {
			return c.Type
		}
		if _, ok := copyOf(name, c.Name); ok && c.Repeat > 1 {
			return c.Type
		}
	}
	return ""
}

// TestStatisticsEdges: chunks of NaNs only get statistics readers ignore;
// zeros are written as -0 for the min and +0 for the max; integers take
// their sign.
func TestStatisticsEdges(t *testing.T) {
	s := Spec{Columns: []Column{
		{Name: "f", Type: "float32"}, {Name: "d", Type: "float64"},
		{Name: "i", Type: "int32"}, {Name: "l", Type: "int64", Elements: 3},
	}, RowGroupRows: 3, Rows: 6}
	for _, tt := range []struct {
		name string
		fill byte
		ok   bool
		want []Stats // f, d, i, l
	}{
		{"NaNs and -1", 0xFF, false, []Stats{{}, {}, {MinInt: -1, MaxInt: -1}, {MinInt: -1, MaxInt: -1}}},
		{"zeros", 0, true, []Stats{{Float: true}, {Float: true}, {}, {}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fill := func(p []byte, _ int64) {
				for i := range p {
					p[i] = tt.fill
				}
			}
			b := write(t, s, fill, nil)
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			for g := range f.NumRowGroups() {
				for c := range 4 {
					got, ok := f.Stats(g, c)
					wok := tt.ok || c >= 2
					if ok != wok || got != tt.want[c] {
						t.Errorf("row group %d column %d: %+v %v, want %+v %v", g, c, got, ok, tt.want[c], wok)
					}
				}
			}
			if tt.fill == 0 {
				// The float min is -0, the max +0.
				var mins [][]byte
				for _, e := range statExtents(t, s) {
					mins = append(mins, b[e.Off:e.Off+e.Len])
				}
				// max then min, per numeric chunk: f, d, i, l per row group.
				if !bytes.Equal(mins[0], []byte{0, 0, 0, 0}) || !bytes.Equal(mins[1], []byte{0, 0, 0, 0x80}) ||
					!bytes.Equal(mins[3], []byte{0, 0, 0, 0, 0, 0, 0, 0x80}) {
					t.Errorf("float32 max %x min %x, float64 min %x", mins[0], mins[1], mins[3])
				}
			}
		})
	}
}

// TestStatisticsOfOtherWriters reads the statistics parquet-go writes: a
// signed column's are used, an unsigned one's are not, since their order
// is not the signed one a reader compares in.
func TestStatisticsOfOtherWriters(t *testing.T) {
	type row struct {
		U uint32  `parquet:"u"`
		I int64   `parquet:"i"`
		F float64 `parquet:"f"`
	}
	var buf bytes.Buffer
	w := pq.NewGenericWriter[row](&buf, pq.MaxRowsPerRowGroup(3))
	rows := []row{{1, -5, 0.5}, {math.MaxUint32, 7, -2}, {3, 2, 1e9}, {4, 40, 3}}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	cols, err := f.Select([]string{"u", "i", "f"})
	if err != nil || f.NumRowGroups() != 2 {
		t.Fatalf("columns %v, %v; %d row groups", cols, err, f.NumRowGroups())
	}
	for g, want := range [][2]Stats{
		{{MinInt: -5, MaxInt: 7}, {Float: true, MinFloat: -2, MaxFloat: 1e9}},
		{{MinInt: 40, MaxInt: 40}, {Float: true, MinFloat: 3, MaxFloat: 3}},
	} {
		if st, ok := f.Stats(g, cols[0]); ok {
			t.Errorf("row group %d: the unsigned column has statistics %+v", g, st)
		}
		for k, c := range cols[1:] {
			if st, ok := f.Stats(g, c); !ok || st != want[k] {
				t.Errorf("row group %d column %d: %+v %v, want %+v", g, c, st, ok, want[k])
			}
		}
	}
}

// TestReadRowGroupFrom: each run of adjacent chunks is one stream however
// small the buffer, and the bytes and the checks are ReadRowGroup's.
func TestReadRowGroupFrom(t *testing.T) {
	s := Spec{Columns: dlrmColumns, RowGroupRows: 512, Rows: 2000}
	b := write(t, s, fillFor(1, 1), nil)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		columns []string
		runs    int // per row group
	}{
		{"training", []string{"label", "dense", "sparse"}, 1},
		{"scattered", []string{"pad4_3", "label", "sparse_7", "pad_30", "dense_0"}, 4},
		{"all", nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			names := tt.columns
			if names == nil {
				names = f.Columns()
			}
			cols, err := f.Select(names)
			if err != nil {
				t.Fatal(err)
			}
			for g := range f.NumRowGroups() {
				want, err := f.ReadRowGroup(g, cols, nil)
				if err != nil {
					t.Fatal(err)
				}
				var opens int
				var streamed int64
				got, err := f.ReadRowGroupFrom(g, cols, make([]byte, 1000), func(off, n int64) (io.ReadCloser, error) {
					opens++
					streamed += n
					return io.NopCloser(io.NewSectionReader(bytes.NewReader(b), off, n)), nil
				})
				if err != nil || got != want || streamed != want || opens != tt.runs {
					t.Fatalf("row group %d: %d bytes in %d streams (%d asked), %v; ReadRowGroup read %d, want %d streams",
						g, got, opens, streamed, err, want, tt.runs)
				}
			}
		})
	}
	cols, _ := f.Select([]string{"label", "dense"})
	errBroken := errors.New("broken")
	for _, tt := range []struct {
		name string
		open func(off, n int64) (io.ReadCloser, error)
	}{
		{"open fails", func(int64, int64) (io.ReadCloser, error) { return nil, errBroken }},
		{"short", func(off, n int64) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(bytes.NewReader(b), off, n-1)), nil
		}},
		{"read fails", func(off, n int64) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(io.NewSectionReader(bytes.NewReader(b), off, n/2), errReader{errBroken})), nil
		}},
		{"wrong bytes", func(off, n int64) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(bytes.NewReader(b), off+1, n)), nil
		}},
	} {
		if _, err := f.ReadRowGroupFrom(0, cols, nil, tt.open); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestColumnBytes: the bytes of the selected chunks and of the footer
// read, from the spec alone, are what reading a written file fetches.
func TestColumnBytes(t *testing.T) {
	for _, tt := range []struct {
		spec    Spec
		columns []string
	}{
		{Spec{Columns: dlrmColumns, RowGroupRows: 512, Rows: 2000}, []string{"label", "dense", "sparse"}},
		{Spec{Columns: dlrmColumns, RowGroupRows: 512, Rows: 2000}, []string{"pad4_3", "label"}},
		{Spec{Columns: dlrmColumns, RowGroupRows: 512, Rows: 2000}, nil},
		{Spec{Columns: mixedColumns, RowGroupRows: 4, Rows: 10}, []string{"x", "ids"}},
	} {
		b := write(t, tt.spec, fillFor(1, 1), nil)
		r := &countingReader{r: bytes.NewReader(b)}
		f, err := Open(r, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		names := tt.columns
		if names == nil {
			names = f.Columns()
		}
		cols, _ := f.Select(names)
		if want, err := OpenBytes(tt.spec); err != nil || want != r.bytes.Load() {
			t.Errorf("%v: OpenBytes %d, %v; Open read %d", tt.columns, want, err, r.bytes.Load())
		}
		var read int64
		for g := range f.NumRowGroups() {
			n, err := f.ReadRowGroup(g, cols, nil)
			if err != nil {
				t.Fatal(err)
			}
			read += n
		}
		if got, err := ColumnBytes(tt.spec, tt.columns); err != nil || got != read {
			t.Errorf("%v: ColumnBytes %d, %v; reading them read %d", tt.columns, got, err, read)
		}
	}
	_, err := ColumnBytes(Spec{Columns: dlrmColumns, RowGroupRows: 512, Rows: 10}, []string{"dens"})
	if want := `parquet: no column "dens"; the columns are label, dense (dense_0..dense_12), sparse (sparse_0..sparse_25), pad (pad_0..pad_38), pad4 (pad4_0..pad4_120)`; err == nil || err.Error() != want {
		t.Errorf("ColumnBytes(dens): %v", err)
	}
}

// FuzzOpen feeds Open mutated files: it must not panic, statistics it
// reports have min ≤ max, and reading a row group stays inside the file.
func FuzzOpen(f *testing.F) {
	for _, s := range []Spec{
		{Columns: mixedColumns, RowGroupRows: 4, Rows: 10},
		{Columns: []Column{{Name: "a", Type: "float32"}, {Name: "b", Type: "int64"}}, RowGroupRows: 2, Rows: 3},
	} {
		f.Add(write(f, s, fillFor(1, 1), nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		all := make([]int, pf.leaves)
		for i := range all {
			all[i] = i
		}
		for g := range pf.NumRowGroups() {
			for c := range pf.leaves {
				if st, ok := pf.Stats(g, c); ok && (st.MinInt > st.MaxInt || st.MinFloat > st.MaxFloat || st.MinFloat != st.MinFloat) {
					t.Fatalf("row group %d column %d: %+v", g, c, st)
				}
			}
			pf.ReadRowGroup(g, all, nil)
		}
		if pf.MemoryBytes() <= 0 {
			t.Fatal("no memory")
		}
	})
}
