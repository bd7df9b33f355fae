package pq

import (
	"bytes"
	"math"
	"testing"

	"mlps.dev/mlps/stages/vector"
)

func TestSubspacesFor(t *testing.T) {
	for _, tc := range []struct {
		dim   int
		ratio float64
		want  int
	}{
		{128, 0, 64},   // Milvus's budget: D × 4 × 0.125 = D/2 bytes
		{1536, 0, 768}, // upstream's default collection
		{32, 0, 16},
		{3, 0, 2},     // 1.5 rounds up
		{1, 0, 1},     // never below one byte
		{100, 1, 100}, // never more subspaces than dimensions
		{96, 1.0 / 32, 12},
	} {
		if got := SubspacesFor(tc.dim, tc.ratio); got != tc.want {
			t.Errorf("SubspacesFor(%d, %v) = %d, want %d", tc.dim, tc.ratio, got, tc.want)
		}
	}
}

// Uneven subspaces cover every dimension once, in order, and differ in
// size by one at most.
func TestSubspacesCoverTheVector(t *testing.T) {
	for _, tc := range []struct{ dim, m int }{{8, 8}, {8, 3}, {10, 4}, {128, 64}, {1536, 768}, {7, 1}, {33, 16}} {
		c := &Codebook{dim: tc.dim, m: tc.m}
		if c.start(0) != 0 || c.start(tc.m) != tc.dim {
			t.Errorf("dim %d m %d: subspaces span [%d, %d)", tc.dim, tc.m, c.start(0), c.start(tc.m))
		}
		lo, hi := tc.dim, 0
		for j := range tc.m {
			s := c.start(j+1) - c.start(j)
			lo, hi = min(lo, s), max(hi, s)
		}
		if lo < 1 || hi-lo > 1 {
			t.Errorf("dim %d m %d: subspace sizes from %d to %d", tc.dim, tc.m, lo, hi)
		}
	}
}

func collection(n, dim int, seed uint64) []float32 {
	src := vector.NewSource(dim, vector.Clustered, 16, seed)
	data := make([]float32, n*dim)
	for i := range n {
		src.Vector(int64(i), data[i*dim:(i+1)*dim])
	}
	return data
}

// The table's distance to a code is the exact distance to the vector the
// code stands for, for every metric, and the codes sit much nearer their
// vectors than the vectors sit to each other.
func TestTableMatchesDecodedVectors(t *testing.T) {
	for _, tc := range []struct {
		n, dim, m int
		metric    vector.Metric
	}{
		{2000, 16, 8, vector.L2},
		{2000, 10, 4, vector.IP}, // uneven subspaces
		{100, 6, 3, vector.L2},   // fewer vectors than centroids
		{1500, 12, 0, vector.Cosine},
	} {
		data := collection(tc.n, tc.dim, 7)
		if tc.metric == vector.Cosine {
			for i := range tc.n {
				vector.Normalize(data[i*tc.dim : (i+1)*tc.dim])
			}
		}
		cb, err := Train(t.Context(), data, tc.dim, TrainConfig{M: tc.m, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]byte, tc.n*cb.M())
		if err := cb.EncodeAll(t.Context(), data, codes, 0); err != nil {
			t.Fatal(err)
		}
		q := collection(1, tc.dim, 99)
		table := make([]float32, cb.TableLen())
		cb.Table(q, tc.metric, table)
		dec := make([]float32, tc.dim)
		var qerr, spread float64
		for i := range tc.n {
			code := codes[i*cb.M() : (i+1)*cb.M()]
			cb.Decode(code, dec)
			want := vector.L2Sq(q, dec)
			if tc.metric != vector.L2 {
				want = -vector.Dot(q, dec)
			}
			if got := Distance(table, code); math.Abs(float64(got-want)) > 1e-3*(1+math.Abs(float64(want))) {
				t.Fatalf("%+v: vector %d: table distance %v, decoded %v", tc, i, got, want)
			}
			v := data[i*tc.dim : (i+1)*tc.dim]
			qerr += float64(vector.L2Sq(v, dec))
			spread += float64(vector.L2Sq(v, data[((i+1)%tc.n)*tc.dim:((i+1)%tc.n+1)*tc.dim]))
		}
		if qerr > spread/20 {
			t.Errorf("%+v: quantisation error %.3g against a spread of %.3g", tc, qerr, spread)
		}
	}
}

// A codebook is a function of the data and the config, not of how many
// workers trained it.
func TestTrainIsDeterministic(t *testing.T) {
	data := collection(3000, 24, 1)
	var first []byte
	for _, workers := range []int{1, 3, 8} {
		cb, err := Train(t.Context(), data, 24, TrainConfig{M: 12, Seed: 5, Sample: 1000, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := cb.AppendBinary(nil)
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("%d workers trained another codebook than 1 worker", workers)
		}
	}
	cb, _ := Train(t.Context(), data, 24, TrainConfig{M: 12, Seed: 6, Sample: 1000})
	if b, _ := cb.AppendBinary(nil); bytes.Equal(b, first) {
		t.Error("another seed trained the same codebook")
	}
}

func TestTrainRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []float32
		dim  int
		m    int
	}{
		{"empty", nil, 4, 2},
		{"ragged", make([]float32, 10), 4, 2},
		{"too many subspaces", make([]float32, 8), 4, 5},
		{"no dimension", make([]float32, 8), 0, 1},
	} {
		if _, err := Train(t.Context(), tc.data, tc.dim, TrainConfig{M: tc.m}); err == nil {
			t.Errorf("%s: trained", tc.name)
		}
	}
}

func TestCodebookRoundTrip(t *testing.T) {
	cb, err := Train(t.Context(), collection(500, 10, 2), 10, TrainConfig{M: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cb.AppendBinary(nil)
	if len(b) != BinarySize(10) {
		t.Fatalf("stored form of %d bytes, want %d", len(b), BinarySize(10))
	}
	var back Codebook
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if back.Dim() != 10 || back.M() != 3 {
		t.Fatalf("read back dim %d m %d", back.Dim(), back.M())
	}
	b2, _ := back.AppendBinary(nil)
	if !bytes.Equal(b, b2) {
		t.Fatal("read back another codebook")
	}
	nan := bytes.Clone(b)
	copy(nan[8:], []byte{0, 0, 0xc0, 0x7f})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", b[:6]},
		{"truncated", b[:len(b)-1]},
		{"long", append(bytes.Clone(b), 0)},
		{"zero dim", append([]byte{0, 0, 0, 0}, b[4:]...)},
		{"more subspaces than dims", append(append([]byte{}, b[:4]...), append([]byte{11, 0, 0, 0}, b[8:]...)...)},
		{"NaN centroid", nan},
	} {
		if err := new(Codebook).UnmarshalBinary(tc.b); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// FuzzUnmarshalBinary: whatever the bytes, the parser answers without a
// panic, and what it accepts is exactly what AppendBinary writes back.
func FuzzUnmarshalBinary(f *testing.F) {
	cb, err := Train(f.Context(), collection(300, 3, 2), 3, TrainConfig{M: 2})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := cb.AppendBinary(nil)
	f.Add(b)
	f.Add(b[:8])
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Codebook
		if err := c.UnmarshalBinary(b); err != nil {
			if err.Error() == "" {
				t.Fatal("refused with an empty message")
			}
			return
		}
		back, _ := c.AppendBinary(nil)
		if !bytes.Equal(back, b) {
			t.Fatal("accepted bytes that do not write back the same")
		}
	})
}
