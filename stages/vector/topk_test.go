package vector

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTopKKeepsTheNearest pushes shuffled distances, with ties, and
// checks that the k nearest come back nearest first, ties by id.
func TestTopKKeepsTheNearest(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{0, 3}, {1, 1}, {5, 10}, {100, 10}, {1000, 1}, {1000, 100}} {
		r := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.k)))
		all := make([]Neighbor, tc.n)
		for i := range all {
			all[i] = Neighbor{ID: int64(i), Dist: float32(r.IntN(50))} // ties on purpose
		}
		top := NewTopK(tc.k)
		for _, i := range r.Perm(tc.n) {
			top.Push(all[i].ID, all[i].Dist)
		}
		slices.SortFunc(all, func(a, b Neighbor) int {
			if less(a, b) {
				return -1
			}
			return 1
		})
		want := all[:min(tc.k, tc.n)]
		if got := top.Sorted(nil); !slices.Equal(got, want) {
			t.Errorf("n=%d k=%d: got %v, want %v", tc.n, tc.k, got, want)
		}
		if top.Len() == tc.k && top.Worst() != want[len(want)-1].Dist {
			t.Errorf("n=%d k=%d: worst %v, want %v", tc.n, tc.k, top.Worst(), want[len(want)-1].Dist)
		}
	}
}

func TestParseMetric(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Metric
		ok   bool
	}{{"L2", L2, true}, {"ip", IP, true}, {"COSINE", Cosine, true}, {"hamming", 0, false}, {"", 0, false}} {
		got, err := ParseMetric(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMetric(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != map[Metric]string{L2: "L2", IP: "IP", Cosine: "COSINE"}[got] {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}
