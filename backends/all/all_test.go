package all_test

import (
	"slices"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/all"
)

func TestSchemesRegistered(t *testing.T) {
	got := backends.Schemes()
	for _, want := range []string{"file", "mem", "null", "tmp"} {
		if !slices.Contains(got, want) {
			t.Errorf("Schemes() = %v, missing %q", got, want)
		}
	}
}
