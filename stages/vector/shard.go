package vector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"
)

// A collection is stored as shards in big-ann-benchmarks' .fbin layout,
// which DiskANN's tools and most ANN benchmarks read: a little-endian
// uint32 count, a uint32 dimension, then count × dimension float32, one
// vector after another. A shard is thus readable by other tools, and
// vector i of a shard is one ranged read at ShardHeaderSize + i×dim×4.

// ShardHeaderSize is the bytes before a shard's first vector.
const ShardHeaderSize = 8

// MaxDim is the largest dimension a header may claim: Milvus's limit
// (32,768). A parser refuses more, so that a corrupt header cannot make a
// reader size its buffers from garbage.
const MaxDim = 1 << 15

// MaxShardCount is the most vectors a shard may hold: the largest int32,
// so that a count fits an int everywhere and a vector's id within a
// shard fits the ground-truth layout's int32.
const MaxShardCount = math.MaxInt32

// ShardBytes is the size of a shard of count vectors of dim floats.
func ShardBytes(count, dim int) int64 {
	return ShardHeaderSize + int64(count)*int64(dim)*4
}

// ShardHeader is what a shard's first 8 bytes say.
type ShardHeader struct {
	Count, Dim int
}

// Append appends h's 8 bytes to dst.
func (h ShardHeader) Append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.Count))
	return binary.LittleEndian.AppendUint32(dst, uint32(h.Dim))
}

// Size is the size of the shard h describes.
func (h ShardHeader) Size() int64 { return ShardBytes(h.Count, h.Dim) }

// ParseShardHeader reads a shard's header from its first bytes, refusing
// a dimension of 0 or above MaxDim.
func ParseShardHeader(b []byte) (ShardHeader, error) {
	if len(b) < ShardHeaderSize {
		return ShardHeader{}, fmt.Errorf("shard header: %d bytes, want %d", len(b), ShardHeaderSize)
	}
	count, dim := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if dim < 1 || dim > MaxDim {
		return ShardHeader{}, fmt.Errorf("shard header: dimension %d, want 1 to %d", dim, MaxDim)
	}
	if count > MaxShardCount {
		return ShardHeader{}, fmt.Errorf("shard header: %d vectors, want at most %d", count, MaxShardCount)
	}
	h := ShardHeader{Count: int(count), Dim: int(dim)}
	return h, nil
}

// Check says whether h is the header of a shard of want's count and
// dimension, stored in an object of size bytes (size < 0: not known).
func (h ShardHeader) Check(want ShardHeader, size int64) error {
	if h != want {
		return fmt.Errorf("shard of %d vectors of dimension %d, want %d of dimension %d", h.Count, h.Dim, want.Count, want.Dim)
	}
	if size >= 0 && size != h.Size() {
		return fmt.Errorf("shard of %d vectors of dimension %d is %d bytes, want %d", h.Count, h.Dim, size, h.Size())
	}
	return nil
}

// shardChunk bounds the vectors an encoder holds at once.
const shardChunk = 256 << 10

// WriteShard writes vectors first to first+count−1 of c to w as one
// shard. It reads and writes in chunks of at most 256 KiB of vectors
// (one vector if a vector is larger), so that its memory is one chunk
// whatever the shard's size.
func WriteShard(ctx context.Context, w io.Writer, c Collection, first int64, count int) (written int64, err error) {
	dim := c.Dim()
	if dim < 1 || dim > MaxDim || count < 0 || count > MaxShardCount {
		return 0, fmt.Errorf("shard of %d vectors of dimension %d: outside the layout", count, dim)
	}
	hdr := ShardHeader{Count: count, Dim: dim}.Append(make([]byte, 0, ShardHeaderSize))
	n, err := w.Write(hdr)
	written += int64(n)
	if err != nil {
		return written, err
	}
	per := max(1, shardChunk/(4*dim))
	buf := make([]float32, min(per, count)*dim)
	for done := 0; done < count; {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		m := min(per, count-done)
		vecs := buf[:m*dim]
		if err := c.ReadBlock(ctx, first+int64(done), vecs); err != nil {
			return written, err
		}
		n, err := w.Write(toLittleEndian(vecs))
		written += int64(n)
		if err != nil {
			return written, err
		}
		done += m
	}
	return written, nil
}

// nativeLittle says the host stores a float32 as the layout does, so that
// a slice of floats is written and read as its own bytes, with no copy.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// floatBytes is the memory of f as bytes.
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// toLittleEndian returns f's bytes in the layout's order, reordering f in
// place on a big-endian host (f is a buffer about to be written).
func toLittleEndian(f []float32) []byte {
	b := floatBytes(f)
	if !nativeLittle {
		for i, v := range f {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	}
	return b
}

// fromLittleEndian turns f, filled with the layout's bytes, into floats.
func fromLittleEndian(f []float32) {
	if nativeLittle {
		return
	}
	b := floatBytes(f)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// Shards is a collection stored as shards through Blobs: Count vectors of
// dimension Dim, shard i holding vectors i×PerShard onwards (the last
// shard the rest), named Name(i). It is the Collection GroundTruth and
// index builds read a stored collection through, and what a generate
// stage writes with Write.
type Shards struct {
	// Blobs is where the shards are.
	Blobs Blobs
	// Name names shard i, a pure function of i (no listing).
	Name func(shard int) string
	// Count is the collection's size, Dimension its vectors'.
	Count     int64
	Dimension int
	// PerShard is the vectors in every shard but the last.
	PerShard int64
}

// Dim is the vectors' dimension.
func (s *Shards) Dim() int { return s.Dimension }

// Len is the number of vectors.
func (s *Shards) Len() int64 { return s.Count }

// NumShards is the number of shards.
func (s *Shards) NumShards() int {
	if s.PerShard <= 0 {
		return 0
	}
	return int((s.Count + s.PerShard - 1) / s.PerShard)
}

// Header is what shard i's header must say.
func (s *Shards) Header(i int) ShardHeader {
	first := int64(i) * s.PerShard
	return ShardHeader{Count: int(min(s.PerShard, s.Count-first)), Dim: s.Dimension}
}

// Write stores shard i, its vectors taken from c.
func (s *Shards) Write(ctx context.Context, i int, c Collection) error {
	if c.Dim() != s.Dimension {
		return fmt.Errorf("shard %d: vectors of dimension %d into shards of dimension %d", i, c.Dim(), s.Dimension)
	}
	h := s.Header(i)
	w, err := s.Blobs.Create(ctx, s.Name(i), h.Size())
	if err != nil {
		return err
	}
	if _, err := WriteShard(ctx, w, c, int64(i)*s.PerShard, h.Count); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Close()
}

// ReadBlock reads vectors first to first+n−1, n = len(dst)/Dim(), with one
// ranged read per shard the block touches, issued together, straight
// into dst.
func (s *Shards) ReadBlock(ctx context.Context, first int64, dst []float32) error {
	if err := checkBlock(s, first, dst); err != nil {
		return err
	}
	if s.PerShard <= 0 {
		return fmt.Errorf("shards of %d vectors", s.PerShard)
	}
	d := int64(s.Dimension)
	var reads []Read
	for rest := dst; len(rest) > 0; {
		shard := first / s.PerShard
		in := first - shard*s.PerShard
		n := min(int64(len(rest))/d, s.PerShard-in)
		reads = append(reads, Read{Name: s.Name(int(shard)), Off: ShardHeaderSize + in*d*4, Buf: floatBytes(rest[:n*d])})
		rest, first = rest[n*d:], first+n
	}
	if err := s.Blobs.ReadBatch(ctx, reads); err != nil {
		return err
	}
	fromLittleEndian(dst)
	return nil
}

// Check reads every shard's header and last float, 64 shards to a batch,
// and says which shard, if any, is not what s describes: one written for
// another collection, or cut short.
func (s *Shards) Check(ctx context.Context) error {
	const batch = 64
	n := s.NumShards()
	bufs := make([]byte, batch*(ShardHeaderSize+4))
	reads := make([]Read, 0, 2*batch)
	for start := 0; start < n; start += batch {
		reads = reads[:0]
		end := min(n, start+batch)
		for i := start; i < end; i++ {
			b := bufs[(i-start)*(ShardHeaderSize+4):][:ShardHeaderSize+4]
			reads = append(reads, Read{Name: s.Name(i), Off: 0, Buf: b[:ShardHeaderSize]})
			if h := s.Header(i); h.Count > 0 {
				reads = append(reads, Read{Name: s.Name(i), Off: h.Size() - 4, Buf: b[ShardHeaderSize:]})
			}
		}
		if err := s.Blobs.ReadBatch(ctx, reads); err != nil {
			return err
		}
		for i := start; i < end; i++ {
			h, err := ParseShardHeader(bufs[(i-start)*(ShardHeaderSize+4):])
			if err == nil {
				err = h.Check(s.Header(i), -1)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name(i), err)
			}
		}
	}
	return nil
}
