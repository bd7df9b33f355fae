package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"mlps.dev/mlps/stages/measure"
)

// BenchmarkRanks1024 measures what coordination costs a run of 1024
// ranks on this machine: 16 processes (in this process, each with its
// own connection to the coordinator over loopback) of 64 goroutine ranks.
// Per iteration: rendezvous; 100 barrier rounds of every rank, each
// rank's wait recorded (the time from its call to its release, which
// includes waiting for the last rank to arrive); then one gather of each
// process's aggregates: per rank a latency histogram of 1000 samples and
// a few counters, as a stage sends them. It reports the rendezvous time,
// the barrier waits' p50 and p99, and the bytes of the gather: sent by
// all processes, and returned to process 0 (the others get none).
func BenchmarkRanks1024(b *testing.B) {
	const procs, ranks, rounds = 16, 64, 100
	for b.Loop() {
		addr := freeAddr(b)
		ps := make([]*Process, procs)
		errs := make([]error, procs)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ps[i], _, errs[i] = Join(context.Background(), Config{Place: Place{Proc: i, Procs: procs, Coordinator: addr},
					Ranks: ranks, Plan: testPlan, Host: Host{Hostname: "h"}, Token: "t", JoinTimeout: time.Minute})
			}()
		}
		wg.Wait()
		rendezvous := time.Since(start)
		for i, err := range errs {
			if err != nil {
				b.Fatalf("process %d: %v", i, err)
			}
		}
		waits := measure.NewHistogram()
		var mu sync.Mutex
		roundStart := time.Now()
		for _, p := range ps {
			w := p.World("test", procs*ranks)
			for range ranks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := measure.NewHistogram()
					for range rounds {
						t0 := time.Now()
						if err := w.Barrier(context.Background()); err != nil {
							b.Error(err)
							return
						}
						h.Record(time.Since(t0))
					}
					mu.Lock()
					waits.Merge(h)
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		perRound := time.Since(roundStart) / rounds

		// A process's aggregates: per rank a histogram and counters.
		type rankAgg struct {
			Latency *measure.Histogram `json:"latency"`
			Ops     uint64             `json:"ops"`
			Bytes   int64              `json:"bytes"`
			Errors  uint64             `json:"errors"`
		}
		var sent, returned int
		for i, p := range ps {
			aggs := make([]rankAgg, ranks)
			for r := range aggs {
				h := measure.NewHistogram()
				for k := range 1000 {
					h.Record(time.Duration(200+k%97*13+r) * time.Microsecond)
				}
				aggs[r] = rankAgg{Latency: h, Ops: 1000, Bytes: 1000 << 20}
			}
			enc, _ := json.Marshal(aggs)
			sent += len(enc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				parts, err := p.Gather(context.Background(), "aggregates", aggs)
				if err != nil {
					b.Error(err)
					return
				}
				if i == 0 {
					for _, pt := range parts {
						returned += len(pt)
					}
				}
			}()
		}
		wg.Wait()
		for _, p := range ps {
			p.Close()
		}
		b.ReportMetric(rendezvous.Seconds()*1e3, "rendezvous-ms")
		b.ReportMetric(float64(waits.Quantile(0.5).Microseconds()), "barrier-p50-µs")
		b.ReportMetric(float64(waits.Quantile(0.99).Microseconds()), "barrier-p99-µs")
		b.ReportMetric(float64(perRound.Microseconds()), "round-µs")
		b.ReportMetric(float64(sent), "gather-bytes-sent")
		b.ReportMetric(float64(returned), "gather-bytes-returned-to-process-0")
		b.Log(fmt.Sprintf("%d ranks: %d bytes per process per aggregation (%d per rank)", procs*ranks, sent/procs, sent/procs/ranks))
	}
}
