package vectorsearch

import (
	"context"
	"fmt"

	"mlps.dev/mlps/stages/vector"
)

// engine is an index type as the stages drive it.
type engine interface {
	// build builds the index from the stored collection coll and
	// stores it through bl.
	build(ctx context.Context, b *built, coll *vector.Shards, bl *blobs) (buildStats, error)
	// open reads back what the index keeps in memory, through bl.
	open(ctx context.Context, b *built, bl *blobs) (index, error)
	// stored says whether the index has objects of its own; FLAT's are
	// the collection's shards.
	stored() bool
	// size is what the index of b stores, in how many objects, and what
	// its build holds in memory, by the layout's formulas: known before
	// the build.
	size(b *built) (bytes, objects, buildMemory int64)
}

// buildStats is what a build reports beside its time.
type buildStats struct {
	// memoryBytes is what the build's design holds at its peak, by its
	// formula: the figure that grows with the collection.
	memoryBytes int64
}

// searchParams are a query stage's tunables, zero when unset.
type searchParams struct {
	nprobe, searchList, beamWidth int
}

// index is an opened index.
type index interface {
	// objects names every object a search may read, for eviction.
	objects() []string
	// memoryBytes is what the index keeps in memory to serve searches.
	memoryBytes() int64
	// searcher returns a searcher of its own for one worker, which
	// reads through bl.
	searcher(bl *blobs, p searchParams) searcher
}

// searcher answers one query at a time, reusing its buffers. The result
// is the searcher's until its next search; cost is what the search read
// from storage.
type searcher interface {
	search(ctx context.Context, q []float32, k int) (got []vector.Neighbor, cost ioCost, err error)
}

// ioCost is what one search read: bytes that came back, in reads.
type ioCost struct{ bytes, reads int64 }

func engineOf(indexType string) (engine, error) {
	switch indexType {
	case "FLAT":
		return flatEngine{}, nil
	case "IVF_FLAT":
		return ivfEngine{}, nil
	case "DISKANN":
		return diskannEngine{}, nil
	}
	return nil, fmt.Errorf("index type %s is not built yet", indexType)
}

// flatEngine is FLAT: no index at all. Every query reads the whole
// collection and compares the query with every vector, which is the
// exact answer and the most storage a query can cost.
type flatEngine struct{}

func (flatEngine) stored() bool { return false }

func (flatEngine) size(*built) (bytes, objects, buildMemory int64) { return 0, 0, 0 }

func (flatEngine) build(context.Context, *built, *vector.Shards, *blobs) (buildStats, error) {
	return buildStats{}, nil
}

func (flatEngine) open(_ context.Context, b *built, _ *blobs) (index, error) {
	return &flatIndex{b: b}, nil
}

type flatIndex struct{ b *built }

func (x *flatIndex) objects() []string {
	names := make([]string, x.b.coll.Files)
	for i := range names {
		names[i] = x.b.coll.FileName(int64(i))
	}
	return names
}

func (x *flatIndex) memoryBytes() int64 { return 0 }

func (x *flatIndex) searcher(bl *blobs, _ searchParams) searcher {
	dim := int(x.b.coll.Dataset.Vectors.Dimension)
	n := blockVectors(dim)
	return &flatSearcher{b: x.b, bl: bl, coll: shards(x.b.coll, bl), dim: dim,
		q: make([]float32, dim), block: make([]float32, n*dim), dist: make([]float32, n)}
}

type flatSearcher struct {
	b     *built
	bl    *blobs
	coll  *vector.Shards
	dim   int
	q     []float32 // the query, normalised under COSINE
	block []float32
	dist  []float32
	top   *vector.TopK
	out   []vector.Neighbor
}

// search compares q with every vector, a block read at a time: FLAT's
// cost is the whole collection per query.
func (s *flatSearcher) search(ctx context.Context, q []float32, k int) ([]vector.Neighbor, ioCost, error) {
	if s.top == nil {
		s.top = vector.NewTopK(k)
	}
	s.top.Reset()
	m := s.b.metric
	copy(s.q, q)
	if m == vector.Cosine {
		vector.Normalize(s.q)
	}
	per := int64(len(s.dist))
	for first := int64(0); first < s.coll.Count; first += per {
		n := min(per, s.coll.Count-first)
		block := s.block[:n*int64(s.dim)]
		if err := s.coll.ReadBlock(ctx, first, block); err != nil {
			return nil, ioCost{}, err
		}
		if m == vector.Cosine {
			for i := int64(0); i < n; i++ {
				vector.Normalize(block[i*int64(s.dim) : (i+1)*int64(s.dim)])
			}
		}
		d := s.dist[:n]
		m.BlockDistance(s.q, block, d)
		for i, v := range d {
			s.top.Push(first+int64(i), v)
		}
	}
	s.out = s.top.Sorted(s.out[:0])
	var c ioCost
	c.bytes, c.reads = s.bl.take()
	return s.out, c, nil
}
