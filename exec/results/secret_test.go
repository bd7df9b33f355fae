package results_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
)

// Whatever looks like a credential is hidden in every results file, even
// when it reached the report some way the plan did not refuse: in the
// recorded workload, the command line, an error message.
func TestResultsHideCredentials(t *testing.T) {
	const planted = "planted-pw-7c1d"
	p, rep := exectest.Run(t, `name: "secrets"
targets: t: uri: "mem://"
datasets: d: {target: "t", format: "npz", files: 4, record_bytes: 4096}
stages: gen: {kind: "generate", dataset: "d"}
`)
	in := results.Inputs{
		WorkloadCUE:  []byte(`targets: t: uri: "s3://ak:` + planted + `@bucket"` + "\n"),
		WorkloadJSON: []byte(`{"endpoint": "http://h:1/?X-Amz-Signature=` + planted + `"}` + "\n"),
		Plan:         p.JSON(),
	}
	rep.Stages[0].Error = "GET s3://bucket/k?sig=" + planted + ": denied"
	prov := results.NewProvenance([]string{"mlps", "exec", "w.cue", "--set", "targets.t.uri=s3://ak:" + planted + "@b"})
	dir := filepath.Join(t.TempDir(), "run")
	if err := results.Claim(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := results.Begin(dir, in, prov); err != nil {
		t.Fatal(err)
	}
	if _, err := results.Write(dir, rep, prov); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if strings.Contains(string(b), planted) {
			t.Errorf("%s shows the planted secret:\n%s", path, b)
		}
		return nil
	})
	if n < 5 {
		t.Errorf("walked %d files; want the inputs, provenance, stage and summary", n)
	}
}
