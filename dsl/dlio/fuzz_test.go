package dlio

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"cuelang.org/go/cue/parser"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/dsl/fuzzcheck"
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
	b := fuzzcheck.Bound(func() {
		if _, err := Convert("unet3d_h100.yaml", ref, opts); err != nil {
			panic(err)
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.AnswerWithin(t, b, func() {
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
