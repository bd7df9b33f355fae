package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestMain lets tests run the real binary: the test executable re-executed
// with MLPS_TEST_MAIN=1 behaves as mlps, so signal and memory tests need no
// separate build.
func TestMain(m *testing.M) {
	if os.Getenv("MLPS_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var schemaPos = regexp.MustCompile(`(mlps\.dev/schema/workload\.cue):\d+:\d+`)

// TestInputErrors runs every case in testdata/errors: each is a txtar
// archive holding the workload, the command line and the exact message
// expected on stderr. Each must exit 2.
func TestInputErrors(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/errors/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(c)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var args []string
			var want string
			for _, f := range ar.Files {
				switch f.Name {
				case "args":
					args = strings.Fields(string(f.Data))
				case "want":
					want = string(f.Data)
				default:
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, a := range args {
				if strings.HasSuffix(a, ".cue") || strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".json") {
					args[i] = filepath.Join(dir, a)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			got := strings.ReplaceAll(stderr.String(), dir, "$WORK")
			got = schemaPos.ReplaceAllString(got, "$1:$$LINE:$$COL")
			if got != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty on an input error: %q", stdout.String())
			}
		})
	}
}
