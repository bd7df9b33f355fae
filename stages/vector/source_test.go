package vector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// lid is the maximum-likelihood estimate of the local intrinsic
// dimension (Levina and Bickel) at a query, from its nearest neighbours
// under L2 (squared distances): −(k−1) / Σ ln(d_i / d_k).
func lid(nbs []Neighbor) float64 {
	k := len(nbs)
	dk := math.Sqrt(float64(nbs[k-1].Dist))
	s := 0.0
	for _, n := range nbs[:k-1] {
		s += math.Log(math.Sqrt(float64(n.Dist)) / dk)
	}
	return -float64(k-1) / s
}

func meanLID(t *testing.T, src *Source, n int64) float64 {
	const nq, k = 100, 20
	queries := make([]float32, nq*src.Dim())
	src.Queries(0, queries)
	truth, err := GroundTruth(t.Context(), src.Collection(n), queries, k, L2, GroundTruthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, l := range truth.Neighbors {
		sum += lid(l)
	}
	return sum / nq
}

// TestClusteredShape checks what Clustered models: a low intrinsic
// dimension (Normal's is far higher at the same size), clusters apart
// (a vector is nearer its own centre than any other), zipf sizes, and
// the spectrum's scale.
func TestClusteredShape(t *testing.T) {
	const dim, n = 128, 20_000
	src := NewSource(dim, Clustered, 0, 1)
	if len(src.cum) != DefaultClusters {
		t.Fatalf("%d clusters, want the default %d", len(src.cum), DefaultClusters)
	}
	clustered, normal := meanLID(t, src, n), meanLID(t, NewSource(dim, Normal, 0, 1), n)
	if clustered < 12 || clustered > 35 || normal < 1.8*clustered {
		t.Errorf("intrinsic dimension %.1f (Normal's %.1f): want 12 to 35, and under Normal's / 1.8", clustered, normal)
	}

	const sample = 2000
	counts := make([]int, DefaultClusters)
	v, dist := make([]float32, dim), make([]float32, DefaultClusters)
	var pcg rand.PCG
	r := rand.New(&pcg)
	for i := range int64(sample) {
		pcg.Seed(src.streamSeed(streamCollection), uint64(i))
		c := src.cluster(r)
		counts[c]++
		src.Vector(i, v)
		L2SqBlock(v, src.centres, dist)
		if nearest := slices.Index(dist, slices.Min(dist)); nearest != c {
			t.Fatalf("vector %d of cluster %d is nearer centre %d", i, c, nearest)
		}
	}
	h := 0.0
	for c := range DefaultClusters {
		h += 1 / float64(c+1)
	}
	// Cluster 0 holds 1/H of the vectors: 266 of 2000, σ 15.
	if want := sample / h; math.Abs(float64(counts[0])-want) > 60 || counts[1] > counts[0] {
		t.Errorf("cluster 0 drew %d of %d, want about %.0f; cluster 1 %d", counts[0], sample, want, counts[1])
	}

	variance := 0.0
	for _, s := range src.scale {
		variance += float64(s) * float64(s)
	}
	if want := clusterSpread * clusterSpread * dim; math.Abs(variance-want) > 1e-3*want {
		t.Errorf("a cluster's variance is %g, want %g", variance, want)
	}
	sorted := slices.Sorted(slices.Values(src.scale))
	if ratio := float64(sorted[dim-1] / sorted[dim-2]); math.Abs(ratio*ratio-2) > 1e-3 {
		t.Errorf("the two largest variances are %g apart, want 2 (decay 1)", ratio*ratio)
	}
	descending := slices.Clone(sorted)
	slices.Reverse(descending)
	if slices.Equal(src.scale, sorted) || slices.Equal(src.scale, descending) {
		t.Error("the variances run in order along the components: a product quantiser's first subspace would hold them all")
	}
}

// TestSourceIsPure: a vector is a function of (seed, index) alone,
// whichever Source made it and in whatever order.
func TestSourceIsPure(t *testing.T) {
	for _, dist := range []Distribution{Uniform, Normal, Clustered} {
		a, b := NewSource(16, dist, 0, 5), NewSource(16, dist, 0, 5)
		other := NewSource(16, dist, 0, 6)
		va, vb, vo := make([]float32, 16), make([]float32, 16), make([]float32, 16)
		for _, i := range []int64{7, 3, 1 << 40, 0, 7} {
			a.Vector(i, va)
			b.Vector(i, vb)
			other.Vector(i, vo)
			if !slices.Equal(va, vb) || slices.Equal(va, vo) {
				t.Errorf("%v vector %d: not a function of seed and index", dist, i)
			}
		}
	}
}

func TestParseDistribution(t *testing.T) {
	for _, name := range Distributions {
		d, err := ParseDistribution(name)
		if err != nil || d.String() != name {
			t.Errorf("%q: %v, %v", name, d, err)
		}
	}
	if _, err := ParseDistribution("zipfian"); err == nil {
		t.Error("parsed an unknown distribution")
	}
}

// BenchmarkSourceVectors generates blocks of 256 vectors, as GroundTruth
// and WriteShard read a Source, and one vector at a time; MB/s is the
// rate floats come out at, allocs/op what a block or a vector costs.
func BenchmarkSourceVectors(b *testing.B) {
	const dim, rows = 128, 256
	for _, dist := range []Distribution{Uniform, Normal, Clustered} {
		src := NewSource(dim, dist, 0, 1)
		block := make([]float32, rows*dim)
		b.Run(fmt.Sprintf("%v/block", dist), func(b *testing.B) {
			b.SetBytes(4 * rows * dim)
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				src.Vectors(i, block)
				i += rows
			}
		})
		b.Run(fmt.Sprintf("%v/vector", dist), func(b *testing.B) {
			b.SetBytes(4 * dim)
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				src.Vector(i, block[:dim])
				i++
			}
		})
	}
}
