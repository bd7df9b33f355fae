package ivf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"strconv"

	"mlps.dev/mlps/stages/vector"
)

// The stored layout, all little-endian, so that an index built on one
// host is served by any other.
//
// A posting list object (one per list, named by ListName):
//
//	 0  magic    "MLPSIVFL"
//	 8  version  u32
//	12  list     u32   its own list number, so a misplaced object is caught
//	16  dim      u32
//	20  zero     u32
//	24  count    u64
//	32  ids      count × i64, ascending
//	    vectors  count × dim × f32
//
// The index object (named by IndexName):
//
//	 0  magic      "MLPSIVFI"
//	 8  version    u32
//	12  metric     u32   vector.Metric
//	16  dim        u32
//	20  nlist      u32
//	24  count      u64   vectors in the collection
//	32  seed       u64   the build's seed
//	40  iterations u32   Lloyd iterations the training ran
//	44  sample     u32   training vectors
//	48  length     u64   the object's length in bytes
//	56  zero       u64
//	64  centroids  nlist × dim × f32
//	    lists      nlist × (count u64, bytes u64)
//	    crc        u32   CRC-32C of every byte before it
//
// The index object carries a checksum and the lists do not: the index is
// read once, at Open, and a flipped bit in a centroid would silently
// misroute every query, while a list is read on every probe, where a
// checksum would cost as much as a quarter of the distance work; a
// list's structure (magic, number, dim, count, length, ascending ids in
// range) is still checked on every read.
const (
	listMagic   = "MLPSIVFL"
	indexMagic  = "MLPSIVFI"
	version     = 1
	listHeader  = 32
	indexHeader = 64
	listEntry   = 16

	// MaxDim is the largest dimension an index takes (Milvus allows
	// 32,768).
	MaxDim = 1 << 16
	// MaxNList is the largest nlist, Milvus's own upper bound.
	MaxNList = 1 << 16
	// maxCentroidFloats bounds nlist × dim, so that a damaged index header
	// cannot make Open allocate more than 1 GiB of centroids.
	maxCentroidFloats = 1 << 28
)

// ErrFormat is wrapped by every error about stored bytes that are not a
// valid index or posting list, so that a caller can tell damage from a
// failed read.
var ErrFormat = errors.New("not a valid ivf object")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func formatErr(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, what, fmt.Sprintf(format, args...))
}

// ListBytes is the length of the object of a posting list of count
// vectors of dimension dim.
func ListBytes(count int64, dim int) int64 {
	return listHeader + count*(8+4*int64(dim))
}

// indexBytes is the length of the index object of nlist centroids of
// dimension dim.
func indexBytes(nlist, dim int) int64 {
	return indexHeader + int64(nlist)*int64(dim)*4 + int64(nlist)*listEntry + 4
}

// ListHeader is what a posting list object says about itself.
type ListHeader struct {
	// List is the list's number, from 0.
	List int
	// Dim is the vectors' dimension.
	Dim int
	// Count is the number of vectors in the list.
	Count int64
}

// putListHeader writes h into b[:listHeader].
func putListHeader(b []byte, h ListHeader) {
	copy(b, listMagic)
	le := binary.LittleEndian
	le.PutUint32(b[8:], version)
	le.PutUint32(b[12:], uint32(h.List))
	le.PutUint32(b[16:], uint32(h.Dim))
	le.PutUint32(b[20:], 0)
	le.PutUint64(b[24:], uint64(h.Count))
}

// ParseListHeader checks that b is a whole posting list object: its
// magic and version, a dimension and list number within bounds, and a
// length that is exactly what its count and dimension make. It does not
// look at the ids or vectors; CheckListIDs does.
func ParseListHeader(b []byte) (ListHeader, error) {
	const what = "posting list"
	if len(b) < listHeader {
		return ListHeader{}, formatErr(what, "%d bytes, shorter than its %d-byte header", len(b), listHeader)
	}
	if string(b[:8]) != listMagic {
		return ListHeader{}, formatErr(what, "magic %q, want %q", b[:8], listMagic)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != version {
		return ListHeader{}, formatErr(what, "version %d, this mlps reads version %d", v, version)
	}
	list, dim, zero, count := le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint64(b[24:])
	switch {
	case list >= MaxNList:
		return ListHeader{}, formatErr(what, "list number %d, want below %d", list, MaxNList)
	case dim == 0 || dim > MaxDim:
		return ListHeader{}, formatErr(what, "dimension %d, want 1 to %d", dim, MaxDim)
	case zero != 0:
		return ListHeader{}, formatErr(what, "reserved field %d, want 0", zero)
	}
	per := 8 + 4*uint64(dim)
	if count > uint64(len(b)-listHeader)/per || listHeader+count*per != uint64(len(b)) {
		return ListHeader{}, formatErr(what, "%d vectors of dimension %d take %s bytes, the object has %d",
			count, dim, mulString(count, per, listHeader), len(b))
	}
	return ListHeader{List: int(list), Dim: int(dim), Count: int64(count)}, nil
}

// mulString is a·b+c in decimal, for an error message, saying so when
// it does not fit in 64 bits.
func mulString(a, b, c uint64) string {
	hi, lo := bits.Mul64(a, b)
	lo, carry := bits.Add64(lo, c, 0)
	if hi != 0 || carry != 0 {
		return fmt.Sprintf("more than %d", uint64(math.MaxUint64))
	}
	return strconv.FormatUint(lo, 10)
}

// CheckListIDs checks that the ids of a posting list object, whose
// header h ParseListHeader returned, ascend strictly and lie in [0, n):
// the build writes them in collection order, so anything else is
// damage. It costs one comparison per vector.
func CheckListIDs(b []byte, h ListHeader, n int64) error {
	prev := int64(-1)
	for i := range h.Count {
		id := int64(binary.LittleEndian.Uint64(b[listHeader+8*i:]))
		if id <= prev || id >= n {
			return formatErr("posting list", "list %d: id %d at position %d after id %d, want ascending ids below %d", h.List, id, i, prev, n)
		}
		prev = id
	}
	return nil
}

// Meta is what the index object records about the build, beside the
// centroids and the lists.
type Meta struct {
	// Metric is the index's metric.
	Metric vector.Metric
	// Dim is the vectors' dimension.
	Dim int
	// NList is the number of lists (upstream's nlist).
	NList int
	// Count is the number of vectors in the collection.
	Count int64
	// Seed is the seed the build drew its sample and its initial
	// centroids from.
	Seed uint64
	// Iterations is the number of Lloyd iterations the training ran.
	Iterations int
	// Sample is the number of vectors the centroids were trained on.
	Sample int
}

// stored is the parsed content of an index object.
type stored struct {
	Meta
	centroids []float32 // nlist × dim
	counts    []int64   // per list
}

// encodeIndex is the index object of s.
func encodeIndex(s *stored) []byte {
	b := make([]byte, indexBytes(s.NList, s.Dim))
	le := binary.LittleEndian
	copy(b, indexMagic)
	le.PutUint32(b[8:], version)
	le.PutUint32(b[12:], uint32(s.Metric))
	le.PutUint32(b[16:], uint32(s.Dim))
	le.PutUint32(b[20:], uint32(s.NList))
	le.PutUint64(b[24:], uint64(s.Count))
	le.PutUint64(b[32:], s.Seed)
	le.PutUint32(b[40:], uint32(s.Iterations))
	le.PutUint32(b[44:], uint32(s.Sample))
	le.PutUint64(b[48:], uint64(len(b)))
	p := b[indexHeader:]
	for _, c := range s.centroids {
		le.PutUint32(p, math.Float32bits(c))
		p = p[4:]
	}
	for _, n := range s.counts {
		le.PutUint64(p, uint64(n))
		le.PutUint64(p[8:], uint64(ListBytes(n, s.Dim)))
		p = p[listEntry:]
	}
	le.PutUint32(p, crc32c(b[:len(b)-4]))
	return b
}

// parseIndexHeader checks the fixed header of an index object (the first
// indexHeader bytes) and returns the object's length, so that Open knows
// how much more to read before it can check the rest.
func parseIndexHeader(b []byte) (Meta, int64, error) {
	const what = "index"
	if len(b) < indexHeader {
		return Meta{}, 0, formatErr(what, "%d bytes, shorter than its %d-byte header", len(b), indexHeader)
	}
	if string(b[:8]) != indexMagic {
		return Meta{}, 0, formatErr(what, "magic %q, want %q", b[:8], indexMagic)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != version {
		return Meta{}, 0, formatErr(what, "version %d, this mlps reads version %d", v, version)
	}
	metric, dim, nlist, count := le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint64(b[24:])
	iters, sample, length, zero := le.Uint32(b[40:]), le.Uint32(b[44:]), le.Uint64(b[48:]), le.Uint64(b[56:])
	switch {
	case metric < uint32(vector.L2) || metric > uint32(vector.Cosine):
		return Meta{}, 0, formatErr(what, "metric %d, want %d (L2), %d (IP) or %d (COSINE)", metric, vector.L2, vector.IP, vector.Cosine)
	case dim == 0 || dim > MaxDim:
		return Meta{}, 0, formatErr(what, "dimension %d, want 1 to %d", dim, MaxDim)
	case nlist == 0 || nlist > MaxNList:
		return Meta{}, 0, formatErr(what, "nlist %d, want 1 to %d", nlist, MaxNList)
	case uint64(nlist)*uint64(dim) > maxCentroidFloats:
		return Meta{}, 0, formatErr(what, "nlist %d × dimension %d is more than %d centroid components", nlist, dim, maxCentroidFloats)
	case count < uint64(nlist) || count > math.MaxInt64:
		return Meta{}, 0, formatErr(what, "%d vectors in %d lists, want at least one vector per list", count, nlist)
	case uint64(sample) > count || sample < nlist:
		return Meta{}, 0, formatErr(what, "training sample of %d vectors, want %d (nlist) to %d (the collection)", sample, nlist, count)
	case iters == 0:
		return Meta{}, 0, formatErr(what, "0 training iterations, want at least 1")
	case zero != 0:
		return Meta{}, 0, formatErr(what, "reserved field %d, want 0", zero)
	}
	if want := indexBytes(int(nlist), int(dim)); length != uint64(want) {
		return Meta{}, 0, formatErr(what, "length field %d, want %d for nlist %d and dimension %d", length, want, nlist, dim)
	}
	m := Meta{Metric: vector.Metric(metric), Dim: int(dim), NList: int(nlist), Count: int64(count),
		Seed: le.Uint64(b[32:]), Iterations: int(iters), Sample: int(sample)}
	return m, int64(length), nil
}

// ParseIndex checks that b is a whole index object and returns what it
// records: header fields within bounds, a length that matches both the
// header and len(b), its checksum, finite centroids, and lists whose
// counts add up to the collection and whose sizes are what their counts
// make.
func ParseIndex(b []byte) (Meta, error) {
	s, err := parseIndex(b)
	if err != nil {
		return Meta{}, err
	}
	return s.Meta, nil
}

func parseIndex(b []byte) (*stored, error) {
	const what = "index"
	m, length, err := parseIndexHeader(b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != length {
		return nil, formatErr(what, "object of %d bytes, its header says %d", len(b), length)
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[len(b)-4:]), crc32c(b[:len(b)-4]); got != want {
		return nil, formatErr(what, "checksum %08x, the bytes sum to %08x: the object is damaged", got, want)
	}
	s := &stored{Meta: m, centroids: make([]float32, m.NList*m.Dim), counts: make([]int64, m.NList)}
	p := b[indexHeader:]
	for i := range s.centroids {
		c := math.Float32frombits(le.Uint32(p))
		if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
			return nil, formatErr(what, "centroid %d component %d is %v", i/m.Dim, i%m.Dim, c)
		}
		s.centroids[i] = c
		p = p[4:]
	}
	var total uint64
	for j := range s.counts {
		n, size := le.Uint64(p), le.Uint64(p[8:])
		p = p[listEntry:]
		if n > uint64(m.Count) {
			return nil, formatErr(what, "list %d holds %d vectors, the collection %d", j, n, m.Count)
		}
		if want := ListBytes(int64(n), m.Dim); size != uint64(want) {
			return nil, formatErr(what, "list %d of %d vectors is %d bytes, want %d", j, n, size, want)
		}
		total += n
		s.counts[j] = int64(n)
	}
	if total != uint64(m.Count) {
		return nil, formatErr(what, "lists hold %d vectors, the collection %d", total, m.Count)
	}
	return s, nil
}
