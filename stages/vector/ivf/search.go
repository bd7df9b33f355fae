package ivf

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"mlps.dev/mlps/stages/vector"
)

// Index is an opened index: what the index object records, with the
// centroids in memory (nlist × D × 4 bytes) and every list's size, so
// that a probe knows what to read without asking storage. It is safe
// for concurrent use; each worker searches through its own Searcher.
type Index struct {
	Meta
	blobs     vector.Blobs
	centroids []float32
	counts    []int64
	names     []string // list objects' names, made once rather than per probe
	bytes     int64
}

// Open reads the index object of the index in dir (two reads: its fixed
// header, which gives its length, then the rest) and checks it whole
// (ParseIndex); the lists are read only by searches.
func Open(ctx context.Context, blobs vector.Blobs, dir string) (*Index, error) {
	name := IndexName(dir)
	head := make([]byte, indexHeader)
	if err := blobs.ReadBatch(ctx, []vector.Read{{Name: name, Buf: head}}); err != nil {
		return nil, fmt.Errorf("ivf: open index: %w", err)
	}
	_, length, err := parseIndexHeader(head)
	if err != nil {
		return nil, fmt.Errorf("ivf: %s: %w", name, err)
	}
	b := make([]byte, length)
	copy(b, head)
	if err := blobs.ReadBatch(ctx, []vector.Read{{Name: name, Off: indexHeader, Buf: b[indexHeader:]}}); err != nil {
		return nil, fmt.Errorf("ivf: open index: %w", err)
	}
	s, err := parseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("ivf: %s: %w", name, err)
	}
	x := &Index{Meta: s.Meta, blobs: blobs, centroids: s.centroids, counts: s.counts, names: make([]string, s.NList)}
	for j, c := range s.counts {
		x.names[j] = ListName(dir, j)
		x.bytes += ListBytes(c, s.Dim)
	}
	return x, nil
}

// ListLen is the number of vectors in list j.
func (x *Index) ListLen(j int) int64 { return x.counts[j] }

// ListBytes is the size of list j's object, what a probe of it reads.
func (x *Index) ListBytes(j int) int64 { return ListBytes(x.counts[j], x.Dim) }

// Bytes is the size of all the list objects, the collection as the
// index stores it.
func (x *Index) Bytes() int64 { return x.bytes }

// Centroid is list j's centroid, the index's own memory: not to be
// modified.
func (x *Index) Centroid(j int) []float32 { return x.centroids[j*x.Dim : (j+1)*x.Dim] }

// DefaultNProbe is nprobe when a search gives none: nlist/16 (at least
// one), a sixteenth of the lists and so about a sixteenth of the
// collection per query. A fixed count such as Milvus's default of 8
// would read a share that shrinks as nlist grows with the collection,
// and recall with it; a fixed share keeps recall steady across sizes.
// On the clustered 100,000 × 128 collection of the benchmark (nlist
// 1,265, nprobe 79) recall@10 is above 0.95 (BenchmarkSearch reports
// it).
func DefaultNProbe(nlist int) int { return max(1, nlist/16) }

// SearchStats is what one search cost.
type SearchStats struct {
	// BytesRead and Reads are the list objects fetched: one read of a
	// whole object per non-empty list probed, all in one batch.
	BytesRead int64
	Reads     int
	// ListsProbed is nprobe as the search applied it.
	ListsProbed int
	// CentroidDistances and Distances count the distances computed, to
	// the centroids and to the vectors of the probed lists.
	CentroidDistances int
	Distances         int64
}

// Searcher answers queries on an index, reusing its buffers from one
// query to the next: its memory is the query, the top-k and the largest
// batch of lists read so far (at most nprobe times the largest list).
// It is for one goroutine.
type Searcher struct {
	x       *Index
	q       []float32
	probe   *vector.TopK
	probes  []vector.Neighbor
	top     *vector.TopK
	out     []vector.Neighbor
	reads   []vector.Read
	lists   []int
	arena   []byte
	scratch []float32
}

// NewSearcher returns a Searcher of x.
func (x *Index) NewSearcher() *Searcher {
	return &Searcher{x: x, q: make([]float32, x.Dim), scratch: make([]float32, x.Dim)}
}

// Search returns the k nearest neighbours of q found in the nprobe lists
// whose centroids are nearest to q (nprobe ≤ 0 takes DefaultNProbe;
// more than nlist probes all lists, an exact search), nearest first and
// ties by id. The lists are fetched in one ReadBatch, each whole. The
// result is the Searcher's and valid until its next Search.
//
// Lists are ranked by L2 to the centroid for L2, and by inner product
// for IP and COSINE (where centroids and query are unit): for IP a
// vector's product with q is its centroid's plus a remainder, so the
// lists of the largest products with the centroids are those likeliest
// to hold the largest products.
func (s *Searcher) Search(ctx context.Context, q []float32, k, nprobe int) ([]vector.Neighbor, SearchStats, error) {
	x := s.x
	if len(q) != x.Dim {
		return nil, SearchStats{}, fmt.Errorf("ivf: a query of dimension %d for an index of dimension %d", len(q), x.Dim)
	}
	if k < 1 {
		return nil, SearchStats{}, fmt.Errorf("ivf: top-k %d, want at least 1", k)
	}
	if nprobe <= 0 {
		nprobe = DefaultNProbe(x.NList)
	}
	nprobe = min(nprobe, x.NList)
	copy(s.q, q)
	if x.Metric == vector.Cosine {
		vector.Normalize(s.q)
	}
	st := SearchStats{ListsProbed: nprobe, CentroidDistances: x.NList}

	if s.probe == nil || s.probes == nil || cap(s.probes) != nprobe {
		s.probe, s.probes = vector.NewTopK(nprobe), make([]vector.Neighbor, 0, nprobe)
	}
	s.probe.Reset()
	for j := range x.NList {
		c := x.centroids[j*x.Dim : (j+1)*x.Dim]
		var d float32
		if x.Metric == vector.L2 {
			d = vector.L2Sq(s.q, c)
		} else {
			d = -vector.Dot(s.q, c)
		}
		if d <= s.probe.Worst() {
			s.probe.Push(int64(j), d)
		}
	}
	s.probes = s.probe.Sorted(s.probes[:0])

	// One buffer holds the batch, each list at an 8-byte boundary so that
	// its vectors can be read in place.
	need := int64(0)
	for _, p := range s.probes {
		if n := x.counts[p.ID]; n > 0 {
			need += (ListBytes(n, x.Dim) + 7) &^ 7
		}
	}
	if int64(cap(s.arena)) < need {
		s.arena = make([]byte, need)
	}
	s.reads, s.lists = s.reads[:0], s.lists[:0]
	off := int64(0)
	for _, p := range s.probes {
		j := int(p.ID)
		if x.counts[j] == 0 {
			continue
		}
		size := x.ListBytes(j)
		s.reads = append(s.reads, vector.Read{Name: x.names[j], Buf: s.arena[off : off+size : off+size]})
		s.lists = append(s.lists, j)
		off += (size + 7) &^ 7
		st.BytesRead += size
	}
	st.Reads = len(s.reads)
	if len(s.reads) > 0 {
		if err := x.blobs.ReadBatch(ctx, s.reads); err != nil {
			return nil, st, fmt.Errorf("ivf: probe: %w", err)
		}
	}

	if s.top == nil || s.out == nil || cap(s.out) != k {
		s.top, s.out = vector.NewTopK(k), make([]vector.Neighbor, 0, k)
	}
	s.top.Reset()
	for i, r := range s.reads {
		n, err := s.scan(r.Buf, s.lists[i])
		st.Distances += n
		if err != nil {
			return nil, st, fmt.Errorf("ivf: %s: %w", r.Name, err)
		}
	}
	s.out = s.top.Sorted(s.out[:0])
	return s.out, st, nil
}

// scan checks list j's object b and offers each of its vectors to the
// top-k, returning the distances computed.
func (s *Searcher) scan(b []byte, j int) (int64, error) {
	x := s.x
	h, err := ParseListHeader(b)
	if err != nil {
		return 0, err
	}
	if h.List != j || h.Dim != x.Dim || h.Count != x.counts[j] {
		return 0, formatErr("posting list", "list %d of %d vectors of dimension %d, the index expects list %d of %d of dimension %d",
			h.List, h.Count, h.Dim, j, x.counts[j], x.Dim)
	}
	if err := CheckListIDs(b, h, x.Count); err != nil {
		return 0, err
	}
	ids, vecs := b[listHeader:], b[listHeader+8*h.Count:]
	stride := 4 * x.Dim
	for i := range int(h.Count) {
		v := s.floats(vecs[i*stride : (i+1)*stride])
		var d float32
		switch x.Metric {
		case vector.L2:
			d = vector.L2Sq(s.q, v)
		case vector.IP:
			d = -vector.Dot(s.q, v)
		default:
			d = 1 - vector.Dot(s.q, v)
		}
		if d <= s.top.Worst() {
			s.top.Push(int64(binary.LittleEndian.Uint64(ids[8*i:])), d)
		}
	}
	return h.Count, nil
}

// littleEndian is set on hosts whose float32 layout is the stored one,
// where a list's vectors are used in place, without a copy.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// floats is the stored vector b as float32s: b itself on a
// little-endian host (b is 4-byte aligned: lists sit at 8-byte
// boundaries and their vectors at multiples of 4 from there), decoded
// into the Searcher's scratch elsewhere.
func (s *Searcher) floats(b []byte) []float32 {
	p := unsafe.SliceData(b)
	if littleEndian && uintptr(unsafe.Pointer(p))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(p)), len(b)/4)
	}
	for i := range s.scratch {
		s.scratch[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return s.scratch
}
