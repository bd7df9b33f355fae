package dlio

import (
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"cuelang.org/go/cue/parser"

	"mlps.dev/mlps/dsl"
)

// placed is how the first line of an input error starts: file, line and
// column, then what is wrong.
var placed = regexp.MustCompile(`^\S.*?:\d+:\d+: \S`)

// FuzzConvert converts any bytes as a DLIO workload. Whatever the input,
// Convert answers in bounded time; a rejection is an input error (exit 2)
// whose first line names where in the file the problem is; an accepted
// file converts into CUE that parses.
func FuzzConvert(f *testing.F) {
	ref, err := os.ReadFile("testdata/dlio/unet3d_h100.yaml")
	if err != nil {
		f.Fatal(err)
	}
	opts := Options{Accelerators: 8, BaseDir: "/nonexistent"}
	b := bound(func() {
		if _, err := Convert("unet3d_h100.yaml", ref, opts); err != nil {
			panic(err)
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		answerWithin(t, b, func() {
			res, err := Convert("config.yaml", data, opts)
			if err != nil {
				if !dsl.IsInputError(err) {
					t.Fatalf("rejected with an error that is not the user's (exit 1, not 2): %v", err)
				}
				first, _, _ := strings.Cut(err.Error(), "\n")
				if !placed.MatchString(first) {
					t.Fatalf("first line of the error names no place in the file: %q\nwhole error:\n%s", first, err)
				}
				return
			}
			if _, err := parser.ParseFile("converted.cue", res.CUE); err != nil {
				t.Fatalf("converted CUE does not parse: %v\n%s", err, res.CUE)
			}
		})
	})
}

// answerWithin runs f, failing the test on a panic or when f has not
// returned within bound.
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

// bound is ten seconds plus a hundred times the slowest of three runs of
// a reference conversion in this process, so that it grows with the
// machine's load instead of failing under it.
func bound(ref func()) time.Duration {
	var slowest time.Duration
	for range 3 {
		start := time.Now()
		ref()
		slowest = max(slowest, time.Since(start))
	}
	return 10*time.Second + 100*slowest
}
