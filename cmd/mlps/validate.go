package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/exec/rules"
	"mlps.dev/mlps/exec/submission"
)

// The exit statuses of mlps validate, one per verdict.
const (
	exitOpen    = 3
	exitInvalid = 4
)

const validateHelp = `Usage: mlps validate PATH [flags]

Checks results against MLPerf Storage's rules: PATH is one results
directory, a tree of them (results/<system>/training/<model>/run/...), or a
submission (closed/<org>/results/...). Every check is a rule with an id and
a name; each finding says the parameter, the expected and the actual value.
A run is INVALID if any check says so, else OPEN if any says so, else
CLOSED; a series of runs (the 6 runs of a training result, a checkpoint's
write and read) and each benchmark likewise. Only what a run recorded is
checked, never what it could not know.

Exit status: 0 CLOSED, 3 OPEN, 4 INVALID, 2 a PATH that holds no results
or a bad flag, 1 results that cannot be read.

Examples:
  mlps validate results/
  mlps validate results/mysystem/training/unet3d --json
  mlps validate submission/closed/acme --edition v3.0

Flags:
`

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", validateHelp, stderr)
	edition := fs.String("edition", rules.Latest, "the `edition` of the rules")
	asJSON := fs.Bool("json", false, "print the verdict, every finding included, as JSON")
	pos, code, ok := parseN(fs, args, 1, "one PATH of results", stderr)
	if !ok {
		return code
	}
	path := pos[0]
	if _, err := rules.Load(*edition); err != nil {
		fmt.Fprintf(stderr, "mlps validate: --edition: %v\n", err)
		return exitUsage
	}
	v, err := submission.Validate(path, *edition)
	if err != nil {
		fmt.Fprintf(stderr, "mlps validate: %v\n", err)
		var nr *results.NoResultsError
		if errors.As(err, &nr) {
			return exitUsage
		}
		return exitFailed
	}
	if *asJSON {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "mlps validate: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		writeVerdict(stdout, v)
	}
	switch v.Class {
	case rules.Closed:
		return exitOK
	case rules.Open:
		return exitOpen
	}
	return exitInvalid
}

// writeVerdict prints the verdict for a person: per series, what did not
// hold (OPEN and INVALID findings) and how many checks held.
func writeVerdict(w io.Writer, v *rules.Verdict) {
	fmt.Fprintf(w, "%s (edition %s): %s\n", v.Path, v.Edition, v.Class)
	var bs []string
	for _, b := range []string{"training", "checkpointing", "vector_database", "kv_cache", "other"} {
		if c, ok := v.Benchmarks[b]; ok {
			bs = append(bs, b+" "+string(c))
		}
	}
	fmt.Fprintf(w, "benchmarks: %s\n", strings.Join(bs, ", "))
	runsOf := map[string][]rules.RunVerdict{}
	for _, r := range v.Runs {
		runsOf[r.Series] = append(runsOf[r.Series], r)
	}
	count := map[rules.Class]int{}
	for _, s := range v.Series {
		fmt.Fprintf(w, "\n%s: %s, %d runs\n", s.Key, s.Class, len(s.Runs))
		// A finding the same in several runs (a parameter every run of
		// a series changed) is printed once, with the runs it is of.
		type seen struct {
			f    rules.Finding
			runs []string
		}
		var order []string
		byKey := map[string]*seen{}
		held := 0
		note := func(f rules.Finding, run string) {
			if f.Class == rules.Closed {
				held++
				return
			}
			if f.Run != "" {
				run = f.Run
			}
			k := strings.Join([]string{string(f.Class), f.Rule, f.Parameter, f.Expected, f.Actual, f.Detail}, "\x00")
			if byKey[k] == nil {
				byKey[k] = &seen{f: f}
				order = append(order, k)
			}
			if run != "" {
				byKey[k].runs = append(byKey[k].runs, run)
			}
		}
		for _, f := range s.Findings {
			note(f, "")
		}
		for _, r := range runsOf[s.Key] {
			count[r.Class]++
			for _, f := range r.Findings {
				note(f, r.Dir)
			}
		}
		for _, k := range order {
			f, runs := byKey[k].f, byKey[k].runs
			fmt.Fprintf(w, "  %-7s %s (%s)", f.Class, f.Rule, f.Name)
			switch len(runs) {
			case 0:
			case 1:
				fmt.Fprintf(w, " in %s", runs[0])
			default:
				fmt.Fprintf(w, " in %d runs: %s", len(runs), strings.Join(runs, ", "))
			}
			fmt.Fprintln(w, ":")
			var parts []string
			if f.Parameter != "" {
				parts = append(parts, f.Parameter)
			}
			if f.Expected != "" {
				parts = append(parts, "expected "+f.Expected)
			}
			if f.Actual != "" {
				parts = append(parts, "actual "+f.Actual)
			}
			fmt.Fprintf(w, "          %s\n", strings.Join(parts, "; "))
			if f.Detail != "" {
				fmt.Fprintf(w, "          %s\n", f.Detail)
			}
		}
		fmt.Fprintf(w, "  %d checks held\n", held)
	}
	fmt.Fprintf(w, "\nruns by their own findings (a series's findings aside): %d CLOSED, %d OPEN, %d INVALID\n", count[rules.Closed], count[rules.Open], count[rules.Invalid])
}
