package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
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

// answerWithin runs f, failing the test on a panic or when f has not
// returned within bound. The bound is generous and scaled by a reference
// measured in the same process (see bound), so a loaded machine, which
// slows both alike, does not fail it.
func answerWithin(t *testing.T, bound time.Duration, f func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
				return
			}
			done <- ""
		}()
		f()
	}()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case p := <-done:
		if p != "" {
			t.Fatal(p)
		}
	case <-timer.C:
		t.Fatalf("no answer within %v", bound)
	}
}

// bound is the time an input may take: ten seconds plus a hundred times
// what loading the reference (the shipped demo) takes here, the slowest of
// three tries, so that it grows with the machine's load.
func bound(t testing.TB, ref func()) time.Duration {
	var slowest time.Duration
	for range 3 {
		start := time.Now()
		ref()
		slowest = max(slowest, time.Since(start))
	}
	return 10*time.Second + 100*slowest
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
	b := bound(f, loadDemo)
	f.Fuzz(func(t *testing.T, src []byte, format uint8) {
		p := filepath.Join(t.TempDir(), "workload"+exts[int(format)%len(exts)])
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
		answerWithin(t, b, func() {
			_, err := Load(p, nil)
			checkRejection(t, err)
		})
	})
}

// FuzzSet applies any --set argument to the shipped demo.
func FuzzSet(f *testing.F) {
	b := bound(f, loadDemo)
	f.Fuzz(func(t *testing.T, arg string) {
		answerWithin(t, b, func() {
			_, err := Load(demo, []string{arg})
			checkRejection(t, err)
		})
	})
}
