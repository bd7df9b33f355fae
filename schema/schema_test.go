package schema_test

import (
	"slices"
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

// The kinds #Stage allows are the kinds #Kinds defines, no more and no
// fewer: #Stage spells them out (see its comment), so a kind added to one
// must be added to the other.
func TestStageKindsAreTheDefinedKinds(t *testing.T) {
	insts := load.Instances([]string{"."}, &load.Config{})
	v := cuecontext.New().BuildInstance(insts[0])
	var defined []string
	it, err := v.LookupPath(cue.ParsePath("#Kinds")).Fields(cue.Definitions(false))
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		defined = append(defined, it.Selector().Unquoted())
	}
	_, alts := v.LookupPath(cue.ParsePath("#Stage.kind")).Expr()
	var allowed []string
	for _, a := range alts {
		s, err := a.String()
		if err != nil {
			t.Fatalf("#Stage.kind: an alternative that is not a string: %v", a)
		}
		allowed = append(allowed, s)
	}
	slices.Sort(defined)
	slices.Sort(allowed)
	if !slices.Equal(defined, allowed) {
		t.Errorf("#Stage.kind allows %v, #Kinds defines %v", allowed, defined)
	}
}
