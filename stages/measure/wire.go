package measure

import (
	"encoding/json"
	"fmt"
	"math"
)

// wireHistogram is a histogram as processes send it to be merged: its
// counters and its non-empty buckets, [index, count] pairs in order, so
// that a histogram of few distinct latencies is a few hundred bytes
// whatever the number of samples.
type wireHistogram struct {
	Count   uint64      `json:"count"`
	Sum     uint64      `json:"sum_ns"`
	Min     uint64      `json:"min_ns"`
	Max     uint64      `json:"max_ns"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON writes h for another process to merge (UnmarshalJSON).
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := wireHistogram{Count: h.count.Load(), Sum: h.sum.Load(), Min: h.min.Load(), Max: h.max.Load(), Buckets: [][2]uint64{}}
	for i := range h.buckets {
		if n := h.buckets[i].Load(); n != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), n})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a histogram MarshalJSON wrote into the empty h,
// checking that it is one: buckets in range and in order, counts that
// add up.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w wireHistogram
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var total uint64
	last := -1
	for _, bk := range w.Buckets {
		i := bk[0]
		if i >= numBuckets || int(i) <= last {
			return fmt.Errorf("histogram: bucket %d out of range or order (0 to %d, ascending)", i, numBuckets-1)
		}
		last = int(i)
		if total+bk[1] < total {
			return fmt.Errorf("histogram: counts overflow")
		}
		total += bk[1]
	}
	if total != w.Count {
		return fmt.Errorf("histogram: buckets hold %d samples, count says %d", total, w.Count)
	}
	if w.Count == 0 {
		w.Min = math.MaxUint64
	}
	*h = Histogram{}
	for _, bk := range w.Buckets {
		h.buckets[bk[0]].Store(bk[1])
	}
	h.count.Store(w.Count)
	h.sum.Store(w.Sum)
	h.min.Store(w.Min)
	h.max.Store(w.Max)
	return nil
}
