package rules

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages"
)

var update = flag.Bool("update", false, "write the result trees of testdata/validate from the cases in this file")

// The trees of testdata/validate are results directories as mlps writes
// them (results.Begin and results.Write), of runs described here: what
// each run recorded is set by hand, so that every rule can be broken
// alone. go test ./exec/rules -run TestTrees -update writes them again.
const treeDir = "../../testdata/validate"

// treeRun is one results directory of a tree.
type treeRun struct {
	dir      string
	workload map[string]any
	stages   []treeStage
	memory   int64
	// killed leaves the run without summary.json.
	killed bool
}

type treeStage struct {
	id, kind   string
	start, end time.Time
	metrics    stages.Metrics
}

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

const gib = 1 << 30

// shipped is a shipped workload's resolved JSON.
func shipped(t *testing.T, file string) map[string]any {
	t.Helper()
	w, err := dsl.Load("../../workloads/"+file, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// set sets a field of a decoded workload by dotted path; nil deletes it.
func set(m map[string]any, path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	o := m
	for _, k := range keys[:len(keys)-1] {
		next, ok := o[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			o[k] = next
		}
		o = next
	}
	if v == nil {
		delete(o, keys[len(keys)-1])
	} else {
		o[keys[len(keys)-1]] = v
	}
	return m
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	return c
}

// trainingSeries is a CLOSED unet3d result on b200: a datagen run, then
// six runs of 100 s with 10 s between them, AU 95 %, seeds 1..6 over one
// dataset, throughputs within 1 %.
func trainingSeries(t *testing.T, mutate func(i int, r *treeRun)) []treeRun {
	base := shipped(t, "unet3d/b200.cue")
	var rs []treeRun
	gen := clone(base)
	rs = append(rs, treeRun{dir: "sut/training/unet3d/datagen/20261130_075000", workload: gen, memory: 16 * gib,
		stages: []treeStage{{id: "datagen", kind: "generate", start: t0.Add(-10 * time.Minute), end: t0.Add(-time.Minute)}}})
	for i := range 6 {
		w := clone(base)
		set(w, "run_seed", float64(i+1))
		start := t0.Add(time.Duration(i) * 110 * time.Second)
		r := treeRun{dir: fmt.Sprintf("sut/training/unet3d/run/20261130_08%02d%02d", i*110/60, i*110%60), workload: w, memory: 16 * gib,
			stages: []treeStage{{id: "train", kind: "read-epoch", start: start, end: start.Add(100 * time.Second), metrics: stages.Metrics{
				"train_au_mean_percentage":                 95.0,
				"train_throughput_mean_samples_per_second": 100.0 + float64(i%3)/2,
				"shuffle_seed":                             i + 1,
				"num_hosts":                                1,
			}}}}
		if mutate != nil {
			mutate(i, &r)
		}
		rs = append(rs, r)
	}
	return rs
}

// checkpointRun is a CLOSED llama3-8b run writing and reading 10
// checkpoints on 8 processes.
func checkpointRun(t *testing.T, file, dir string, saved, loaded int, start time.Time, secs float64) treeRun {
	w := shipped(t, file)
	ranks := 8
	if file == "llama3/70b.cue" {
		ranks = 64
	}
	return treeRun{dir: dir, workload: w, memory: 64 * gib, stages: []treeStage{{id: "checkpoint", kind: "checkpoint",
		start: start, end: start.Add(time.Duration(secs * float64(time.Second))), metrics: stages.Metrics{
			"checkpoints_saved": saved, "checkpoints_loaded": loaded, "ranks": ranks, "full_run_ranks": ranks,
			"checkpoint_bytes": int64(105e9),
		}}}}
}

// vectorSeries is a CLOSED DISKANN result: an index build, then five
// timed runs of 60 s with full ground truth.
func vectorSeries(t *testing.T, index string, mutate func(i int, r *treeRun)) []treeRun {
	base := shipped(t, "vectordb/diskann.cue")
	set(base, "stages.index.index_type", index)
	build := clone(base)
	set(build, "stages.search", nil)
	rs := []treeRun{{dir: "sut/vector_database/" + strings.ToLower(index) + "/datagen/20261130_070000", workload: build, memory: 16 * gib,
		stages: []treeStage{{id: "datagen", kind: "generate", start: t0.Add(-time.Hour), end: t0.Add(-50 * time.Minute)},
			{id: "index", kind: "index", start: t0.Add(-50 * time.Minute), end: t0.Add(-10 * time.Minute)}}}}
	for i := range 5 {
		start := t0.Add(time.Duration(i) * 70 * time.Second)
		r := treeRun{dir: fmt.Sprintf("sut/vector_database/%s/run/20261130_08%02d%02d", strings.ToLower(index), i*70/60, i*70%60), workload: clone(base), memory: 16 * gib,
			stages: []treeStage{{id: "search", kind: "query", start: start, end: start.Add(60 * time.Second), metrics: stages.Metrics{
				"throughput_qps": 850.0, "mean_latency_ms": 1.1, "p95_latency_ms": 2.0, "p99_latency_ms": 3.0, "p999_latency_ms": 4.5,
				"query_seconds": 60.0, "ground_truth_coverage": 1.0, "recall_at_k_mean": 0.93,
			}}}}
		if mutate != nil {
			mutate(i, &r)
		}
		rs = append(rs, r)
	}
	return rs
}

func kvRun(t *testing.T, mutate func(w map[string]any)) []treeRun {
	w := shipped(t, "kvcache/option1.cue")
	if mutate != nil {
		mutate(w)
	}
	return []treeRun{{dir: "sut/kv_cache/option1/20261130_080000", workload: w, memory: 16 * gib,
		stages: []treeStage{{id: "kvcache", kind: "kvcache", start: t0, end: t0.Add(900 * time.Second), metrics: stages.Metrics{"tokens_per_second": 1234.0}}}}}
}

// treeCase is a tree and the verdict mlps validate must give it: its
// class, and the rule of every finding that is not CLOSED.
type treeCase struct {
	name  string
	about string
	runs  func(t *testing.T) []treeRun
	class Class
	rules []string
}

func treeCases() []treeCase {
	return []treeCase{
		{"closed-training", "six runs of unet3d on b200 with a datagen directory beside them (upstream counted it against the six), each run's seed set by mlps (run_seed: upstream flagged injected parameters)",
			func(t *testing.T) []treeRun { return trainingSeries(t, nil) }, Closed, nil},
		{"closed-training-storage", "six runs whose storage, data folder, file count, read threads and O_DIRECT changed, as CLOSED may",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) {
					set(r.workload, "targets.data.uri", "file:///mnt/nvme/mlps")
					set(r.workload, "datasets.train.files", 7200.0)
					set(r.workload, "stages.train.read_threads", 8.0)
					set(r.workload, "stages.train.odirect", true)
				})
			}, Closed, nil},
		{"open-format", "six runs of a dataset in another format (OPEN may change dataset.format)",
			func(t *testing.T) []treeRun {
				rs := trainingSeries(t, func(i int, r *treeRun) { set(r.workload, "datasets.train.format", "hdf5") })
				set(rs[0].workload, "datasets.train.format", "hdf5")
				return rs
			}, Open, []string{"train.parameters"}},
		{"open-training-model", "six runs of unet3d on h100, not a CLOSED accelerator of v3.0",
			func(t *testing.T) []treeRun {
				rs := trainingSeries(t, func(i int, r *treeRun) {
					r.workload = shipped(t, "unet3d/h100.cue")
					set(r.workload, "datasets.train.files", 7200.0)
					set(r.workload, "run_seed", float64(i+1))
				})
				return rs[1:]
			}, Open, []string{"train.model"}},
		{"invalid-au", "run 4's AU is 85 %, below unet3d's 90 %",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) {
					if i == 3 {
						r.stages[0].metrics["train_au_mean_percentage"] = 85.0
					}
				})
			}, Invalid, []string{"train.au_minimum"}},
		{"invalid-datasize", "the hosts recorded 1 TiB of memory: 7200 files of unet3d hold less than 5 × that",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) { r.memory = 1024 * gib })
			}, Invalid, []string{"train.datasize"}},
		{"invalid-parameter", "batch size 8 where unet3d's is 7",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) { set(r.workload, "stages.train.batch_size", 8.0) })
			}, Invalid, []string{"train.parameters"}},
		{"invalid-five-runs", "five training runs where a result is six",
			func(t *testing.T) []treeRun { return trainingSeries(t, nil)[:6] }, Invalid, []string{"train.runs"}},
		{"invalid-gap", "run 4 starts 150 s after run 3 ended, longer than a run (100 s)",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) {
					if i >= 3 {
						r.stages[0].start = r.stages[0].start.Add(140 * time.Second)
						r.stages[0].end = r.stages[0].end.Add(140 * time.Second)
					}
				})
			}, Invalid, []string{"train.consecutive"}},
		{"invalid-killed", "run 6 was killed before it wrote summary.json",
			func(t *testing.T) []treeRun {
				return trainingSeries(t, func(i int, r *treeRun) { r.killed = i == 5 })
			}, Invalid, []string{"run.finished"}},
		{"closed-checkpoint", "llama3-8b on 8 processes, 10 writes and 10 reads in one invocation",
			func(t *testing.T) []treeRun {
				return []treeRun{checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080000", 10, 10, t0, 300)}
			}, Closed, nil},
		{"closed-checkpoint-split", "a write invocation, then a read invocation starting 25 s after the write's last checkpoint ended (upstream measured from the write's start and rejected it)",
			func(t *testing.T) []treeRun {
				return []treeRun{
					checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080000", 10, 0, t0, 200),
					checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080345", 0, 10, t0.Add(225*time.Second), 100),
				}
			}, Closed, nil},
		{"invalid-checkpoint-counts", "10 writes and 5 reads",
			func(t *testing.T) []treeRun {
				return []treeRun{checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080000", 10, 5, t0, 300)}
			}, Invalid, []string{"ckpt.counts"}},
		{"invalid-checkpoint-fsync", "fsync off",
			func(t *testing.T) []treeRun {
				r := checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080000", 10, 10, t0, 300)
				set(r.workload, "stages.checkpoint.fsync", false)
				return []treeRun{r}
			}, Invalid, []string{"ckpt.fsync", "ckpt.parameters"}},
		{"invalid-checkpoint-subset", "llama3-70b on 8 of its 64 processes: a subset is allowed for 8b alone",
			func(t *testing.T) []treeRun {
				r := checkpointRun(t, "llama3/70b.cue", "sut/checkpointing/llama3-70b/20261130_080000", 10, 10, t0, 300)
				set(r.workload, "stages.checkpoint.ranks", 8.0)
				r.stages[0].metrics["ranks"] = 8
				r.stages[0].metrics["subset"] = true
				return []treeRun{r}
			}, Invalid, []string{"ckpt.processes"}},
		{"invalid-checkpoint-read-late", "the read invocation starts 45 s after the write's end",
			func(t *testing.T) []treeRun {
				return []treeRun{
					checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080000", 10, 0, t0, 200),
					checkpointRun(t, "llama3/8b.cue", "sut/checkpointing/llama3-8b/20261130_080405", 0, 10, t0.Add(245*time.Second), 100),
				}
			}, Invalid, []string{"ckpt.read_within"}},
		{"closed-vector", "five timed DISKANN runs of 60 s beside the index build",
			func(t *testing.T) []treeRun { return vectorSeries(t, "DISKANN", nil) }, Closed, nil},
		{"open-vector-index", "five IVF_FLAT runs: not a CLOSED index",
			func(t *testing.T) []treeRun { return vectorSeries(t, "IVF_FLAT", nil) }, Open, []string{"vdb.index"}},
		{"invalid-vector-20s", "run 2 was timed for 20 s",
			func(t *testing.T) []treeRun {
				return vectorSeries(t, "DISKANN", func(i int, r *treeRun) {
					if i == 1 {
						r.stages[0].metrics["query_seconds"] = 20.0
					}
				})
			}, Invalid, []string{"vdb.duration"}},
		{"invalid-vector-coverage", "a ground truth over 1 % of the collection",
			func(t *testing.T) []treeRun {
				return vectorSeries(t, "DISKANN", func(i int, r *treeRun) { r.stages[0].metrics["ground_truth_coverage"] = 0.01 })
			}, Invalid, []string{"vdb.recall_coverage"}},
		{"invalid-vector-p999", "no p999_latency_ms",
			func(t *testing.T) []treeRun {
				return vectorSeries(t, "DISKANN", func(i int, r *treeRun) { delete(r.stages[0].metrics, "p999_latency_ms") })
			}, Invalid, []string{"vdb.metrics"}},
		{"invalid-vector-runs", "four runs of an index",
			func(t *testing.T) []treeRun { return vectorSeries(t, "DISKANN", nil)[:5] }, Invalid, []string{"vdb.runs"}},
		{"closed-kvcache", "option 1 as the edition has it",
			func(t *testing.T) []treeRun { return kvRun(t, nil) }, Closed, nil},
		{"open-kvcache", "option 1 with 50 users",
			func(t *testing.T) []treeRun {
				return kvRun(t, func(w map[string]any) { set(w, "stages.kvcache.users", 50.0) })
			}, Open, []string{"kv.option"}},
	}
}

// writeTree writes runs as results directories below root.
func writeTree(t *testing.T, root string, runs []treeRun) {
	t.Helper()
	for _, r := range runs {
		dir := filepath.Join(root, filepath.FromSlash(r.dir))
		wj, err := json.MarshalIndent(r.workload, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var plan struct {
			Stages []map[string]string `json:"stages"`
		}
		rep := &results.Report{Workload: r.workload["name"].(string), Complete: true, Targets: map[string]results.Target{}}
		for name, tg := range r.workload["targets"].(map[string]any) {
			uri := tg.(map[string]any)["uri"].(string)
			rep.Targets[name] = results.Target{Scheme: uri[:strings.Index(uri, ":")]}
		}
		for _, s := range r.stages {
			plan.Stages = append(plan.Stages, map[string]string{"id": s.id})
			rep.Stages = append(rep.Stages, &results.StageReport{ID: s.id, Kind: s.kind, Status: results.StatusOK,
				Start: s.start, End: s.end, Seconds: s.end.Sub(s.start).Seconds(), Metrics: s.metrics})
		}
		rep.Start = rep.Stages[0].Start.Add(-time.Second)
		rep.End = rep.Stages[len(rep.Stages)-1].End
		rep.Seconds = rep.End.Sub(rep.Start).Seconds()
		prov := results.Provenance{MlpsVersion: "v0.0.0-test", GoVersion: "go1.25", OS: "linux", Arch: "amd64", Hostname: "sut",
			CPUs: 64, MemoryBytes: r.memory, CommandLine: []string{"mlps", "exec", "workload.cue"}, Workload: rep.Workload, Seed: 1, Start: rep.Start}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := results.Begin(dir, results.Inputs{WorkloadCUE: []byte("// not kept in testdata\n"), WorkloadJSON: wj, Plan: plan}, prov); err != nil {
			t.Fatal(err)
		}
		if r.killed {
			continue
		}
		if _, err := results.Write(dir, rep, prov); err != nil {
			t.Fatal(err)
		}
	}
}

// packTree archives the files below root.
func packTree(t *testing.T, root, comment string) []byte {
	t.Helper()
	a := &txtar.Archive{Comment: []byte(comment)}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		a.Files = append(a.Files, txtar.File{Name: filepath.ToSlash(rel), Data: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return txtar.Format(a)
}

// unpackTree writes the archive's files below root.
func unpackTree(t testing.TB, a *txtar.Archive, root string) {
	t.Helper()
	for _, f := range a.Files {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A killed run has a stages/ directory and no file in it.
	for _, f := range a.Files {
		if strings.HasSuffix(f.Name, "/provenance.json") {
			_ = os.MkdirAll(filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(f.Name, "provenance.json")), "stages"), 0o755)
		}
	}
}

// TestTrees validates every tree of testdata/validate: each must get its
// class, with a finding of each rule named and of no other rule that is
// not CLOSED.
func TestTrees(t *testing.T) {
	for _, tc := range treeCases() {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(treeDir, tc.name+".txtar")
			if *update {
				tmp := t.TempDir()
				writeTree(t, tmp, tc.runs(t))
				comment := fmt.Sprintf("%s\n\nmlps validate: %s%s\n", tc.about, tc.class, ruleList(tc.rules))
				if err := os.WriteFile(file, packTree(t, tmp, comment), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			unpackTree(t, a, root)
			v, err := Validate(root, Latest)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range allFindings(v) {
				if f.Class != Closed {
					got[f.Rule] = true
				}
			}
			if v.Class != tc.class || !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(tc.rules))) {
				t.Errorf("%s: got %s with rules %v, want %s with %v; findings:\n%s", tc.about, v.Class, slices.Sorted(maps.Keys(got)), tc.class, tc.rules, dump(v))
			}
		})
	}
}

func ruleList(rs []string) string {
	if len(rs) == 0 {
		return ""
	}
	return ", by " + strings.Join(rs, ", ")
}

func allFindings(v *Verdict) []Finding {
	var fs []Finding
	for _, s := range v.Series {
		fs = append(fs, s.Findings...)
	}
	for _, r := range v.Runs {
		fs = append(fs, r.Findings...)
	}
	return fs
}

func dump(v *Verdict) string {
	var b strings.Builder
	for _, f := range allFindings(v) {
		if f.Class != Closed {
			fmt.Fprintf(&b, "  %s %s %s: %s; expected %s; actual %s; %s\n", f.Class, f.Rule, f.Run, f.Parameter, f.Expected, f.Actual, f.Detail)
		}
	}
	return b.String()
}
