package results_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mlps.dev/mlps/exec/results"
)

// A results directory is this run's alone: Claim takes a new or empty
// directory, and refuses a file, a path through a file and a directory
// holding anything, naming what to do instead.
func TestClaim(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // dir does not exist yet
		force bool
		want  string // "" for success
	}{
		{name: "new", setup: func(*testing.T, string) {}},
		{name: "new below new parents", setup: func(*testing.T, string) {}},
		{name: "empty", setup: func(t *testing.T, dir string) { mkdir(t, dir) }},
		{name: "file", setup: func(t *testing.T, dir string) { write(t, dir, "x") },
			want: "is a file, not a directory; name a new directory with --results"},
		{name: "below a file", setup: func(t *testing.T, dir string) { write(t, filepath.Dir(dir), "x") },
			want: "not a directory"},
		{name: "foreign files", setup: func(t *testing.T, dir string) { mkdir(t, dir); write(t, filepath.Join(dir, "notes.txt"), "x") },
			want: "already holds files of an earlier or unfinished run, or of something else: notes.txt; results are written only into a new or empty directory: choose another with --results, or pass --force"},
		{name: "killed run", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "stages", "train"))
			write(t, filepath.Join(dir, "plan.json"), "{}")
		}, want: "already holds files of an earlier or unfinished run, or of something else: plan.json, stages"},
		{name: "result", setup: func(t *testing.T, dir string) { mkdir(t, dir); write(t, filepath.Join(dir, "summary.json"), "{}") },
			want: "already holds a result (summary.json)"},
		{name: "forced over a killed run", force: true, setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "stages", "train"))
			write(t, filepath.Join(dir, "stages", "train", "steps.csv"), "old")
			write(t, filepath.Join(dir, "provenance.json"), `{"mlps_version": "v0.1.0"}`)
			write(t, filepath.Join(dir, "summary.json"), "{}")
			write(t, filepath.Join(dir, "notes.txt"), "mine")
		}},
		{name: "forced over a source tree", force: true, setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "stages"))
			write(t, filepath.Join(dir, "stages", "stages.go"), "package stages")
			write(t, filepath.Join(dir, "go.mod"), "module x")
		}, want: "holds stages but no provenance.json of an mlps run, so --force will not remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "run")
			if tt.name == "new" {
				dir = filepath.Join(t.TempDir(), "run")
			}
			tt.setup(t, dir)
			err := results.Claim(dir, tt.force)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					t.Fatalf("Claim made no directory: %v", err)
				}
				if tt.force {
					// The earlier result's files are gone, the user's stay.
					for _, name := range []string{"summary.json", "stages"} {
						if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("--force left %s: %v", name, err)
						}
					}
					if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
						t.Errorf("--force removed a file mlps does not write: %v", err)
					}
				}
				return
			}
			var de *results.DirError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "results directory "+dir+": ") {
				t.Fatalf("Claim: %v\nwant a DirError naming %s and containing %q", err, dir, tt.want)
			}
		})
	}
}

// Runs started in the same second get one directory each, however many
// start at once.
func TestCreateUniqueConcurrent(t *testing.T) {
	base := filepath.Join(t.TempDir(), "results", "demo", "20260101_000000")
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = results.CreateUnique(base) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[dirs[i]] {
			t.Errorf("two runs got %s", dirs[i])
		}
		seen[dirs[i]] = true
	}
	if !seen[base] || !seen[base+"_2"] || !seen[base+"_"+string(rune('0'+n))] {
		t.Errorf("directories %v, want %s and _2 to _%d", seen, base, n)
	}
}

// Begin writes the inputs before any stage runs, so an unwritable
// directory fails there, as a DirError.
func TestBeginUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root writes through any mode bits; the command's test covers
		// an unwritable path another way.
		t.Log("running as root: checking a directory removed under the run instead")
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := results.Claim(dir, false); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	err := results.Begin(dir, results.Inputs{Plan: map[string]any{}}, results.NewProvenance(nil))
	var de *results.DirError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "choose another directory with --results") {
		t.Fatalf("Begin into an unwritable directory: %v", err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Two runs given one empty directory: both Claims come before either
// Begin and let both in; Begin lets only the first.
func TestBeginExclusive(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		if err := results.Claim(dir, false); err != nil {
			t.Fatal(err)
		}
	}
	begin := func() error {
		return results.Begin(dir, results.Inputs{Plan: map[string]any{}}, results.NewProvenance(nil))
	}
	if err := begin(); err != nil {
		t.Fatal(err)
	}
	if err := begin(); err == nil || !strings.Contains(err.Error(), "another run began writing here at the same time") {
		t.Errorf("second Begin: %v", err)
	}
}
