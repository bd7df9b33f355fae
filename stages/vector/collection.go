package vector

import (
	"context"
	"fmt"
)

// Collection is a collection's vectors, read in blocks of consecutive
// vectors as GroundTruth and index builds scan them: generated from a
// Source, read from stored shards (Shards), or held in memory. Reading by
// position rather than in one stream lets several workers each take a
// block at once, and lets a caller read a block again instead of keeping
// it.
type Collection interface {
	// Dim is the vectors' dimension.
	Dim() int
	// Len is the number of vectors.
	Len() int64
	// ReadBlock fills dst, a whole number n of vectors, with vectors
	// first to first+n−1. It may be called from several goroutines at
	// once.
	ReadBlock(ctx context.Context, first int64, dst []float32) error
}

// checkBlock is ReadBlock's argument check, shared by the collections
// here: a block outside the collection or not a whole number of vectors
// is a caller's bug that would otherwise read garbage.
func checkBlock(c Collection, first int64, dst []float32) error {
	d := c.Dim()
	if d <= 0 || len(dst)%d != 0 {
		return fmt.Errorf("vector: a block of %d floats is not a whole number of %d-dimensional vectors", len(dst), d)
	}
	if n := int64(len(dst) / d); first < 0 || first+n > c.Len() {
		return fmt.Errorf("vector: vectors %d to %d are outside a collection of %d", first, first+n-1, c.Len())
	}
	return nil
}

// Collection is the first n vectors of s, generated as they are read.
func (s *Source) Collection(n int64) Collection { return sourceCollection{s, n} }

type sourceCollection struct {
	s *Source
	n int64
}

func (c sourceCollection) Dim() int   { return c.s.dim }
func (c sourceCollection) Len() int64 { return c.n }

func (c sourceCollection) ReadBlock(_ context.Context, first int64, dst []float32) error {
	if err := checkBlock(c, first, dst); err != nil {
		return err
	}
	c.s.Vectors(first, dst)
	return nil
}

// MemoryCollection is the collection held in data, len(data)/dim vectors
// of dim floats one after the other: for tests, benchmarks and data an
// index already holds.
func MemoryCollection(dim int, data []float32) Collection {
	return memCollection{dim: dim, data: data[:len(data)/max(dim, 1)*dim]}
}

type memCollection struct {
	dim  int
	data []float32
}

func (c memCollection) Dim() int { return c.dim }
func (c memCollection) Len() int64 {
	if c.dim <= 0 {
		return 0
	}
	return int64(len(c.data) / c.dim)
}

func (c memCollection) ReadBlock(_ context.Context, first int64, dst []float32) error {
	if err := checkBlock(c, first, dst); err != nil {
		return err
	}
	copy(dst, c.data[first*int64(c.dim):])
	return nil
}
