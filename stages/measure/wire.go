package measure

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
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

// Part is a meter's figures as one process sends them to the process
// that writes the results (Meter.Export, Meter.Absorb): per operation
// kind, target and endpoint its counters, its span on the receiver's
// clock, and its latency histograms, never per-operation records.
type Part struct {
	Ops []PartOp `json:"ops"`
}

// PartOp is one operation kind's figures in a Part.
type PartOp struct {
	Op        string     `json:"op"`
	Target    string     `json:"target"`
	Endpoint  string     `json:"endpoint,omitempty"`
	Count     uint64     `json:"count"`
	Errors    uint64     `json:"errors"`
	FirstErr  string     `json:"first_error,omitempty"`
	Bytes     int64      `json:"bytes"`
	First     int64      `json:"first_ns"`
	Last      int64      `json:"last_ns"`
	Latency   *Histogram `json:"latency"`
	FirstByte *Histogram `json:"first_byte"`
}

// Export is the meter's figures for another process to Absorb; offset
// is the receiver's clock minus this process's, added to the span's
// times so that spans from several hosts line up.
func (m *Meter) Export(offset time.Duration) Part {
	var p Part
	for _, stats := range m.stats() {
		for _, s := range stats {
			o := PartOp{Op: s.op.String(), Target: s.target, Endpoint: s.endpoint, Count: s.count.Load(), Errors: s.errors.Load(),
				Bytes: s.bytes.Load(), Latency: NewHistogram(), FirstByte: NewHistogram()}
			if f := s.first.Load(); f != 0 {
				o.First = f + int64(offset)
			}
			if l := s.last.Load(); l != 0 {
				o.Last = l + int64(offset)
			}
			if e, ok := s.errText.Load().(string); ok {
				o.FirstErr = e
			}
			o.Latency.Merge(s.latency)
			o.FirstByte.Merge(s.firstByte)
			p.Ops = append(p.Ops, o)
		}
	}
	return p
}

// Absorb adds another process's figures to the meter, as a worker of its
// own: the meter's Snapshot is then of both processes' operations.
func (m *Meter) Absorb(p Part) error {
	w := m.Worker()
	for _, o := range p.Ops {
		op, ok := opByName(o.Op)
		if !ok {
			return fmt.Errorf("meter part: operation %q", o.Op)
		}
		if o.Latency == nil || o.FirstByte == nil {
			return fmt.Errorf("meter part: %s on %s without its histograms", o.Op, o.Target)
		}
		s := w.find(op, o.Target, o.Endpoint)
		s.count.Add(o.Count)
		s.errors.Add(o.Errors)
		s.bytes.Add(o.Bytes)
		if o.First != 0 && (s.first.Load() == 0 || o.First < s.first.Load()) {
			s.first.Store(o.First)
		}
		if o.Last > s.last.Load() {
			s.last.Store(o.Last)
		}
		if o.FirstErr != "" {
			s.errOnce.Do(func() { s.errText.Store(o.FirstErr) })
		}
		s.latency.Merge(o.Latency)
		s.firstByte.Merge(o.FirstByte)
	}
	return nil
}

func opByName(name string) (Op, bool) {
	for i, n := range opNames {
		if n == name && n != "" {
			return Op(i), true
		}
	}
	return 0, false
}
