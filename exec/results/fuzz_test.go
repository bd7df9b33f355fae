package results_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl/fuzzcheck"
	"mlps.dev/mlps/exec/results"
)

// FuzzLoad reads back a results directory made of any summary.json,
// plan.json and stage file (every stage the plan names gets the same
// bytes). Whatever they hold, Load answers in bounded time without a
// panic, a rejection says what is wrong, and a report it accepts can be
// summarized and printed as a table.
func FuzzLoad(f *testing.F) {
	ref := f.TempDir()
	seed := corpusEntry(f, filepath.Join("testdata", "fuzz", "FuzzLoad", "read"))
	writeDir(f, ref, seed[0], seed[1], seed[2])
	b := fuzzcheck.Bound(func() {
		if _, err := results.Load(ref); err != nil {
			panic(err)
		}
	})
	f.Fuzz(func(t *testing.T, summary, plan, stage []byte) {
		dir := t.TempDir()
		writeDir(t, dir, summary, plan, stage)
		fuzzcheck.AnswerWithin(t, b, func() {
			rep, err := results.Load(dir)
			if err != nil {
				if strings.TrimSpace(err.Error()) == "" {
					t.Fatalf("rejected with an empty message (%T)", err)
				}
				return
			}
			results.Summarize(rep)
			if err := results.WriteTable(io.Discard, rep); err != nil && strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("table failed with an empty message (%T)", err)
			}
		})
	})
}

// corpusEntry reads the []byte values of a seed corpus file (Go's "go
// test fuzz v1" format), the reference whose load time scales the bound.
func corpusEntry(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(data), "\n")[1:] {
		q, ok := strings.CutPrefix(line, "[]byte(")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, []byte(s))
	}
	if len(out) != 3 {
		t.Fatalf("%s: %d values, want summary, plan and stage", path, len(out))
	}
	return out
}

// writeDir lays out a results directory; each stage the plan names whose
// id is a plain file name gets the stage bytes.
func writeDir(t testing.TB, dir string, summary, plan, stage []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "stages"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("summary.json", summary)
	write("plan.json", plan)
	var p struct {
		Stages []struct {
			ID string `json:"id"`
		} `json:"stages"`
	}
	if json.Unmarshal(plan, &p) != nil {
		return
	}
	for _, s := range p.Stages {
		if s.ID != "" && s.ID != "." && s.ID != ".." && !strings.ContainsAny(s.ID, "/\\\x00") && len(s.ID) < 200 {
			write(filepath.Join("stages", s.ID+".json"), stage)
		}
	}
}
