package vector

import (
	"errors"
	"math"
	"testing"
)

// synthTruth is a ground truth whose query q has neighbours q*1000+j at
// distance j+1 for j < k: every id and distance known, so that recall of
// any list can be worked out by hand.
func synthTruth(queries, k int) *Truth {
	t := &Truth{Metric: L2, K: k, Neighbors: make([][]Neighbor, queries), Scanned: 1000 * int64(queries), Total: 1000 * int64(queries)}
	for q := range t.Neighbors {
		for j := range k {
			t.Neighbors[q] = append(t.Neighbors[q], Neighbor{ID: int64(q*1000 + j), Dist: float32(j + 1)})
		}
	}
	return t
}

// shifted is query q's true list moved s places down: the first s true
// neighbours are dropped and s farther ones (not in the true top k, at
// distances beyond the k-th) appended.
func shifted(t *Truth, q, s int) []Neighbor {
	var out []Neighbor
	for j := s; j < t.K+s; j++ {
		out = append(out, Neighbor{ID: int64(q*1000 + j), Dist: float32(j + 1)})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestRecallOfPerfectAndShiftedLists(t *testing.T) {
	const k = 10
	truth := synthTruth(11, k)
	perfect := make([][]Neighbor, 11)
	for q := range perfect {
		perfect[q] = truth.Neighbors[q]
	}
	st, err := Recall(truth, perfect, k)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"mean": st.Mean, "median": st.Median, "min": st.Min, "max": st.Max, "p95": st.P95, "p99": st.P99, "p5": st.P5, "p1": st.P1, "strict": st.StrictMean, "coverage": st.Coverage} {
		if v != 1 {
			t.Errorf("perfect lists: %s = %v, want 1", name, v)
		}
	}
	if st.Invalid != "" {
		t.Errorf("perfect lists: invalid: %s", st.Invalid)
	}

	// Query q shifted by q places finds k-q of its k: recalls 1.0, 0.9,
	// ..., 0.0, whose numpy percentiles are known.
	got := make([][]Neighbor, 11)
	for q := range got {
		got[q] = shifted(truth, q, q)
	}
	st, err = Recall(truth, got, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"mean", st.Mean, 0.5}, {"strict mean", st.StrictMean, 0.5}, {"median", st.Median, 0.5},
		{"min", st.Min, 0}, {"max", st.Max, 1},
		{"p95", st.P95, 0.95}, {"p99", st.P99, 0.99}, {"p5", st.P5, 0.05}, {"p1", st.P1, 0.01},
	} {
		if !near(c.got, c.want) {
			t.Errorf("shifted lists: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, tc := range []struct {
		s    int
		want float64
	}{{0, 1}, {1, 0.9}, {3, 0.7}, {10, 0}, {15, 0}} {
		if r, _ := QueryRecall(truth.Neighbors[0], shifted(truth, 0, tc.s), k); !near(r, tc.want) {
			t.Errorf("shifted by %d: recall %v, want %v", tc.s, r, tc.want)
		}
	}
}

// TestRecallTiesAndDuplicates: a neighbour tied with the k-th counts, one
// just beyond the epsilon does not, strict recall counts neither, and an
// id returned twice counts once.
func TestRecallTiesAndDuplicates(t *testing.T) {
	const k = 4
	truth := synthTruth(1, k).Neighbors[0] // ids 0..3 at 1..4
	for _, tc := range []struct {
		name         string
		got          []Neighbor
		want, strict float64
	}{
		{"exact tie", []Neighbor{{0, 1}, {1, 2}, {2, 3}, {77, 4}}, 1, 0.75},
		{"tie within epsilon", []Neighbor{{0, 1}, {1, 2}, {2, 3}, {77, 4 * (1 + TieEpsilon/2)}}, 1, 0.75},
		{"beyond epsilon", []Neighbor{{0, 1}, {1, 2}, {2, 3}, {77, 4 * (1 + 3*TieEpsilon)}}, 0.75, 0.75},
		{"results beyond k ignored", []Neighbor{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {77, 4}}, 1, 1},
		{"duplicates", []Neighbor{{0, 1}, {0, 1}, {0, 1}, {0, 1}}, 0.25, 0.25},
		{"short list", []Neighbor{{1, 2}}, 0.25, 0.25},
		{"empty list", nil, 0, 0},
		{"NaN distance", []Neighbor{{0, 1}, {1, 2}, {2, 3}, {77, float32(math.NaN())}}, 0.75, 0.75},
	} {
		r, s := QueryRecall(truth, tc.got, k)
		if !near(r, tc.want) || !near(s, tc.strict) {
			t.Errorf("%s: recall %v strict %v, want %v and %v", tc.name, r, s, tc.want, tc.strict)
		}
	}
}

// TestRecallRefusesPartialTruth: the figures are computed but marked
// invalid, and the error says why.
func TestRecallRefusesPartialTruth(t *testing.T) {
	truth := synthTruth(3, 10)
	truth.Scanned = truth.Total - 1 // one vector short: coverage rounds to 0.9997
	got := [][]Neighbor{truth.Neighbors[0], truth.Neighbors[1], truth.Neighbors[2]}
	st, err := Recall(truth, got, 10)
	if !errors.Is(err, ErrPartialTruth) {
		t.Fatalf("partial ground truth: err = %v, want ErrPartialTruth", err)
	}
	if st.Invalid == "" || st.Mean != 1 || st.Coverage >= 1 {
		t.Errorf("partial ground truth: stats %+v: want the figures, a coverage below 1 and a reason", st)
	}
	truth.Scanned, truth.Total = 0, 0
	if _, err := Recall(truth, got, 10); !errors.Is(err, ErrPartialTruth) {
		t.Errorf("empty ground truth: err = %v, want ErrPartialTruth", err)
	}
}

func TestRecallRejectsMisuse(t *testing.T) {
	truth := synthTruth(2, 10)
	good := [][]Neighbor{truth.Neighbors[0], truth.Neighbors[1]}
	for _, tc := range []struct {
		name  string
		truth *Truth
		got   [][]Neighbor
		k     int
	}{
		{"no ground truth", nil, good, 10},
		{"k of 0", truth, good, 0},
		{"fewer lists than queries", truth, good[:1], 10},
		{"k deeper than the ground truth", truth, good, 11},
		{"no queries", &Truth{Total: 5, Scanned: 5}, nil, 10},
	} {
		st, err := Recall(tc.truth, tc.got, tc.k)
		if err == nil || errors.Is(err, ErrPartialTruth) || st.Queries != 0 {
			t.Errorf("%s: stats %+v, err %v: want a usage error and no figures", tc.name, st, err)
		}
	}
	// A collection smaller than k: the ground truth holds all of it, and
	// recall@k is scored over what there is.
	small := &Truth{Metric: L2, K: 3, Neighbors: [][]Neighbor{{{0, 1}, {1, 2}, {2, 3}}}, Scanned: 3, Total: 3}
	if st, err := Recall(small, [][]Neighbor{{{2, 3}, {0, 1}, {1, 2}}}, 10); err != nil || st.Mean != 1 {
		t.Errorf("collection of 3, recall@10: %+v, %v; want 1", st, err)
	}
}
