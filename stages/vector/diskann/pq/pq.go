// Package pq is product quantisation as DiskANN uses it for routing: a
// vector is cut into M subspaces, each replaced by the index of the
// nearest of 256 centroids trained for that subspace, so that a vector
// costs M bytes in memory and its distance to a query is M table
// look-ups. The codes only steer a search; results are re-ranked on the
// full vectors read from storage.
package pq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/stages/vector"
)

// Centroids is the number of centroids per subspace: one code byte.
const Centroids = 256

// DefaultCodeBudgetRatio is the share of a vector's raw float32 bytes its
// code may take, Milvus's PQCodeBudgetGBRatio: 0.125 gives D/2 bytes for
// a D-dimensional vector.
const DefaultCodeBudgetRatio = 0.125

// Defaults of TrainConfig.
const (
	// DefaultSample bounds the vectors k-means sees: 64 per centroid, above
	// the 39 per centroid under which k-means is known to overfit, and small
	// enough that training stays a fraction of the graph build.
	DefaultSample = 64 * Centroids
	// DefaultIterations of Lloyd's algorithm; the codes only route, and
	// recall is then restored by the full-precision re-rank.
	DefaultIterations = 10
)

// SubspacesFor is the number of subspaces M for dim-dimensional vectors
// whose codes may take ratio of their raw size (ratio ≤ 0 means
// DefaultCodeBudgetRatio): round(dim × 4 × ratio), at least 1 and at
// most dim. M need not divide dim (see Codebook).
func SubspacesFor(dim int, ratio float64) int {
	if ratio <= 0 {
		ratio = DefaultCodeBudgetRatio
	}
	m := int(math.Round(float64(dim) * 4 * ratio))
	return min(max(m, 1), dim)
}

// Codebook holds the centroids of M subspaces of dim-dimensional vectors.
// When M does not divide dim, the first dim mod M subspaces take one
// dimension more than the others, so every dimension is coded and no
// subspace differs from another by more than one dimension.
type Codebook struct {
	dim, m int
	// cents holds subspace j's 256 centroids, each sub(j) floats, from
	// Centroids × start(j): 256 × dim floats in all.
	cents []float32
}

// Dim is the dimension of the vectors the codebook codes.
func (c *Codebook) Dim() int { return c.dim }

// M is the number of subspaces, the bytes of one code.
func (c *Codebook) M() int { return c.m }

// start is the first dimension of subspace j; start(M) = dim.
func (c *Codebook) start(j int) int {
	q, r := c.dim/c.m, c.dim%c.m
	return j*q + min(j, r)
}

// TrainConfig says how a codebook is trained.
type TrainConfig struct {
	// M is the number of subspaces; 0 means SubspacesFor(dim, 0).
	M int
	// Sample bounds the vectors k-means sees (0 means DefaultSample); they
	// are drawn by seeded selection sampling, without a list of all ids.
	Sample int
	// Iterations of k-means (0 means DefaultIterations).
	Iterations int
	// Seed makes the sample and the initial centroids.
	Seed uint64
	// Workers train subspaces and encode vectors at once (0 means
	// GOMAXPROCS). The result does not depend on it: each subspace is
	// trained by one worker, in one order.
	Workers int
}

func (cfg TrainConfig) withDefaults(dim int) TrainConfig {
	if cfg.M == 0 {
		cfg.M = SubspacesFor(dim, 0)
	}
	if cfg.Sample <= 0 {
		cfg.Sample = DefaultSample
	}
	if cfg.Iterations <= 0 {
		cfg.Iterations = DefaultIterations
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	return cfg
}

// TrainMemory is the memory Train holds beyond data and the codebook
// (256 × dim × 4 bytes): the sample's ids, and one subspace of the sample
// and its assignments per worker.
func TrainMemory(n, dim int, cfg TrainConfig) int64 {
	cfg = cfg.withDefaults(dim)
	s := int64(min(n, cfg.Sample))
	sub := int64((dim + cfg.M - 1) / cfg.M)
	return 8*s + int64(cfg.Workers)*(s*sub*4+s*4+Centroids*(sub*8+8))
}

// Train trains a codebook on data, n = len(data)/dim row-major vectors,
// by k-means in each subspace over a seeded sample of at most
// cfg.Sample vectors. The same data and config give the same codebook.
func Train(ctx context.Context, data []float32, dim int, cfg TrainConfig) (*Codebook, error) {
	if dim <= 0 || len(data) == 0 || len(data)%dim != 0 {
		return nil, fmt.Errorf("pq: %d floats are no whole number of %d-dimensional vectors", len(data), dim)
	}
	cfg = cfg.withDefaults(dim)
	if cfg.M < 1 || cfg.M > dim {
		return nil, fmt.Errorf("pq: %d subspaces for dimension %d; want 1 to %d", cfg.M, dim, dim)
	}
	n := len(data) / dim
	ids := sample(n, cfg.Sample, rand.New(rand.NewPCG(cfg.Seed, 0x5a4d504c45)))
	c := &Codebook{dim: dim, m: cfg.M, cents: make([]float32, Centroids*dim)}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for j := range cfg.M {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			lo, hi := c.start(j), c.start(j+1)
			sub := hi - lo
			pts := make([]float32, len(ids)*sub)
			for i, id := range ids {
				copy(pts[i*sub:(i+1)*sub], data[id*dim+lo:id*dim+hi])
			}
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(j)+1))
			kmeans(pts, sub, c.cents[Centroids*lo:Centroids*hi], cfg.Iterations, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return c, nil
}

// sample draws min(n, k) distinct ids of [0, n) in increasing order by
// selection sampling (Knuth's algorithm S): one pass, no list of n ids.
func sample(n, k int, r *rand.Rand) []int {
	k = min(k, n)
	ids := make([]int, 0, k)
	for i := 0; i < n && len(ids) < k; i++ {
		if r.IntN(n-i) < k-len(ids) {
			ids = append(ids, i)
		}
	}
	return ids
}

// kmeans fits len(cents)/sub centroids to the sub-dimensional points pts
// by Lloyd's algorithm from distinct sample points. An emptied centroid
// moves to a random point, so that every code byte stays in use.
func kmeans(pts []float32, sub int, cents []float32, iters int, r *rand.Rand) {
	n := len(pts) / sub
	k := len(cents) / sub
	// Initial centroids: distinct points while there are enough, then
	// repeats (a collection of fewer than 256 vectors still gets codes).
	for c, i := range r.Perm(n) {
		if c == k {
			break
		}
		copy(cents[c*sub:(c+1)*sub], pts[i*sub:(i+1)*sub])
	}
	for c := n; c < k; c++ {
		copy(cents[c*sub:(c+1)*sub], cents[(c%n)*sub:(c%n+1)*sub])
	}
	assign := make([]int32, n)
	for i := range assign {
		assign[i] = -1
	}
	sums := make([]float64, k*sub)
	counts := make([]int, k)
	for range iters {
		changed := false
		for i := range n {
			best := nearest(cents, sub, pts[i*sub:(i+1)*sub])
			if assign[i] != int32(best) {
				assign[i] = int32(best)
				changed = true
			}
		}
		if !changed {
			return
		}
		clear(sums)
		clear(counts)
		for i, a := range assign {
			counts[a]++
			p := pts[i*sub : (i+1)*sub]
			s := sums[int(a)*sub : (int(a)+1)*sub]
			for t, v := range p {
				s[t] += float64(v)
			}
		}
		for c := range k {
			cc := cents[c*sub : (c+1)*sub]
			if counts[c] == 0 {
				i := r.IntN(n)
				copy(cc, pts[i*sub:(i+1)*sub])
				continue
			}
			for t := range cc {
				cc[t] = float32(sums[c*sub+t] / float64(counts[c]))
			}
		}
	}
}

// nearest is the index of the centroid nearest to p, the first on ties.
func nearest(cents []float32, sub int, p []float32) int {
	best, bestD := 0, float32(math.Inf(1))
	if sub == 2 {
		// The default code budget (D/2 bytes) makes every subspace two
		// dimensions wide: this loop, free of slicing, is three times
		// faster than the general one, and training and encoding spend
		// their time here.
		p0, p1 := p[0], p[1]
		for c := 0; c+1 < len(cents); c += 2 {
			d0, d1 := p0-cents[c], p1-cents[c+1]
			if d := d0*d0 + d1*d1; d < bestD {
				best, bestD = c/2, d
			}
		}
		return best
	}
	for c := 0; c*sub < len(cents); c++ {
		if d := vector.L2Sq(p, cents[c*sub:(c+1)*sub]); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Encode writes v's code, M bytes, to dst.
func (c *Codebook) Encode(v []float32, dst []byte) {
	for j := range dst[:c.m] {
		lo, hi := c.start(j), c.start(j+1)
		dst[j] = byte(nearest(c.cents[Centroids*lo:Centroids*hi], hi-lo, v[lo:hi]))
	}
}

// EncodeAll writes the codes of data's vectors to codes (M bytes each),
// workers at once (0 means GOMAXPROCS).
func (c *Codebook) EncodeAll(ctx context.Context, data []float32, codes []byte, workers int) error {
	n := len(data) / c.dim
	if len(codes) != n*c.m {
		return fmt.Errorf("pq: %d code bytes for %d vectors of %d subspaces", len(codes), n, c.m)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 1024
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for lo := 0; lo < n; lo += chunk {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			for i := lo; i < min(lo+chunk, n); i++ {
				c.Encode(data[i*c.dim:(i+1)*c.dim], codes[i*c.m:(i+1)*c.m])
			}
			return nil
		})
	}
	return g.Wait()
}

// TableLen is the length of a query's distance table: M × 256.
func (c *Codebook) TableLen() int { return c.m * Centroids }

// Table fills dst (TableLen floats) with q's distance to every centroid
// of every subspace, so that Distance(dst, code) approximates the
// distance from q to the coded vector: partial squared distances for
// L2, negated partial inner products for IP and COSINE (whose vectors
// are unit length, as the index stores them). COSINE's distance is the
// sum plus 1; the constant is left out because the table only ranks.
func (c *Codebook) Table(q []float32, metric vector.Metric, dst []float32) {
	dst = dst[:c.TableLen()]
	for j := range c.m {
		lo, hi := c.start(j), c.start(j+1)
		sub := hi - lo
		qs := q[lo:hi]
		cents := c.cents[Centroids*lo : Centroids*hi]
		row := dst[j*Centroids : (j+1)*Centroids]
		for k := range row {
			cv := cents[k*sub : (k+1)*sub]
			if metric == vector.L2 {
				row[k] = vector.L2Sq(qs, cv)
			} else {
				row[k] = -vector.Dot(qs, cv)
			}
		}
	}
}

// Distance is the approximate distance a query's table gives to code.
func Distance(table []float32, code []byte) float32 {
	var s float32
	for j, b := range code {
		s += table[j*Centroids+int(b)]
	}
	return s
}

// Decode writes the vector code stands for (its centroids) to dst.
func (c *Codebook) Decode(code []byte, dst []float32) {
	for j, b := range code[:c.m] {
		lo, hi := c.start(j), c.start(j+1)
		sub := hi - lo
		copy(dst[lo:hi], c.cents[Centroids*lo+int(b)*sub:Centroids*lo+(int(b)+1)*sub])
	}
}

// MaxDim bounds the dimension a stored codebook may claim, so that a
// corrupt header cannot ask for an absurd allocation; it is far above
// any embedding in use (upstream caps at 32,768).
const MaxDim = 1 << 16

// BinarySize is the bytes of a codebook of dim dimensions in its stored
// form: dim and M (uint32 each) and 256 × dim float32, little-endian.
func BinarySize(dim int) int { return 8 + Centroids*dim*4 }

// AppendBinary appends the codebook's stored form to b.
func (c *Codebook) AppendBinary(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint32(b, uint32(c.dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(c.m))
	for _, v := range c.cents {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b, nil
}

// UnmarshalBinary reads a codebook's stored form, all of data, refusing
// any that is not one AppendBinary could have written.
func (c *Codebook) UnmarshalBinary(data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("pq: codebook of %d bytes is shorter than its 8-byte header", len(data))
	}
	dim := binary.LittleEndian.Uint32(data)
	m := binary.LittleEndian.Uint32(data[4:])
	switch {
	case dim == 0 || dim > MaxDim:
		return fmt.Errorf("pq: codebook dimension %d; want 1 to %d", dim, MaxDim)
	case m == 0 || m > dim:
		return fmt.Errorf("pq: codebook of %d subspaces for dimension %d; want 1 to %d", m, dim, dim)
	case len(data) != BinarySize(int(dim)):
		return fmt.Errorf("pq: codebook of dimension %d takes %d bytes, have %d", dim, BinarySize(int(dim)), len(data))
	}
	cents := make([]float32, Centroids*int(dim))
	for i := range cents {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data[8+4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("pq: codebook holds a centroid that is not a finite number")
		}
		cents[i] = v
	}
	*c = Codebook{dim: int(dim), m: int(m), cents: cents}
	return nil
}
