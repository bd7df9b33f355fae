// Package fuzzcheck holds what every fuzz target of a reader of user
// input asserts besides its own checks: that the reader answers, without
// a panic, within a bound that follows the machine's speed. The workload
// loader, --set, the DLIO importer and the results reader share it.
package fuzzcheck

import (
	"fmt"
	"runtime/debug"
	"testing"
	"time"
)

// Bound is the time one input may take: ten seconds plus a hundred times
// the slowest of three runs of ref, a reference input read in the same
// process. A loaded machine slows the reference and the input alike, so
// the bound grows with the load instead of failing under it.
func Bound(ref func()) time.Duration {
	var slowest time.Duration
	for range 3 {
		start := time.Now()
		ref()
		slowest = max(slowest, time.Since(start))
	}
	return 10*time.Second + 100*slowest
}

// AnswerWithin runs f, failing the test on a panic (with its stack) or
// when f has not returned within bound.
func AnswerWithin(t testing.TB, bound time.Duration, f func()) {
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
