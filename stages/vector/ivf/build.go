// Package ivf is mlps's IVF_FLAT index as an object store serves it:
// k-means centroids kept in memory, and each posting list (the ids and
// full vectors of one centroid's cell) stored as an object of its own,
// fetched whole when a query probes it. A query thus costs one batch of
// nprobe object reads, the pattern of an IVF index on object storage.
//
// Build trains the centroids on a bounded sample, assigns every vector
// and writes the lists and then the index object; Open reads the index
// object back; a Searcher answers queries. Every byte goes through
// vector.Blobs, so that the stage meters it. Names follow upstream
// (Milvus): nlist lists, nprobe probes.
package ivf

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/stages/vector"
)

// VectorSource is a collection an index is built from, read in blocks
// of consecutive vectors: the stage feeds it from stored shards, tests
// from a vector.Source (FromSource). A build reads it in a few ordered
// passes (see Build), one block at a time, and never holds it whole.
// Its method set is that of a collection that can be read by position,
// so any such collection serves as it is.
type VectorSource interface {
	// Dim is the vectors' dimension.
	Dim() int
	// Len is the number of vectors; their ids are 0 to Len()−1.
	Len() int64
	// ReadBlock fills dst, a whole number n of vectors, with vectors
	// first to first+n−1.
	ReadBlock(ctx context.Context, first int64, dst []float32) error
}

// Params are the build's parameters. Zero values take the defaults.
type Params struct {
	// Metric is the index's metric (default COSINE, upstream's default).
	Metric vector.Metric
	// NList is the number of lists (upstream's nlist); 0 takes
	// DefaultNList of the collection's size.
	NList int
	// Seed makes the build reproducible: the sample and the initial
	// centroids are drawn from it, so one seed and one collection make
	// the same objects byte for byte.
	Seed uint64
	// SamplePerList bounds the training sample to this many vectors per
	// list (default 256, FAISS's and Milvus's cap: more points refine the
	// centroids little and cost training time linearly).
	SamplePerList int
	// MaxIter bounds the Lloyd iterations (default 10: an IVF's lists
	// need to be compact, not optimal, and the first iterations do most
	// of the work); training also stops once the centroids barely move.
	MaxIter int
	// Tol is the movement that ends training: the centroids' mean
	// squared shift in one iteration relative to the mean squared
	// distance of a sample vector to its centroid (default 1e-4, a move
	// of 1 % of a cell's radius).
	Tol float64
	// MemoryBytes bounds the vectors the build holds at once: the
	// training sample, and the posting lists gathered before they are
	// written (default DefaultMemoryBytes). A collection larger than it
	// is written in several passes over the source.
	MemoryBytes int64
	// Writers is the number of list objects written at once (default 8),
	// so that an object store's per-request latency overlaps.
	Writers int
}

const (
	// DefaultMemoryBytes is MemoryBytes's default: 1 GiB holds the whole
	// of a 1,000,000 × 128 collection (one write pass) and a sixth of
	// upstream's default 1,000,000 × 1536 (seven passes).
	DefaultMemoryBytes = 1 << 30
	defaultSamplePer   = 256
	defaultMaxIter     = 10
	defaultTol         = 1e-4
	defaultWriters     = 8
	// streamBytes is the buffer of a list too large for MemoryBytes,
	// which is written as its vectors stream by.
	streamBytes = 1 << 20
	// blockBytes is the size of the blocks a build reads.
	blockBytes = 1 << 20
)

// DefaultNList is nlist for a collection of n vectors when none is
// given: 4√n, Milvus's recommendation, which keeps both the centroid
// scan (nlist distances) and a list's read (n/nlist vectors) near √n per
// probe. For 100,000 vectors it is 1,265 lists of 79 vectors on
// average.
func DefaultNList(n int64) int {
	k := int64(math.Round(4 * math.Sqrt(float64(n))))
	return int(max(1, min(k, n, MaxNList)))
}

func (p Params) withDefaults(n int64) Params {
	if p.Metric == 0 {
		p.Metric = vector.Cosine
	}
	if p.NList == 0 {
		p.NList = DefaultNList(n)
	}
	if p.SamplePerList == 0 {
		p.SamplePerList = defaultSamplePer
	}
	if p.MaxIter == 0 {
		p.MaxIter = defaultMaxIter
	}
	if p.Tol == 0 {
		p.Tol = defaultTol
	}
	if p.MemoryBytes == 0 {
		p.MemoryBytes = DefaultMemoryBytes
	}
	if p.Writers == 0 {
		p.Writers = defaultWriters
	}
	return p
}

func (p Params) check(n int64, dim int) error {
	switch {
	case p.Metric < vector.L2 || p.Metric > vector.Cosine:
		return fmt.Errorf("ivf: metric %v, want L2, IP or COSINE", p.Metric)
	case n < 1:
		return fmt.Errorf("ivf: a collection of %d vectors, want at least one", n)
	case dim < 1 || dim > MaxDim:
		return fmt.Errorf("ivf: dimension %d, want 1 to %d", dim, MaxDim)
	case p.NList < 1 || p.NList > MaxNList:
		return fmt.Errorf("ivf: nlist %d, want 1 to %d", p.NList, MaxNList)
	case int64(p.NList) > n:
		return fmt.Errorf("ivf: nlist %d for %d vectors, want at most one list per vector", p.NList, n)
	case int64(p.NList)*int64(dim) > maxCentroidFloats:
		return fmt.Errorf("ivf: nlist %d × dimension %d is more than %d centroid components", p.NList, dim, maxCentroidFloats)
	case p.SamplePerList < 1 || p.MaxIter < 1 || p.Tol < 0 || p.MemoryBytes < 1 || p.Writers < 1:
		return fmt.Errorf("ivf: sample per list %d, max iterations %d, tolerance %g, memory %d and writers %d must be positive",
			p.SamplePerList, p.MaxIter, p.Tol, p.MemoryBytes, p.Writers)
	}
	return nil
}

// sampleSize is the number of training vectors: SamplePerList per list,
// no more than MemoryBytes of vectors, and never fewer than one per list
// nor more than the collection.
func (p Params) sampleSize(n int64, dim int) int {
	s := min(n, int64(p.SamplePerList)*int64(p.NList), p.MemoryBytes/(4*int64(dim)))
	return int(min(max(s, int64(p.NList)), n))
}

// BuildStats is what a build did and cost.
type BuildStats struct {
	// NList, Sample and Iterations are the lists made, the vectors
	// trained on, and the Lloyd iterations run.
	NList, Sample, Iterations int
	// Train, Assign and Write are the phases' durations (Train includes
	// reading the sample), Duration the whole build's.
	Train, Assign, Write, Duration time.Duration
	// Passes is the number of passes over the source: one for the
	// sample, one to assign, and one per group of lists written.
	Passes int
	// Objects and BytesWritten count what was stored: nlist lists and
	// the index object.
	Objects      int
	BytesWritten int64
	// IndexBytes is the index object's size, the memory a searcher's
	// Index holds; LargestList is the largest list object's.
	IndexBytes, LargestList int64
	// PeakBytes is the most the build held at once by its design's
	// formula (see Build), not counting the source's own block.
	PeakBytes int64
}

// IndexName is the name of the index object of the index in dir ("" for
// the top of the Blobs).
func IndexName(dir string) string { return join(dir, "index") }

// ListName is the name of list j's object of the index in dir.
func ListName(dir string, j int) string { return join(dir, fmt.Sprintf("list-%05d", j)) }

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Build makes the index of src under p and stores it in blobs below dir:
// one object per list (ListName), then the index object (IndexName),
// written last so that its presence means a whole index.
//
// It reads src in passes: one draws the training sample (S vectors
// chosen uniformly without replacement from the seed, S = min(N,
// SamplePerList·nlist, MemoryBytes/4D) and at least nlist); one assigns
// every vector to its nearest centroid; then one per group of lists,
// each group as many consecutive lists as fit in MemoryBytes, gathered
// and written whole (a list larger than MemoryBytes alone is written
// as its vectors stream by, through a 1 MiB buffer). Its memory, with
// N vectors of dimension D, P processors and G the largest group, is
// the block being read (1 MiB) and the largest of
//
//	training:  S·(4D + 8) + nlist·(12D + 12 + 4P)
//	assigning: 4N + nlist·(4D + 12 + 4P) + 4PD
//	writing:   4N + nlist·(4D + 24) + max(G, index object), or 1 MiB
//	           for G when a list was streamed
//
// which BuildStats.PeakBytes reports: with the defaults, 4N plus at
// most about 1 GiB whatever N is.
func Build(ctx context.Context, p Params, src VectorSource, blobs vector.Blobs, dir string) (BuildStats, error) {
	start := time.Now()
	n, dim := src.Len(), src.Dim()
	p = p.withDefaults(n)
	if err := p.check(n, dim); err != nil {
		return BuildStats{}, err
	}
	b := &builder{p: p, src: src, blobs: blobs, dir: dir, n: n, dim: dim}
	st := &b.stats
	st.NList, st.Sample = p.NList, p.sampleSize(n, dim)

	centroids, err := b.train(ctx)
	if err != nil {
		return BuildStats{}, err
	}
	st.Train = time.Since(start)

	t := time.Now()
	assign, counts, err := b.assign(ctx, centroids)
	if err != nil {
		return BuildStats{}, err
	}
	st.Assign = time.Since(t)

	t = time.Now()
	if err := b.writeLists(ctx, assign, counts); err != nil {
		return BuildStats{}, err
	}
	index := encodeIndex(&stored{
		Meta:      Meta{Metric: p.Metric, Dim: dim, NList: p.NList, Count: n, Seed: p.Seed, Iterations: st.Iterations, Sample: st.Sample},
		centroids: centroids, counts: counts,
	})
	if err := b.put(ctx, IndexName(dir), index); err != nil {
		return BuildStats{}, err
	}
	st.IndexBytes = int64(len(index))
	st.Objects++
	st.BytesWritten += st.IndexBytes
	st.Write = time.Since(t)
	st.Duration = time.Since(start)
	st.PeakBytes = b.peak(int64(len(index)))
	return *st, nil
}

type builder struct {
	p        Params
	src      VectorSource
	blobs    vector.Blobs
	dir      string
	n        int64
	dim      int
	stats    BuildStats
	block    []float32 // the block being read
	group    int64     // the largest group's gathered bytes
	streamed bool      // a list was larger than MemoryBytes
}

// peak is PeakBytes by the formula of Build's comment.
func (b *builder) peak(index int64) int64 {
	s, d, k := int64(b.stats.Sample), int64(b.dim), int64(b.p.NList)
	p := int64(runtime.GOMAXPROCS(0))
	train := s*(4*d+8) + k*(12*d+12+4*p)
	assign := 4*b.n + k*(4*d+12+4*p) + 4*p*d
	held := b.group
	if b.streamed {
		held = max(held, streamBytes)
	}
	write := 4*b.n + k*(4*d+24) + max(held, index)
	return max(train, assign, write) + 4*int64(len(b.block))
}

// pass reads the source once, in order, a block at a time.
func (b *builder) pass(ctx context.Context, fn func(first int64, block []float32) error) error {
	b.stats.Passes++
	per := int64(blockVectors(b.dim))
	if b.block == nil {
		b.block = make([]float32, min(per, b.n)*int64(b.dim))
	}
	for first := int64(0); first < b.n; first += per {
		block := b.block[:min(per, b.n-first)*int64(b.dim)]
		if err := b.src.ReadBlock(ctx, first, block); err != nil {
			return fmt.Errorf("ivf: read vectors %d to %d: %w", first, first+int64(len(block)/b.dim)-1, err)
		}
		if err := fn(first, block); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// blockVectors is the number of vectors a build reads at once: 1 MiB of
// them, a request size that storage serves near its full rate.
func blockVectors(dim int) int { return max(1, blockBytes/(4*dim)) }

// train draws the sample (Knuth's selection sampling: every subset of S
// ids is equally likely, decided in one ordered pass with no list of
// ids) and runs k-means on it.
func (b *builder) train(ctx context.Context) ([]float32, error) {
	s := b.stats.Sample
	sample := make([]float32, s*b.dim)
	rng := rand.New(rand.NewPCG(b.p.Seed, 0x5a4d91e0)) // the sample's stream
	taken := 0
	err := b.pass(ctx, func(first int64, block []float32) error {
		for v := range len(block) / b.dim {
			left := b.n - (first + int64(v))
			if int64(s-taken) < left && rng.Int64N(left) >= int64(s-taken) {
				continue
			}
			x := sample[taken*b.dim : (taken+1)*b.dim]
			copy(x, block[v*b.dim:])
			if b.p.Metric == vector.Cosine {
				vector.Normalize(x)
			}
			taken++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	km := &kmeans{x: sample, dim: b.dim, k: b.p.NList, spherical: b.p.Metric == vector.Cosine,
		maxIter: b.p.MaxIter, tol: b.p.Tol, rng: rand.New(rand.NewPCG(b.p.Seed, 0x6b6d65616e73))}
	c, iters, err := km.train(ctx)
	b.stats.Iterations = iters
	return c, err
}

// assign puts every vector in the list of its nearest centroid (in L2,
// for every metric: the lists are the Voronoi cells of the centroids,
// and for COSINE the vectors and centroids are unit, where L2 and inner
// product agree). It returns each vector's list and each list's count.
func (b *builder) assign(ctx context.Context, centroids []float32) ([]int32, []int64, error) {
	k := b.p.NList
	norms := make([]float32, k)
	for j := range k {
		cj := centroids[j*b.dim : (j+1)*b.dim]
		norms[j] = vector.Dot(cj, cj)
	}
	assign := make([]int32, b.n)
	per := b.dim + k // a vector and its products with the centroids
	scratch := make([]float32, runtime.GOMAXPROCS(0)*per)
	err := b.pass(ctx, func(first int64, block []float32) error {
		nv := len(block) / b.dim
		w := min(runtime.GOMAXPROCS(0), nv)
		parallel(w, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				x, dots := scratch[t*per:t*per+b.dim], scratch[t*per+b.dim:(t+1)*per]
				for v := nv * t / w; v < nv*(t+1)/w; v++ {
					copy(x, block[v*b.dim:])
					if b.p.Metric == vector.Cosine {
						vector.Normalize(x)
					}
					assign[first+int64(v)] = int32(nearest(x, centroids, norms, dots))
				}
			}
		})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	counts := make([]int64, k)
	for _, j := range assign {
		counts[j]++
	}
	return assign, counts, nil
}

// writeLists writes every list's object, in groups of consecutive lists
// that fit in MemoryBytes together, one pass over the source per group.
func (b *builder) writeLists(ctx context.Context, assign []int32, counts []int64) error {
	k := b.p.NList
	size := make([]int64, k)
	for j, c := range counts {
		size[j] = ListBytes(c, b.dim)
		b.stats.LargestList = max(b.stats.LargestList, size[j])
	}
	// Plan the groups first, so that the gathering buffer is allocated
	// once, at the largest group's size.
	type group struct{ lo, hi int }
	var groups []group
	for lo := 0; lo < k; {
		hi, bytes := lo, int64(0)
		for hi < k && bytes+size[hi] <= b.p.MemoryBytes {
			bytes += size[hi]
			hi++
		}
		if hi == lo { // list lo alone exceeds MemoryBytes: streamed
			groups = append(groups, group{lo, lo + 1})
			lo++
			continue
		}
		b.group = max(b.group, bytes)
		groups = append(groups, group{lo, hi})
		lo = hi
	}
	buf := make([]byte, b.group)
	off := make([]int64, k+1) // list j's object is buf[off[j]:off[j+1]] within its group
	pos := make([]int64, k)   // vectors placed so far per list
	x := make([]float32, b.dim)
	for _, g := range groups {
		if size[g.lo] > b.p.MemoryBytes {
			b.streamed = true
			if err := b.streamList(ctx, g.lo, assign, counts[g.lo]); err != nil {
				return err
			}
			continue
		}
		off[g.lo] = 0
		for j := g.lo; j < g.hi; j++ {
			off[j+1] = off[j] + size[j]
			putListHeader(buf[off[j]:], ListHeader{List: j, Dim: b.dim, Count: counts[j]})
			pos[j] = 0
		}
		for id, j := range assign {
			if int(j) >= g.lo && int(j) < g.hi {
				binary.LittleEndian.PutUint64(buf[off[j]+listHeader+8*pos[j]:], uint64(id))
				pos[j]++
			}
		}
		clear(pos[g.lo:g.hi])
		err := b.pass(ctx, func(first int64, block []float32) error {
			for v := range len(block) / b.dim {
				j := int(assign[first+int64(v)])
				if j < g.lo || j >= g.hi {
					continue
				}
				at := off[j] + listHeader + 8*counts[j] + 4*int64(b.dim)*pos[j]
				putVector(buf[at:], block[v*b.dim:(v+1)*b.dim], x, b.p.Metric)
				pos[j]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(b.p.Writers)
		for j := g.lo; j < g.hi; j++ {
			eg.Go(func() error { return b.put(ectx, ListName(b.dir, j), buf[off[j]:off[j+1]]) })
		}
		if err := eg.Wait(); err != nil {
			return err
		}
		b.stats.Objects += g.hi - g.lo
		b.stats.BytesWritten += off[g.hi]
	}
	return nil
}

// putVector encodes v into dst, normalised (through scratch) for COSINE,
// whose lists hold unit vectors so that a search compares by inner
// product alone.
func putVector(dst []byte, v, scratch []float32, m vector.Metric) {
	if m == vector.Cosine {
		copy(scratch, v)
		vector.Normalize(scratch)
		v = scratch
	}
	for i, f := range v {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}

// streamList writes list j, too large for MemoryBytes, as its ids and
// then its vectors come: one pass over the source, 1 MiB held.
func (b *builder) streamList(ctx context.Context, j int, assign []int32, count int64) (err error) {
	name := ListName(b.dir, j)
	size := ListBytes(count, b.dim)
	w, err := b.blobs.Create(ctx, name, size)
	if err != nil {
		return fmt.Errorf("ivf: create %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	buf := make([]byte, 0, streamBytes)
	flush := func(need int) error {
		if len(buf)+need <= cap(buf) {
			return nil
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("ivf: write %s: %w", name, err)
		}
		return nil
	}
	buf = buf[:listHeader]
	putListHeader(buf, ListHeader{List: j, Dim: b.dim, Count: count})
	for id, a := range assign {
		if int(a) != j {
			continue
		}
		if err := flush(8); err != nil {
			return err
		}
		buf = binary.LittleEndian.AppendUint64(buf, uint64(id))
	}
	x := make([]float32, b.dim)
	vb := 4 * b.dim
	err = b.pass(ctx, func(first int64, block []float32) error {
		for v := range len(block) / b.dim {
			if int(assign[first+int64(v)]) != j {
				continue
			}
			if err := flush(vb); err != nil {
				return err
			}
			if vb > cap(buf) { // a vector larger than the buffer: never with MaxDim
				return fmt.Errorf("ivf: a vector of %d bytes exceeds the stream buffer", vb)
			}
			n := len(buf)
			buf = buf[:n+vb]
			putVector(buf[n:], block[v*b.dim:(v+1)*b.dim], x, b.p.Metric)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("ivf: write %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("ivf: close %s: %w", name, err)
	}
	b.stats.Objects++
	b.stats.BytesWritten += size
	return nil
}

// put stores data as object name, whole.
func (b *builder) put(ctx context.Context, name string, data []byte) error {
	w, err := b.blobs.Create(ctx, name, int64(len(data)))
	if err != nil {
		return fmt.Errorf("ivf: create %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return fmt.Errorf("ivf: write %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("ivf: close %s: %w", name, err)
	}
	return nil
}

// FromSource is the first n vectors of src as a VectorSource, made
// afresh on every read (a vector of a Source is a pure function of its
// seed and id), in parallel: it holds nothing.
func FromSource(src *vector.Source, n int64) VectorSource { return genSource{src, n} }

type genSource struct {
	src *vector.Source
	n   int64
}

func (g genSource) Len() int64 { return g.n }
func (g genSource) Dim() int   { return g.src.Dim() }

func (g genSource) ReadBlock(_ context.Context, first int64, dst []float32) error {
	d := g.src.Dim()
	m := len(dst) / d
	if len(dst)%d != 0 || first < 0 || first+int64(m) > g.n {
		return fmt.Errorf("ivf: %d floats from vector %d do not fit a collection of %d vectors of dimension %d", len(dst), first, g.n, d)
	}
	parallel(m, func(lo, hi int) {
		for v := lo; v < hi; v++ {
			g.src.Vector(first+int64(v), dst[v*d:(v+1)*d])
		}
	})
	return nil
}
