package ivf

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"mlps.dev/mlps/stages/vector"
)

// blobs returns s vectors of dimension dim drawn around the given
// centres (spread sd), centre i%len(centres) for vector i.
func blobs(centres [][]float32, s int, sd float64, seed uint64) []float32 {
	dim := len(centres[0])
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, s*dim)
	for i := range s {
		c := centres[i%len(centres)]
		for d := range dim {
			x[i*dim+d] = c[d] + float32(sd*r.NormFloat64())
		}
	}
	return x
}

// Well-separated clusters are found: each centroid lands on its own
// cluster's centre, whatever the seed, and a seed repeats its result.
func TestKMeansFindsSeparatedClusters(t *testing.T) {
	centres := [][]float32{{10, 0, 0, 0}, {0, 10, 0, 0}, {0, 0, -10, 0}, {5, 5, 5, 5}, {-8, 2, 0, 3}}
	x := blobs(centres, 1000, 0.1, 3)
	for _, tc := range []struct {
		seed      uint64
		spherical bool
	}{{1, false}, {2, false}, {3, false}, {4, true}} {
		run := func() ([]float32, int) {
			data := slices.Clone(x)
			if tc.spherical {
				for i := 0; i < len(data); i += 4 {
					vector.Normalize(data[i : i+4])
				}
			}
			km := &kmeans{x: data, dim: 4, k: len(centres), spherical: tc.spherical, maxIter: 20, tol: 1e-6, rng: rand.New(rand.NewPCG(tc.seed, 0))}
			c, iters, err := km.train(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return c, iters
		}
		c, iters := run()
		if again, _ := run(); !slices.Equal(c, again) {
			t.Errorf("seed %d: two runs differ", tc.seed)
		}
		if iters >= 20 {
			t.Errorf("seed %d: %d iterations, want convergence before the bound", tc.seed, iters)
		}
		for _, centre := range centres {
			want := slices.Clone(centre)
			tolerance := float32(0.05)
			if tc.spherical {
				vector.Normalize(want)
				tolerance = 0.001
			}
			best := float32(math.Inf(1))
			for j := range len(centres) {
				best = min(best, vector.L2Sq(want, c[j*4:(j+1)*4]))
			}
			if best > tolerance {
				t.Errorf("seed %d spherical %v: no centroid near %v (nearest at squared distance %g)", tc.seed, tc.spherical, want, best)
			}
		}
	}
}

// A sample with fewer distinct vectors than lists still trains, with
// finite centroids, and places one centroid on each distinct vector.
func TestKMeansDuplicates(t *testing.T) {
	x := blobs([][]float32{{1, 2}, {3, 4}}, 50, 0, 1) // two distinct vectors, 25 copies each
	km := &kmeans{x: x, dim: 2, k: 4, maxIter: 5, tol: 1e-4, rng: rand.New(rand.NewPCG(1, 0))}
	c, _, err := km.train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("centroids %v", c)
		}
	}
	for _, want := range [][]float32{{1, 2}, {3, 4}} {
		found := false
		for j := range 4 {
			found = found || slices.Equal(c[2*j:2*j+2], want)
		}
		if !found {
			t.Errorf("no centroid on %v: %v", want, c)
		}
	}
}

// An empty list's centroid moves onto the worst-served vector, and two
// empty lists take two different vectors.
func TestReseedTakesTheFarthest(t *testing.T) {
	x := []float32{0, 1, 2, 3, 4} // dimension 1
	km := &kmeans{x: x, dim: 1, k: 3}
	c := []float32{0, 100, 200}
	dist := []float32{0, 1, 4, 9, 16}
	if moved := km.reseed(c, []int64{5, 0, 0}, dist); moved != 2 {
		t.Fatalf("moved %d, want 2", moved)
	}
	if !slices.Equal(c, []float32{0, 4, 3}) {
		t.Errorf("centroids %v, want [0 4 3]", c)
	}
}
