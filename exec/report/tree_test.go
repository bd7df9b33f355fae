package report_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	_ "mlps.dev/mlps/stages/all"
)

// A results tree of every benchmark, made once by really running the
// shipped workloads shrunk to seconds, and shared by the tests.
var (
	treeOnce sync.Once
	treeDir  string
	treeErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if treeDir != "" {
		os.RemoveAll(treeDir)
	}
	os.Exit(code)
}

// treeRun is one run of the tree: its path below the root, its workload
// and overrides, and the stages it runs (all when empty).
type treeRun struct {
	path, workload string
	sets           []string
	only           []string
}

func prefixed(prefix string, kv ...string) []string {
	var out []string
	for _, s := range kv {
		out = append(out, prefix+s)
	}
	return out
}

// shrunk are the shipped workloads at a size that runs in seconds: the
// demo on 32 files of 64 KiB; llama3 8b's checkpoint of a model of 8
// narrow layers on its 8 ranks, saved and loaded twice; DISKANN over 2,100
// vectors of dimension 24, 60 queries, once swept over search_list_size;
// KV-cache option 1 for 2 s of 4 users with 256-byte tokens on mem://, a
// gpu and a cpu tier of a few MiB above it so that every tier is used.
var shrunk = func() []treeRun {
	demo := []string{"datasets.train.files=32", "datasets.train.record_bytes=65536", "stages.train.computation_time=0.001"}
	vec := []string{"datasets.vectors.files=3", "datasets.vectors.samples_per_file=700", "datasets.vectors.vectors.dimension=24",
		"datasets.vectors.vectors.queries=40", "stages.search.mode=query_count", "stages.search.query_count=60",
		"stages.index.max_degree=16", "stages.search.search_list_size=40"}
	return []treeRun{
		{"training/demo/run1", "demo.cue", demo, nil},
		{"training/demo/run2", "demo.cue", demo, nil},
		{"prep/demo", "demo.cue", demo, []string{"datagen"}},
		{"checkpointing/llama3-8b", "llama3/8b.cue", prefixed("stages.checkpoint.", "model.layers=8", "model.hidden=256",
			"model.ffn=896", "model.vocab=8000", "writes=2", "reads=2", "chunk_bytes=4194304"), nil},
		{"vector_database/diskann", "vectordb/diskann.cue", vec, nil},
		{"vector_database/sweep", "vectordb/diskann.cue", append(vec[:len(vec)-1:len(vec)-1], "name=vectordb-diskann-sweep",
			`stages.search.sweep={parameter: "search_list_size", values: [10, 20, 40]}`), nil},
		{"kv_cache/option1", "kvcache/option1.cue", append(prefixed("stages.kvcache.", "users=4", "trials=1", "duration=2",
			"bytes_per_token=256", "storage_bytes=1073741824", "cpu_bytes=4194304", "gpu_bytes=1048576"), "targets.cache.uri=mem://"), nil},
	}
}()

// tree returns the root of the shared results tree, running it the first
// time.
func tree(t *testing.T) string {
	t.Helper()
	treeOnce.Do(func() {
		treeDir, treeErr = os.MkdirTemp("", "mlps-report-test-")
		if treeErr != nil {
			return
		}
		for _, r := range shrunk {
			if treeErr = runInto(filepath.Join(treeDir, r.path), r); treeErr != nil {
				treeErr = fmt.Errorf("%s: %w", r.path, treeErr)
				return
			}
		}
	})
	if treeErr != nil {
		t.Fatal(treeErr)
	}
	return treeDir
}

// runInto runs r into the results directory dir as mlps exec does:
// claimed, begun, run, written.
func runInto(dir string, r treeRun) error {
	w, err := dsl.Load(filepath.Join("..", "..", "workloads", r.workload), r.sets)
	if err != nil {
		return err
	}
	p, err := planner.Compile(w)
	if err != nil {
		return err
	}
	if p, err = p.Select(r.only, nil); err != nil {
		return err
	}
	cueSrc, err := p.Workload.CUE()
	if err != nil {
		return err
	}
	jsonSrc, err := p.Workload.JSON()
	if err != nil {
		return err
	}
	prov := results.NewProvenance([]string{"mlps", "exec", r.workload})
	prov.Workload, prov.Seed, prov.Start = p.Workload.Name, p.Workload.Seed, time.Now()
	if err := results.Claim(dir, false); err != nil {
		return err
	}
	in := results.Inputs{WorkloadCUE: cueSrc, WorkloadJSON: jsonSrc, Plan: p.JSON(), Seed: p.Workload.Seed}
	if err := results.Begin(dir, in, prov); err != nil {
		return err
	}
	rep := exec.Run(context.Background(), p, exec.Options{Dir: dir})
	if _, err := results.Write(dir, rep, prov); err != nil {
		return err
	}
	if !rep.Complete {
		return fmt.Errorf("run incomplete: %v", rep.Err)
	}
	return nil
}
