package servers

import (
	"testing"
	"time"
)

// Reference times op, a successful operation comparable to one whose
// promptness a test checks (an open of a bucket that exists, against the
// same server), failing t if it fails. Prompt scales its bound by it.
func Reference(t testing.TB, op func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := op(); err != nil {
		t.Fatalf("the reference operation failed: %v", err)
	}
	return time.Since(start)
}

// Prompt bounds an operation that must answer at once, without retrying
// or waiting out a timeout (an open that fails on the first answer): 10 s
// on an idle machine, where such an answer takes well under 1 s and a
// retry loop or a timeout takes several, and 20 times the reference
// where the machine is so loaded that a comparable successful operation
// took longer than half a second. So the bound follows the machine's speed
// as measured in the same test, not a figure a loaded machine breaks.
func Prompt(ref time.Duration) time.Duration {
	return max(10*time.Second, 20*ref)
}
