package vector

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// A ground truth is saved in big-ann-benchmarks' ground-truth layout: the
// .ibin layout (little-endian uint32 n, uint32 k, then n × k int32 ids,
// each query's nearest first) followed by n × k float32 distances in the
// same order. Tools that read .ibin take the ids and ignore the rest;
// the distances let Recall give tie credit after a reload.

// ParseIbin reads the .ibin layout at the start of b: n rows of k ids,
// and rest, the bytes after them. It refuses a b too short for what its
// header claims, before allocating anything.
func ParseIbin(b []byte) (n, k int, ids []int32, rest []byte, err error) {
	if len(b) < 8 {
		return 0, 0, nil, nil, fmt.Errorf("ibin: %d bytes, shorter than its 8-byte header", len(b))
	}
	nn, kk := uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[4:]))
	body := b[8:]
	if nn > math.MaxInt32 || kk > math.MaxInt32 || (kk > 0 && nn > uint64(len(body))/4/kk) {
		return 0, 0, nil, nil, fmt.Errorf("ibin: %d rows of %d ids do not fit in %d bytes", nn, kk, len(b))
	}
	n, k = int(nn), int(kk)
	ids = make([]int32, n*k)
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return n, k, ids, body[4*n*k:], nil
}

// WriteTruth saves t. Only a whole ground truth is saved: the layout has
// no room for a coverage, so a partial one written out would come back
// looking whole. Ids must fit in an int32, as the layout's do.
func WriteTruth(w io.Writer, t *Truth) error {
	if !t.Whole() {
		return fmt.Errorf("ground truth: %w (%d of %d vectors): not saved", ErrPartialTruth, t.Scanned, t.Total)
	}
	if t.Total-1 > math.MaxInt32 {
		return fmt.Errorf("ground truth: ids up to %d do not fit the layout's int32", t.Total-1)
	}
	n, k := len(t.Neighbors), t.K
	buf := binary.LittleEndian.AppendUint32(make([]byte, 0, 8+8*n*k), uint32(n))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(k))
	for q, l := range t.Neighbors {
		if len(l) != k {
			return fmt.Errorf("ground truth: query %d has %d neighbours, want %d", q, len(l), k)
		}
		for _, nb := range l {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(nb.ID))
		}
	}
	for _, l := range t.Neighbors {
		for _, nb := range l {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(nb.Dist))
		}
	}
	_, err := w.Write(buf)
	return err
}

// ReadTruth loads a ground truth that WriteTruth saved, or a bare .ibin
// of ids (its distances are then NaN: Recall gives no tie credit). The
// metric and the collection's size are not in the layout: the caller
// says them, and since only whole ground truths are saved, the truth
// comes back whole over total vectors. Every id must lie in the
// collection and every list run nearest first.
func ReadTruth(b []byte, m Metric, total int64) (*Truth, error) {
	n, k, ids, rest, err := ParseIbin(b)
	if err != nil {
		return nil, err
	}
	if n == 0 || k == 0 {
		return nil, fmt.Errorf("ground truth of %d queries of %d neighbours: empty", n, k)
	}
	if int64(k) > total {
		return nil, fmt.Errorf("ground truth of %d neighbours over a collection of %d", k, total)
	}
	var dists []byte
	switch len(rest) {
	case 0:
	case 4 * n * k:
		dists = rest
	default:
		return nil, fmt.Errorf("ground truth: %d bytes after the ids, want none or %d of distances", len(rest), 4*n*k)
	}
	t := &Truth{Metric: m, K: k, Neighbors: make([][]Neighbor, n), Scanned: total, Total: total}
	all := make([]Neighbor, n*k)
	for i, id := range ids {
		if id < 0 || int64(id) >= total {
			return nil, fmt.Errorf("ground truth: query %d: id %d outside a collection of %d", i/k, id, total)
		}
		d := float32(math.NaN())
		if dists != nil {
			d = math.Float32frombits(binary.LittleEndian.Uint32(dists[4*i:]))
			if j := i % k; j > 0 && less(Neighbor{int64(id), d}, all[i-1]) {
				return nil, fmt.Errorf("ground truth: query %d: neighbour %d is nearer than neighbour %d", i/k, j, j-1)
			}
		}
		all[i] = Neighbor{ID: int64(id), Dist: d}
	}
	for q := range t.Neighbors {
		t.Neighbors[q] = all[q*k : (q+1)*k : (q+1)*k]
	}
	return t, nil
}
