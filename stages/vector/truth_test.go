package vector

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// bruteForce is the obvious ground truth: every query against every
// vector, one pair at a time. Under Cosine it normalises copies as
// GroundTruth does, so that both compute each distance with the same bits.
func bruteForce(dim int, data, queries []float32, k int, m Metric) [][]Neighbor {
	if m == Cosine {
		data, queries = append([]float32(nil), data...), append([]float32(nil), queries...)
		for i := 0; i < len(data); i += dim {
			Normalize(data[i : i+dim])
		}
		for i := 0; i < len(queries); i += dim {
			Normalize(queries[i : i+dim])
		}
	}
	var out [][]Neighbor
	top := NewTopK(k)
	for q := 0; q < len(queries); q += dim {
		top.Reset()
		for i := 0; i < len(data); i += dim {
			var d float32
			switch m {
			case L2:
				d = L2Sq(queries[q:q+dim], data[i:i+dim])
			case IP:
				d = -Dot(queries[q:q+dim], data[i:i+dim])
			case Cosine:
				d = 1 - Dot(queries[q:q+dim], data[i:i+dim])
			}
			top.Push(int64(i/dim), d)
		}
		out = append(out, top.Sorted(nil))
	}
	return out
}

func TestGroundTruthIsExact(t *testing.T) {
	const dim, n, nq, k = 37, 3000, 17, 10
	for _, dist := range []Distribution{Normal, Clustered} {
		src := NewSource(dim, dist, 16, 42)
		data := make([]float32, n*dim)
		src.Vectors(0, data)
		queries := make([]float32, nq*dim)
		src.Queries(0, queries)
		for _, m := range []Metric{L2, IP, Cosine} {
			want := bruteForce(dim, data, queries, k, m)
			truth, err := GroundTruth(t.Context(), src.Collection(n), queries, k, m, GroundTruthOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(truth.Neighbors, want) {
				t.Errorf("%v %v: ground truth differs from the nested loop:\n got %v\nwant %v", dist, m, truth.Neighbors[0], want[0])
			}
			if !truth.Whole() || truth.Coverage() != 1 || truth.K != k || truth.Metric != m {
				t.Errorf("%v %v: truth %d/%d scanned, K %d, metric %v", dist, m, truth.Scanned, truth.Total, truth.K, truth.Metric)
			}
			// Cosine distances are those Distance gives, up to rounding.
			if m == Cosine {
				nb := want[0][0]
				d := m.Distance(queries[:dim], data[nb.ID*dim:(nb.ID+1)*dim])
				if diff := d - nb.Dist; diff > 1e-5 || diff < -1e-5 {
					t.Errorf("cosine distance %g, Distance %g", nb.Dist, d)
				}
			}
		}
	}
}

// TestGroundTruthIsDeterministic: workers and block sizes change how the
// work is cut and in which order lists fill, never the answer; a
// collection in memory and the same generated one agree.
func TestGroundTruthIsDeterministic(t *testing.T) {
	const dim, n, nq, k = 20, 1000, 9, 7
	src := NewSource(dim, Uniform, 0, 7)
	queries := make([]float32, nq*dim)
	src.Queries(0, queries)
	data := make([]float32, n*dim)
	src.Vectors(0, data)
	var first *Truth
	for _, tc := range []struct {
		c    Collection
		opts GroundTruthOptions
	}{
		{src.Collection(n), GroundTruthOptions{}},
		{src.Collection(n), GroundTruthOptions{Workers: 1, Block: 1}},
		{src.Collection(n), GroundTruthOptions{Workers: 3, Block: 7}},
		{MemoryCollection(dim, data), GroundTruthOptions{Workers: 8, Block: 64}},
		{MemoryCollection(dim, data), GroundTruthOptions{Workers: 2, Block: 5000}},
	} {
		truth, err := GroundTruth(t.Context(), tc.c, queries, k, L2, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = truth
		} else if !reflect.DeepEqual(truth, first) {
			t.Errorf("%+v: a different ground truth", tc.opts)
		}
	}
}

// TestGroundTruthTies: with every vector equal, the k nearest are the k
// lowest ids, however the blocks are shared out.
func TestGroundTruthTies(t *testing.T) {
	const dim, n, k = 8, 500, 5
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(i % dim)
	}
	q := make([]float32, dim)
	truth, err := GroundTruth(t.Context(), MemoryCollection(dim, data), q, k, L2, GroundTruthOptions{Workers: 4, Block: 3})
	if err != nil {
		t.Fatal(err)
	}
	for j, nb := range truth.Neighbors[0] {
		if nb.ID != int64(j) {
			t.Fatalf("tied neighbours %v, want ids 0..%d", truth.Neighbors[0], k-1)
		}
	}
}

// TestGroundTruthPartial: a limit makes a ground truth that says it is
// partial, and Recall refuses to score against it.
func TestGroundTruthPartial(t *testing.T) {
	const dim, n, k = 16, 400, 10
	src := NewSource(dim, Normal, 0, 1)
	queries := make([]float32, 3*dim)
	src.Queries(0, queries)
	truth, err := GroundTruth(t.Context(), src.Collection(n), queries, k, IP, GroundTruthOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if truth.Whole() || truth.Coverage() != 0.25 || truth.Scanned != 100 || truth.Total != n {
		t.Fatalf("limited ground truth: %d of %d, coverage %v", truth.Scanned, truth.Total, truth.Coverage())
	}
	for _, l := range truth.Neighbors {
		for _, nb := range l {
			if nb.ID >= 100 {
				t.Fatalf("limited to 100 vectors, found %d", nb.ID)
			}
		}
	}
	if _, err := Recall(truth, truth.Neighbors, k); !errors.Is(err, ErrPartialTruth) {
		t.Errorf("recall against a partial ground truth: %v", err)
	}
	// A collection smaller than k keeps what there is.
	truth, err = GroundTruth(t.Context(), src.Collection(4), queries, k, L2, GroundTruthOptions{})
	if err != nil || truth.K != 4 || len(truth.Neighbors[2]) != 4 || !truth.Whole() {
		t.Errorf("4 vectors, k=%d: K %d, %v", k, truth.K, err)
	}
}

func TestGroundTruthRejects(t *testing.T) {
	src := NewSource(4, Normal, 0, 1)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		queries []float32
		k       int
		m       Metric
	}{
		{"partial query", t.Context(), make([]float32, 6), 3, L2},
		{"no queries", t.Context(), nil, 3, L2},
		{"k of 0", t.Context(), make([]float32, 4), 0, L2},
		{"unknown metric", t.Context(), make([]float32, 4), 3, Metric(9)},
		{"cancelled", cancelled, make([]float32, 4), 3, L2},
	} {
		if truth, err := GroundTruth(tc.ctx, src.Collection(100), tc.queries, tc.k, tc.m, GroundTruthOptions{}); err == nil {
			t.Errorf("%s: got a ground truth %+v", tc.name, truth)
		}
	}
}

// TestSourceBlocksMatchVectors: Vectors and Queries give what Vector and
// Query give one at a time, as the pure function of the index they are.
func TestSourceBlocksMatchVectors(t *testing.T) {
	for _, dist := range []Distribution{Uniform, Normal, Clustered} {
		src := NewSource(5, dist, 3, 11)
		block := make([]float32, 4*5)
		src.Vectors(10, block)
		qblock := make([]float32, 4*5)
		src.Queries(10, qblock)
		one := make([]float32, 5)
		for i := range 4 {
			src.Vector(int64(10+i), one)
			if !reflect.DeepEqual(one, block[i*5:(i+1)*5]) {
				t.Errorf("%v: vector %d differs in a block", dist, 10+i)
			}
			src.Query(int64(10+i), one)
			if !reflect.DeepEqual(one, qblock[i*5:(i+1)*5]) {
				t.Errorf("%v: query %d differs in a block", dist, 10+i)
			}
			if reflect.DeepEqual(block[i*5:(i+1)*5], qblock[i*5:(i+1)*5]) {
				t.Errorf("%v: query %d is collection vector %d", dist, 10+i, 10+i)
			}
		}
	}
}
