package main

import (
	"cmp"
	"fmt"
	"io"

	"mlps.dev/mlps/exec/rules"
	"mlps.dev/mlps/exec/submission"
)

const submissionHelp = `Usage:
  mlps submission init ORG DIR [--system NAME]
  mlps submission add PATH --to DIR --org ORG [--system NAME] [--edition v3.0]

init lays out a submission of ORG below DIR: closed/ORG and open/ORG, each
with results/ and systems/, and a system description to fill in,
closed/ORG/systems/NAME.cue (checked against #System, schema/submission).

add validates the results at PATH (a series of runs, such as
results/mysut/training/unet3d, or a whole results tree) and files each
series in the division its verdict allows: CLOSED in closed/, OPEN in
open/; an INVALID series is refused, and so is a system without a valid
description in that division's systems/. Nothing already filed is
replaced. mlps validate DIR then checks the whole submission.

Examples:
  mlps submission init acme sub --system mysut
  mlps submission add results/mysut/training/unet3d --to sub --org acme

Flags:
`

func submissionCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "init" && args[0] != "add") {
		fmt.Fprint(stderr, submissionHelp)
		return exitUsage
	}
	fs := newFlags("submission "+args[0], submissionHelp, stderr)
	system := fs.String("system", "", "the system's `name`: of the description init writes (default SYSTEM), or of the results add files where their path does not say")
	to := fs.String("to", "", "the submission's `directory` (add)")
	org := fs.String("org", "", "the submitting `organization` (add)")
	edition := fs.String("edition", rules.Latest, "the `edition` of the rules (add)")
	if args[0] == "init" {
		pos, code, ok := parseN(fs, args[1:], 2, "ORG and DIR", stderr)
		if !ok {
			return code
		}
		made, err := submission.Init(pos[1], pos[0], cmp.Or(*system, "SYSTEM"))
		if err != nil {
			fmt.Fprintf(stderr, "mlps submission init: %v\n", err)
			return exitUsage
		}
		for _, p := range made {
			fmt.Fprintln(stdout, p)
		}
		return exitOK
	}
	pos, code, ok := parseN(fs, args[1:], 1, "the PATH of results", stderr)
	if !ok {
		return code
	}
	if *to == "" || *org == "" {
		fmt.Fprintln(stderr, "mlps submission add: --to DIR and --org ORG name the submission")
		return exitUsage
	}
	filed, err := submission.Add(pos[0], *to, *org, *system, *edition)
	for _, p := range filed {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mlps submission add: %v\n", err)
		return exitFailed
	}
	return exitOK
}
