package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/rules"
)

func withSets(args []string, sets ...string) []string {
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// TestSeriesTree runs what a submission holds, shrunken: a training
// series of unet3d on b200 (a datagen and six runs, --repeat 6), a
// llama3-8b checkpoint as a write invocation then a read invocation
// (--phase), five DISKANN runs over one index (--repeat 5) and KV-cache
// option 1, all into one tree in the reference's layout (--system). Then
// mlps validate must find what the shrinking changed, each named, and
// nothing else.
func TestSeriesTree(t *testing.T) {
	root := t.TempDir()
	ckpt := t.TempDir()
	exec := func(workload string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		all := append([]string{"exec", "../../workloads/" + workload, "--system", "sut", "--results", root, "--progress", "none"}, args...)
		if code := run(all, &out, &errb); code != exitOK {
			t.Fatalf("mlps %s: exit %d\n%s\n%s", strings.Join(all, " "), code, out.String(), errb.String())
		}
	}
	exec("unet3d/b200.cue", withSets([]string{"--repeat", "6"}, "datasets.train.files=28", "datasets.train.record_bytes=262144",
		"datasets.train.record_bytes_stdev=0", "stages.train.epochs=2", "stages.train.computation_time=0.4")...)
	ck := []string{"stages.checkpoint.model.layers=8", "stages.checkpoint.model.hidden=256", "stages.checkpoint.model.ffn=896",
		"stages.checkpoint.model.vocab=8000", "stages.checkpoint.chunk_bytes=4194304", "targets.ckpt.uri=file://" + ckpt}
	exec("llama3/8b.cue", withSets([]string{"--phase", "write"}, ck...)...)
	exec("llama3/8b.cue", withSets([]string{"--phase", "read"}, ck...)...)
	exec("vectordb/diskann.cue", withSets([]string{"--repeat", "5"}, "datasets.vectors.files=3", "datasets.vectors.samples_per_file=700",
		"datasets.vectors.vectors.dimension=24", "datasets.vectors.vectors.queries=40", "stages.search.mode=query_count",
		"stages.search.query_count=60", "stages.index.max_degree=16", "stages.search.search_list_size=40")...)
	exec("kvcache/option1.cue", withSets(nil, "stages.kvcache.users=4", "stages.kvcache.trials=1", "stages.kvcache.duration=2",
		"stages.kvcache.bytes_per_token=256", "stages.kvcache.storage_bytes=1073741824", "targets.cache.uri=mem://")...)

	// The layout: sut/BENCHMARK/MODEL/{datagen,run}/TS, one directory per
	// run.
	for _, tc := range []struct {
		glob string
		n    int
	}{
		{"sut/training/unet3d/datagen/*/summary.json", 1},
		{"sut/training/unet3d/run/*/summary.json", 6},
		{"sut/checkpointing/llama3-8b/*/summary.json", 2},
		{"sut/vector_database/diskann/datagen/*/summary.json", 1},
		{"sut/vector_database/diskann/run/*/summary.json", 5},
		{"sut/kv_cache/option1/*/summary.json", 1},
	} {
		if m, _ := filepath.Glob(filepath.Join(root, tc.glob)); len(m) != tc.n {
			t.Errorf("%s: %d runs, want %d", tc.glob, len(m), tc.n)
		}
	}
	// Each training run has its own run seed over one dataset seed.
	runs, _ := filepath.Glob(filepath.Join(root, "sut/training/unet3d/run/*"))
	var seeds []float64
	for _, r := range runs {
		var w struct {
			Seed    float64 `json:"seed"`
			RunSeed float64 `json:"run_seed"`
		}
		b, err := os.ReadFile(filepath.Join(r, "workload.json"))
		if err == nil {
			err = json.Unmarshal(b, &w)
		}
		if err != nil || w.Seed != 1 {
			t.Errorf("%s: seed %v (%v), want the dataset's 1", r, w.Seed, err)
		}
		seeds = append(seeds, w.RunSeed)
	}
	slices.Sort(seeds)
	if !slices.Equal(seeds, []float64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("run seeds %v, want 1 to 6", seeds)
	}

	v, err := rules.Validate(root, rules.Latest)
	if err != nil {
		t.Fatal(err)
	}
	// What shrinking changed, by benchmark: parameters CLOSED may not
	// change, a dataset too small for this host, a vector run of 60
	// queries, a KV option of 4 users for 2 s.
	want := []string{
		"INVALID train.parameters datasets.train.record_bytes",
		"INVALID train.parameters datasets.train.record_bytes_stdev",
		"INVALID train.parameters stages.train.computation_time",
		"INVALID train.parameters stages.train.epochs",
		"INVALID train.datasize dataset.num_files_train",
		"INVALID ckpt.parameters stages.checkpoint.model.ffn",
		"INVALID ckpt.parameters stages.checkpoint.model.hidden",
		"INVALID ckpt.parameters stages.checkpoint.model.layers",
		"INVALID ckpt.parameters stages.checkpoint.model.vocab",
		"INVALID vdb.duration query_seconds",
		"OPEN kv.option users",
		"OPEN kv.option duration",
		"OPEN kv.option trials",
	}
	var got []string
	for _, s := range v.Series {
		for _, f := range s.Findings {
			if f.Class != rules.Closed {
				got = append(got, fmt.Sprintf("%s %s %s", f.Class, f.Rule, f.Parameter))
			}
		}
	}
	for _, r := range v.Runs {
		for _, f := range r.Findings {
			if s := fmt.Sprintf("%s %s %s", f.Class, f.Rule, f.Parameter); f.Class != rules.Closed && !slices.Contains(got, s) {
				got = append(got, s)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		var out bytes.Buffer
		writeVerdict(&out, v)
		t.Errorf("findings:\n  %s\nwant:\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), out.String())
	}
	for b, c := range map[string]rules.Class{"training": rules.Invalid, "checkpointing": rules.Invalid, "vector_database": rules.Invalid, "kv_cache": rules.Open} {
		if v.Benchmarks[b] != c {
			t.Errorf("%s: %s, want %s", b, v.Benchmarks[b], c)
		}
	}

	// mlps report turns the tree into its three files: a CSV row per
	// run (and per group's mean) of the 16 runs.
	out := filepath.Join(t.TempDir(), "report")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", root, "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("mlps report: exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"results.csv", "results.json", "report.html"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("report %s: %v", f, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	for _, dir := range runs {
		rel, _ := filepath.Rel(root, dir)
		if !strings.Contains(string(b), filepath.ToSlash(rel)) {
			t.Errorf("results.csv has no row of %s", rel)
		}
	}
}
