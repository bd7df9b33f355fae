package rules

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/workloads"
)

// A reference is the shipped workload a run's parameters are compared
// with, by its path below workloads/.
func trainingRef(model, accelerator string) string {
	return model + "/" + accelerator + ".cue"
}

func checkpointRef(model string) string {
	size, ok := strings.CutPrefix(model, "llama3-")
	if !ok {
		return ""
	}
	return "llama3/" + size + ".cue"
}

type refResult struct {
	flat map[string]string
	err  error
}

var pkgClause = regexp.MustCompile(`(?m)^package ([a-z0-9_]+)$`)

// refs holds the shipped workloads loaded as references, by file: they
// are embedded in the binary, so one load serves every validation.
var refs sync.Map // file → refResult

// reference is the shipped workload at file (below workloads/) as its
// resolved JSON flattened to field paths, loaded once. The
// shipped files are CUE packages that other files import, so it is
// loaded as a user's file would import it: a one-line file in a
// temporary directory.
func (c *checker) reference(file string) (map[string]string, error) {
	if v, ok := refs.Load(file); ok {
		r := v.(refResult)
		return r.flat, r.err
	}
	flat, err := loadReference(file)
	refs.Store(file, refResult{flat, err})
	return flat, err
}

func loadReference(file string) (map[string]string, error) {
	src, err := fs.ReadFile(workloads.Files, file)
	if err != nil {
		return nil, fmt.Errorf("mlps ships no workload %s", file)
	}
	m := pkgClause.FindSubmatch(src)
	if m == nil {
		return nil, fmt.Errorf("workloads/%s has no package clause", file)
	}
	dir, err := os.MkdirTemp("", "mlps-ref-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	imp := workloads.ImportPath + "/" + filepath.Dir(file) + ":" + string(m[1])
	ref := filepath.Join(dir, "ref.cue")
	if err := os.WriteFile(ref, []byte(fmt.Sprintf("package ref\n\nimport w %q\n\nw\n", imp)), 0o644); err != nil {
		return nil, err
	}
	w, err := dsl.Load(ref, nil)
	if err != nil {
		return nil, fmt.Errorf("workloads/%s: %w", file, err)
	}
	b, err := w.JSON()
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return flatten(v), nil
}

// flatten maps each leaf of a decoded JSON object to its dotted path;
// a list is one leaf, as JSON.
func flatten(v map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if o, ok := v.(map[string]any); ok && len(o) > 0 {
			for k, x := range o {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
	walk("", v)
	return out
}

// matches reports whether path matches pattern: dotted names, "*" any
// one name.
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "."), strings.Split(path, ".")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

func lookup(patterns map[string]string, path string) (string, bool) {
	for _, p := range slices.Sorted(maps.Keys(patterns)) {
		if matches(p, path) {
			return patterns[p], true
		}
	}
	return "", false
}

// parameters compares a run's resolved workload with the shipped one it
// says it is, field by field. A field mlps sets itself, or that CLOSED
// may change, is no finding; one OPEN may change is OPEN; any other
// INVALID. Only what differs is reported, each field once.
func (c *checker) parameters(r *run, rule, file string, closed, open map[string]string) {
	name := "only the parameters the rules allow changed from the shipped workload"
	ref, err := c.reference(file)
	if err != nil {
		r.add(Finding{Rule: rule, Name: name, Class: Open, Parameter: "mlperf",
			Expected: "a workload mlps ships", Actual: err.Error()})
		return
	}
	got := flatten(r.Workload)
	paths := slices.Collect(maps.Keys(ref))
	for p := range got {
		if _, ok := ref[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	n := 0
	for _, p := range paths {
		want, inRef := ref[p]
		have, inRun := got[p]
		if inRef && inRun && want == have {
			continue
		}
		if slices.ContainsFunc(c.ed.ToolSets, func(pat string) bool { return matches(pat, p) }) {
			continue
		}
		if _, ok := lookup(closed, p); ok {
			continue
		}
		f := Finding{Rule: rule, Name: name, Class: Invalid, Parameter: p, Expected: orAbsent(want, inRef), Actual: orAbsent(have, inRun)}
		if dlio, ok := lookup(open, p); ok {
			f.Class, f.Detail = Open, "OPEN may change "+dlio
		} else {
			f.Detail = "neither CLOSED nor OPEN may change it (workloads/" + file + " has the reference value)"
		}
		r.add(f)
		n++
	}
	if n == 0 {
		r.add(Finding{Rule: rule, Name: name, Class: Closed, Detail: "compared with workloads/" + file})
	}
}

func orAbsent(v string, ok bool) string {
	if !ok {
		return "absent"
	}
	return v
}
