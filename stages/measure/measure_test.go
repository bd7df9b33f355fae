package measure

import (
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 - 1} {
		i := bucketOf(v)
		if lo, hi := bucketLow(i), bucketLow(i+1); v < lo || v >= hi {
			t.Errorf("value %d in bucket %d = [%d,%d)", v, i, lo, hi)
		}
	}
	for i := 0; i < numBuckets-1; i++ {
		if bucketOf(bucketLow(i)) != i {
			t.Fatalf("bucketLow(%d)=%d maps back to %d", i, bucketLow(i), bucketOf(bucketLow(i)))
		}
	}
}

func TestQuantilesWithinRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var vals []float64
	for range 100000 {
		d := time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		h.Record(d)
		vals = append(vals, float64(d))
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := float64(h.Quantile(q))
		if rel := (got - exact) / exact; rel > 1.0/64 || rel < -1.0/64 {
			t.Errorf("q%.3f: got %.0f ns, exact %.0f ns, relative error %.4f", q, got, exact, rel)
		}
	}
	if h.Count() != 100000 {
		t.Errorf("count %d", h.Count())
	}
}

func TestSnapshotMergesWorkers(t *testing.T) {
	m := NewMeter("s")
	start := time.Unix(1000, 0)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := m.Worker()
			for i := range 1000 {
				s := start.Add(time.Duration(w*1000+i) * time.Millisecond)
				r := Record{Op: Read, Target: "t", Bytes: 100, Start: s, FirstByte: s.Add(time.Millisecond), End: s.Add(2 * time.Millisecond)}
				if i == 7 {
					r.Err = errors.New("boom")
				}
				rec.Observe(r)
			}
		}()
	}
	// Snapshots while workers record must be race-free (go test -race).
	for range 10 {
		m.Snapshot()
	}
	wg.Wait()
	s := m.Snapshot()
	if len(s.Ops) != 1 {
		t.Fatalf("ops: %+v", s.Ops)
	}
	o := s.Ops[0]
	if o.Count != 8000 || o.Bytes != 800000 || o.Errors != 8 || o.FirstError != "boom" {
		t.Errorf("merged %+v", o)
	}
	if want := 8.001; o.Seconds < want-1e-9 || o.Seconds > want+1e-9 {
		t.Errorf("window %v s, want %v", o.Seconds, want)
	}
	if o.Latency.P50 < 0.00198 || o.Latency.P50 > 0.00202 || o.FirstByte == nil || o.FirstByte.P99 > 0.00102 {
		t.Errorf("latency %+v first byte %+v", o.Latency, o.FirstByte)
	}
}
