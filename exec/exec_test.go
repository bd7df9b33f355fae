package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
)

// A failing stage ends the run: its error is kept, stages after it never
// start, and the run is incomplete but not "canceled" (that is Ctrl-C).
func TestFailureStopsDependents(t *testing.T) {
	p := exectest.Plan(t, fmt.Sprintf(`name: "fail"
targets: t: uri: "file://%s"
datasets: {
	d: {target: "t", format: "npz", files: 4, record_bytes: 1024}
	e: {target: "t", format: "npz", files: 4, record_bytes: 1024}
}
stages: {
	read: {kind: "read-epoch", dataset: "d"}
	gen: {kind: "generate", dataset: "e", after: ["read"]}
}
`, t.TempDir()))
	rep := exec.Run(context.Background(), p, exec.Options{})
	if rep.Complete || rep.Canceled() || rep.Err == nil {
		t.Fatalf("complete %v canceled %v err %v", rep.Complete, rep.Canceled(), rep.Err)
	}
	status := map[string]string{}
	for _, sr := range rep.Stages {
		status[sr.ID] = sr.Status
	}
	if status["read"] != results.StatusFailed || status["gen"] != results.StatusNotRun {
		t.Errorf("statuses %v", status)
	}
	if !strings.Contains(rep.Err.Error(), "stage read") || !strings.Contains(rep.Err.Error(), "img_0_of_4.npz") {
		t.Errorf("error %v does not name the stage and file", rep.Err)
	}
}

// Cancelling the context stops a running stage promptly and marks it
// canceled; progress reports it while it runs.
func TestCancelMarksStage(t *testing.T) {
	p := exectest.Plan(t, `name: "cancel"
targets: t: uri: "mem://"
datasets: d: {target: "t", format: "npz", files: 8, record_bytes: 4096}
stages: {
	gen: {kind: "generate", dataset: "d"}
	read: {kind: "read-epoch", dataset: "d", computation_time: 10}
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	var progress bytes.Buffer
	start := time.Now()
	rep := exec.Run(ctx, p, exec.Options{Progress: &progress, Interval: 50 * time.Millisecond})
	// A cancel that did not reach the emulated compute would wait out the
	// step's computation_time (10 s) at least: that, not how fast a loaded
	// machine schedules, is the bound.
	if took := time.Since(start); took >= 10*time.Second {
		t.Errorf("cancel took %v: the step's 10 s of compute was not interrupted", took)
	}
	if !rep.Canceled() || rep.Complete {
		t.Fatalf("canceled %v complete %v err %v", rep.Canceled(), rep.Complete, rep.Err)
	}
	if rep.Stages[0].Status != results.StatusOK || rep.Stages[1].Status != results.StatusCanceled {
		t.Errorf("statuses %s %s", rep.Stages[0].Status, rep.Stages[1].Status)
	}
	if !strings.Contains(progress.String(), "[read] ") || !strings.Contains(progress.String(), "[gen] done") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// A run gets at least as many processors as its stages make storage calls
// at once, all stages together, and gives them back when it ends; a
// GOMAXPROCS the user set is kept.
func TestProcessorsForBlockingCalls(t *testing.T) {
	src := `name: "procs"
targets: t: uri: "mem://"
datasets: {
	d: {target: "t", format: "npz", files: 40, record_bytes: 1024}
	e: {target: "t", format: "npz", files: 40, record_bytes: 1024}
}
stages: {
	a: {kind: "generate", dataset: "d", workers: %d}
	b: {kind: "generate", dataset: "e", workers: 3}
}
`
	have := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name    string
		workers int
		env     string
		want    int
	}{
		{"the stages' calls together", have + 30, "", have + 33},
		{"never fewer than the runtime has", 1, "", max(have, 4)},
		{"the user's GOMAXPROCS kept", have + 30, fmt.Sprint(have), have},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("GOMAXPROCS", tc.env)
			}
			rep := exec.Run(context.Background(), exectest.Plan(t, fmt.Sprintf(src, tc.workers)), exec.Options{})
			if !rep.Complete {
				t.Fatal(rep.Err)
			}
			if rep.GoMaxProcs != tc.want {
				t.Errorf("ran on %d processors, want %d", rep.GoMaxProcs, tc.want)
			}
			if s := results.Summarize(rep); s.GoMaxProcs != rep.GoMaxProcs {
				t.Errorf("summary says %d processors, the run %d", s.GoMaxProcs, rep.GoMaxProcs)
			}
			if n := runtime.GOMAXPROCS(0); n != have {
				t.Errorf("after the run the runtime has %d processors, %d before", n, have)
			}
		})
	}
}
