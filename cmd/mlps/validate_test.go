package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// unpack writes the result tree of testdata/validate/name.txtar below a
// temporary directory and returns it.
func unpack(t *testing.T, name string) string {
	t.Helper()
	a, err := txtar.ParseFile(filepath.Join("../../testdata/validate", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range a.Files {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestValidateExit runs mlps validate on trees of each verdict: the exit
// status is the verdict's, and the output names the rule that decided it.
// exec/rules TestTrees checks every tree's findings.
func TestValidateExit(t *testing.T) {
	for _, tc := range []struct {
		tree string
		args []string
		code int
		out  []string
	}{
		{"closed-training", nil, exitOK, []string{"(edition v3.0): CLOSED", "sut/training/unet3d@b200: CLOSED, 7 runs"}},
		{"open-vector-index", nil, exitOpen, []string{": OPEN", "OPEN    vdb.index (an index type CLOSED allows)", "actual IVF_FLAT"}},
		{"invalid-checkpoint-read-late", nil, exitInvalid, []string{": INVALID", "ckpt.read_within", "actual 45s"}},
		{"invalid-au", []string{"--json"}, exitInvalid, []string{`"rule": "train.au_minimum"`, `"actual": "85"`}},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"validate", unpack(t, tc.tree)}, tc.args...), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s\n%s", code, tc.code, errb.String(), out.String())
			}
			for _, s := range tc.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			if len(tc.args) > 0 && !json.Valid(out.Bytes()) {
				t.Errorf("--json printed no JSON:\n%s", out.String())
			}
		})
	}
}

// TestValidateNotResults: a path with no results, or a bad edition, is
// exit 2 with a message naming it.
func TestValidateNotResults(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", filepath.Join(empty, "nosuch")}, "nosuch holds no mlps results: no such file or directory"},
		{[]string{"validate", empty}, "holds no mlps results: no directory at or below it has the provenance.json"},
		{[]string{"validate", empty, "--edition", "v9"}, `no edition "v9"; the editions are v3.0`},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}
