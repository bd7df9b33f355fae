package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// reportTree runs the demo, shrunk, twice into root/training/a and
// root/training/b, as mlps exec does.
func reportTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"a", "b"} {
		var stdout, stderr bytes.Buffer
		args := []string{"exec", demo, "--results", filepath.Join(root, "training", name), "--progress", "none",
			"--set", "datasets.train.files=32", "--set", "datasets.train.record_bytes=65536", "--set", "stages.train.computation_time=0.001"}
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exec: exit %d: %s", code, stderr.String())
		}
	}
	return root
}

// listing is every path below dir, to tell that a command wrote nothing
// there.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mlps report writes its three files into PATH/report and prints their
// paths; the CSV has a row per run and the group's mean.
func TestReportWrites(t *testing.T) {
	root := reportTree(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", root}, &stdout, &stderr); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr.String())
	}
	out := filepath.Join(root, "report")
	want := []string{filepath.Join(out, "results.csv"), filepath.Join(out, "results.json"), filepath.Join(out, "report.html")}
	if got := strings.Fields(stdout.String()); !slices.Equal(got, want) {
		t.Errorf("printed %q, want %q", got, want)
	}
	for _, p := range want {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	f, err := os.Open(want[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range rows[1:] {
		kinds = append(kinds, r[0]+" "+r[2])
	}
	if w := []string{"run training/a", "run training/b", "mean "}; !slices.Equal(kinds, w) {
		t.Errorf("rows %q, want %q", kinds, w)
	}
}

// The output directory: refused when it holds files (unless --force),
// never inside a run's directory, and PATH-report by default when PATH
// is a run; a PATH of no results is exit 2, an unreadable run exit 1.
func TestReportRefuses(t *testing.T) {
	root := reportTree(t)
	run1 := filepath.Join(root, "training", "a")
	before := listing(t, run1)

	empty := t.TempDir()
	broken := t.TempDir()
	if err := os.CopyFS(filepath.Join(broken, "x"), os.DirFS(run1)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "x", "summary.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	taken := filepath.Join(t.TempDir(), "taken")
	if err := os.MkdirAll(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(taken, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		// wrote is a file the command must have written.
		wrote string
	}{
		{"no path", []string{"report"}, exitUsage, "got 0 arguments", ""},
		{"help", []string{"report", "--help"}, exitOK, "Examples:", ""},
		{"no results", []string{"report", empty}, exitUsage, "holds no mlps results", ""},
		{"missing path", []string{"report", filepath.Join(empty, "nope")}, exitUsage, "nope", ""},
		{"unreadable run", []string{"report", broken}, exitFailed, filepath.Join(broken, "x"), ""},
		{"inside a run", []string{"report", root, "--out", filepath.Join(run1, "rep")}, exitUsage, "inside the results directory", ""},
		{"the run itself", []string{"report", root, "--out", run1, "--force"}, exitUsage, "inside the results directory", ""},
		{"a run's default", []string{"report", run1}, exitOK, "", filepath.Join(root, "training", "a-report", "report.html")},
		{"not empty", []string{"report", root, "--out", taken}, exitUsage, "--force", ""},
		{"forced", []string{"report", root, "--out", taken, "--force"}, exitOK, "", filepath.Join(taken, "results.csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.stderr)
			}
			if tc.wrote != "" {
				if _, err := os.Stat(tc.wrote); err != nil {
					t.Error(err)
				}
				if !strings.Contains(stdout.String(), tc.wrote) {
					t.Errorf("stdout %q does not name %s", stdout.String(), tc.wrote)
				}
			}
		})
	}
	if after := listing(t, run1); !slices.Equal(before, after) {
		t.Errorf("the run's directory changed:\nbefore %q\nafter  %q", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(taken, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("--force touched a file not the report's: %q, %v", b, err)
	}
}
