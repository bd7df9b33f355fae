package measure

import (
	"encoding/json"
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
