package vector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/file"
	_ "mlps.dev/mlps/backends/mem"
)

func TestShardHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want ShardHeader
		ok   bool
	}{
		{"100 of 128", ShardHeader{100, 128}.Append(nil), ShardHeader{100, 128}, true},
		{"empty shard", ShardHeader{0, 1536}.Append(nil), ShardHeader{0, 1536}, true},
		{"largest", ShardHeader{MaxShardCount, MaxDim}.Append(nil), ShardHeader{MaxShardCount, MaxDim}, true},
		{"count too large", ShardHeader{MaxShardCount + 1, 4}.Append(nil), ShardHeader{}, false},
		{"dimension 0", ShardHeader{5, 0}.Append(nil), ShardHeader{}, false},
		{"dimension too large", ShardHeader{5, MaxDim + 1}.Append(nil), ShardHeader{}, false},
		{"short", []byte{1, 0, 0, 0, 8, 0, 0}, ShardHeader{}, false},
	} {
		h, err := ParseShardHeader(tc.b)
		if (err == nil) != tc.ok || h != tc.want {
			t.Errorf("%s: %+v, %v", tc.name, h, err)
		}
	}
	h := ShardHeader{Count: 3, Dim: 4}
	if h.Size() != 8+3*4*4 || ShardBytes(3, 4) != h.Size() {
		t.Errorf("size of 3 × 4: %d", h.Size())
	}
	if h.Check(h, 56) != nil || h.Check(h, -1) != nil || h.Check(h, 57) == nil || h.Check(ShardHeader{3, 5}, -1) == nil {
		t.Error("Check accepts a wrong size or header, or refuses the right one")
	}
}

// TestWriteShardLayout compares an encoded shard with the layout written
// out by hand, and checks that the encoder's memory does not grow with
// the shard: it writes in chunks no larger than shardChunk.
func TestWriteShardLayout(t *testing.T) {
	const dim = 3
	src := NewSource(dim, Normal, 0, 5)
	var buf bytes.Buffer
	n, err := WriteShard(t.Context(), &buf, src.Collection(10), 4, 5)
	if err != nil || n != ShardBytes(5, dim) || int64(buf.Len()) != n {
		t.Fatalf("wrote %d bytes (%d buffered), %v; want %d", n, buf.Len(), err, ShardBytes(5, dim))
	}
	want := binary.LittleEndian.AppendUint32(nil, 5)
	want = binary.LittleEndian.AppendUint32(want, dim)
	v := make([]float32, dim)
	for i := range 5 {
		src.Vector(int64(4+i), v)
		for _, f := range v {
			want = binary.LittleEndian.AppendUint32(want, math.Float32bits(f))
		}
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("shard bytes differ from the layout")
	}

	var w chunkWriter
	if _, err := WriteShard(t.Context(), &w, NewSource(128, Uniform, 0, 1).Collection(3000), 0, 3000); err != nil {
		t.Fatal(err)
	}
	if w.largest > shardChunk || w.total != ShardBytes(3000, 128) {
		t.Errorf("largest write %d bytes (bound %d), %d in all", w.largest, shardChunk, w.total)
	}
	if _, err := WriteShard(t.Context(), io.Discard, src.Collection(10), 8, 5); err == nil {
		t.Error("a shard past the collection's end was written")
	}
}

type chunkWriter struct{ largest, total int64 }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.largest, w.total = max(w.largest, int64(len(p))), w.total+int64(len(p))
	return len(p), nil
}

// TestShardsRoundTrip stores a collection as shards on real backends and
// reads blocks back across shard boundaries, compares a ground truth over
// the stored shards with one over the source, and sees Check catch a
// shard of another collection and a missing one.
func TestShardsRoundTrip(t *testing.T) {
	for _, uri := range []string{"mem://", "file://" + t.TempDir()} {
		t.Run(uri[:4], func(t *testing.T) {
			b, err := backends.Open(t.Context(), uri)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			const dim, n, per = 9, 250, 64
			src := NewSource(dim, Clustered, 8, 3)
			s := &Shards{Blobs: OnBackend(b, "coll"), Name: func(i int) string { return fmt.Sprintf("base_%03d.fbin", i) }, Count: n, Dimension: dim, PerShard: per}
			if s.NumShards() != 4 || s.Header(3) != (ShardHeader{n - 3*per, dim}) {
				t.Fatalf("%d shards, last %+v", s.NumShards(), s.Header(3))
			}
			for i := range s.NumShards() {
				if err := s.Write(t.Context(), i, src.Collection(n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			info, err := b.Stat(t.Context(), "coll/base_003.fbin")
			if err != nil || info.Size != ShardBytes(n-3*per, dim) {
				t.Fatalf("last shard: %+v, %v", info, err)
			}
			for _, blk := range []struct{ first, count int64 }{{0, 1}, {60, 10}, {63, 130}, {0, n}, {249, 1}} {
				got := make([]float32, blk.count*dim)
				if err := s.ReadBlock(t.Context(), blk.first, got); err != nil {
					t.Fatal(err)
				}
				want := make([]float32, blk.count*dim)
				src.Vectors(blk.first, want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("vectors %d+%d read back differ", blk.first, blk.count)
				}
			}
			if err := s.ReadBlock(t.Context(), 245, make([]float32, 10*dim)); err == nil {
				t.Error("a block past the end was read")
			}

			queries := make([]float32, 5*dim)
			src.Queries(0, queries)
			stored, err := GroundTruth(t.Context(), s, queries, 10, L2, GroundTruthOptions{Block: 50})
			if err != nil {
				t.Fatal(err)
			}
			direct, err := GroundTruth(t.Context(), src.Collection(n), queries, 10, L2, GroundTruthOptions{})
			if err != nil || !reflect.DeepEqual(stored, direct) {
				t.Errorf("ground truth over stored shards differs from the source's (%v)", err)
			}

			// Shard 1 overwritten by a shard of another dimension.
			other := &Shards{Blobs: s.Blobs, Name: s.Name, Count: n, Dimension: dim + 1, PerShard: per}
			if err := other.Write(t.Context(), 1, NewSource(dim+1, Normal, 0, 1).Collection(n)); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(t.Context()); err == nil {
				t.Error("Check passed a shard of another dimension")
			}
			if err := b.Delete(t.Context(), "coll/base_001.fbin"); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(t.Context()); err == nil {
				t.Error("Check passed a missing shard")
			}
			if _, err := GroundTruth(t.Context(), s, queries, 10, L2, GroundTruthOptions{}); err == nil {
				t.Error("a ground truth was made with a shard missing")
			}
		})
	}
}

// TestShardGolden pins the layout to a file other tools can read: a
// shard of 2 vectors of dimension 3, checked in under testdata.
func TestShardGolden(t *testing.T) {
	data := []float32{1, -2, 0.5, 3.25, 0, -1e-3}
	var buf bytes.Buffer
	if _, err := WriteShard(t.Context(), &buf, MemoryCollection(3, data), 0, 2); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "two_by_three.fbin")
	if os.Getenv("MLPS_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("shard bytes %x, golden %x", buf.Bytes(), want)
	}
}

func FuzzParseShardHeader(f *testing.F) {
	f.Add(ShardHeader{100, 128}.Append(nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseShardHeader(b)
		if err != nil {
			return
		}
		if h.Dim < 1 || h.Dim > MaxDim || h.Count < 0 {
			t.Fatalf("accepted %+v", h)
		}
		if !bytes.Equal(h.Append(nil), b[:ShardHeaderSize]) {
			t.Fatalf("%+v re-encodes as %x, was %x", h, h.Append(nil), b[:ShardHeaderSize])
		}
		if h.Size() != ShardHeaderSize+int64(h.Count)*int64(h.Dim)*4 || h.Size() < ShardHeaderSize {
			t.Fatalf("size %d of %+v", h.Size(), h)
		}
	})
}
