package vector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestTruthFileRoundTrip(t *testing.T) {
	const dim, n = 6, 300
	src := NewSource(dim, Normal, 0, 9)
	queries := make([]float32, 4*dim)
	src.Queries(0, queries)
	truth, err := GroundTruth(t.Context(), src.Collection(n), queries, 10, IP, GroundTruthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTruth(&buf, truth); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 8+2*4*4*10 {
		t.Fatalf("%d bytes for 4 queries of 10", buf.Len())
	}
	back, err := ReadTruth(buf.Bytes(), IP, n)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, truth) {
		t.Errorf("read back %+v, wrote %+v", back.Neighbors[0], truth.Neighbors[0])
	}
	// The ids alone (a bare .ibin) load with NaN distances: strict
	// recall only.
	ids := buf.Bytes()[:8+4*4*10]
	bare, err := ReadTruth(ids, IP, n)
	if err != nil {
		t.Fatal(err)
	}
	if bare.Neighbors[1][3].ID != truth.Neighbors[1][3].ID || !math.IsNaN(float64(bare.Neighbors[1][3].Dist)) {
		t.Errorf("bare ids: %v", bare.Neighbors[1][3])
	}
	if st, err := Recall(bare, truth.Neighbors, 10); err != nil || st.Mean != 1 {
		t.Errorf("recall against the bare ids: %+v, %v", st, err)
	}

	partial, err := GroundTruth(t.Context(), src.Collection(n), queries, 10, IP, GroundTruthOptions{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTruth(&bytes.Buffer{}, partial); !errors.Is(err, ErrPartialTruth) {
		t.Errorf("a partial ground truth was saved: %v", err)
	}
}

func TestTruthFileGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "two_queries_k2.gt.bin"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := ReadTruth(b, L2, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Neighbor{{{4, 0.5}, {1, 1.5}}, {{0, 2}, {3, 2}}}
	if !reflect.DeepEqual(truth.Neighbors, want) || !truth.Whole() || truth.K != 2 {
		t.Errorf("golden ground truth: %+v", truth)
	}
	var buf bytes.Buffer
	if err := WriteTruth(&buf, truth); err != nil || !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("re-encoded %x, golden %x (%v)", buf.Bytes(), b, err)
	}
}

func TestReadTruthRejects(t *testing.T) {
	enc := func(n, k uint32, words ...uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, n)
		b = binary.LittleEndian.AppendUint32(b, k)
		for _, w := range words {
			b = binary.LittleEndian.AppendUint32(b, w)
		}
		return b
	}
	f := math.Float32bits
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short header", []byte{1, 0, 0}},
		{"ids cut short", enc(2, 2, 0, 1, 2)},
		{"huge header", enc(math.MaxUint32, math.MaxUint32, 0)},
		{"no queries", enc(0, 2)},
		{"no neighbours", enc(2, 0)},
		{"id outside the collection", enc(1, 2, 0, 5)},
		{"negative id", enc(1, 2, 0, math.MaxUint32)},
		{"distances cut short", enc(1, 2, 0, 1, f(1))},
		{"farther first", enc(1, 2, 0, 1, f(2), f(1))},
		{"tie, larger id first", enc(1, 2, 1, 0, f(1), f(1))},
	} {
		if truth, err := ReadTruth(tc.b, L2, 5); err == nil {
			t.Errorf("%s: read %+v", tc.name, truth)
		}
	}
}

func FuzzParseIbin(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "two_queries_k2.gt.bin"))
	f.Add(b)
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, k, ids, rest, err := ParseIbin(b)
		if err == nil {
			if len(ids) != n*k || 8+4*len(ids)+len(rest) != len(b) {
				t.Fatalf("n=%d k=%d: %d ids and %d bytes left of %d", n, k, len(ids), len(rest), len(b))
			}
		}
		truth, err := ReadTruth(b, L2, 1000)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteTruth(&buf, truth); err != nil {
			t.Fatal(err)
		}
		// A bare .ibin gains NaN distances when saved; otherwise the
		// bytes come back as they were.
		if !bytes.Equal(buf.Bytes()[:8+4*n*k], b[:8+4*n*k]) {
			t.Fatalf("ids re-encode differently")
		}
	})
}
