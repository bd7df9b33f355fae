package dataset

import (
	"context"
	"fmt"
	"io"
	"sync"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/vector"
)

// fbinFormat is a vector collection's shard. Its content is vectors, not
// generator bytes: Layout.Write draws them from the collection's Source,
// which needs the file's index, so write alone cannot make a shard.
type fbinFormat struct{}

func (fbinFormat) ext() string    { return "fbin" }
func (fbinFormat) access() Access { return WholeFile }
func (fbinFormat) size(r, s int64) (int64, error) {
	if s > vector.MaxShardCount {
		return 0, fmt.Errorf("an fbin shard counts its vectors in 32 bits: samples_per_file must be at most %d", vector.MaxShardCount)
	}
	return vector.ShardHeaderSize + r*s, nil
}
func (fbinFormat) write(io.Writer, int64, int64, func([]byte, int64), []byte) (int64, error) {
	return 0, fmt.Errorf("an fbin shard is written from its collection's vectors, by Layout.Write")
}

func newFbin(d dsl.Dataset) (format, error) {
	v := d.Vectors
	if v == nil {
		return nil, fmt.Errorf("an fbin dataset is a vector collection: add vectors: {dimension: ...}")
	}
	if d.RecordBytesStdev != 0 {
		return nil, fmt.Errorf("every vector has the collection's dimension: record_bytes_stdev must be 0")
	}
	if d.RecordBytes != 4*v.Dimension {
		return nil, fmt.Errorf("a vector of %d float32 is %d bytes, and record_bytes is %d: leave record_bytes out", v.Dimension, 4*v.Dimension, d.RecordBytes)
	}
	if _, err := vector.ParseMetric(v.Metric); err != nil {
		return nil, err
	}
	if _, err := vector.ParseDistribution(v.Distribution); err != nil {
		return nil, err
	}
	return fbinFormat{}, nil
}

// VectorSource is the source of a vector collection's vectors and queries, nil
// for other datasets. It is made on first use: a clustered source holds
// its centres.
func (l *Layout) VectorSource() *vector.Source {
	if l.Dataset.Vectors == nil {
		return nil
	}
	return l.source()
}

// newSource returns the function that makes l's source once.
func newSource(l *Layout) func() *vector.Source {
	return sync.OnceValue(func() *vector.Source {
		v := l.Dataset.Vectors
		dist, _ := vector.ParseDistribution(v.Distribution) // checked by newFbin
		return vector.NewSource(int(v.Dimension), dist, int(v.Clusters), l.seed^content.Stream(l.Name, -1))
	})
}

// Collection is the number of vectors of a vector collection.
func (l *Layout) Collection() int64 { return l.Files * l.SamplesPerFile }

// writeShard writes file i of a vector collection: vectors
// i×samples_per_file onwards, as one shard.
func (l *Layout) writeShard(w io.Writer, i int64) (int64, error) {
	src := l.VectorSource()
	return vector.WriteShard(context.Background(), w, src.Collection(l.Collection()), i*l.SamplesPerFile, int(l.SamplesPerFile))
}
