// Package submission is MLPerf Storage's submission tree,
// {closed,open}/ORG/{results,systems}: laying one out with a system
// description template, filing a validated run at its place, and the
// checks a submission adds to a run's (a result in the division its
// verdict allows, a valid description of its system).
package submission

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/exec/rules"
	"mlps.dev/mlps/schema/submission"
)

// Divisions are the divisions of a submission.
var Divisions = []string{"closed", "open"}

// template is the system description Init writes, every placeholder of
// which fails #System until filled in.
const template = `// The system under test, as MLPerf Storage's submission describes it;
// checked against #System (mlps validate, mlps submission add). Rename
// this file to the --system name of its results, and fill in every field:
// the placeholders ("" and 0) do not pass.
name:      %q
submitter: %q
division:  "closed" // or "open"
status:    "available" // or "preview", "rdi"
storage: {
	vendor:      ""
	product:     ""
	type:        "file" // or "object", "block"
	protocol:    "" // NFSv4.2, Lustre, S3, NVMe-oF ...
	capacity_TB: 0
	nodes:       0
	media:       "" // NVMe SSD, HDD ...
}
clients: {
	count:     0
	cpu:       ""
	memory_GB: 0
	network:   ""
	os:        ""
}
notes: ""
`

// Init lays out a submission of org below dir: closed/ORG and open/ORG,
// each with results/ and systems/, and a system description template in
// closed/ORG/systems/SYSTEM.cue. It returns what it created; a dir that
// already holds a submission of org is left as it is and refused.
func Init(dir, org, system string) ([]string, error) {
	if !nameRE(org) {
		return nil, fmt.Errorf("organization %q: want a directory name of letters, digits, '.', '_' and '-'", org)
	}
	var made []string
	for _, d := range Divisions {
		base := filepath.Join(dir, d, org)
		if _, err := os.Stat(base); err == nil {
			return nil, fmt.Errorf("%s already exists: a submission of %s is there", base, org)
		}
		for _, sub := range []string{"results", "systems"} {
			p := filepath.Join(base, sub)
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
			made = append(made, p)
		}
	}
	p := filepath.Join(dir, "closed", org, "systems", system+".cue")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(template, system, org)), 0o644); err != nil {
		return nil, err
	}
	return append(made, p), nil
}

func nameRE(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CheckSystem checks the system description at path against #System;
// the error names the file, line and column of each field that fails.
func CheckSystem(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	schema, err := fs.ReadFile(submission.Files, "system.cue")
	if err != nil {
		return err
	}
	ctx := cuecontext.New()
	def := ctx.CompileBytes(schema, cue.Filename("schema/submission/system.cue")).LookupPath(cue.ParsePath("#System"))
	v := ctx.CompileBytes(src, cue.Filename(path))
	if err := v.Err(); err != nil {
		return fmt.Errorf("%s", cueerrors.Details(err, nil))
	}
	if err := def.Unify(v).Validate(cue.Concrete(true)); err != nil {
		return fmt.Errorf("%s", strings.TrimSpace(cueerrors.Details(err, nil)))
	}
	name, _ := v.LookupPath(cue.ParsePath("name")).String()
	if want := strings.TrimSuffix(filepath.Base(path), ".cue"); name != want {
		return fmt.Errorf("%s: name %q: the file of system %q is %s.cue", path, name, name, name)
	}
	return nil
}

// place is where a path lies in a submission: its division, org and
// system, and the submission's root; ok is false outside one.
type place struct {
	root, division, org, system string
	ok                          bool
}

// placeOf finds DIVISION/ORG/results/SYSTEM in an absolute path.
func placeOf(path string) place {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i := 0; i+3 < len(parts); i++ {
		if slices.Contains(Divisions, parts[i]) && parts[i+2] == "results" {
			return place{root: filepath.FromSlash(strings.Join(parts[:i], "/")), division: parts[i], org: parts[i+1], system: parts[i+3], ok: true}
		}
	}
	return place{}
}

// Validate validates path as rules.Validate does and, for the results
// inside a submission, adds its checks to each series: a CLOSED
// division holds only CLOSED results, and each system has a valid
// description in its division's systems/.
func Validate(path, edition string) (*rules.Verdict, error) {
	v, err := rules.Validate(path, edition)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	runsOf := map[string][]string{}
	for _, r := range v.Runs {
		runsOf[r.Series] = append(runsOf[r.Series], r.Dir)
	}
	checked := map[string]error{}
	v.Class = rules.Closed
	v.Benchmarks = map[string]rules.Class{}
	for i := range v.Series {
		s := &v.Series[i]
		pl := placeOf(filepath.Join(abs, filepath.FromSlash(runsOf[s.Key][0])))
		if pl.ok {
			f := rules.Finding{Rule: "submission.division", Name: "a result in a division its verdict allows", Severity: "error",
				Class: rules.Closed, Parameter: "division", Expected: "open, or closed for a CLOSED result", Actual: pl.division}
			if pl.division == "closed" && s.Class != rules.Closed {
				f.Class, f.Detail = rules.Invalid, "an "+string(s.Class)+" result filed in the closed division"
			}
			s.Findings = append(s.Findings, f)
			sys := filepath.Join(pl.root, pl.division, pl.org, "systems", pl.system+".cue")
			if _, done := checked[sys]; !done {
				checked[sys] = CheckSystem(sys)
			}
			f = rules.Finding{Rule: "submission.system", Name: "the system described", Severity: "error",
				Class: rules.Closed, Parameter: "systems/" + pl.system + ".cue", Expected: "a description that #System accepts", Actual: "valid"}
			if err := checked[sys]; err != nil {
				f.Class, f.Actual = rules.Invalid, err.Error()
			}
			s.Findings = append(s.Findings, f)
			for _, f := range s.Findings {
				s.Class = rules.Worse(s.Class, f.Class)
			}
		}
		b := s.Benchmark
		if b == "" {
			b = "other"
		}
		v.Benchmarks[b] = rules.Worse(cmp.Or(v.Benchmarks[b], rules.Closed), s.Class)
		v.Class = rules.Worse(v.Class, s.Class)
	}
	return v, nil
}

// Add files the runs at src (a run, or a tree of them) into the
// submission at dir for org: each series validated, filed in closed/ if
// CLOSED, in open/ if OPEN, refused if INVALID; in
// DIVISION/ORG/results/SYSTEM/BENCHMARK/MODEL/[PHASE/]TS as the run's own
// layout has it (system from its path, or the one given). The system
// must have a valid description in that division's systems/. Nothing
// is filed unless every series can be, and nothing already filed is
// replaced. It returns the directories it wrote.
func Add(src, dir, org, system, edition string) ([]string, error) {
	v, err := rules.Validate(src, edition)
	if err != nil {
		return nil, err
	}
	type move struct{ from, to string }
	var moves []move
	classOf := map[string]rules.Class{}
	for _, s := range v.Series {
		classOf[s.Key] = s.Class
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	for _, r := range v.Runs {
		cl := classOf[r.Series]
		if cl == rules.Invalid {
			return nil, fmt.Errorf("series %s is INVALID (mlps validate %s says why): an INVALID result is not filed", r.Series, src)
		}
		division := "open"
		if cl == rules.Closed {
			division = "closed"
		}
		from := filepath.Join(abs, filepath.FromSlash(r.Dir))
		if r.Dir == filepath.Base(abs) {
			from = abs
		}
		sys, rel, ok := results.Layout(from)
		if !ok {
			rel = r.Benchmark + "/run/" + filepath.Base(from)
		}
		if system != "" {
			sys = system
		}
		if sys == "" {
			return nil, fmt.Errorf("%s is not in the results layout (SYSTEM/BENCHMARK/...): name its system with --system", from)
		}
		if err := CheckSystem(filepath.Join(dir, division, org, "systems", sys+".cue")); err != nil {
			return nil, fmt.Errorf("system %s has no valid description in %s: %w", sys, filepath.Join(dir, division, org, "systems"), err)
		}
		to := filepath.Join(dir, division, org, "results", sys, filepath.FromSlash(rel))
		if _, err := os.Lstat(to); err == nil {
			return nil, fmt.Errorf("%s is already filed", to)
		}
		moves = append(moves, move{from, to})
	}
	var out []string
	for _, m := range moves {
		if err := copyTree(m.from, m.to); err != nil {
			return out, err
		}
		out = append(out, m.to)
	}
	return out, nil
}

// copyTree copies the regular files below from to the new directory to.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return errors.New(p + ": not a regular file; a results directory holds only files")
		}
		return copyFile(p, dst)
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
