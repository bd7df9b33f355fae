// Package exectest runs workloads written inline, for the tests of stage
// packages and the engine: load, plan and execute with every shipped
// backend and stage kind registered.
package exectest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	_ "mlps.dev/mlps/stages/all"
)

// Plan writes src to a file in a temporary directory, loads and plans it,
// failing t on any error.
func Plan(t testing.TB, src string) *planner.Plan {
	t.Helper()
	wl := filepath.Join(t.TempDir(), "workload.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return PlanFile(t, wl)
}

// PlanFile loads the workload at path with the overrides in sets and plans
// it, failing t on any error.
func PlanFile(t testing.TB, path string, sets ...string) *planner.Plan {
	t.Helper()
	w, err := dsl.Load(path, sets)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(w)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Run plans src and executes it without progress output, failing t unless
// the run completes.
func Run(t testing.TB, src string) (*planner.Plan, *results.Report) {
	t.Helper()
	p, rep := Try(t, src, exec.Options{})
	if !rep.Complete {
		t.Fatalf("run incomplete: %v", rep.Err)
	}
	return p, rep
}

// Try plans src and executes it with opts, returning the report whatever
// happened.
func Try(t testing.TB, src string, opts exec.Options) (*planner.Plan, *results.Report) {
	t.Helper()
	p := Plan(t, src)
	return p, exec.Run(context.Background(), p, opts)
}
