// Command mlps tells whether storage can feed AI workloads: it plans and
// runs workloads written in CUE (training I/O, checkpoints, queries)
// against local files, memory or object stores, and reports what it
// measured.
//
// Exit status: 0 success, 1 a run that failed, 2 bad input, 130 a run
// interrupted by SIGINT or SIGTERM (its results are written, marked
// incomplete).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/backends/secret"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
	_ "mlps.dev/mlps/stages/all"
	"mlps.dev/mlps/stages/measure"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `mlps tells whether your storage can feed AI workloads.

Usage:
  mlps plan WORKLOAD [--format text|json|dot] [--set path=value ...]
  mlps exec WORKLOAD [--results DIR] [--json] [--set path=value ...]
  mlps validate PATH [--edition v3.0] [--json]
  mlps report PATH [--out DIR]
  mlps datasize WORKLOAD --client-memory-gib N --clients N --accelerators N
  mlps import dlio CONFIG.yaml [--accelerators N] > WORKLOAD.cue
  mlps version

WORKLOAD is a .cue file, a directory holding a CUE package, or a .yaml or
.json file. Run 'mlps COMMAND --help' for a command's flags and examples.

Example:
  mlps exec workloads/demo.cue
`

func run(args []string, stdout, stderr io.Writer) int {
	// Nothing mlps prints carries a credential, whoever wrote the message.
	stdout, stderr = secret.Writer(stdout), secret.Writer(stderr)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "plan":
		return planCmd(args[1:], stdout, stderr)
	case "exec":
		return execCmd(args[1:], stdout, stderr)
	case "validate":
		return validateCmd(args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "datasize":
		return datasizeCmd(args[1:], stdout, stderr)
	case "import":
		return importCmd(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "mlps %s\n", results.MlpsVersion())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "mlps: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// sets collects repeated --set flags.
type sets []string

func (s *sets) String() string     { return strings.Join(*s, " ") }
func (s *sets) Set(v string) error { *s = append(*s, v); return nil }

// ids is a repeatable flag of comma-separated stage ids.
type ids []string

func (s *ids) String() string { return strings.Join(*s, ",") }
func (s *ids) Set(v string) error {
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*s = append(*s, id)
		}
	}
	return nil
}

func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and wants exactly one positional argument: the workload.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", exitOK, false
			}
			return "", exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "mlps %s: want one workload, got %d arguments\n", fs.Name(), len(pos))
		fs.Usage()
		return "", exitUsage, false
	}
	return pos[0], 0, true
}

const planHelp = `Usage: mlps plan WORKLOAD [flags]

Validates a workload and prints the DAG of its stages with their planned
work, without touching storage.

Examples:
  mlps plan workloads/demo.cue
  mlps plan workloads/demo.cue --format json
  mlps plan workloads/demo.cue --format dot | dot -Tsvg > plan.svg
  mlps plan workloads/demo.cue --set datasets.train.files=1024

Flags:
`

func planCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plan", planHelp, stderr)
	format := fs.String("format", "text", "output `format`: text, json or dot")
	var overrides sets
	fs.Var(&overrides, "set", "override a field, as `path=value` (repeatable); checked by the schema")
	path, code, ok := parse(fs, args, stderr)
	if !ok {
		return code
	}
	p, code := load(path, overrides, stderr)
	if p == nil {
		return code
	}
	var err error
	switch *format {
	case "text":
		err = p.WriteText(stdout)
	case "json":
		err = p.WriteJSON(stdout)
	case "dot":
		err = p.WriteDOT(stdout)
	default:
		fmt.Fprintf(stderr, "mlps plan: --format %q: want text, json or dot\n", *format)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "mlps plan: %v\n", err)
		return exitFailed
	}
	warn(p, "plan", stderr)
	return exitOK
}

// warn prints the plan's warnings for this host on stderr, keeping stdout
// for the plan itself.
func warn(p *planner.Plan, cmd string, stderr io.Writer) {
	for _, w := range p.Warnings(stages.ThisHost()) {
		fmt.Fprintf(stderr, "mlps %s: warning: %s\n", cmd, w)
	}
}

// load loads and plans a workload, printing input errors.
func load(path string, overrides []string, stderr io.Writer) (*planner.Plan, int) {
	w, err := dsl.Load(path, overrides)
	if err == nil {
		var p *planner.Plan
		if p, err = planner.Compile(w); err == nil {
			return p, exitOK
		}
	}
	fmt.Fprintln(stderr, err)
	if dsl.IsInputError(err) {
		return nil, exitUsage
	}
	return nil, exitFailed
}

const execHelp = `Usage: mlps exec WORKLOAD [flags]

Runs a workload and writes its results directory: summary.json, one file
per stage, the resolved workload (CUE and JSON), the plan and provenance.
The directory must be new or empty (--force to reuse one); it is created
and written to before the first stage, so a bad one fails at once (exit 2).
Each stage's report is written as the stage ends and summary.json last: a
directory without summary.json holds a run that did not finish.
Progress goes to stderr; the summary table (or --json) to stdout, before
the files are written. Ctrl-C stops the run, writes what was measured
marked incomplete, and exits 130.

Examples:
  mlps exec workloads/demo.cue
  mlps exec workloads/demo.cue --results /tmp/demo-run --json
  mlps exec workloads/demo.cue --set targets.scratch.uri=file:///mnt/nvme/mlps
  mlps exec workloads/unet3d/h100.cue --only train   (over data generated before)

Flags:
`

// now names default results directories; a test sets it to start runs
// in the same second.
var now = time.Now

func execCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("exec", execHelp, stderr)
	resultsDir := fs.String("results", "", "results `directory`, new or empty (default ./results/WORKLOAD/YYYYMMDD_HHMMSS, with _2, _3 ... when taken)")
	force := fs.Bool("force", false, "write into a --results directory that already holds files, removing an earlier mlps result's files there first (only those of a directory with an mlps provenance.json)")
	asJSON := fs.Bool("json", false, "print the summary as JSON instead of a table")
	progress := fs.String("progress", "auto", "progress on stderr: auto, live, plain or none")
	var overrides sets
	fs.Var(&overrides, "set", "override a field, as `path=value` (repeatable); checked by the schema")
	var only, skip ids
	fs.Var(&only, "only", "run only these `stages` (comma-separated, repeatable); a stage left out whose data a stage that runs reads is checked to be there first")
	fs.Var(&skip, "skip", "run all stages but these `stages` (comma-separated, repeatable), as --only")
	path, code, ok := parse(fs, args, stderr)
	if !ok {
		return code
	}
	opts, err := progressOptions(*progress, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitUsage
	}
	p, code := load(path, overrides, stderr)
	if p == nil {
		return code
	}
	if p, err = p.Select(only, skip); err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitUsage
	}
	in, err := inputs(p)
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitFailed
	}
	prov := results.NewProvenance(append([]string{"mlps", "exec"}, args...))
	prov.Workload, prov.Seed, prov.Start = p.Workload.Name, p.Workload.Seed, time.Now()
	// The directory is this run's alone and proven writable before the
	// first stage: a bad --results costs nothing measured.
	dir := *resultsDir
	if dir == "" {
		dir, err = results.CreateUnique(filepath.Join("results", p.Workload.Name, now().Format("20060102_150405")))
	} else {
		err = results.Claim(dir, *force)
	}
	if err == nil {
		err = results.Begin(dir, in, prov)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	warn(p, "exec", stderr)
	opts.Dir = dir
	rep := exec.Run(ctx, p, opts)
	// The summary is printed before the files are written, so that a
	// results directory that fills up or vanishes loses no figure the
	// run measured.
	if *asJSON {
		b, err := json.MarshalIndent(results.Summarize(rep), "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "mlps exec: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		results.WriteTable(stdout, rep)
	}
	if _, err := results.Write(dir, rep, prov); err != nil {
		fmt.Fprintf(stderr, "mlps exec: writing results to %s: %v; the summary above is all that is kept of what was not written\n", dir, err)
		return exitFailed
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "results: %s\n", dir)
	}
	switch {
	case rep.Complete:
		return exitOK
	case rep.Canceled():
		fmt.Fprintf(stderr, "mlps exec: interrupted; partial results in %s (complete: false)\n", dir)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "mlps exec: %v\n", rep.Err)
		return exitFailed
	}
}

// inputs records what is run: the resolved workload and the plan.
func inputs(p *planner.Plan) (results.Inputs, error) {
	cueSrc, err := p.Workload.CUE()
	if err != nil {
		return results.Inputs{}, err
	}
	jsonSrc, err := p.Workload.JSON()
	if err != nil {
		return results.Inputs{}, err
	}
	return results.Inputs{WorkloadCUE: cueSrc, WorkloadJSON: jsonSrc, Plan: p.JSON(), Seed: p.Workload.Seed}, nil
}

func progressOptions(mode string, stderr io.Writer) (exec.Options, error) {
	tty := false
	if f, ok := stderr.(interface{ Fd() uintptr }); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	switch mode {
	case "auto":
		return exec.Options{Progress: stderr, Live: tty}, nil
	case "live":
		return exec.Options{Progress: stderr, Live: true}, nil
	case "plain":
		return exec.Options{Progress: stderr}, nil
	case "none":
		return exec.Options{}, nil
	}
	return exec.Options{}, fmt.Errorf("--progress %q: want auto, live, plain or none", mode)
}

const datasizeHelp = `Usage: mlps datasize WORKLOAD [flags]

Computes the training dataset the rules require for a system: at least five
times the clients' memory, and at least 500 steps per accelerator. Prints
the files, subfolders and bytes, and the --set overrides that give the
workload that size for both generating and reading.

For a workload that builds vector indexes it prints, for each, the raw
vectors' bytes, upstream's estimate of the index's storage (its overhead
factor times the raw bytes), and what mlps's own index stores and its
build holds in memory; the training flags are then not needed.

Examples:
  mlps datasize workloads/demo.cue --client-memory-gib 128 --clients 1 --accelerators 8
  mlps datasize workloads/vectordb/diskann.cue

Flags:
`

// The bounds of datasize's flags: 1 PiB of memory per client, and the
// schema's accelerators of a read-epoch stage.
const (
	maxClientMemoryGiB = 1 << 20
	maxAccelerators    = 65536
)

func datasizeCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("datasize", datasizeHelp, stderr)
	memGiB := fs.Float64("client-memory-gib", 0, "memory of one client host, in `GiB`")
	clients := fs.Int("clients", 1, "number of client hosts")
	accel := fs.Int("accelerators", 0, "number of emulated accelerators in all")
	asJSON := fs.Bool("json", false, "print JSON")
	var overrides sets
	fs.Var(&overrides, "set", "override a field, as `path=value` (repeatable)")
	path, code, ok := parse(fs, args, stderr)
	if !ok {
		return code
	}
	training := *memGiB != 0 || *accel != 0
	if training && (*memGiB <= 0 || *clients <= 0 || *accel <= 0) {
		fmt.Fprintln(stderr, "mlps datasize: --client-memory-gib, --clients and --accelerators must be positive")
		return exitUsage
	}
	// The figures are bounded where they are physical, so that no
	// product of them wraps: NaN fails every comparison, so ask for the
	// range, not against it.
	if !(*memGiB <= maxClientMemoryGiB) {
		fmt.Fprintf(stderr, "mlps datasize: --client-memory-gib %v: want a number of GiB from 0 to %d (1 PiB, far more than any host has)\n", *memGiB, maxClientMemoryGiB)
		return exitUsage
	}
	if *accel > maxAccelerators {
		fmt.Fprintf(stderr, "mlps datasize: --accelerators %d: want at most %d, as a read-epoch stage's accelerators\n", *accel, maxAccelerators)
		return exitUsage
	}
	p, code := load(path, overrides, stderr)
	if p == nil {
		return code
	}
	var indexes []stages.IndexSize
	for _, n := range p.Nodes {
		if x, ok := n.Task.(stages.IndexSizer); ok {
			indexes = append(indexes, x.IndexSize())
		}
	}
	if !training && len(indexes) > 0 {
		return printIndexSizes(indexes, *asJSON, stdout)
	}
	if !training {
		fmt.Fprintln(stderr, "mlps datasize: --client-memory-gib, --clients and --accelerators must be positive")
		return exitUsage
	}
	sizing := stages.Sizing{ClientMemoryBytes: int64(*memGiB * (1 << 30)), Clients: *clients, Accelerators: *accel}
	var out []stages.DatasetSize
	for _, n := range p.Nodes {
		if d, ok := n.Task.(stages.Datasizer); ok {
			ds, err := d.Datasize(sizing)
			if err != nil {
				fmt.Fprintf(stderr, "mlps datasize: stage %s: %v\n", n.ID, err)
				return exitUsage
			}
			out = append(out, ds)
		}
	}
	if len(out) == 0 {
		fmt.Fprintf(stderr, "mlps datasize: %s has no stage that reads a training dataset\n", path)
		return exitUsage
	}
	if *asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	for _, d := range out {
		fmt.Fprintf(stdout, "dataset %s: %d files, %d subfolders, %s (%d bytes; %s per file)\n",
			d.Dataset, d.Files, d.Subfolders, measure.IEC(d.Bytes), d.Bytes, measure.IEC(d.FileBytes))
		for _, e := range d.Explain {
			fmt.Fprintf(stdout, "  %s\n", e)
		}
		fmt.Fprintf(stdout, "  overrides for generate and run:")
		for _, s := range d.Sets {
			fmt.Fprintf(stdout, " --set %s", s)
		}
		fmt.Fprintln(stdout)
	}
	return exitOK
}

// printIndexSizes prints the storage of each vector index a workload
// builds.
func printIndexSizes(xs []stages.IndexSize, asJSON bool, stdout io.Writer) int {
	if asJSON {
		b, _ := json.MarshalIndent(xs, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	for _, x := range xs {
		fmt.Fprintf(stdout, "index %s (%s): %d vectors of dimension %d, %s raw (%d bytes)\n",
			x.Stage, x.Type, x.Vectors, x.Dimension, measure.IEC(x.RawBytes), x.RawBytes)
		fmt.Fprintf(stdout, "  upstream's estimate: %s (%g × raw)\n", measure.IEC(x.UpstreamBytes), x.UpstreamFactor)
		if x.Type == "FLAT" {
			fmt.Fprintln(stdout, "  mlps stores nothing beyond the collection: FLAT searches its shards")
			continue
		}
		fmt.Fprintf(stdout, "  mlps's index stores %s (%d bytes, %.2f × raw); its build holds %s in memory\n",
			measure.IEC(x.StoredBytes), x.StoredBytes, float64(x.StoredBytes)/float64(x.RawBytes), measure.IEC(x.BuildMemoryBytes))
	}
	return exitOK
}
