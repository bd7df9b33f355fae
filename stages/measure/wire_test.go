package measure

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// A histogram sent as JSON and merged on the other side gives the
// figures of the one it was sent from.
func TestHistogramWire(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		h := NewHistogram()
		for i := range n {
			h.Record(time.Duration(i*i+1) * time.Microsecond)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var got Histogram
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		merged := NewHistogram()
		merged.Merge(&got)
		merged.Merge(h)
		if got.Summarize() != h.Summarize() {
			t.Errorf("%d samples: sent %+v, received %+v", n, h.Summarize(), got.Summarize())
		}
		if merged.Count() != 2*h.Count() || (n > 0 && merged.Quantile(0.5) != h.Quantile(0.5)) {
			t.Errorf("%d samples: merged %+v", n, merged.Summarize())
		}
		if n == 1000 && len(b) > 8192 {
			t.Errorf("1000 samples: %d bytes", len(b))
		}
	}
	for _, bad := range []string{`{"count":2,"buckets":[[1,1]]}`, `{"count":2,"buckets":[[3,1],[2,1]]}`, `{"count":1,"buckets":[[99999,1]]}`, `{"count":1,"buckets":[[1,18446744073709551615],[2,1]]}`} {
		var h Histogram
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzHistogramWire(f *testing.F) {
	f.Add([]byte(`{"count":2,"sum_ns":3,"min_ns":1,"max_ns":2,"buckets":[[1,1],[2,1]]}`))
	f.Add([]byte(`{"count":0,"buckets":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Histogram
		if err := json.Unmarshal(b, &h); err != nil {
			return
		}
		h.Summarize()
		again, err := json.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		var h2 Histogram
		if err := json.Unmarshal(again, &h2); err != nil || h2.Summarize() != h.Summarize() {
			t.Fatalf("%s: %v", again, err)
		}
	})
}

// A meter's figures exported by one process and absorbed by another's
// meter count in its snapshot as its own would: counts, bytes, errors,
// latencies, and a span moved onto the receiver's clock.
func TestMeterPart(t *testing.T) {
	t0 := time.Unix(1000, 0)
	record := func(m *Meter, n int, err error) {
		w := m.Worker()
		for i := range n {
			start := t0.Add(time.Duration(i) * time.Millisecond)
			w.Observe(Record{Op: Read, Target: "data", Bytes: 100, Start: start, FirstByte: start.Add(time.Microsecond), End: start.Add(time.Duration(i+1) * time.Microsecond), Err: err})
		}
	}
	lead, other := NewMeter("s"), NewMeter("s")
	record(lead, 10, nil)
	record(other, 30, errors.New("boom"))
	b, err := json.Marshal(other.Export(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var p Part
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if err := lead.Absorb(p); err != nil {
		t.Fatal(err)
	}
	s := lead.Snapshot()
	if len(s.Ops) != 1 || s.Count != 40 || s.Errors != 30 || s.Bytes != 4000 || s.Ops[0].Latency.Count != 40 || s.Ops[0].FirstByte.Count != 40 || s.Ops[0].FirstError != "boom" {
		t.Fatalf("%+v", s)
	}
	// The other's span, 1 s later on the lead's clock, ends 1.029 s after
	// the lead's first start.
	if got := s.Ops[0].Seconds; got < 1.029 || got > 1.03 {
		t.Errorf("span %v s", got)
	}
	if err := lead.Absorb(Part{Ops: []PartOp{{Op: "fly", Latency: NewHistogram(), FirstByte: NewHistogram()}}}); err == nil {
		t.Error("an unknown operation was absorbed")
	}
}
