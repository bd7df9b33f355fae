package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/report"
	"mlps.dev/mlps/exec/results"
)

// readTree reads the shared tree as mlps report does.
func readTree(t *testing.T) (string, *report.Report) {
	t.Helper()
	root := tree(t)
	dirs, err := results.FindRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Read(root, dirs)
	if err != nil {
		t.Fatal(err)
	}
	return root, rep
}

// want is what a run's row must say, and the columns it must leave
// empty because the run did not record them.
type want struct {
	path, benchmark, workload, model, option, stage string
	empty                                           []string
}

var wantRuns = []want{
	{"checkpointing/llama3-8b", results.Checkpointing, "llama3-8b", "llama3-8b", "", "checkpoint", nil},
	{"kv_cache/option1", results.KVCache, "kvcache-option1", "llama3.1-8b", "option1", "kvcache", nil},
	{"prep/demo", "", "demo", "", "", "", nil},
	{"training/demo/run1", results.Training, "demo", "", "", "train", nil},
	{"training/demo/run2", results.Training, "demo", "", "", "train", nil},
	{"vector_database/diskann", results.VectorDatabase, "vectordb-diskann", "", "", "search", nil},
	// A sweep records its figures per point, none at the top.
	{"vector_database/sweep", results.VectorDatabase, "vectordb-diskann-sweep", "", "", "search",
		[]string{"throughput_qps", "mean_latency_ms", "p95_latency_ms", "p99_latency_ms", "p999_latency_ms", "recall_at_k_mean"}},
}

// fileFigure is a column's value as the run's own files hold it, read
// apart from the report: summary.json's top level where the stage hoists
// the key, else the stage's file. A latency percentile of no sample is
// no figure.
func fileFigure(t *testing.T, dir, stage, key string) (float64, bool) {
	t.Helper()
	var sum map[string]any
	readJSONFile(t, filepath.Join(dir, "summary.json"), &sum)
	if v, ok := dotted(sum, key); ok {
		return v, true
	}
	var sr struct {
		Metrics map[string]any `json:"metrics"`
	}
	readJSONFile(t, filepath.Join(dir, "stages", stage+".json"), &sr)
	return dotted(sr.Metrics, key)
}

func dotted(m map[string]any, key string) (float64, bool) {
	parts := strings.Split(key, ".")
	var cur any = m
	var parent map[string]any
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		parent, cur = obj, obj[p]
	}
	v, ok := cur.(float64)
	if n, has := parent["count"].(float64); ok && has && n == 0 {
		return 0, false
	}
	return v, ok
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestReportCSV(t *testing.T) {
	root, rep := readTree(t)
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	wantHead := []string{"row", "runs", "path", "benchmark", "workload", "model", "accelerator", "option", "stage", "start", "end", "seconds", "complete",
		"train_read_MB_per_second", "train_io_mean_MiB_per_second", "train_throughput_mean_samples_per_second", "train_au_mean_percentage",
		"save_checkpoint_io_mean_GiB_per_second", "load_checkpoint_io_mean_GiB_per_second", "save_checkpoint_duration_mean_seconds", "load_checkpoint_duration_mean_seconds",
		"throughput_qps", "mean_latency_ms", "p95_latency_ms", "p99_latency_ms", "p999_latency_ms", "recall_at_k_mean",
		"tokens_per_second", "storage_tokens_per_second", "requests_per_second",
		"tiers.storage.read_bytes_per_second", "tiers.storage.write_bytes_per_second",
		"tiers.storage.read_device_latency_ms.p95", "tiers.storage.write_device_latency_ms.p95"}
	if !slices.Equal(head, wantHead) {
		t.Fatalf("header\n%q\nwant\n%q", head, wantHead)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	byPath := map[string][]string{}
	var paths []string
	for _, r := range rows[1:] {
		if r[col["row"]] == "run" {
			byPath[r[col["path"]]] = r
			paths = append(paths, r[col["path"]])
		}
	}
	var wantPaths []string
	for _, w := range wantRuns {
		wantPaths = append(wantPaths, w.path)
	}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("run rows %q, want %q", paths, wantPaths)
	}
	for _, w := range wantRuns {
		t.Run(w.path, func(t *testing.T) {
			r := byPath[w.path]
			for name, v := range map[string]string{"benchmark": w.benchmark, "workload": w.workload, "model": w.model,
				"option": w.option, "stage": w.stage, "complete": "true", "runs": "1"} {
				if got := r[col[name]]; got != v {
					t.Errorf("%s %q, want %q", name, got, v)
				}
			}
			var sum results.Summary
			readJSONFile(t, filepath.Join(root, w.path, "summary.json"), &sum)
			if got, want := r[col["seconds"]], strconv.FormatFloat(sum.Seconds, 'f', -1, 64); got != want {
				t.Errorf("seconds %s, summary.json says %s", got, want)
			}
			recorded := 0
			for _, c := range report.Columns {
				cell := r[col[c.Key]]
				if c.Benchmark != w.benchmark {
					if cell != "" {
						t.Errorf("%s: %q in a %s run", c.Key, cell, w.benchmark)
					}
					continue
				}
				v, ok := fileFigure(t, filepath.Join(root, w.path), w.stage, c.Key)
				if slices.Contains(w.empty, c.Key) {
					if ok || cell != "" {
						t.Errorf("%s: %q, the run's files %v: want not recorded", c.Key, cell, v)
					}
					continue
				}
				if !ok {
					t.Errorf("%s: not in the run's files", c.Key)
					continue
				}
				got, err := strconv.ParseFloat(cell, 64)
				if err != nil || got != v {
					t.Errorf("%s: %q, the run's files say %v", c.Key, cell, v)
				}
				recorded++
			}
			if w.benchmark != "" && recorded+len(w.empty) != len(columnsOf(w.benchmark)) {
				t.Errorf("%d figures recorded of %d", recorded, len(columnsOf(w.benchmark)))
			}
		})
	}

	// The checkpoint's _GiB_ columns are the figures summary.json hoists
	// under the upstream _GB_ keys, which count GiB too.
	ck := byPath["checkpointing/llama3-8b"]
	var sum map[string]any
	readJSONFile(t, filepath.Join(root, "checkpointing/llama3-8b", "summary.json"), &sum)
	for _, ph := range []string{"save", "load"} {
		if got, want := ck[col[ph+"_checkpoint_io_mean_GiB_per_second"]], strconv.FormatFloat(sum[ph+"_checkpoint_io_mean_GB_per_second"].(float64), 'f', -1, 64); got != want {
			t.Errorf("%s GiB/s %s, summary.json's _GB_ key %s", ph, got, want)
		}
	}

	// The groups: one per benchmark and workload, data preparation
	// aside; each column the mean of its complete runs.
	means := map[string][]string{}
	for _, r := range rows[1:] {
		if r[col["row"]] == "mean" {
			means[r[col["benchmark"]]+"/"+r[col["workload"]]] = r
		}
	}
	wantGroups := []struct {
		key  string
		runs []string
	}{
		{"checkpointing/llama3-8b", []string{"checkpointing/llama3-8b"}},
		{"kv_cache/kvcache-option1", []string{"kv_cache/option1"}},
		{"training/demo", []string{"training/demo/run1", "training/demo/run2"}},
		{"vector_database/vectordb-diskann", []string{"vector_database/diskann"}},
		{"vector_database/vectordb-diskann-sweep", []string{"vector_database/sweep"}},
	}
	if len(means) != len(wantGroups) {
		t.Errorf("%d mean rows, want %d: %v", len(means), len(wantGroups), means)
	}
	for _, g := range wantGroups {
		m, ok := means[g.key]
		if !ok {
			t.Errorf("no mean row for %s", g.key)
			continue
		}
		if got := m[col["runs"]]; got != strconv.Itoa(len(g.runs)) {
			t.Errorf("%s: runs %s, want %d", g.key, got, len(g.runs))
		}
		for _, c := range report.Columns {
			var sum float64
			all := true
			for _, p := range g.runs {
				cell := byPath[p][col[c.Key]]
				v, err := strconv.ParseFloat(cell, 64)
				all = all && err == nil
				sum += v
			}
			cell := m[col[c.Key]]
			if !all {
				if cell != "" {
					t.Errorf("%s: mean %s of %s, not recorded by every run", g.key, cell, c.Key)
				}
				continue
			}
			if got, err := strconv.ParseFloat(cell, 64); err != nil || got != sum/float64(len(g.runs)) {
				t.Errorf("%s: mean %s of %s, want %v", g.key, cell, c.Key, sum/float64(len(g.runs)))
			}
		}
	}
}

func columnsOf(bench string) []report.Column {
	var cs []report.Column
	for _, c := range report.Columns {
		if c.Benchmark == bench {
			cs = append(cs, c)
		}
	}
	return cs
}

func TestReportJSON(t *testing.T) {
	root, rep := readTree(t)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Root    string `json:"root"`
		Columns []struct {
			Key, Benchmark, Unit string
		} `json:"columns"`
		Runs []struct {
			Path      string             `json:"path"`
			Benchmark string             `json:"benchmark"`
			Stage     string             `json:"stage"`
			Complete  bool               `json:"complete"`
			Finished  bool               `json:"finished"`
			Figures   map[string]float64 `json:"figures"`
		} `json:"runs"`
		Groups []struct {
			Benchmark string             `json:"benchmark"`
			Workload  string             `json:"workload"`
			Runs      []string           `json:"runs"`
			Complete  []string           `json:"complete_runs"`
			Means     map[string]float64 `json:"means"`
		} `json:"groups"`
	}
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Columns) != len(report.Columns) {
		t.Errorf("%d columns, want %d", len(got.Columns), len(report.Columns))
	}
	for _, c := range got.Columns {
		if c.Unit == "" {
			t.Errorf("column %s has no unit", c.Key)
		}
	}
	if len(got.Runs) != len(wantRuns) {
		t.Fatalf("%d runs, want %d", len(got.Runs), len(wantRuns))
	}
	for i, w := range wantRuns {
		r := got.Runs[i]
		if r.Path != w.path || r.Benchmark != w.benchmark || r.Stage != w.stage || !r.Complete || !r.Finished {
			t.Errorf("run %d: %+v, want %+v", i, r, w)
		}
		for _, c := range columnsOf(w.benchmark) {
			fv, inFiles := fileFigure(t, filepath.Join(root, w.path), w.stage, c.Key)
			v, ok := r.Figures[c.Key]
			if ok != inFiles || v != fv {
				t.Errorf("%s: %s = %v (present %t), the run's files %v (present %t)", w.path, c.Key, v, ok, fv, inFiles)
			}
		}
		if len(r.Figures) > len(columnsOf(w.benchmark)) {
			t.Errorf("%s: figures %v beyond its benchmark's columns", w.path, r.Figures)
		}
	}
	for _, g := range got.Groups {
		if g.Benchmark == results.Training {
			if len(g.Complete) != 2 {
				t.Errorf("training group: %v", g)
			}
			a, b := got.Runs[3].Figures, got.Runs[4].Figures
			for k, m := range g.Means {
				if m != (a[k]+b[k])/2 {
					t.Errorf("training mean of %s: %v, want %v", k, m, (a[k]+b[k])/2)
				}
			}
			if len(g.Means) != len(columnsOf(results.Training)) {
				t.Errorf("training means %v", g.Means)
			}
		}
	}
}
