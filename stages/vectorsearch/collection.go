package vectorsearch

import (
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/vector"
)

// shards is the stored collection of l, read through bl: what an index
// build and a FLAT search read.
func shards(l *dataset.Layout, bl *blobs) *vector.Shards {
	return &vector.Shards{
		Blobs:     bl,
		Name:      func(i int) string { return l.FileName(int64(i)) },
		Count:     l.Collection(),
		Dimension: int(l.Dataset.Vectors.Dimension),
		PerShard:  l.SamplesPerFile,
	}
}

// blockBytes bounds a scan's read: large enough that a read's fixed cost
// vanishes beside its bytes, small enough to stay in cache while every
// distance to it is computed.
const blockBytes = 1 << 20

// blockVectors is the vectors of dim floats in a scan's block.
func blockVectors(dim int) int { return max(1, blockBytes/(4*dim)) }
