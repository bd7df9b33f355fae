package vectorsearch

import (
	"context"

	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/diskann"
	"mlps.dev/mlps/stages/vector/diskann/pq"
)

// diskannEngine is DISKANN (stages/vector/diskann): a Vamana graph whose
// nodes (full vector and neighbours) sit in 4 KiB sectors on storage, PQ
// codes in memory to steer, and a beam search that reads one batch of
// sectors per hop.
type diskannEngine struct{}

// diskannName is the index's name below its folder: its objects are
// diskann_disk.index and diskann_pq.bin, as DiskANN names its files.
const diskannName = "diskann"

func (diskannEngine) stored() bool { return true }

func (diskannEngine) params(b *built) diskann.BuildParams {
	s := b.spec
	return diskann.BuildParams{Metric: b.metric, MaxDegree: s.MaxDegree, SearchListSize: s.SearchListSize,
		Alpha: float32(s.Alpha), PQCodeBudgetRatio: s.PQCodeBudgetRatio, Seed: b.seed, Workers: s.Workers}
}

// build reads the whole collection into memory, which the graph's build
// needs (diskann.BuildMemory counts it), then builds and writes the index.
func (e diskannEngine) build(ctx context.Context, b *built, coll *vector.Shards, bl *blobs) (buildStats, error) {
	n, dim := coll.Len(), coll.Dim()
	data := make([]float32, n*int64(dim))
	per := int64(blockVectors(dim))
	for first := int64(0); first < n; first += per {
		m := min(per, n-first)
		if err := coll.ReadBlock(ctx, first, data[first*int64(dim):(first+m)*int64(dim)]); err != nil {
			return buildStats{}, err
		}
	}
	st, err := diskann.Build(ctx, bl, diskannName, data, dim, e.params(b))
	return buildStats{memoryBytes: st.MemoryBytes}, err
}

func (diskannEngine) open(ctx context.Context, _ *built, bl *blobs) (index, error) {
	x, err := diskann.Open(ctx, bl, diskannName, diskann.OpenOptions{})
	if err != nil {
		return nil, err
	}
	return &diskannIndex{x: x}, nil
}

type diskannIndex struct{ x *diskann.Index }

func (i *diskannIndex) objects() []string {
	return []string{diskann.IndexObject(diskannName), diskann.PQObject(diskannName)}
}

func (i *diskannIndex) memoryBytes() int64 { return i.x.MemoryBytes() }

func (i *diskannIndex) searcher(_ *blobs, p searchParams) searcher {
	return &diskannSearcher{s: i.x.NewSearcher(diskann.SearchParams{ListSize: p.searchList, BeamWidth: p.beamWidth})}
}

type diskannSearcher struct {
	s   *diskann.Searcher
	out []vector.Neighbor
}

func (s *diskannSearcher) search(ctx context.Context, q []float32, k int) ([]vector.Neighbor, ioCost, error) {
	got, st, err := s.s.Search(ctx, q, k, s.out[:0])
	s.out = got
	return got, ioCost{bytes: st.BytesRead, reads: int64(st.Reads)}, err
}

func (e diskannEngine) size(b *built) (bytes, objects, buildMemory int64) {
	n, dim := b.coll.Collection(), int(b.coll.Dataset.Vectors.Dimension)
	p := e.params(b)
	l, err := diskann.NewLayout(dim, p.MaxDegree)
	if err != nil {
		return 0, 2, 0
	}
	m := pq.SubspacesFor(dim, p.PQCodeBudgetRatio)
	return l.IndexBytes(n) + diskann.PQObjectBytes(n, dim, m), 2, diskann.BuildMemory(int(n), dim, p)
}
