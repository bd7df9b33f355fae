package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// place is how an input error starts: the user's file or the --set flag,
// then line and column, then what is wrong.
var place = regexp.MustCompile(`^(\$WORK/\S+|--set\[\d+\] .+?):\d+:\d+: \S`)

// TestInputErrorsNameWhatToFix holds every case in testdata/errors to the
// invariant that an exit 2 names what to fix: the expected stderr (which
// TestInputErrors compares with the real one) is not empty, and each error
// in it starts at a place in the user's input, not at the embedded schema
// or nowhere. Continuation lines (a tab, then further positions) may point
// anywhere.
func TestInputErrorsNameWhatToFix(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/errors/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, c := range cases {
		ar, err := txtar.ParseFile(c)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		for _, f := range ar.Files {
			if f.Name == "want" {
				want = string(f.Data)
			}
		}
		name := filepath.Base(c)
		if strings.TrimSpace(want) == "" {
			t.Errorf("%s: expects no message", name)
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
			if strings.HasPrefix(line, "\t") {
				continue
			}
			if !place.MatchString(line) {
				t.Errorf("%s: %q does not start at a place in the user's input", name, line)
			}
		}
	}
}
