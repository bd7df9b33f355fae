package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	for _, f := range []string{"workload.cue", "workload.json", "provenance.json", "stages/datagen.json", "stages/train.json", "stages/train/steps.csv", "stages/train/ranks.json"} {
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
