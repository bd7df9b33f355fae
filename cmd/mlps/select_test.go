package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A series of runs over data generated once: --only read runs the read
// stage alone once the dataset is there, recording the generation as
// skipped; with a file of the dataset gone, or of another size, it fails
// before any stage runs, naming the file; --only and --skip name stages
// of the workload, and an unknown one is a usage error.
func TestExecPartOfTheWorkload(t *testing.T) {
	dir := t.TempDir()
	wl, data := small(t, dir)
	exec := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"exec", wl, "--progress", "none"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, stderr := exec("--results", filepath.Join(dir, "r1")); code != exitOK {
		t.Fatalf("the whole workload: exit %d: %s", code, stderr)
	}
	res := filepath.Join(dir, "r2")
	if code, _, stderr := exec("--results", res, "--only", "read"); code != exitOK {
		t.Fatalf("--only read: exit %d: %s", code, stderr)
	}
	sum := readJSON(t, filepath.Join(res, "summary.json"))
	if got := sum["skipped_stages"]; len(got.([]any)) != 1 || got.([]any)[0] != "gen" {
		t.Errorf("skipped_stages %v, want [gen]", got)
	}
	if st := sum["stages"].(map[string]any); len(st) != 1 || st["read"] == nil {
		t.Errorf("stages %v, want read alone", st)
	}

	var files []string
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".npz") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) != 4 {
		t.Fatalf("the dataset's files: %v, %v", files, err)
	}
	// One byte changed: the names and sizes still hold, every byte read
	// back (--verify) does not, and the error says where.
	f, err := os.OpenFile(files[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], 3000); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], 3000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, _, stderr := exec("--results", filepath.Join(dir, "r2b"), "--only", "read"); code != exitOK {
		t.Errorf("a changed byte without --verify: exit %d: %s", code, stderr)
	}
	code, _, stderr := exec("--results", filepath.Join(dir, "r2c"), "--only", "read", "--verify")
	if code != exitFailed || !strings.Contains(stderr, filepath.Base(files[1])+" differs from byte 3000 on") {
		t.Errorf("a changed byte with --verify: exit %d: %s", code, stderr)
	}
	if err := os.Truncate(files[2], 100); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = exec("--results", filepath.Join(dir, "r3"), "--skip", "gen")
	if code != exitFailed || !strings.Contains(stderr, "stage gen is left out, but what it writes is not as this workload plans it: dataset d is not the one this workload generates: ") ||
		!strings.Contains(stderr, filepath.Base(files[2])+" is 100 bytes") {
		t.Errorf("a file of another size: exit %d: %s", code, stderr)
	}
	if err := os.Remove(files[2]); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = exec("--results", filepath.Join(dir, "r4"), "--only", "read")
	if code != exitFailed || !strings.Contains(stderr, "is missing") {
		t.Errorf("a missing file: exit %d: %s", code, stderr)
	}
	if sum := readJSON(t, filepath.Join(dir, "r4", "summary.json")); sum["complete"] != false || sum["stages"].(map[string]any)["read"].(map[string]any)["status"] != "not-run" {
		t.Errorf("a run that found its data missing: %v", sum)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "reed"}, `no stage "reed" in workload small; its stages are gen, read`},
		{[]string{"--only", "read", "--skip", "gen"}, "--only and --skip together"},
		{[]string{"--skip", "gen,read"}, "--skip leaves no stage of workload small to run"},
	} {
		code, _, stderr := exec(append([]string{"--results", filepath.Join(dir, "r5")}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %s, want %q", tc.args, code, stderr, tc.want)
		}
	}
}
