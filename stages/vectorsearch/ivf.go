package vectorsearch

import (
	"context"

	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/ivf"
)

// ivfEngine is IVF_FLAT (stages/vector/ivf): centroids in memory, each
// posting list an object of its own, a query one batch of nprobe
// whole-object reads.
type ivfEngine struct{}

func (ivfEngine) stored() bool { return true }

func (ivfEngine) size(b *built) (bytes, objects, buildMemory int64) {
	n, dim := b.coll.Collection(), int(b.coll.Dataset.Vectors.Dimension)
	nlist := b.nlist()
	// The build holds the collection when it fits ivf's default bound,
	// and writes in passes of that bound when it does not.
	return ivf.StoredBytes(n, nlist, dim), int64(nlist) + 1, min(n*int64(dim)*4, ivf.DefaultMemoryBytes) + n*4
}

func (ivfEngine) build(ctx context.Context, b *built, coll *vector.Shards, bl *blobs) (buildStats, error) {
	st, err := ivf.Build(ctx, ivf.Params{Metric: b.metric, NList: b.nlist(), Seed: b.seed, Writers: b.spec.Workers}, coll, bl, "")
	return buildStats{memoryBytes: st.PeakBytes + st.IndexBytes}, err
}

func (ivfEngine) open(ctx context.Context, _ *built, bl *blobs) (index, error) {
	x, err := ivf.Open(ctx, bl, "")
	if err != nil {
		return nil, err
	}
	return &ivfIndex{x: x}, nil
}

type ivfIndex struct{ x *ivf.Index }

func (i *ivfIndex) objects() []string {
	names := []string{ivf.IndexName("")}
	for j := range i.x.NList {
		names = append(names, ivf.ListName("", j))
	}
	return names
}

// memoryBytes is the centroids a search keeps.
func (i *ivfIndex) memoryBytes() int64 { return int64(i.x.NList) * int64(i.x.Dim) * 4 }

// searcher reads through the index's own Blobs, which it was opened with:
// the per-query figures come from the search's own count.
func (i *ivfIndex) searcher(_ *blobs, p searchParams) searcher {
	return &ivfSearcher{s: i.x.NewSearcher(), nprobe: p.nprobe}
}

type ivfSearcher struct {
	s      *ivf.Searcher
	nprobe int
}

func (s *ivfSearcher) search(ctx context.Context, q []float32, k int) ([]vector.Neighbor, ioCost, error) {
	got, st, err := s.s.Search(ctx, q, k, s.nprobe)
	return got, ioCost{bytes: st.BytesRead, reads: int64(st.Reads)}, err
}
