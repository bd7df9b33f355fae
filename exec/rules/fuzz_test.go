package rules

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"
)

// FuzzValidate validates a tree whose one run's workload.json,
// summary.json and stage report are the fuzzer's: whatever a results
// directory holds, Validate returns a verdict or an error, never panics.
func FuzzValidate(f *testing.F) {
	for _, tree := range []string{"closed-checkpoint", "closed-kvcache", "invalid-vector-p999"} {
		a, err := txtar.ParseFile(filepath.Join(treeDir, tree+".txtar"))
		if err != nil {
			f.Fatal(err)
		}
		var w, s, st []byte
		for _, fl := range a.Files {
			switch filepath.Base(fl.Name) {
			case "workload.json":
				w = fl.Data
			case "summary.json":
				s = fl.Data
			case "checkpoint.json", "kvcache.json", "search.json":
				st = fl.Data
			}
		}
		f.Add(w, s, st)
	}
	f.Add([]byte(`{"stages":{"x":{"kind":"checkpoint","model":7}}}`), []byte(`{"complete":true}`), []byte(`{"id":"x","kind":"checkpoint","metrics":{"ranks":"8"}}`))
	f.Fuzz(func(t *testing.T, workload, summary, stage []byte) {
		dir := filepath.Join(t.TempDir(), "sut", "checkpointing", "m", "20261130_080000")
		if err := os.MkdirAll(filepath.Join(dir, "stages"), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"provenance.json": []byte(`{"mlps_version":"test","memory_bytes":1073741824}`),
			"plan.json":       []byte(`{"stages":[{"id":"x"}]}`),
			"workload.json":   workload, "summary.json": summary, "stages/x.json": stage,
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		v, err := Validate(filepath.Dir(filepath.Dir(filepath.Dir(dir))), Latest)
		if err == nil && v.Class == "" {
			t.Fatal("a verdict with no class")
		}
	})
}
