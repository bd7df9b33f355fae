package rules

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// vectorDatabase checks one vector search run: a CLOSED index, a timed
// run long enough, the required metrics, and recall against a ground
// truth over the whole collection.
func (c *checker) vectorDatabase(r *run) {
	e := c.ed.VectorDatabase
	sr := r.report("query")
	index := r.indexType()
	f := Finding{Rule: "vdb.index", Name: "an index type CLOSED allows", Class: Closed,
		Parameter: "index_type", Expected: fmt.Sprint(e.ClosedIndexes), Actual: index}
	if !slices.Contains(e.ClosedIndexes, index) {
		f.Class = Open
	}
	r.add(f)

	secs, ok := metric(sr, "query_seconds")
	f = Finding{Rule: "vdb.duration", Name: "a timed run at least the minimum", Class: Closed,
		Parameter: "query_seconds", Expected: fmt.Sprintf("≥ %gs", e.MinTimedSeconds), Actual: num(secs) + "s"}
	if !ok {
		f.Actual = "not recorded"
	}
	if !ok || secs < e.MinTimedSeconds {
		f.Class = Invalid
	}
	r.add(f)

	var missing []string
	for _, k := range e.RequiredMetrics {
		if v, ok := metric(sr, k); !ok || math.IsNaN(v) {
			missing = append(missing, k)
		}
	}
	f = Finding{Rule: "vdb.metrics", Name: "the required metrics reported", Class: Closed,
		Parameter: "metrics", Expected: fmt.Sprint(e.RequiredMetrics)}
	if len(missing) > 0 {
		f.Class, f.Actual = Invalid, fmt.Sprintf("missing %v", missing)
	} else {
		f.Actual = "all"
	}
	r.add(f)

	cov, ok := metric(sr, "ground_truth_coverage")
	f = Finding{Rule: "vdb.recall_coverage", Name: "recall against a ground truth over the whole collection", Class: Closed,
		Parameter: "ground_truth_coverage", Expected: "≥ " + num(e.RecallCoverage), Actual: num(cov)}
	if !ok {
		f.Actual = "not recorded"
	}
	if !ok || cov < e.RecallCoverage {
		f.Class = Invalid
	}
	r.add(f)

	recall, ok := metric(sr, "recall_at_k_mean")
	f = Finding{Rule: "vdb.recall_reported", Name: "recall reported, above 0", Class: Closed,
		Parameter: "recall_at_k_mean", Expected: "> 0", Actual: num(recall)}
	if !ok {
		f.Actual = "not recorded"
	}
	if !ok || recall <= 0 {
		f.Class = Invalid
	}
	r.add(f)
}

// vectorSeries checks the run count of one index.
func (c *checker) vectorSeries(rs []*run) []Finding {
	n := len(measured(rs))
	f := Finding{Rule: "vdb.runs", Name: "runs per index", Class: Closed,
		Expected: fmt.Sprint(c.ed.VectorDatabase.Runs), Actual: fmt.Sprint(n)}
	if n != c.ed.VectorDatabase.Runs {
		f.Class = Invalid
	}
	if p := len(rs) - n; p > 0 {
		f.Detail = fmt.Sprintf("%d index build run(s) beside them, not counted", p)
	}
	return []Finding{f}
}

// kvCache checks one KV-cache run against the CLOSED option it says it
// is: a run that differs from its option is OPEN.
func (c *checker) kvCache(r *run) {
	e := c.ed.KVCache
	spec := r.stageOf("kvcache")
	o, ok := e.Options[r.option]
	if !ok {
		r.add(Finding{Rule: "kv.option", Name: "a CLOSED option", Class: Open, Parameter: "mlperf.option",
			Expected: fmt.Sprint(slices.Sorted(maps.Keys(e.Options))), Actual: fmt.Sprintf("%q", r.option)})
		return
	}
	const gib = 1 << 30
	checks := []struct {
		param string
		want  any
		have  any
	}{
		{"model", o.Model, spec["model"]},
		{"users", float64(o.Users), spec["users"]},
		{"duration", o.DurationSeconds, spec["duration"]},
		{"gpu_bytes", o.GPUGiB * gib, spec["gpu_bytes"]},
		{"cpu_bytes", o.CPUGiB * gib, spec["cpu_bytes"]},
		{"max_concurrent_allocs", float64(o.MaxConcurrentAllocs), spec["max_concurrent_allocs"]},
		{"trials", float64(e.Trials), spec["trials"]},
		{"seed", float64(e.Seed), r.Workload["seed"]},
	}
	n := 0
	for _, ch := range checks {
		if fmt.Sprint(ch.want) == fmt.Sprint(ch.have) {
			continue
		}
		r.add(Finding{Rule: "kv.option", Name: "the CLOSED option's parameters", Class: Open,
			Parameter: ch.param, Expected: fmt.Sprint(ch.want), Actual: fmt.Sprint(ch.have),
			Detail: "CLOSED may change only the system name, the cache and results directories and the host and process layout"})
		n++
	}
	if n == 0 {
		r.add(Finding{Rule: "kv.option", Name: "the CLOSED option's parameters", Class: Closed, Parameter: "mlperf.option", Actual: r.option})
	}
}
