package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// NoResultsError is a path that holds no results: the user's to fix.
type NoResultsError struct {
	Path, Reason string
}

func (e *NoResultsError) Error() string { return e.Path + " holds no mlps results: " + e.Reason }

// FindRuns returns the results directories at or below root, sorted by
// path: every directory holding the provenance.json a run writes before
// its first stage, finished or not. It does not descend into a run's
// own directory. A root that holds no run is an error naming it.
func FindRuns(root string) ([]string, error) {
	fi, err := os.Stat(root)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &NoResultsError{root, err.Error()}
	}
	if !fi.IsDir() {
		return nil, &NoResultsError{root, "it is a file, not a results directory or a tree of them"}
	}
	var dirs []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(path, "provenance.json")); err == nil {
			dirs = append(dirs, path)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, &NoResultsError{root, "no directory at or below it has the provenance.json every run writes"}
	}
	slices.Sort(dirs)
	return dirs, nil
}

// Run is one results directory read back: what a validator or a report
// needs, without planning the workload again.
type Run struct {
	Dir        string
	Provenance Provenance
	// Finished is false for a run killed before it wrote summary.json;
	// then only Provenance and Workload are set.
	Finished bool
	Summary  Summary
	// Keys are summary.json's hoisted run-level keys.
	Keys map[string]any
	// Workload is workload.json: the resolved workload as it ran.
	Workload map[string]any
	// Report is the report read back (Load); nil for a run that did not
	// finish.
	Report *Report
}

// ReadRun reads the results directory dir.
func ReadRun(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, "provenance.json"), &r.Provenance); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "workload.json"), &r.Workload); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &r.Summary); err != nil {
		return nil, fmt.Errorf("results: %s: %w", filepath.Join(dir, "summary.json"), err)
	}
	if err := json.Unmarshal(b, &r.Keys); err != nil {
		return nil, fmt.Errorf("results: %s: %w", filepath.Join(dir, "summary.json"), err)
	}
	if r.Report, err = Load(dir); err != nil {
		return nil, err
	}
	r.Finished = true
	return r, nil
}

// The benchmarks of MLPerf Storage, as the reference's results layout
// names their directories.
const (
	Training       = "training"
	Checkpointing  = "checkpointing"
	VectorDatabase = "vector_database"
	KVCache        = "kv_cache"
)

// benchmarkOf is the benchmark each stage kind measures; generate and
// index build data that a benchmark's run stages read.
var benchmarkOf = map[string]string{
	"read-epoch": Training,
	"checkpoint": Checkpointing,
	"query":      VectorDatabase,
	"kvcache":    KVCache,
}

// BenchmarkOf is the benchmark a stage kind measures; "" for a kind that
// prepares data (generate, index) or measures none of MLPerf Storage's.
func BenchmarkOf(kind string) string { return benchmarkOf[kind] }

// KindOf is the stage kind that measures benchmark; "" for none.
func KindOf(benchmark string) string {
	for k, b := range benchmarkOf {
		if b == benchmark {
			return k
		}
	}
	return ""
}

// Benchmark names the benchmark a run measured, by the kinds of the
// stages it ran: "training" for a run with a read-epoch stage, and so
// on; "" for a run that only prepared data (generate, index) or that
// measured none of MLPerf Storage's benchmarks. A run of two benchmarks
// at once is named by the first in the plan's order.
func (r *Run) Benchmark() string {
	for _, k := range r.Kinds() {
		if b := benchmarkOf[k]; b != "" {
			return b
		}
	}
	return ""
}

// Kinds are the kinds of the stages the run ran (from its report), or,
// for a run that did not finish, of every stage its workload names.
func (r *Run) Kinds() []string {
	var ks []string
	if r.Report != nil {
		for _, sr := range r.Report.Stages {
			ks = append(ks, sr.Kind)
		}
		return ks
	}
	st, _ := r.Workload["stages"].(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(st)) {
		if s, ok := st[id].(map[string]any); ok {
			if k, ok := s["kind"].(string); ok {
				ks = append(ks, k)
			}
		}
	}
	return ks
}

// MLPerf is the workload's mlperf block: which MLPerf Storage workload
// ran (model, accelerator, option); empty fields where it says nothing.
func (r *Run) MLPerf() (model, accelerator, option string) {
	m, _ := r.Workload["mlperf"].(map[string]any)
	model, _ = m["model"].(string)
	accelerator, _ = m["accelerator"].(string)
	option, _ = m["option"].(string)
	return model, accelerator, option
}

// Layout splits a results directory's path where it follows the
// reference's layout, .../SYSTEM/BENCHMARK/MODEL/[PHASE/]TS: the system
// (the directory above the benchmark's; "" when the benchmark's is the
// first) and the path from the benchmark's directory on, with slashes.
// ok is false for a path with no benchmark directory in it.
func Layout(path string) (system, below string, ok bool) {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i, p := range parts {
		switch p {
		case Training, Checkpointing, VectorDatabase, KVCache:
			if i > 0 {
				system = parts[i-1]
			}
			return system, strings.Join(parts[i:], "/"), true
		}
	}
	return "", "", false
}
