package columnar

import (
	"math"
	"testing"

	"mlps.dev/mlps/stages"
)

// TestQueryRange: for every split of a stage's workers over processes,
// as the processes take them (stages.ShareOf), the processes' query
// ranges follow one another from 0 to the last query, so that each query
// runs on exactly one process, and each process's is its workers' share
// to within one query.
func TestQueryRange(t *testing.T) {
	for _, tt := range []struct {
		queries int64
		workers int
		procs   int
		want    [][2]int64 // each process's lo, hi; nil to check only the split's properties
	}{
		{queries: 10, workers: 1, procs: 1, want: [][2]int64{{0, 10}}},
		{queries: 10, workers: 4, procs: 1, want: [][2]int64{{0, 10}}},
		{queries: 10, workers: 4, procs: 4, want: [][2]int64{{0, 2}, {2, 5}, {5, 7}, {7, 10}}},
		{queries: 10, workers: 4, procs: 2, want: [][2]int64{{0, 5}, {5, 10}}},
		// Process 0 has 1 worker of 3, process 1 two.
		{queries: 9, workers: 3, procs: 2, want: [][2]int64{{0, 3}, {3, 9}}},
		// As many queries as workers: a query a worker.
		{queries: 5, workers: 5, procs: 3, want: [][2]int64{{0, 1}, {1, 3}, {3, 5}}},
		{queries: 1, workers: 1, procs: 1, want: [][2]int64{{0, 1}}},
		{queries: 1000, workers: 7, procs: 3},
		{queries: 1001, workers: 12, procs: 5},
		// The schema's largest: queries × workers would be 2^52, and
		// queries × first of a larger count would overflow.
		{queries: 1 << 40, workers: 4096, procs: 7},
		{queries: math.MaxInt64, workers: 4096, procs: 13},
	} {
		var next int64
		for p := range tt.procs {
			first, count := stages.ShareOf(p, tt.procs, tt.workers)
			lo, hi := queryRange(first, count, tt.workers, tt.queries)
			if tt.want != nil && (lo != tt.want[p][0] || hi != tt.want[p][1]) {
				t.Errorf("%d queries, %d workers over %d processes: process %d runs %d-%d, want %d-%d",
					tt.queries, tt.workers, tt.procs, p, lo, hi, tt.want[p][0], tt.want[p][1])
			}
			if lo != next || hi < lo {
				t.Errorf("%d queries, %d workers over %d processes: process %d runs %d-%d after %d",
					tt.queries, tt.workers, tt.procs, p, lo, hi, next)
			}
			share := float64(tt.queries) * float64(count) / float64(tt.workers)
			if d := math.Abs(float64(hi-lo) - share); d > 1+share*1e-12 {
				t.Errorf("%d queries, %d workers over %d processes: process %d of %d workers runs %d queries, its share %.1f",
					tt.queries, tt.workers, tt.procs, p, count, hi-lo, share)
			}
			if hi-lo < int64(count) {
				t.Errorf("%d queries, %d workers over %d processes: process %d runs %d queries on %d workers",
					tt.queries, tt.workers, tt.procs, p, hi-lo, count)
			}
			next = hi
		}
		if next != tt.queries {
			t.Errorf("%d queries, %d workers over %d processes: the last process ends at %d", tt.queries, tt.workers, tt.procs, next)
		}
	}
}
