package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"mlps.dev/mlps/exec/report"
	"mlps.dev/mlps/exec/results"
)

const reportHelp = `Usage: mlps report PATH [flags]

Reads every results directory at or below PATH (one run, or a tree of them
at any depth) and writes a report of them into a directory of its own:

  results.csv   a row per run: its path under PATH, benchmark, workload,
                MLPerf model, accelerator and option, start, end, seconds,
                complete, and its benchmark's figures under the keys the
                run wrote them with (an empty cell is a figure the run did
                not record); then a row per group of runs of one benchmark
                and workload with the mean of its complete runs
  results.json  the same, with each column's unit
  report.html   one self-contained page: the tables, and per run and stage
                charts of throughput over the steps, AU per epoch, latency
                percentiles, checkpoint bandwidth per rank, recall against
                queries/s and the KV-cache tiers

The report directory must be new or empty (--force to write into one that
is not) and is never inside a results directory: the default is
PATH/report, or PATH-report when PATH is itself a run. The paths written
are printed on stdout.

Exit status: 0 written, 1 a run that cannot be read or a report that
cannot be written, 2 a PATH that holds no results or a bad --out.

Examples:
  mlps report results/
  mlps report results/unet3d --out /tmp/unet3d-report
  mlps report results/ --out results/report --force

Flags:
`

func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", reportHelp, stderr)
	out := fs.String("out", "", "report `directory`, new or empty (default PATH/report, or PATH-report when PATH is a run)")
	force := fs.Bool("force", false, "write into an --out directory that already holds files, replacing an earlier report's")
	pos, code, ok := parseN(fs, args, 1, "one PATH of results", stderr)
	if !ok {
		return code
	}
	root := pos[0]
	dirs, err := results.FindRuns(root)
	if err != nil {
		fmt.Fprintf(stderr, "mlps report: %v\n", err)
		return exitUsage
	}
	rep, err := report.Read(root, dirs)
	if err != nil {
		fmt.Fprintf(stderr, "mlps report: %v\n", err)
		return exitFailed
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(root, "report")
		// A run's directory holds only what the run wrote.
		if slices.ContainsFunc(dirs, func(d string) bool { return filepath.Clean(d) == filepath.Clean(root) }) {
			dir = filepath.Clean(root) + "-report"
		}
	}
	if err := report.Claim(dir, dirs, *force); err != nil {
		fmt.Fprintf(stderr, "mlps report: %v\n", err)
		return exitUsage
	}
	paths, err := rep.Write(dir)
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mlps report: %v\n", err)
		return exitFailed
	}
	return exitOK
}
