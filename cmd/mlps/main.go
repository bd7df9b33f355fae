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
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/backends/secret"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/cluster"
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
  mlps submission init ORG DIR [--system NAME]
  mlps submission add PATH --to DIR --org ORG [--system NAME]
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
	case "submission":
		return submissionCmd(args[1:], stdout, stderr)
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
	pos, code, ok := parseN(fs, args, 1, "one workload", stderr)
	if !ok {
		return "", code, false
	}
	return pos[0], 0, true
}

// parseN parses flags that may come before or after the positional
// arguments, and wants n positional arguments, which want names.
func parseN(fs *flag.FlagSet, args []string, n int, want string, stderr io.Writer) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "mlps %s: want %s, got %d arguments\n", fs.Name(), want, len(pos))
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, 0, true
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
  mlps exec workloads/unet3d/b200.cue --system mysut --repeat 6 --set targets.data.uri=file:///mnt/nvme
      (a training result: the dataset generated once, then a warm-up and
      5 measured runs, each with its own run_seed, into
      results/mysut/training/unet3d/{datagen,run}/YYYYMMDD_HHMMSS)
  mlps exec workloads/llama3/8b.cue --system mysut --phase write --set targets.ckpt.uri=file:///mnt/nvme
  mlps exec workloads/llama3/8b.cue --system mysut --phase read --set targets.ckpt.uri=file:///mnt/nvme
      (a checkpoint result in two invocations: start the read within 30 s)
  mpirun -np 4 -x MLPS_COORDINATOR=node0:7070 -x MLPS_CLUSTER_TOKEN mlps exec workloads/unet3d/b200.cue --skip datagen
      (one run across 4 processes: each runs its share of the ranks, process
      0 serves the coordinator and writes the results; also srun, a
      Kubernetes Indexed Job, or --rank N --world N --coordinator HOST:PORT)

Flags:
`

// now names default results directories; a test sets it to start runs
// in the same second.
var now = time.Now

func execCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("exec", execHelp, stderr)
	resultsDir := fs.String("results", "", "results `directory`, new or empty (default ./results/WORKLOAD/YYYYMMDD_HHMMSS, with _2, _3 ... when taken); with --system or --repeat, the root of the results layout (default ./results)")
	force := fs.Bool("force", false, "write into a --results directory that already holds files, removing an earlier mlps result's files there first (only those of a directory with an mlps provenance.json)")
	asJSON := fs.Bool("json", false, "print the summary as JSON instead of a table")
	progress := fs.String("progress", "auto", "progress on stderr: auto, live, plain or none")
	system := fs.String("system", "", "the `name` of the system under test: results go to the reference's layout, ROOT/NAME/BENCHMARK/MODEL/{datagen,run}/YYYYMMDD_HHMMSS")
	repeat := fs.Int("repeat", 1, "run the workload's measuring stages `N` times back to back over data generated once, each with its own run seed and results directory (training: 6, a warm-up and 5 measured)")
	phase := fs.String("phase", "", "checkpointing in two invocations: \"write\" saves the checkpoints only, \"read\" loads those an earlier write invocation saved")
	var place cluster.Flags
	fs.IntVar(&place.Rank, "rank", -1, "this process's `rank` in a run across processes, where no launcher (mpirun, srun, a Kubernetes Indexed Job) says it")
	fs.IntVar(&place.World, "world", -1, "the `number` of processes of a run across processes, where no launcher says it")
	fs.StringVar(&place.Coordinator, "coordinator", "", "`host:port` where process 0 serves the run's coordinator and every process reaches it (or MLPS_COORDINATOR); starts a run across processes")
	bind := fs.String("bind", "", "the `address` process 0's coordinator listens on, when not --coordinator's (0.0.0.0:PORT behind a NAT or in a pod)")
	verify := fs.Bool("verify", false, "check the data of the stages left out (--only, --skip, --repeat) by reading every byte back and comparing it with what they write, not only by names and sizes")
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
	if *repeat < 1 || *repeat > maxRepeat {
		fmt.Fprintf(stderr, "mlps exec: --repeat %d: want 1 to %d runs\n", *repeat, maxRepeat)
		return exitUsage
	}
	if *phase != "" && *phase != "write" && *phase != "read" {
		fmt.Fprintf(stderr, "mlps exec: --phase %q: want write or read\n", *phase)
		return exitUsage
	}
	if *system != "" && !systemName.MatchString(*system) {
		fmt.Fprintf(stderr, "mlps exec: --system %q: want a directory name of letters, digits, '.', '_' and '-'\n", *system)
		return exitUsage
	}
	p, code := load(path, overrides, stderr)
	if p == nil {
		return code
	}
	if *phase != "" {
		sets, err := phaseSets(p, *phase)
		if err != nil {
			fmt.Fprintf(stderr, "mlps exec: --phase: %v\n", err)
			return exitUsage
		}
		overrides = append(overrides, sets...)
		if p, code = load(path, overrides, stderr); p == nil {
			return code
		}
	}
	opts.Verify = *verify
	where, spread, err := cluster.PlaceOf(os.Getenv, place)
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitUsage
	}
	s := series{path: path, args: args, overrides: overrides, only: only, skip: skip, opts: opts,
		asJSON: *asJSON, force: *force, results: *resultsDir, system: *system, stdout: stdout, stderr: stderr}
	if *repeat == 1 || spread {
		if p, err = p.Select(only, skip); err != nil {
			fmt.Fprintf(stderr, "mlps exec: %v\n", err)
			return exitUsage
		}
		if spread {
			if *repeat > 1 && *resultsDir != "" && *system == "" {
				s.system = "local"
			}
			return s.spread(p, where, *bind, *repeat)
		}
		return s.one(p, "")
	}
	if *resultsDir != "" && *system == "" {
		s.system = "local"
	}
	return s.repeat(p, *repeat)
}

// maxRepeat bounds --repeat: far more runs than any series needs.
const maxRepeat = 1000

var systemName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// series is one invocation of mlps exec: a run, or with --repeat the
// data generation and the runs of a series.
type series struct {
	path       string
	args       []string
	overrides  []string
	only, skip []string
	opts       exec.Options
	asJSON     bool
	force      bool
	results    string
	system     string
	stdout     io.Writer
	stderr     io.Writer
}

// phaseSets are the overrides that make a workload's checkpoint stages
// write only or read only.
func phaseSets(p *planner.Plan, phase string) ([]string, error) {
	var sets []string
	for _, n := range p.Nodes {
		if n.Kind != "checkpoint" {
			continue
		}
		field := "reads"
		if phase == "read" {
			field = "writes"
		}
		sets = append(sets, fmt.Sprintf("stages.%s.%s=0", n.ID, field))
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("workload %s has no checkpoint stage to split into a write and a read invocation", p.Workload.Name)
	}
	return sets, nil
}

// repeat runs the stages that prepare data once (generate, index; unless
// left out by --only/--skip, when they must have run before), then the
// measuring stages n times, each run with run_seed the workload's run
// seed plus its index, into a results directory of its own.
func (s *series) repeat(p *planner.Plan, n int) int {
	sel, err := p.Select(s.only, s.skip)
	if err != nil {
		fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
		return exitUsage
	}
	var prep, measure []string
	for _, nd := range sel.Nodes {
		if results.BenchmarkOf(nd.Kind) == "" {
			prep = append(prep, nd.ID)
		} else {
			measure = append(measure, nd.ID)
		}
	}
	if len(measure) == 0 {
		fmt.Fprintf(s.stderr, "mlps exec: --repeat: workload %s runs no stage that measures a benchmark (read-epoch, checkpoint, query, kvcache) to repeat\n", p.Workload.Name)
		return exitUsage
	}
	// A temporary directory or a memory store is made anew for each run
	// and gone after it; a series keeps one directory per tmp:// target
	// for all its runs, removed at the end.
	keep := []string{}
	for name, t := range p.Targets {
		switch t.Scheme {
		case "mem":
			fmt.Fprintf(s.stderr, "mlps exec: --repeat: target %s is mem://, whose data does not outlive a run; use tmp:// or file://\n", name)
			return exitUsage
		case "tmp":
			dir, err := os.MkdirTemp("", "mlps-series-"+name+"-")
			if err != nil {
				fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
				return exitFailed
			}
			defer os.RemoveAll(dir)
			keep = append(keep, fmt.Sprintf("targets.%s.uri=file://%s", name, dir))
		}
	}
	s.overrides = append(s.overrides, keep...)
	base := p.Workload.RunSeed()
	if len(prep) > 0 {
		q, code := load(s.path, s.overrides, s.stderr)
		if q == nil {
			return code
		}
		if q, err = q.Select(prep, nil); err != nil {
			fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
			return exitUsage
		}
		if code := s.one(q, "datagen"); code != exitOK {
			return code
		}
	}
	// Every run is planned before the first starts, so that the runs
	// follow each other with no planning between them.
	plans := make([]*planner.Plan, n)
	for i := range plans {
		q, code := load(s.path, append(slices.Clone(s.overrides), fmt.Sprintf("run_seed=%d", base+uint64(i))), s.stderr)
		if q == nil {
			return code
		}
		if plans[i], err = q.Select(measure, nil); err != nil {
			fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
			return exitUsage
		}
	}
	for i, q := range plans {
		fmt.Fprintf(s.stderr, "mlps exec: run %d of %d (run_seed %d)\n", i+1, n, base+uint64(i))
		if code := s.one(q, "run"); code != exitOK {
			return code
		}
	}
	return exitOK
}

// dir claims the results directory of one run: --results as given for a
// single run; else below the results root, in the reference's layout
// with --system, or by workload name.
func (s *series) dir(p *planner.Plan, phase string) (string, error) {
	ts := now().Format("20060102_150405")
	if s.system == "" {
		if s.results != "" {
			return s.results, results.Claim(s.results, s.force)
		}
		return results.CreateUnique(filepath.Join("results", p.Workload.Name, ts))
	}
	root := cmp.Or(s.results, "results")
	bench, model := layoutOf(p)
	parts := []string{root, s.system, bench, model}
	if phase == "" {
		phase = "run"
		if bench == results.Training || bench == results.VectorDatabase {
			phase = "datagen"
			for _, n := range p.Nodes {
				if results.BenchmarkOf(n.Kind) != "" {
					phase = "run"
				}
			}
		}
	}
	if bench == results.Training || bench == results.VectorDatabase {
		parts = append(parts, phase)
	}
	return results.CreateUnique(filepath.Join(append(parts, ts)...))
}

// layoutOf names a plan's benchmark and model as the reference's layout
// does: training/unet3d, checkpointing/llama3-8b,
// vector_database/diskann, kv_cache/option1.
func layoutOf(p *planner.Plan) (bench, model string) {
	w := p.Workload
	var prep string
	for _, n := range p.Nodes {
		if b := results.BenchmarkOf(n.Kind); b != "" && bench == "" {
			bench = b
		}
		switch n.Kind {
		case "generate":
			prep = cmp.Or(prep, results.Training)
		case "index":
			prep = results.VectorDatabase
		}
	}
	bench = cmp.Or(bench, prep, "other")
	if w.MLPerf != nil {
		model = cmp.Or(w.MLPerf.Option, w.MLPerf.Model)
	}
	if bench == results.VectorDatabase {
		for _, st := range w.Stages {
			var ix struct {
				Type string `json:"index_type"`
			}
			if b, err := st.MarshalJSON(); st.Kind == "index" && err == nil && json.Unmarshal(b, &ix) == nil {
				model = strings.ToLower(ix.Type)
			}
		}
	}
	return bench, cmp.Or(model, w.Name)
}

// one runs a plan into a results directory of its own and prints its
// summary.
func (s *series) one(p *planner.Plan, phase string) int {
	return s.oneIn(context.Background(), p, phase)
}

// oneIn is one with a parent context: a run across processes ends with
// the run's context, whose cause says which process failed.
func (s *series) oneIn(parent context.Context, p *planner.Plan, phase string) int {
	code, _ := s.oneReport(parent, p, phase)
	return code
}

// oneReport is oneIn that also returns the run's report, nil when the
// run did not start.
func (s *series) oneReport(parent context.Context, p *planner.Plan, phase string) (int, *results.Report) {
	stdout, stderr := s.stdout, s.stderr
	in, err := inputs(p)
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitFailed, nil
	}
	prov := results.NewProvenance(append([]string{"mlps", "exec"}, s.args...))
	prov.Workload, prov.Seed, prov.Start = p.Workload.Name, p.Workload.Seed, time.Now()
	// The directory is this run's alone and proven writable before the
	// first stage: a bad --results costs nothing measured.
	dir, err := s.dir(p, phase)
	if err == nil {
		err = results.Begin(dir, in, prov)
	}
	var logf *os.File
	var log io.Writer
	if err == nil {
		logf, log, err = results.OpenLog(dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mlps exec: %v\n", err)
		return exitUsage, nil
	}
	defer logf.Close()
	// What this run prints goes to its log.txt too; live progress, which
	// redraws one line, stays on the terminal.
	stderr = io.MultiWriter(stderr, log)
	opts := s.opts
	opts.Dir = dir
	if opts.Progress != nil && !opts.Live {
		opts.Progress = io.MultiWriter(opts.Progress, log)
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	warn(p, "exec", stderr)
	rep := exec.Run(ctx, p, opts)
	// A run that another process ended failed, for the reason it gives;
	// it was not interrupted here.
	if cause := context.Cause(parent); cause != nil && !errors.Is(cause, context.Canceled) && rep.Err != nil {
		rep.Err = cause
	}
	// The summary is printed before the files are written, so that a
	// results directory that fills up or vanishes loses no figure the
	// run measured.
	if s.asJSON {
		b, err := json.MarshalIndent(results.Summarize(rep), "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "mlps exec: %v\n", err)
			return exitFailed, rep
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		results.WriteTable(io.MultiWriter(stdout, log), rep)
	}
	if _, err := results.Write(dir, rep, prov); err != nil {
		fmt.Fprintf(stderr, "mlps exec: writing results to %s: %v; the summary above is all that is kept of what was not written\n", dir, err)
		return exitFailed, rep
	}
	if !s.asJSON {
		fmt.Fprintf(stdout, "results: %s\n", dir)
	}
	switch {
	case rep.Complete:
		return exitOK, rep
	case rep.Canceled():
		fmt.Fprintf(stderr, "mlps exec: interrupted; partial results in %s (complete: false)\n", dir)
		return exitInterrupted, rep
	default:
		fmt.Fprintf(stderr, "mlps exec: %v\n", rep.Err)
		return exitFailed, rep
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
