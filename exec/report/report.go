// Package report turns a tree of results directories into what a person
// compares runs by: results.csv and results.json, one row per run with
// its benchmark's headline figures and one per group of runs with their
// means, and report.html, a self-contained page of tables and charts
// drawn as inline SVG.
//
// Every figure comes from a file a run wrote, under the key it was
// written with, so a column can be traced back to the run's stage file
// by name; a figure a run did not record is left empty, never shown as
// 0. The detail files behind the charts (steps.csv, ranks.jsonl) are
// streamed, and what is drawn is bounded, whatever their length.
package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages"
)

// Column is one figure of a benchmark: Key is its path in the metrics of
// the benchmark's stage (a dot descends into a nested object), and the
// column's name, so that a column is found in the run's files by name.
type Column struct {
	Key       string `json:"key"`
	Benchmark string `json:"benchmark"`
	// Kind is the stage kind whose metrics hold the figure.
	Kind string `json:"stage_kind"`
	// Unit says the figure's unit and what it divides.
	Unit string `json:"unit"`
}

// Columns are the figures the report carries, benchmark by benchmark, in
// the unit of each key (the _MiB_ and _GiB_ twins where the upstream key
// names a unit it does not count in).
var Columns = []Column{
	{"train_read_MB_per_second", results.Training, "read-epoch", "MB/s (10^6 bytes): bytes read from storage in the finished epochs ÷ those epochs' wall time"},
	{"train_io_mean_MiB_per_second", results.Training, "read-epoch", "MiB/s (2^20 bytes): samples/s × configured record bytes, mean over epochs (DLIO's train_io_mean_MB_per_second)"},
	{"train_throughput_mean_samples_per_second", results.Training, "read-epoch", "samples/s, mean over epochs"},
	{"train_au_mean_percentage", results.Training, "read-epoch", "%: accelerator utilisation (compute time ÷ measured step time), mean over epochs"},

	{"save_checkpoint_io_mean_GiB_per_second", results.Checkpointing, "checkpoint", "GiB/s (2^30 bytes): all ranks' bytes of one save ÷ its slowest rank's time, mean over saves"},
	{"load_checkpoint_io_mean_GiB_per_second", results.Checkpointing, "checkpoint", "GiB/s (2^30 bytes): all ranks' bytes of one load ÷ its slowest rank's time, mean over loads"},
	{"save_checkpoint_duration_mean_seconds", results.Checkpointing, "checkpoint", "s: a save's slowest rank's time, mean over saves"},
	{"load_checkpoint_duration_mean_seconds", results.Checkpointing, "checkpoint", "s: a load's slowest rank's time, mean over loads"},

	{"throughput_qps", results.VectorDatabase, "query", "queries/s: queries answered ÷ the query loop's wall time (absent for a sweep, whose points are in the page)"},
	{"mean_latency_ms", results.VectorDatabase, "query", "ms: a query's latency, from the call to the answer, mean"},
	{"p95_latency_ms", results.VectorDatabase, "query", "ms: query latency, 95th percentile"},
	{"p99_latency_ms", results.VectorDatabase, "query", "ms: query latency, 99th percentile"},
	{"p999_latency_ms", results.VectorDatabase, "query", "ms: query latency, 99.9th percentile"},
	{"recall_at_k_mean", results.VectorDatabase, "query", "recall@k against the exact neighbours, mean over the distinct queries answered (0 to 1)"},

	{"tokens_per_second", results.KVCache, "kvcache", "tokens/s: the tokens of the requests completed ÷ the run's wall time"},
	{"storage_tokens_per_second", results.KVCache, "kvcache", "tokens/s: the same tokens ÷ the sum of the requests' storage latencies (upstream's storage throughput), not a rate of the wall clock"},
	{"requests_per_second", results.KVCache, "kvcache", "requests completed ÷ the run's wall time"},
	{"tiers.storage.read_bytes_per_second", results.KVCache, "kvcache", "bytes/s: bytes requests read from the storage tier ÷ the run's wall time, summed over ranks"},
	{"tiers.storage.write_bytes_per_second", results.KVCache, "kvcache", "bytes/s: bytes written into the storage tier ÷ the run's wall time, summed over ranks"},
	{"tiers.storage.read_device_latency_ms.p95", results.KVCache, "kvcache", "ms: time inside the target's calls of one entry's read, 95th percentile, the largest of the ranks' own"},
	{"tiers.storage.write_device_latency_ms.p95", results.KVCache, "kvcache", "ms: time inside the target's calls of one entry's write, 95th percentile, the largest of the ranks' own"},
}

// Benchmarks are the benchmarks in the order the report lists them.
var Benchmarks = []string{results.Training, results.Checkpointing, results.VectorDatabase, results.KVCache}

// Report is a tree of runs read back.
type Report struct {
	// Root is the path the runs were found under.
	Root   string
	Runs   []*Run
	Groups []*Group
}

// Run is one results directory and its row.
type Run struct {
	// Path is the directory relative to Root, with slashes; "." when
	// Root is the run.
	Path      string
	Benchmark string
	Workload  string
	// Model, Accelerator and Option are the workload's mlperf block.
	Model, Accelerator, Option string
	// Stage is the stage whose metrics the figures are of: the first
	// stage of the benchmark's kind that finished; "" when none did.
	Stage string
	Start time.Time
	// End is zero for a run that did not finish.
	End time.Time
	// Seconds is the run's duration; nil for a run that did not finish.
	Seconds  *float64
	Complete bool
	// Figures holds every column the stage recorded, by key; a key
	// absent is a figure not recorded.
	Figures map[string]float64
	// Run is the directory as read.
	Run *results.Run
}

// Group is runs of one benchmark and MLPerf workload.
type Group struct {
	Benchmark, Workload, Model, Accelerator, Option string
	// Runs are the paths of the group's runs; Complete those of the
	// complete ones, which the means are over.
	Runs     []string
	Complete []string
	// Seconds is the mean duration of the complete runs; nil when none.
	Seconds *float64
	// Means holds a column's mean where every complete run of the group
	// recorded it: a mean over some of them would read as one over all.
	Means map[string]float64
}

// Read reads the results directories dirs found under root (by
// results.FindRuns). An unreadable run is an error naming it.
func Read(root string, dirs []string) (*Report, error) {
	rep := &Report{Root: root}
	for _, dir := range dirs {
		rr, err := results.ReadRun(dir)
		if err != nil {
			return nil, fmt.Errorf("reading run %s: %w", dir, err)
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			rel = dir
		}
		rep.Runs = append(rep.Runs, newRun(filepath.ToSlash(rel), rr))
	}
	rep.Groups = groups(rep.Runs)
	return rep, nil
}

func newRun(path string, rr *results.Run) *Run {
	r := &Run{Path: path, Benchmark: rr.Benchmark(), Run: rr, Figures: map[string]float64{}}
	r.Model, r.Accelerator, r.Option = rr.MLPerf()
	r.Workload, _ = rr.Workload["name"].(string)
	if r.Workload == "" {
		r.Workload = rr.Provenance.Workload
	}
	r.Start, r.End = rr.Provenance.Start, rr.Provenance.End
	if !rr.Finished {
		return r
	}
	r.Start, r.End, r.Complete = rr.Summary.Start, rr.Summary.End, rr.Summary.Complete
	secs := rr.Summary.Seconds
	r.Seconds = &secs
	sr := benchmarkStage(rr, r.Benchmark)
	if sr == nil {
		return r
	}
	r.Stage = sr.ID
	for _, c := range Columns {
		if c.Benchmark != r.Benchmark {
			continue
		}
		if v, ok := lookup(sr.Metrics, c.Key); ok {
			r.Figures[c.Key] = v
		}
	}
	return r
}

// benchmarkStage is the first stage of the benchmark's kind that
// finished: the one a run's summary hoists its keys from when it has
// one. A stage that failed or was cut keeps its partial figures in its
// own file only, as the summary does.
func benchmarkStage(rr *results.Run, bench string) *results.StageReport {
	for _, sr := range rr.Report.Stages {
		if sr.Status != results.StatusOK {
			continue
		}
		for _, c := range Columns {
			if c.Benchmark == bench && c.Kind == sr.Kind {
				return sr
			}
		}
	}
	return nil
}

// lookup finds the number at a dotted key path in m. A figure nested in
// an object of count 0 (a latency's percentile of no sample) is not a
// figure: the stages write such an object with zeros.
func lookup(m map[string]any, key string) (float64, bool) {
	var cur any = map[string]any(m)
	var parent map[string]any
	parts := strings.Split(key, ".")
	for _, part := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		parent = obj
		if cur, ok = obj[part]; !ok {
			return 0, false
		}
	}
	v, ok := stages.Number(cur)
	if !ok {
		return 0, false
	}
	if n, has := parent["count"]; has && len(parts) > 1 && parts[len(parts)-1] != "count" {
		if c, _ := stages.Number(n); c == 0 {
			return 0, false
		}
	}
	return v, true
}

// groups gathers the runs of each benchmark and MLPerf workload, in the
// order their first run comes, and averages the complete ones.
func groups(runs []*Run) []*Group {
	var out []*Group
	idx := map[[5]string]*Group{}
	done := map[*Group][]*Run{}
	for _, r := range runs {
		if r.Benchmark == "" {
			continue
		}
		k := [5]string{r.Benchmark, r.Workload, r.Model, r.Accelerator, r.Option}
		g, ok := idx[k]
		if !ok {
			g = &Group{Benchmark: k[0], Workload: k[1], Model: k[2], Accelerator: k[3], Option: k[4], Means: map[string]float64{}}
			idx[k] = g
			out = append(out, g)
		}
		g.Runs = append(g.Runs, r.Path)
		if r.Complete {
			g.Complete = append(g.Complete, r.Path)
			done[g] = append(done[g], r)
		}
	}
	for _, g := range out {
		done := done[g]
		if len(done) == 0 {
			continue
		}
		var secs float64
		for _, r := range done {
			secs += *r.Seconds
		}
		secs /= float64(len(done))
		g.Seconds = &secs
		for _, c := range Columns {
			if c.Benchmark != g.Benchmark {
				continue
			}
			var sum float64
			all := true
			for _, r := range done {
				v, ok := r.Figures[c.Key]
				all = all && ok
				sum += v
			}
			if all {
				g.Means[c.Key] = sum / float64(len(done))
			}
		}
	}
	return out
}

// columnsOf are the columns of benchmark b.
func columnsOf(b string) []Column {
	var cs []Column
	for _, c := range Columns {
		if c.Benchmark == b {
			cs = append(cs, c)
		}
	}
	return cs
}
