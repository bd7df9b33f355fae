package vector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Truth is the exact answer to a query set over a collection, with how
// much of the collection it saw. Upstream once reported recall 0.009 in a
// valid-looking run because its ground truth came from 10,000 of
// 1,000,000 vectors; a Truth carries its coverage so that Recall can
// refuse to score against a partial one.
type Truth struct {
	// Metric is the metric the distances are under.
	Metric Metric
	// K is the neighbours kept per query: the k asked for, or fewer when
	// the vectors scanned were fewer.
	K int
	// Neighbors holds each query's K nearest, nearest first, ties by id.
	Neighbors [][]Neighbor
	// Scanned is the number of vectors compared with every query; Total
	// the collection's size (Collection.Len: a caller that knows the
	// collection should hold more, as a workload says, checks it).
	Scanned, Total int64
}

// Coverage is the share of the collection the ground truth compared with
// its queries: 1 for a ground truth that recall may be scored against.
func (t *Truth) Coverage() float64 {
	if t.Total <= 0 {
		return 0
	}
	return float64(t.Scanned) / float64(t.Total)
}

// Whole says that every vector of a non-empty collection was compared,
// counted exactly rather than through a rounded Coverage.
func (t *Truth) Whole() bool { return t.Total > 0 && t.Scanned == t.Total }

// GroundTruthOptions tunes GroundTruth; the zero value is the default.
type GroundTruthOptions struct {
	// Workers is the number of goroutines comparing blocks (default
	// GOMAXPROCS).
	Workers int
	// Block is the number of vectors read and compared as one block
	// (default: 256 KiB of vectors, which stays in a core's L2 cache
	// while every query passes over it).
	Block int
	// Limit, when positive, compares the queries with only the first
	// Limit vectors: a partial ground truth, as upstream's bug made one,
	// whose Coverage is below 1 and which Recall refuses. 0 compares all.
	Limit int64
}

// GroundTruth computes, for each query, the exact k nearest vectors of c
// under m, ties by id, comparing every query with every vector (up to
// opts.Limit). queries holds the query vectors one after the other, each
// c.Dim() floats.
//
// The work is tiled for the cache: each worker reads one block of
// consecutive vectors and passes every query over it with a block kernel
// before it reads the next, so that a vector is fetched from memory (or
// generated, or read from storage) once for all queries rather than once
// per query. Memory is the queries' top-k lists (queries × k), one block
// and its distances per worker, and under Cosine a normalised copy of the
// queries; never a function of the collection's size.
//
// Under Cosine the queries and each block are normalised and compared by
// inner product, as indexes store unit vectors; distances are 1 − cos.
// The answer does not depend on the number of workers or the block size:
// each distance is computed by the same kernel in the same order, and the
// top k under (distance, id) is one set whatever order it is built in.
func GroundTruth(ctx context.Context, c Collection, queries []float32, k int, m Metric, opts GroundTruthOptions) (*Truth, error) {
	dim := c.Dim()
	switch {
	case dim <= 0:
		return nil, fmt.Errorf("ground truth: dimension %d", dim)
	case len(queries)%dim != 0:
		return nil, fmt.Errorf("ground truth: %d floats of queries are not a whole number of %d-dimensional vectors", len(queries), dim)
	case k < 1:
		return nil, fmt.Errorf("ground truth: k = %d, must be at least 1", k)
	case m < L2 || m > Cosine:
		return nil, fmt.Errorf("ground truth: %v", m)
	}
	nq := len(queries) / dim
	if nq == 0 {
		return nil, errors.New("ground truth: no queries")
	}
	total := c.Len()
	scan := total
	if opts.Limit > 0 && opts.Limit < total {
		scan = opts.Limit
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	block := opts.Block
	if block <= 0 {
		block = max(1, (256<<10)/(4*dim))
	}
	if m == Cosine {
		queries = append([]float32(nil), queries...)
		for q := range nq {
			Normalize(queries[q*dim : (q+1)*dim])
		}
	}
	top := make([]gtQuery, nq)
	for q := range top {
		top[q].top = NewTopK(k)
		top[q].worst.Store(math.Float32bits(float32(math.Inf(1))))
	}
	blocks := (scan + int64(block) - 1) / int64(block)
	workers = int(min(int64(workers), max(blocks, 1)))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			buf := make([]float32, block*dim)
			dist := make([]float32, block)
			for {
				b := next.Add(1) - 1
				if b >= blocks {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				first := b * int64(block)
				n := int(min(int64(block), scan-first))
				vecs := buf[:n*dim]
				if err := c.ReadBlock(gctx, first, vecs); err != nil {
					return fmt.Errorf("ground truth: vectors %d to %d: %w", first, first+int64(n)-1, err)
				}
				if m == Cosine {
					for i := range n {
						Normalize(vecs[i*dim : (i+1)*dim])
					}
				}
				for q := range top {
					m.BlockDistance(queries[q*dim:(q+1)*dim], vecs, dist[:n])
					top[q].offer(first, dist[:n])
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	t := &Truth{Metric: m, K: int(min(int64(k), scan)), Neighbors: make([][]Neighbor, nq), Scanned: scan, Total: total}
	for q := range top {
		t.Neighbors[q] = top[q].top.Sorted(make([]Neighbor, 0, t.K))
	}
	return t, nil
}

// gtQuery is one query's top k, shared by the workers. worst mirrors
// top.Worst() so that a worker can skip a block with no candidate without
// taking the lock, which is most blocks once the list has filled: it only
// falls, so a stale value lets a few extra candidates reach the locked
// check, never keeps one out.
type gtQuery struct {
	mu    sync.Mutex
	worst atomic.Uint32 // float32 bits
	top   *TopK
}

// offer pushes the vectors first, first+1, ... at distances dist.
func (g *gtQuery) offer(first int64, dist []float32) {
	worst := math.Float32frombits(g.worst.Load())
	i := 0
	for i < len(dist) && !(dist[i] <= worst) {
		i++
	}
	if i == len(dist) {
		return
	}
	g.mu.Lock()
	for ; i < len(dist); i++ {
		if dist[i] <= g.top.Worst() {
			g.top.Push(first+int64(i), dist[i])
		}
	}
	g.worst.Store(math.Float32bits(g.top.Worst()))
	g.mu.Unlock()
}
