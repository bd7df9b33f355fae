package ivf

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"mlps.dev/mlps/stages/vector"
)

// parallel runs fn over [0, n) in contiguous chunks, one per processor,
// and waits: the distance loops of training and assignment are
// independent per vector, and contiguous chunks keep each goroutine on
// its own cache lines.
func parallel(n int, fn func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for t := range w {
		lo, hi := n*t/w, n*(t+1)/w
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// kmeans is one training run: Lloyd's algorithm from k-means++ seeds, on
// a sample held in memory.
type kmeans struct {
	x   []float32 // s × dim sample vectors
	dim int
	k   int
	// spherical keeps the centroids at unit length, for COSINE, whose
	// sample is normalised: then the nearest centroid in L2 is the one of
	// the largest inner product, and the lists are cones, as the queries'
	// neighbourhoods are.
	spherical bool
	maxIter   int
	tol       float64
	rng       *rand.Rand
}

// train returns the k centroids and the number of Lloyd iterations run.
// Its memory is the sample's (which the caller holds) plus
// s × 8 bytes (assignment and distance per sample vector) plus
// k × dim × 12 bytes (centroids and their float64 sums) plus k × 4
// bytes per processor (the products of a vector with every centroid).
func (m *kmeans) train(ctx context.Context) ([]float32, int, error) {
	s := len(m.x) / m.dim
	c := make([]float32, m.k*m.dim)
	dist := make([]float32, s)
	if err := m.seed(ctx, c, dist); err != nil {
		return nil, 0, err
	}
	assign := make([]int32, s)
	sums := make([]float64, m.k*m.dim)
	counts := make([]int64, m.k)
	norms := make([]float32, m.k)
	next := make([]float32, m.dim)
	iters := 0
	for iters < m.maxIter {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		iters++
		for j := range m.k {
			cj := c[j*m.dim : (j+1)*m.dim]
			norms[j] = vector.Dot(cj, cj)
		}
		parallel(s, func(lo, hi int) {
			dots := make([]float32, m.k)
			for i := lo; i < hi; i++ {
				xi := m.x[i*m.dim : (i+1)*m.dim]
				j := nearest(xi, c, norms, dots)
				assign[i] = int32(j)
				dist[i] = vector.L2Sq(xi, c[j*m.dim:(j+1)*m.dim])
			}
		})
		clear(sums)
		clear(counts)
		var objective float64
		for i, j := range assign {
			counts[j]++
			objective += float64(dist[i])
			xi, sj := m.x[i*m.dim:(i+1)*m.dim], sums[int(j)*m.dim:(int(j)+1)*m.dim]
			for d, v := range xi {
				sj[d] += float64(v)
			}
		}
		var shift float64
		for j, n := range counts {
			if n == 0 {
				continue
			}
			cj, sj := c[j*m.dim:(j+1)*m.dim], sums[j*m.dim:(j+1)*m.dim]
			for d := range next {
				next[d] = float32(sj[d] / float64(n))
			}
			if m.spherical {
				vector.Normalize(next)
			}
			shift += float64(vector.L2Sq(next, cj))
			copy(cj, next)
		}
		reseeded := m.reseed(c, counts, dist)
		// Converged when no list was empty and the centroids moved, on
		// average, less than √tol of the mean distance of a vector to its
		// centroid: the lists then hardly change from one iteration to
		// the next, and more iterations would only cost build time.
		if reseeded == 0 && shift/float64(m.k) <= m.tol*objective/float64(s) {
			break
		}
	}
	return c, iters, nil
}

// nearest is the centroid of c nearest to x in L2, norms holding each
// centroid's squared length: |x−c|² = |x|² + |c|² − 2x·c, and |x|² is the
// same for every centroid, so one inner product per centroid decides.
// Ties go to the lower number. dots is scratch of one float per
// centroid.
func nearest(x, c, norms, dots []float32) int {
	vector.DotBlock(x, c, dots)
	best, bestD := 0, float32(math.Inf(1))
	for j, n := range norms {
		if d := n - 2*dots[j]; d < bestD {
			best, bestD = j, d
		}
	}
	return best
}

// seed places the k initial centroids by k-means++: each next centroid
// is a sample vector drawn with probability proportional to its squared
// distance to the nearest centroid placed so far, which spreads the
// seeds over the clusters instead of piling them into the largest, as a
// uniform draw would. dist is left holding those distances.
func (m *kmeans) seed(ctx context.Context, c []float32, dist []float32) error {
	s := len(dist)
	first := m.rng.IntN(s)
	copy(c[:m.dim], m.x[first*m.dim:])
	parallel(s, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dist[i] = vector.L2Sq(m.x[i*m.dim:(i+1)*m.dim], c[:m.dim])
		}
	})
	for j := 1; j < m.k; j++ {
		if j%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var total float64
		for _, d := range dist {
			total += float64(d)
		}
		pick := -1
		if total > 0 {
			r := m.rng.Float64() * total
			var acc float64
			for i, d := range dist {
				acc += float64(d)
				if d > 0 {
					pick = i
				}
				if acc > r && d > 0 {
					break
				}
			}
		}
		if pick < 0 { // every vector sits on a centroid: duplicates
			pick = m.rng.IntN(s)
		}
		cj := c[j*m.dim : (j+1)*m.dim]
		copy(cj, m.x[pick*m.dim:])
		parallel(s, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dist[i] = min(dist[i], vector.L2Sq(m.x[i*m.dim:(i+1)*m.dim], cj))
			}
		})
	}
	return nil
}

// reseed moves every centroid that no sample vector chose onto the
// sample vector farthest from its own centroid (the worst-served one),
// so that no list is wasted; it returns how many it moved. dist holds
// each vector's distance to its centroid and is zeroed for the vectors
// taken, so that two empty lists never take the same one.
func (m *kmeans) reseed(c []float32, counts []int64, dist []float32) int {
	moved := 0
	for j, n := range counts {
		if n != 0 {
			continue
		}
		far, farD := -1, float32(0)
		for i, d := range dist {
			if d > farD {
				far, farD = i, d
			}
		}
		if far < 0 { // every vector sits on a centroid: nothing to split
			return moved
		}
		dist[far] = 0
		copy(c[j*m.dim:(j+1)*m.dim], m.x[far*m.dim:])
		moved++
	}
	return moved
}
