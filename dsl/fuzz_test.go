package dsl

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl/fuzzcheck"
)

// The fuzz targets hold the loader to what a user is promised: any bytes
// in a workload file and any --set argument get an answer, in bounded
// time, and a rejection is an input error (exit 2) whose first line says
// where the problem is. `just fuzz` runs each for a minute; CI for 10 s.

// placed is how the first line of an input error starts: a place in the
// user's input (file or --set flag, line and column), or the --set flag
// itself when its syntax is wrong.
var placed = regexp.MustCompile(`^(\S.*?:\d+:\d+: \S|--set: \S)`)

// checkRejection fails unless err, when not nil, is an input error whose
// first line names what to fix.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !IsInputError(err) {
		t.Fatalf("rejected with an error that is not the user's (exit 1, not 2): %v", err)
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if !placed.MatchString(first) {
		t.Fatalf("first line of the error names no place in the input: %q\nwhole error:\n%s", first, err)
	}
}

var demo = filepath.Join("..", "workloads", "demo.cue")

func loadDemo() {
	if _, err := Load(demo, nil); err != nil {
		panic(err)
	}
}

var exts = []string{".cue", ".yaml", ".json"}

// FuzzLoad loads any bytes as a .cue, .yaml or .json workload.
func FuzzLoad(f *testing.F) {
	b := fuzzcheck.Bound(loadDemo)
	f.Fuzz(func(t *testing.T, src []byte, format uint8) {
		p := filepath.Join(t.TempDir(), "workload"+exts[int(format)%len(exts)])
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzcheck.AnswerWithin(t, b, func() {
			_, err := Load(p, nil)
			checkRejection(t, err)
		})
	})
}

// FuzzSet applies any --set argument to the shipped demo.
func FuzzSet(f *testing.F) {
	b := fuzzcheck.Bound(loadDemo)
	f.Fuzz(func(t *testing.T, arg string) {
		fuzzcheck.AnswerWithin(t, b, func() {
			_, err := Load(demo, []string{arg})
			checkRejection(t, err)
		})
	})
}
