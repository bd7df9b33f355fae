package vector

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// TieEpsilon is the relative difference within which a returned
// neighbour's distance counts as equal to the k-th true distance. Data
// has ties (duplicates, points on a sphere around the query), and two
// exact computations of one distance differ in the last bits when they
// sum in another order (a float32 sum of 1536 terms carries a relative
// error near 1e-6), so an index that returns the (k+1)-th of two tied
// neighbours has not missed anything. Upstream's tie-aware recall does
// the same with an absolute epsilon on similarities.
const TieEpsilon = 1e-5

// ErrPartialTruth is the error of Recall against a ground truth that did
// not compare its queries with the whole collection.
var ErrPartialTruth = errors.New("the ground truth does not cover the whole collection")

// RecallStats summarises per-query recall@K over a query set.
//
// Percentiles follow upstream (numpy's default, linear interpolation
// between order statistics): P95 is the recall that 95 % of queries are
// at or below, which for recall sits near the maximum. The tail that
// matters for recall is the low one, so P5 and P1 are also given: the
// recall that 95 % and 99 % of queries are at or above.
type RecallStats struct {
	// K is the k of recall@k; Queries the number of queries scored.
	K, Queries int
	// Coverage is the ground truth's (Truth.Coverage).
	Coverage float64
	// Mean, Median, Min and Max of the per-query recall.
	Mean, Median, Min, Max float64
	// P95 and P99 are upstream's percentiles; P5 and P1 the low tail.
	P95, P99, P5, P1 float64
	// StrictMean is the mean recall without tie credit: only ids of the
	// true top k count. Upstream reports it as recall_at_k_exact.
	StrictMean float64
	// Invalid, when not empty, says why the figures mean nothing (a
	// partial ground truth); a result that records them anyway must
	// record Invalid with them and be marked invalid.
	Invalid string
}

// Recall scores got, each query's returned neighbours nearest first, as
// recall@k against truth: per query, the returned ids among got[:k] that
// are among the true k nearest, plus those whose distance ties the k-th
// true distance (TieEpsilon), at most k, over k. A returned id counts
// once however often it is returned. The tie credit trusts the distance
// an index reports, which must be the metric's exact distance (indexes
// re-rank on full vectors).
//
// Against a ground truth that is not Whole, Recall computes the figures
// but sets Invalid and returns an error wrapping ErrPartialTruth, so that
// a caller can neither miss it nor lose what was measured. Other errors
// (no ground truth, a different number of queries, a k deeper than the
// ground truth) leave the stats empty.
func Recall(truth *Truth, got [][]Neighbor, k int) (RecallStats, error) {
	if truth == nil {
		return RecallStats{}, errors.New("recall: no ground truth")
	}
	if k < 1 {
		return RecallStats{}, fmt.Errorf("recall@%d: k must be at least 1", k)
	}
	if len(got) != len(truth.Neighbors) {
		return RecallStats{}, fmt.Errorf("recall: %d result lists for %d ground-truth queries", len(got), len(truth.Neighbors))
	}
	if len(got) == 0 {
		return RecallStats{}, errors.New("recall: no queries")
	}
	// A ground truth shallower than k can score recall@k only when it
	// holds the whole collection, which then has fewer than k vectors.
	if k > truth.K && int64(truth.K) != truth.Scanned {
		return RecallStats{}, fmt.Errorf("recall@%d: the ground truth holds only %d neighbours per query", k, truth.K)
	}
	st := RecallStats{K: k, Queries: len(got), Coverage: truth.Coverage()}
	per := make([]float64, len(got))
	var sc recallScratch
	var sum, strictSum float64
	for q := range got {
		r, s := sc.query(truth.Neighbors[q], got[q], k)
		per[q] = r
		sum += r
		strictSum += s
	}
	slices.Sort(per)
	n := float64(len(per))
	st.Mean, st.StrictMean = sum/n, strictSum/n
	st.Min, st.Max = per[0], per[len(per)-1]
	st.Median = percentile(per, 50)
	st.P95, st.P99 = percentile(per, 95), percentile(per, 99)
	st.P5, st.P1 = percentile(per, 5), percentile(per, 1)
	if !truth.Whole() {
		st.Invalid = fmt.Sprintf("the ground truth compared its queries with %d of %d vectors (coverage %.6g), not the whole collection", truth.Scanned, truth.Total, st.Coverage)
		return st, fmt.Errorf("recall: %w: %s", ErrPartialTruth, st.Invalid)
	}
	return st, nil
}

// QueryRecall is one query's recall@k as Recall counts it, with tie
// credit and strictly (only ids of the true top k).
func QueryRecall(truth, got []Neighbor, k int) (recall, strict float64) {
	var sc recallScratch
	return sc.query(truth, got, k)
}

// recallScratch holds the sorted ids of one query, reused across queries.
type recallScratch struct {
	truth []int64
	got   []Neighbor
}

func (sc *recallScratch) query(truth, got []Neighbor, k int) (recall, strict float64) {
	kt := min(k, len(truth))
	if kt == 0 {
		return 1, 1 // nothing to find
	}
	kth := truth[kt-1].Dist
	sc.truth = sc.truth[:0]
	for _, n := range truth[:kt] {
		sc.truth = append(sc.truth, n.ID)
	}
	slices.Sort(sc.truth)
	sc.got = append(sc.got[:0], got[:min(k, len(got))]...)
	slices.SortFunc(sc.got, func(a, b Neighbor) int { return cmp.Compare(a.ID, b.ID) })
	hits, strictHits := 0, 0
	for i, n := range sc.got {
		if i > 0 && sc.got[i-1].ID == n.ID {
			continue
		}
		if _, in := slices.BinarySearch(sc.truth, n.ID); in {
			hits++
			strictHits++
		} else if tied(n.Dist, kth) {
			hits++
		}
	}
	return float64(min(hits, kt)) / float64(kt), float64(strictHits) / float64(kt)
}

// tied says d equals the k-th true distance kth within TieEpsilon of it.
func tied(d, kth float32) bool {
	return d == kth || math.Abs(float64(d)-float64(kth)) <= TieEpsilon*math.Abs(float64(kth))
}

// percentile is numpy's default percentile of sorted xs: linear
// interpolation between the order statistics around p/100 × (n−1).
func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(pos)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[lo+1]-sorted[lo])
}
