package schema_test

import (
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
)

// The schema stands on its own: loaded from disk as the cue command does
// (`cue vet ./schema` from the repository root), it builds without error and
// defines #Workload.
func TestSchemaVetsOnItsOwn(t *testing.T) {
	insts := load.Instances([]string{"."}, &load.Config{})
	if err := insts[0].Err; err != nil {
		t.Fatal(err)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	w := v.LookupPath(cue.ParsePath("#Workload"))
	if !w.Exists() {
		t.Fatal("#Workload is missing")
	}
	for _, f := range []string{"name", "seed", "targets", "datasets", "stages"} {
		if !w.LookupPath(cue.ParsePath(f)).Exists() {
			t.Errorf("#Workload.%s is missing", f)
		}
	}
}
