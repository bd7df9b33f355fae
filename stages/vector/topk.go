package vector

import (
	"cmp"
	"math"
	"slices"
)

// Neighbor is one search result: a vector's id and its distance to the
// query under the search's metric.
type Neighbor struct {
	ID   int64
	Dist float32
}

// less orders neighbours by distance, then by id, so that ties resolve the
// same way on every run and in every index.
func less(a, b Neighbor) bool {
	return a.Dist < b.Dist || (a.Dist == b.Dist && a.ID < b.ID)
}

// TopK keeps the k nearest neighbours pushed into it. It holds k entries
// at most, whatever is pushed.
type TopK struct {
	k int
	h []Neighbor // a max-heap under less: h[0] is the worst kept
}

// NewTopK returns an empty TopK of k ≥ 1.
func NewTopK(k int) *TopK {
	return &TopK{k: k, h: make([]Neighbor, 0, k)}
}

// Reset empties t for another query.
func (t *TopK) Reset() { t.h = t.h[:0] }

// Len is the number of neighbours kept.
func (t *TopK) Len() int { return len(t.h) }

// Worst is the distance a neighbour must beat to be kept: +Inf until t
// holds k.
func (t *TopK) Worst() float32 {
	if len(t.h) < t.k {
		return float32(math.Inf(1))
	}
	return t.h[0].Dist
}

// Push offers id at distance d.
func (t *TopK) Push(id int64, d float32) {
	n := Neighbor{id, d}
	if len(t.h) < t.k {
		t.h = append(t.h, n)
		t.up(len(t.h) - 1)
		return
	}
	if !less(n, t.h[0]) {
		return
	}
	t.h[0] = n
	t.down(0)
}

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(t.h[p], t.h[i]) {
			return
		}
		t.h[p], t.h[i] = t.h[i], t.h[p]
		i = p
	}
}

func (t *TopK) down(i int) {
	n := len(t.h)
	for {
		w, l, r := i, 2*i+1, 2*i+2
		if l < n && less(t.h[w], t.h[l]) {
			w = l
		}
		if r < n && less(t.h[w], t.h[r]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[w], t.h[i] = t.h[i], t.h[w]
		i = w
	}
}

// Sorted appends the kept neighbours to dst, nearest first, and returns
// it; t is unchanged.
func (t *TopK) Sorted(dst []Neighbor) []Neighbor {
	start := len(dst)
	dst = append(dst, t.h...)
	slices.SortFunc(dst[start:], func(a, b Neighbor) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return dst
}
