package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mlps.dev/mlps/stages/format/npz/npztest"
)

const demo = "../../workloads/demo.cue"

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// The demo runs end to end on local files: the results directory holds the
// summary with DLIO's keys, the resolved workload and provenance, and every
// generated file is a NumPy archive numpy.load opens with the right shape
// and dtype. Only the NumPy check needs python3 with numpy, so only it
// skips without one.
func TestExecDemo(t *testing.T) {
	data, results := t.TempDir(), filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"exec", demo, "--results", results, "--progress", "none",
		"--set", "targets.scratch.uri=file://" + data}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	sum := readJSON(t, filepath.Join(results, "summary.json"))
	for _, k := range []string{"train_au_mean_percentage", "train_throughput_mean_samples_per_second",
		"train_au_percentage", "train_io_mean_MB_per_second", "train_bytes_read"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary.json lacks %s", k)
		}
	}
	if sum["complete"] != true || sum["epochs"] != 2.0 || sum["num_accelerators"] != 2.0 {
		t.Errorf("summary: complete %v epochs %v accelerators %v", sum["complete"], sum["epochs"], sum["num_accelerators"])
	}
	if au := sum["train_au_mean_percentage"].(float64); au <= 0 || au > 100 {
		t.Errorf("AU %v%% is not a utilisation", au)
	}
	// Every planned byte was read back: 64 files of one 4 MiB record, read
	// by 2 ranks × 8 steps × batch 4 in each of 2 epochs.
	plan := readJSON(t, filepath.Join(results, "plan.json"))
	var planned float64
	for _, s := range plan["stages"].([]any) {
		if st := s.(map[string]any); st["id"] == "train" {
			planned = st["planned"].(map[string]any)["read_bytes"].(float64)
		}
	}
	if sum["train_bytes_read"] != planned || planned == 0 {
		t.Errorf("bytes read %v, planned %v", sum["train_bytes_read"], planned)
	}
	for _, f := range []string{"workload.cue", "workload.json", "provenance.json", "stages/datagen.json", "stages/train.json", "stages/train/steps.csv", "stages/train/ranks.jsonl"} {
		if _, err := os.Stat(filepath.Join(results, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
	prov := readJSON(t, filepath.Join(results, "provenance.json"))
	if prov["go_version"] == "" || prov["cpus"].(float64) < 1 || prov["seed"] != 1.0 {
		t.Errorf("provenance %v", prov)
	}
	if !strings.Contains(stdout.String(), "AU ") || !strings.Contains(stdout.String(), "results: "+results) {
		t.Errorf("summary table:\n%s", stdout.String())
	}

	files, _ := filepath.Glob(filepath.Join(data, "demo", "train", "img_*_of_64.npz"))
	if len(files) != 64 {
		t.Fatalf("%d files generated, want 64", len(files))
	}
	t.Run("numpy", func(t *testing.T) {
		python := npztest.Python(t)
		arrays, err := npztest.Load(python, 16, files...)
		if err != nil {
			t.Fatal(err)
		}
		heads := map[string]bool{}
		for i, a := range arrays {
			x, y := a["x"], a["y"]
			if fmt.Sprint(x.Shape) != "[2048 2048 1]" || x.Dtype != "uint8" || fmt.Sprint(y.Shape) != "[1]" || y.Dtype != "int64" {
				t.Errorf("%s: x %v %s, y %v %s", files[i], x.Shape, x.Dtype, y.Shape, y.Dtype)
			}
			heads[string(x.Head)] = true
		}
		if len(heads) != len(files) {
			t.Errorf("only %d distinct payloads among %d files", len(heads), len(files))
		}
	})
}

// A user's file imports the shipped demo, changes fields, and plans and
// runs.
func TestImportedDemoRuns(t *testing.T) {
	dir := t.TempDir()
	src := `package mine

import "mlps.dev/workloads:demo"

demo
name: "mine"
datasets: train: {files: 8, record_bytes: 65536}
stages: train: {epochs: 1, batch_size: 2, computation_time: 0}
`
	wl := filepath.Join(dir, "mine.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"plan", wl, "--format", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("plan: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"workload": "mine"`) {
		t.Errorf("plan: %s", stdout.String())
	}
	results := filepath.Join(dir, "results")
	stdout.Reset()
	if code := run([]string{"exec", wl, "--results", results, "--json", "--progress", "none"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exec: exit %d: %s", code, stderr.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	st := sum["stages"].(map[string]any)
	if st["datagen"].(map[string]any)["ops"] != 8.0 || sum["epochs"] != 1.0 {
		t.Errorf("summary %v", sum)
	}
}

// A failing stage makes the run exit 1 with its error, and the results say
// which stage failed; the summary is still written, marked incomplete.
func TestExecFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	// read-epoch without a generate stage: the files are not there.
	src := fmt.Sprintf(`name: "missing"
targets: t: uri: "file://%s"
datasets: d: {target: "t", format: "npz", files: 4, record_bytes: 1024}
stages: read: {kind: "read-epoch", dataset: "d"}
`, filepath.Join(dir, "data"))
	wl := filepath.Join(dir, "w.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	var stdout, stderr bytes.Buffer
	code := run([]string{"exec", wl, "--results", results, "--progress", "none"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, stderr.String())
	}
	if !strings.Contains(stderr.String(), "img_0_of_4.npz") || !strings.Contains(stderr.String(), "not exist") {
		t.Errorf("stderr does not name the missing file: %s", stderr.String())
	}
	sum := readJSON(t, filepath.Join(results, "summary.json"))
	if sum["complete"] != false || sum["stages"].(map[string]any)["read"].(map[string]any)["status"] != "failed" {
		t.Errorf("summary %v", sum)
	}
	// A failed read-epoch has no verdict and no AU, at the top or in its
	// own file, and says its figures are partial.
	for _, k := range []string{"train_au_meet_expectation", "train_au_mean_percentage", "epochs"} {
		if v, ok := sum[k]; ok {
			t.Errorf("summary.json of a failed run has %s: %v", k, v)
		}
	}
	m := readJSON(t, filepath.Join(results, "stages", "read.json"))["metrics"].(map[string]any)
	if _, ok := m["train_au_meet_expectation"]; ok || m["partial"] != true || m["epochs_completed"] != 0.0 {
		t.Errorf("stages/read.json metrics of a failed read: %v", m)
	}
	if out := stdout.String(); !strings.Contains(out, "read: incomplete (failed), measured until it stopped: no epoch of 1 finished: no AU, throughput or verdict\n") {
		t.Errorf("table of a failed read:\n%s", out)
	}
	// A second run into the same directory is refused rather than mixed in.
	if code := run([]string{"exec", wl, "--results", results}, &stdout, &stderr); code != exitUsage {
		t.Errorf("reusing a results directory: exit %d", code)
	}
}

// mlps runs the real binary: this test executable, re-executed as mlps.
func mlps(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MLPS_TEST_MAIN=1")
	return cmd
}

// Ctrl-C during exec stops the run promptly, writes the results directory
// marked incomplete and exits 130.
func TestInterruptWritesIncompleteResults(t *testing.T) {
	results := filepath.Join(t.TempDir(), "run")
	// Each step computes for 30 s, so the read stage takes minutes unless
	// interrupted, and an exit within one step's compute proves the
	// interrupt reached the emulated compute, however loaded the machine.
	cmd := mlps("exec", demo, "--results", results, "--progress", "plain",
		"--set", "stages.train.computation_time=30")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	var log []string
	for lines.Scan() {
		log = append(log, lines.Text())
		if strings.HasPrefix(lines.Text(), "[datagen] done") {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // into the first epoch
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		log = append(log, lines.Text())
	}
	err = cmd.Wait()
	if took := time.Since(sent); took >= 30*time.Second {
		t.Errorf("exit took %v after SIGINT: the step's 30 s of compute was not interrupted", took)
	}
	if cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want 130\n%s", err, strings.Join(log, "\n"))
	}
	sum := readJSON(t, filepath.Join(results, "summary.json"))
	st := sum["stages"].(map[string]any)
	if sum["complete"] != false || st["datagen"].(map[string]any)["status"] != "ok" || st["train"].(map[string]any)["status"] != "canceled" {
		t.Errorf("summary %v", sum)
	}
	if !strings.Contains(strings.Join(log, "\n"), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", strings.Join(log, "\n"))
	}
	// No epoch finished: no verdict and no AU anywhere, and the stage's
	// figures say they are partial.
	for _, k := range []string{"train_au_meet_expectation", "train_au_mean_percentage", "train_au_percentage", "train_io_mean_MB_per_second"} {
		if v, ok := sum[k]; ok {
			t.Errorf("summary.json of an interrupted run has %s: %v", k, v)
		}
	}
	m := readJSON(t, filepath.Join(results, "stages", "train.json"))["metrics"].(map[string]any)
	if m["partial"] != true || m["epochs_completed"] != 0.0 || m["epochs_planned"] != 2.0 {
		t.Errorf("train metrics do not say they are partial: %v", m)
	}
	for _, k := range []string{"train_au_meet_expectation", "train_au_mean_percentage"} {
		if v, ok := m[k]; ok {
			t.Errorf("stages/train.json of an interrupted run has %s: %v", k, v)
		}
	}
	if out := stdout.String(); strings.Contains(out, "AU 0") || strings.Contains(out, "success") || strings.Contains(out, "fail") ||
		!strings.Contains(out, "train: incomplete (canceled), measured until it stopped: no epoch of 2 finished: no AU, throughput or verdict") {
		t.Errorf("table of an interrupted run:\n%s", out)
	}
}

// A run killed with SIGKILL, which writes nothing on its way out, leaves
// what it measured until then: the inputs, the report of each stage that
// ended, and the training's per-rank figures and steps of every finished
// epoch; no summary.json says it did not finish, and a later run is not
// let into the directory.
func TestKilledRunLeavesWhatItMeasured(t *testing.T) {
	results := filepath.Join(t.TempDir(), "run")
	// 4 epochs of 8 steps of 0.5 s: the run outlives the first epoch by
	// 12 s at least, whatever the load.
	cmd := mlps("exec", demo, "--results", results, "--progress", "plain",
		"--set", "stages.train.computation_time=0.5", "--set", "stages.train.epochs=4")
	// A killed run cannot remove its tmp:// target's directory: it is made
	// below the test's own, which the test removes, not in the host's
	// /tmp, where every run of this test left 257 MB.
	cmd.Env = append(cmd.Environ(), "TMPDIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ranks := filepath.Join(results, "stages", "train", "ranks.jsonl")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Wait for the first epoch's two ranks, then kill.
	for lines := 0; lines < 2; {
		select {
		case err := <-exited:
			t.Fatalf("the run ended (%v) before it was killed:\n%s\n%s", err, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		b, _ := os.ReadFile(ranks)
		lines = bytes.Count(b, []byte("\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	if _, err := os.Stat(filepath.Join(results, "summary.json")); !os.IsNotExist(err) {
		t.Errorf("a killed run has summary.json: %v", err)
	}
	for _, f := range []string{"workload.cue", "workload.json", "plan.json", "provenance.json"} {
		if _, err := os.Stat(filepath.Join(results, f)); err != nil {
			t.Errorf("inputs: %v", err)
		}
	}
	if prov := readJSON(t, filepath.Join(results, "provenance.json")); prov["workload"] != "demo" || prov["start"] == nil || prov["end"] != nil {
		t.Errorf("provenance of a killed run: %v", prov)
	}
	if st := readJSON(t, filepath.Join(results, "stages", "datagen.json")); st["status"] != "ok" || st["measured"].(map[string]any)["bytes"] != 268466816.0 {
		t.Errorf("stages/datagen.json: status %v, measured %v", st["status"], st["measured"])
	}
	b, err := os.ReadFile(ranks)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		var re struct {
			Phase     string  `json:"phase"`
			Epoch     int     `json:"epoch"`
			Steps     int     `json:"steps"`
			AU        float64 `json:"au_percentage"`
			BytesRead int64   `json:"bytes_read"`
		}
		if err := json.Unmarshal([]byte(line), &re); err != nil {
			t.Fatalf("ranks.jsonl line %d: %v: %q", i+1, err, line)
		}
		if re.Phase != "train" || re.Epoch < 1 || re.Steps != 8 || re.AU <= 0 || re.BytesRead <= 0 {
			t.Errorf("ranks.jsonl line %d: %+v", i+1, re)
		}
	}
	steps, err := os.ReadFile(filepath.Join(results, "stages", "train", "steps.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// The header and the 2 ranks × 8 steps of epoch 1, at least.
	if n := strings.Count(string(steps), "\ntrain,1,"); n != 16 {
		t.Errorf("steps.csv holds %d steps of epoch 1, want 16:\n%s", n, steps)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"exec", demo, "--results", results, "--progress", "none"}, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "already holds files of an earlier or unfinished run") {
		t.Errorf("a run into a killed run's directory: exit %d, %s", code, errOut.String())
	}
}

// small is a workload that generates 4 files on a file target below dir
// and reads them once.
func small(t *testing.T, dir string) (workload, data string) {
	t.Helper()
	data = filepath.Join(dir, "data")
	src := fmt.Sprintf(`name: "small"
targets: t: uri: "file://%s"
datasets: d: {target: "t", format: "npz", files: 4, record_bytes: 4096}
stages: {
	gen: {kind: "generate", dataset: "d"}
	read: {kind: "read-epoch", dataset: "d", accelerators: 1, batch_size: 1, computation_time: 0}
}
`, data)
	workload = filepath.Join(dir, "w.cue")
	if err := os.WriteFile(workload, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return workload, data
}

// A --results directory the run cannot have to itself is refused with
// exit 2 and a message naming it and what to do, before any stage runs:
// nothing is generated.
func TestExecResultsDirRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns --results
		want  string
	}{
		{"file", func(t *testing.T, dir string) string {
			f := filepath.Join(dir, "results")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return f
		}, "is a file, not a directory; name a new directory with --results"},
		{"below a file", func(t *testing.T, dir string) string {
			f := filepath.Join(dir, "results")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(f, "run")
		}, "not a directory"},
		{"unwritable", func(t *testing.T, dir string) string {
			if os.Geteuid() == 0 {
				// Root writes through mode bits, not into sysfs.
				return "/sys/mlps-test-results"
			}
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(ro, "run")
		}, "choose another directory with --results"},
		{"foreign files", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "mine")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "notes.txt"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, "already holds files of an earlier or unfinished run, or of something else: notes.txt; results are written only into a new or empty directory: choose another with --results, or pass --force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			wl, data := small(t, dir)
			res := tt.setup(t, dir)
			var stdout, stderr bytes.Buffer
			code := run([]string{"exec", wl, "--results", res, "--progress", "plain"}, &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, stderr.String())
			}
			want := "mlps exec: results directory " + res + ": "
			if msg := stderr.String(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr %q\nwant one line starting %q and containing %q", msg, want, tt.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("a stage ran: %s: %v", data, err)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
		})
	}
}

// --force writes into a directory that holds other files, after removing
// an earlier result's files there; the user's other files stay.
func TestExecForce(t *testing.T) {
	dir := t.TempDir()
	wl, _ := small(t, dir)
	res := filepath.Join(dir, "res")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"exec", wl, "--results", res, "--progress", "none"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stale := filepath.Join(res, "stages", "old", "steps.csv")
	for _, f := range []string{stale, filepath.Join(res, "notes.txt")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code := run([]string{"exec", wl, "--results", res, "--progress", "none"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("without --force: exit %d", code)
	}
	if code := run([]string{"exec", wl, "--results", res, "--progress", "none", "--force"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("--force: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("--force kept an earlier result's file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res, "notes.txt")); err != nil {
		t.Errorf("--force removed the user's file: %v", err)
	}
	if readJSON(t, filepath.Join(res, "summary.json"))["complete"] != true {
		t.Error("--force run incomplete")
	}
}

// Two runs of one workload started in the same second, with the default
// results directory, write two directories.
func TestExecConcurrentDefaultDir(t *testing.T) {
	t.Chdir(t.TempDir())
	second := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return second }
	wl := filepath.Join(t.TempDir(), "w.cue")
	if err := os.WriteFile(wl, []byte(`name: "twice"
targets: t: uri: "mem://"
datasets: d: {target: "t", format: "npz", files: 8, record_bytes: 65536}
stages: {
	gen: {kind: "generate", dataset: "d"}
	read: {kind: "read-epoch", dataset: "d", accelerators: 1, batch_size: 1, computation_time: 0}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 2
	var outs [n]bytes.Buffer
	var codes [n]int
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var stderr bytes.Buffer
			codes[i] = run([]string{"exec", wl, "--progress", "none"}, &outs[i], &stderr)
			if codes[i] != exitOK {
				t.Errorf("run %d: exit %d: %s", i, codes[i], stderr.String())
			}
		})
	}
	wg.Wait()
	base := filepath.Join("results", "twice", "20260102_030405")
	dirs, _ := filepath.Glob(base + "*")
	if len(dirs) != n || dirs[0] != base || dirs[1] != base+"_2" {
		t.Fatalf("results directories %v, want %s and %s_2", dirs, base, base)
	}
	for i, d := range dirs {
		sum := readJSON(t, filepath.Join(d, "summary.json"))
		if sum["complete"] != true || sum["stages"].(map[string]any)["gen"].(map[string]any)["ops"] != 8.0 {
			t.Errorf("%s: summary %v", d, sum)
		}
		if !strings.Contains(outs[0].String()+outs[1].String(), "results: "+d+"\n") {
			t.Errorf("run %d: no run printed results: %s", i, d)
		}
	}
}

// The summary is printed before the results are written, so a run whose
// results directory breaks keeps its figures on stdout. Here the dataset
// is generated where summary.json's temporary file goes, so writing the
// summary fails after every stage ran.
func TestExecTablePrintedWhenWritingFails(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "res")
	wl := filepath.Join(dir, "w.cue")
	if err := os.WriteFile(wl, []byte(fmt.Sprintf(`name: "broken"
targets: t: uri: "file://%s"
datasets: d: {target: "t", path: "summary.json.tmp", format: "npz", files: 4, record_bytes: 4096}
stages: {
	gen: {kind: "generate", dataset: "d"}
	read: {kind: "read-epoch", dataset: "d", accelerators: 1, batch_size: 1, computation_time: 0}
}
`, res)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		os.RemoveAll(res)
		args := []string{"exec", wl, "--results", res, "--progress", "none"}
		if asJSON {
			args = append(args, "--json")
		}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitFailed {
			t.Fatalf("exit %d, want %d: %s", code, exitFailed, stderr.String())
		}
		if !strings.Contains(stderr.String(), "mlps exec: writing results to "+res+": ") || !strings.Contains(stderr.String(), "summary.json.tmp") {
			t.Errorf("stderr: %s", stderr.String())
		}
		out := stdout.String()
		if asJSON {
			var sum map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil || sum["complete"] != true || sum["train_au_meet_expectation"] == nil && sum["epochs"] == nil {
				t.Errorf("--json summary %v (%v):\n%s", sum, err, out)
			}
		} else if !strings.Contains(out, "stage MB/s") || !strings.Contains(out, "read: AU ") || strings.Contains(out, "results: ") {
			t.Errorf("table:\n%s", out)
		}
	}
}

// Memory does not grow with the dataset: generating 8 GiB instead of
// 256 MiB raises peak RSS by less than 32 MiB.
func TestGenerateMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 8 GiB; skipped with -short")
	}
	dir := t.TempDir()
	var fsys syscall.Statfs_t
	if err := syscall.Statfs(dir, &fsys); err == nil && int64(fsys.Bavail)*fsys.Bsize < 9<<30 {
		t.Skipf("needs 9 GiB free in %s for an 8 GiB dataset; %.1f GiB free", dir, float64(int64(fsys.Bavail)*fsys.Bsize)/(1<<30))
	}
	peak := func(files int) int64 {
		src := fmt.Sprintf(`name: "rss"
targets: t: uri: "file://%s"
datasets: d: {target: "t", path: "rss%d", format: "npz", files: %d, record_bytes: 4194304}
stages: gen: {kind: "generate", dataset: "d"}
`, dir, files, files)
		wl := filepath.Join(dir, fmt.Sprintf("rss%d.cue", files))
		if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, rss, err := peakRSS(t, mlps("exec", wl, "--results", filepath.Join(dir, fmt.Sprintf("results%d", files)), "--progress", "none"))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("rss%d", files)))
		return rss
	}
	small := peak(64)   // 256 MiB
	large := peak(2048) // 8 GiB
	t.Logf("peak RSS: 256 MiB dataset %.1f MiB, 8 GiB dataset %.1f MiB", float64(small)/(1<<20), float64(large)/(1<<20))
	if large-small >= 32<<20 {
		t.Errorf("peak RSS grew by %.1f MiB from 256 MiB to 8 GiB of data", float64(large-small)/(1<<20))
	}
}

// rateKey is a key of a figure per second in bytes, whatever its unit.
var rateKey = regexp.MustCompile(`(MB|MiB|GB|GiB)_per_second`)

// Every rate has a name of its own saying what it divides, and
// summary.json's units says the unit of each rate key it holds, DLIO's MB
// that are MiB included; the table names its stage MB/s and the
// read-epoch headline names each of its rates, with the page-cache caveat
// on the verdict's line.
func TestExecFiguresSayTheirUnits(t *testing.T) {
	dir := t.TempDir()
	wl, _ := small(t, dir)
	res := filepath.Join(dir, "res")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"exec", wl, "--results", res, "--progress", "none"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	sum := readJSON(t, filepath.Join(res, "summary.json"))
	units, _ := sum["units"].(map[string]any)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, v := range m {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if path == "units" {
				continue
			}
			if rateKey.MatchString(k) {
				// Keys below stages or client_ab are named by pattern.
				general := regexp.MustCompile(`^(stages|client_ab)\.[^.]+`).ReplaceAllString(p, "$1.*")
				general = regexp.MustCompile(`\.endpoints\.[^.]+`).ReplaceAllString(general, ".endpoints.*")
				if _, ok := units[p]; !ok {
					if _, ok := units[general]; !ok {
						t.Errorf("summary.json: %s has no entry in units", p)
					}
				}
			}
			walk(p, v)
		}
	}
	walk("", sum)
	for k, want := range map[string]string{
		"train_io_mean_MB_per_second":  "MiB/s (2^20 bytes)",
		"train_io_mean_MiB_per_second": "MiB/s (2^20 bytes)",
		"train_read_MB_per_second":     "MB/s (10^6 bytes): bytes read from storage",
		"stages.*.stage_MB_per_second": "MB/s (10^6 bytes): every byte the stage moved",
	} {
		if u, _ := units[k].(string); !strings.HasPrefix(u, want) {
			t.Errorf("units[%s] = %q, want %q...", k, u, want)
		}
	}
	if _, ok := sum["stages"].(map[string]any)["read"].(map[string]any)["stage_MB_per_second"]; !ok {
		t.Errorf("stage summary has no stage_MB_per_second: %v", sum["stages"])
	}
	out := stdout.String()
	for _, want := range []string{
		"stage MB/s  p50 ms",
		"stage MB/s: bytes the stage moved ÷ its wall time (stage_MB_per_second); MB = 10^6 bytes, MiB = 2^20",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The files are on a file target and fit in memory: the verdict and
	// its caveat share a line.
	headline := regexp.MustCompile(`(?m)^read: AU [0-9.]+% \(minimum 90%: (success|fail), but the dataset \([0-9.]+ KiB\) fits in memory \([0-9.]+ [KMGT]iB\): reads may have come from the page cache\), [0-9.]+ samples/s \(records [0-9.]+ MiB/s\), storage read [0-9.]+ MB/s over the epochs$`)
	if !headline.MatchString(out) {
		t.Errorf("no read-epoch headline with its caveat and named rates:\n%s", out)
	}
}
