package ivf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl/fuzzcheck"
	"mlps.dev/mlps/stages/vector"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenFile is testdata/name, first written from b under -update.
func goldenFile(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	return data
}

// sampleIndex is a small valid index object's content.
func sampleIndex() *stored {
	return &stored{
		Meta:      Meta{Metric: vector.Cosine, Dim: 3, NList: 2, Count: 5, Seed: 42, Iterations: 4, Sample: 5},
		centroids: []float32{1, 0, 0, 0, 0.6, -0.8},
		counts:    []int64{2, 3},
	}
}

// sampleList is a valid posting list object of list 1 with ids 4 and 9.
func sampleList() []byte {
	b := make([]byte, ListBytes(2, 2))
	putListHeader(b, ListHeader{List: 1, Dim: 2, Count: 2})
	binary.LittleEndian.PutUint64(b[32:], 4)
	binary.LittleEndian.PutUint64(b[40:], 9)
	for i, f := range []float32{0.5, -1, 2, 3} {
		binary.LittleEndian.PutUint32(b[48+4*i:], math.Float32bits(f))
	}
	return b
}

// The index object's layout is pinned: a golden copy of a small index
// must parse to the same content and encode to the same bytes, so that a
// change of layout is a deliberate new version.
func TestIndexGolden(t *testing.T) {
	b := encodeIndex(sampleIndex())
	golden := goldenFile(t, "index.golden", b)
	if !bytes.Equal(b, golden) {
		t.Fatalf("encoding differs from testdata/index.golden:\n got %x\nwant %x", b, golden)
	}
	s, err := parseIndex(golden)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleIndex()
	if s.Meta != want.Meta || !equal(s.centroids, want.centroids) || !equal(s.counts, want.counts) {
		t.Errorf("parsed %+v %v %v, want %+v %v %v", s.Meta, s.centroids, s.counts, want.Meta, want.centroids, want.counts)
	}
}

func TestListGolden(t *testing.T) {
	golden := goldenFile(t, "list.golden", sampleList())
	h, err := ParseListHeader(golden)
	if err != nil {
		t.Fatal(err)
	}
	if h != (ListHeader{List: 1, Dim: 2, Count: 2}) {
		t.Errorf("header %+v", h)
	}
	if err := CheckListIDs(golden, h, 10); err != nil {
		t.Error(err)
	}
	if err := CheckListIDs(golden, h, 9); err == nil || !strings.Contains(err.Error(), "below 9") {
		t.Errorf("id 9 of a collection of 9: error %v", err)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every field the parsers check is refused, alone, with a message that
// names it.
func TestParseIndexRefuses(t *testing.T) {
	good := encodeIndex(sampleIndex())
	le := binary.LittleEndian
	// resum recomputes the checksum, so that the check under test is the
	// one that fires.
	resum := func(b []byte) []byte {
		le.PutUint32(b[len(b)-4:], crc32c(b[:len(b)-4]))
		return b
	}
	entry := indexHeader + 6*4 // the first list's (count, bytes)
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		error  string
	}{
		{"empty", func(b []byte) []byte { return nil }, "shorter than its 64-byte header"},
		{"magic", func(b []byte) []byte { b[7] = 'J'; return b }, "magic"},
		{"version", func(b []byte) []byte { b[8] = 9; return b }, "version 9"},
		{"metric", func(b []byte) []byte { b[12] = 0; return resum(b) }, "metric 0"},
		{"dimension", func(b []byte) []byte { le.PutUint32(b[16:], MaxDim+1); return b }, "dimension 65537"},
		{"nlist", func(b []byte) []byte { le.PutUint32(b[20:], MaxNList+1); return b }, "nlist 65537"},
		{"centroid floats", func(b []byte) []byte { le.PutUint32(b[16:], MaxDim); le.PutUint32(b[20:], MaxNList); return b }, "centroid components"},
		{"fewer vectors than lists", func(b []byte) []byte { le.PutUint64(b[24:], 1); return b }, "at least one vector per list"},
		{"sample", func(b []byte) []byte { le.PutUint32(b[44:], 6); return b }, "training sample of 6"},
		{"reserved", func(b []byte) []byte { b[60] = 1; return b }, "reserved"},
		{"length field", func(b []byte) []byte { b[48]++; return b }, "length field"},
		{"longer", func(b []byte) []byte { return append(b, 0) }, "header says"},
		{"shorter", func(b []byte) []byte { return b[:len(b)-1] }, "header says"},
		{"checksum", func(b []byte) []byte { b[indexHeader] ^= 1; return b }, "checksum"},
		{"nan", func(b []byte) []byte {
			le.PutUint32(b[indexHeader+4:], math.Float32bits(float32(math.NaN())))
			return resum(b)
		}, "centroid 0 component 1 is NaN"},
		{"list bytes", func(b []byte) []byte { b[entry+8]++; return resum(b) }, "list 0 of 2 vectors"},
		{"list count", func(b []byte) []byte { le.PutUint64(b[entry:], 1<<40); return resum(b) }, "holds 1099511627776"},
		{"counts' sum", func(b []byte) []byte {
			le.PutUint64(b[entry:], 1)
			le.PutUint64(b[entry+8:], uint64(ListBytes(1, 3)))
			return resum(b)
		}, "lists hold 4 vectors, the collection 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIndex(tc.damage(bytes.Clone(good)))
			if err == nil || !strings.Contains(err.Error(), tc.error) || !errors.Is(err, ErrFormat) {
				t.Errorf("error %v, want ErrFormat saying %q", err, tc.error)
			}
		})
	}
}

func TestParseListRefuses(t *testing.T) {
	good := sampleList()
	le := binary.LittleEndian
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		error  string
	}{
		{"short", func(b []byte) []byte { return b[:31] }, "shorter than its 32-byte header"},
		{"magic", func(b []byte) []byte { b[0] = 'm'; return b }, "magic"},
		{"version", func(b []byte) []byte { b[8] = 0; return b }, "version 0"},
		{"list", func(b []byte) []byte { le.PutUint32(b[12:], MaxNList); return b }, "list number 65536"},
		{"dimension", func(b []byte) []byte { le.PutUint32(b[16:], 0); return b }, "dimension 0"},
		{"reserved", func(b []byte) []byte { b[20] = 1; return b }, "reserved"},
		{"count", func(b []byte) []byte { le.PutUint64(b[24:], 3); return b }, "3 vectors of dimension 2 take 80 bytes, the object has 64"},
		{"huge count", func(b []byte) []byte { le.PutUint64(b[24:], math.MaxUint64); return b }, "take more than"},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, "the object has 65"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseListHeader(tc.damage(bytes.Clone(good)))
			if err == nil || !strings.Contains(err.Error(), tc.error) || !errors.Is(err, ErrFormat) {
				t.Errorf("error %v, want ErrFormat saying %q", err, tc.error)
			}
		})
	}
}

// FuzzParseIndex feeds the index parser any bytes: it answers without a
// panic and in bounded time, a refusal says what is wrong, and what it
// accepts encodes back to exactly the bytes it read, so that nothing
// the parser lets through is only half understood.
func FuzzParseIndex(f *testing.F) {
	good := encodeIndex(sampleIndex())
	f.Add(good)
	f.Add(good[:indexHeader])
	f.Add([]byte(indexMagic))
	bound := fuzzcheck.Bound(func() { parseIndex(good) })
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.AnswerWithin(t, bound, func() {
			s, err := parseIndex(b)
			if err != nil {
				if !errors.Is(err, ErrFormat) || strings.TrimSpace(err.Error()) == "" {
					t.Fatalf("refused with %v", err)
				}
				return
			}
			if again := encodeIndex(s); !bytes.Equal(again, b) {
				t.Fatalf("accepted %x, which encodes back as %x", b, again)
			}
		})
	})
}

// FuzzParseList does the same for a posting list: an accepted list's
// header encodes back to its first bytes, its length is what its count
// and dimension make, and checking its ids never reads out of bounds.
func FuzzParseList(f *testing.F) {
	good := sampleList()
	f.Add(good)
	f.Add(good[:listHeader])
	f.Add(append(bytes.Clone(good[:listHeader]), make([]byte, 1000)...))
	bound := fuzzcheck.Bound(func() { ParseListHeader(good) })
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.AnswerWithin(t, bound, func() {
			h, err := ParseListHeader(b)
			if err != nil {
				if !errors.Is(err, ErrFormat) || strings.TrimSpace(err.Error()) == "" {
					t.Fatalf("refused with %v", err)
				}
				return
			}
			if int64(len(b)) != ListBytes(h.Count, h.Dim) {
				t.Fatalf("accepted %d bytes for %+v", len(b), h)
			}
			head := make([]byte, listHeader)
			putListHeader(head, h)
			if !bytes.Equal(head, b[:listHeader]) {
				t.Fatalf("accepted header %x, which encodes back as %x", b[:listHeader], head)
			}
			if err := CheckListIDs(b, h, math.MaxInt64); err != nil && !errors.Is(err, ErrFormat) {
				t.Fatalf("id check failed with %v", err)
			}
		})
	})
}
