package measure

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits linear buckets per
// power of two, so a recorded value is off by less than 1/2^subBits
// (1.6 %) relative, at any scale.
const subBits = 6

// maxBits bounds the range: values up to 2^maxBits ns (about 18 minutes);
// longer ones land in the last bucket.
const maxBits = 40

const numBuckets = (maxBits-subBits+1)<<subBits + 1

// Histogram is a log-linear histogram of durations with bounded memory and
// known relative error. One goroutine records into it while others may
// read it: every field is atomic, so a snapshot during a run needs no lock.
type Histogram struct {
	count   atomic.Uint64
	sum     atomic.Uint64 // ns
	min     atomic.Uint64 // ns; math.MaxUint64 when empty
	max     atomic.Uint64 // ns
	buckets [numBuckets]atomic.Uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxUint64)
	return h
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1
	if e > maxBits-subBits {
		return numBuckets - 1
	}
	return e<<subBits + int(v>>e)
}

// bucketLow returns the smallest value of bucket i; bucketLow(i+1)-1 is the
// largest.
func bucketLow(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i - e<<subBits)
	return m << e
}

// Record adds one duration. Only the owning goroutine calls it.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	if v < h.min.Load() {
		h.min.Store(v)
	}
	if v > h.max.Load() {
		h.max.Store(v)
	}
}

// Merge adds o's counts into h. h must not be recorded into concurrently.
func (h *Histogram) Merge(o *Histogram) {
	if o.count.Load() == 0 {
		return
	}
	for i := range o.buckets {
		if n := o.buckets[i].Load(); n != 0 {
			h.buckets[i].Add(n)
		}
	}
	h.count.Add(o.count.Load())
	h.sum.Add(o.sum.Load())
	if m := o.min.Load(); m < h.min.Load() {
		h.min.Store(m)
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Quantile returns the duration below which a fraction q of the recorded
// durations fall, to within the histogram's relative error. It returns the
// midpoint of the bucket that holds the quantile, clamped to the exact
// minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			lo, hi := bucketLow(i), bucketLow(i+1)-1
			mid := lo + (hi-lo)/2
			mid = min(max(mid, h.min.Load()), h.max.Load())
			return time.Duration(mid)
		}
	}
	return time.Duration(h.max.Load())
}

// Mean is the exact mean of the recorded durations.
func (h *Histogram) Mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Min and Max are exact.
func (h *Histogram) Min() time.Duration {
	if h.count.Load() == 0 {
		return 0
	}
	return time.Duration(h.min.Load())
}

// Max is the longest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Summary is a histogram's figures in seconds, as results carry them.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Summarize returns the figures of h.
func (h *Histogram) Summarize() Summary {
	return Summary{
		Count: h.Count(),
		Mean:  h.Mean().Seconds(),
		Min:   h.Min().Seconds(),
		P50:   h.Quantile(0.50).Seconds(),
		P90:   h.Quantile(0.90).Seconds(),
		P99:   h.Quantile(0.99).Seconds(),
		P999:  h.Quantile(0.999).Seconds(),
		Max:   h.Max().Seconds(),
	}
}
