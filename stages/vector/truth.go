package vector

// Truth is the exact answer to a query set over a collection, with how
// much of the collection it saw. Upstream once reported recall 0.009 in a
// valid-looking run because its ground truth came from 10,000 of
// 1,000,000 vectors; a Truth carries its coverage so that Recall can
// refuse to score against a partial one.
type Truth struct {
	// Metric is the metric the distances are under.
	Metric Metric
	// K is the neighbours kept per query: the k asked for, or fewer when
	// the vectors scanned were fewer.
	K int
	// Neighbors holds each query's K nearest, nearest first, ties by id.
	Neighbors [][]Neighbor
	// Scanned is the number of vectors compared with every query; Total
	// the collection's size.
	Scanned, Total int64
}

// Coverage is the share of the collection the ground truth compared with
// its queries: 1 for a ground truth that recall may be scored against.
func (t *Truth) Coverage() float64 {
	if t.Total <= 0 {
		return 0
	}
	return float64(t.Scanned) / float64(t.Total)
}

// Whole says that every vector of a non-empty collection was compared,
// counted exactly rather than through a rounded Coverage.
func (t *Truth) Whole() bool { return t.Total > 0 && t.Scanned == t.Total }
