// Package stages is the seam between the engine and the stage kinds: a
// registry, keyed by kind, of planners that turn a stage of a workload into
// a Task with planned work, the Env a Task runs in, and every optional
// hook a Task may implement (Warner, Datasizer, IndexSizer, SummaryKeyer,
// Headliner, Uniter, Checker, Verifier),
// all in this file.
//
// Each kind lives in its own package below stages/ and registers itself in
// init; stages/all imports them all. No stage package imports another.
package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/measure"
)

// Kind is one stage kind.
type Kind struct {
	// Name is the value of the stage's kind field ("generate").
	Name string
	// Plan decodes the stage id of in.Workload and returns its task.
	// Errors about the user's input should be *dsl.Error values naming
	// the field. Everything the plan can know is checked here, what the
	// stage's targets can do included (their Traits), so that no stage
	// fails in exec for a reason the plan could have told.
	Plan func(in *PlanInput, id string) (Task, error)
}

// PlanInput is what a kind plans a stage from.
type PlanInput struct {
	Workload *dsl.Workload
	// Targets holds every target of the workload, resolved once by the
	// planner: configuration checked, traits known.
	Targets map[string]*backends.Target
	// Host is the machine the plan is for; its memory bounds what an
	// in-memory target can hold.
	Host Host
}

// Fits is nil unless target name keeps what is written to it in this
// process's memory (Traits.InMemory) and bytes, what a stage keeps there,
// are more than the host's memory: then the run would die of it, and the
// plan says so with an input error at the field path at.
func (in *PlanInput) Fits(name string, bytes int64, what string, at ...any) error {
	t := in.Targets[name]
	mem := in.Host.MemoryBytes
	if t == nil || !t.Traits.InMemory || mem <= 0 || bytes <= mem {
		return nil
	}
	// The host's figure stays out of the message, which then reads the
	// same on every host too small for the plan.
	return in.Workload.ErrorAt(at, "%s (%s) would be held in this process's memory by target %s (%s), more than this host has: use a target on storage, such as file:// or an object store, or make it smaller",
		what, measure.IEC(bytes), name, t.URI)
}

// Target returns the resolved target name, which the stage names at the
// field path at; an unknown name is an input error there that lists the
// targets.
func (in *PlanInput) Target(name string, at ...any) (*backends.Target, error) {
	if err := in.Workload.CheckTarget(name, at...); err != nil {
		return nil, err
	}
	t, ok := in.Targets[name]
	if !ok {
		// The planner resolves every target before any stage plans.
		return nil, fmt.Errorf("target %q was not resolved", name)
	}
	return t, nil
}

// ODirect is nil when target name can read (and with write, also write)
// with O_DIRECT, and otherwise an input error at the odirect field at
// that says which schemes can.
func (in *PlanInput) ODirect(name string, write bool, at ...any) error {
	ok := func(tr backends.Traits) bool { return tr.DirectRead && (!write || tr.DirectWrite) }
	t := in.Targets[name]
	if ok(t.Traits) {
		return nil
	}
	var can []string
	for _, s := range backends.Schemes() {
		if tr, _ := backends.TraitsOf(s); ok(tr) {
			can = append(can, s)
		}
	}
	return in.Workload.ErrorAt(at, "odirect goes around the host's page cache, which target %s (%s) does not use: use a target of scheme %s, or drop odirect",
		name, t.URI, strings.Join(can, " or "))
}

// Stores is nil when target name keeps what is written to it, and
// otherwise (Traits.Discards: null://, which makes up whatever is read)
// an input error at the field path at: "target n (null://) stores
// nothing, so " and because, which says what cannot work and what to do.
// Every stage that needs stored bytes or sizes asks it, so that the run
// does not fail, or worse, pass, on bytes that were never written.
func (in *PlanInput) Stores(name, because string, at ...any) error {
	t := in.Targets[name]
	if t == nil || !t.Traits.Discards {
		return nil
	}
	return in.Workload.ErrorAt(at, "target %s (%s) stores nothing, so %s", name, t.URI, because)
}

// Task is a planned stage: what it reads and writes, how much work it
// plans, and how to run it. Tasks are built once per plan and must describe
// millions of files by count and formula, not by lists.
type Task interface {
	// Reads and Writes name the datasets the task consumes and produces;
	// the planner derives the edges of the plan from them.
	Reads() []string
	Writes() []string
	// Work is the planned work, for plans and progress.
	Work() Work
	// Describe says in one line what the task will do.
	Describe() string
	// Run does the work, recording every operation into env.Meter. It
	// returns the kind's own metrics; on cancellation it returns what it
	// measured so far with the context's error.
	Run(ctx context.Context, env *Env) (Metrics, error)
}

// Work is the planned size of a task.
type Work struct {
	// ReadBytes and WriteBytes are the payload bytes the task plans to
	// read from and write to backends.
	ReadBytes  int64 `json:"read_bytes"`
	WriteBytes int64 `json:"write_bytes"`
	// Files counts file (or object) accesses: a file read in each of two
	// epochs counts twice.
	Files int64 `json:"files"`
	// Ops counts backend operations.
	Ops int64 `json:"ops"`
	// Expected is set when the byte counts are expectations over a record
	// size distribution rather than exact sums: summing every file's own
	// size would cost time in proportion to the number of files.
	Expected bool `json:"expected,omitempty"`
}

// Bytes is all planned payload bytes, read and written.
func (w Work) Bytes() int64 { return w.ReadBytes + w.WriteBytes }

// Metrics are a task's own results, written under their names into the
// stage's results and, for the headline keys, the run's summary.
type Metrics map[string]any

// Number is a metric's value as a number: a float64 as JSON decodes it,
// or an integer as a stage sets it; ok is false for anything else.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// The optional hooks of a Task. The engine asks for each with a type
// assertion; a kind implements those that apply to it.

// Concurrent is implemented by tasks that make storage calls from many
// goroutines at once: Concurrency is how many may be in a call at the
// same time. A file system call blocks the thread that makes it, and Go's
// scheduler lets a blocked call keep its processor until its monitor
// takes the processor back, tens of microseconds to milliseconds later;
// with fewer processors than blocking workers, workers wait for that
// instead of for storage (generate wrote retinanet-shaped files at 0.42×
// fio's rate on 2 processors, 1.23× on 8). The engine gives the run at
// least this many processors.
type Concurrent interface {
	Concurrency() int
}

// Warner is implemented by tasks whose plan can be valid and still not
// measure what the user thinks: a dataset the page cache can hold, or one
// smaller than the rules require. `mlps plan` and `mlps exec` print the
// warnings before anything runs.
type Warner interface {
	Warnings(Host) []string
}

// Datasizer is implemented by tasks whose dataset has a required minimum
// size (training reads), for `mlps datasize`. The error says why no
// dataset the workload can plan is large enough for the system.
type Datasizer interface {
	Datasize(Sizing) (DatasetSize, error)
}

// IndexSizer is implemented by tasks that build a vector index, for
// `mlps datasize`: what the index will store, beside upstream's estimate.
type IndexSizer interface {
	IndexSize() IndexSize
}

// IndexSize is a vector index's storage as a plan knows it.
type IndexSize struct {
	Stage string `json:"stage"`
	Type  string `json:"index_type"`
	// Vectors of Dimension float32 make RawBytes.
	Vectors   int64 `json:"vectors"`
	Dimension int64 `json:"dimension"`
	RawBytes  int64 `json:"raw_bytes"`
	// UpstreamFactor is MLPerf Storage's overhead factor for the index
	// type, and UpstreamBytes RawBytes times it: what upstream's datasize
	// says the index takes.
	UpstreamFactor float64 `json:"upstream_factor"`
	UpstreamBytes  int64   `json:"upstream_bytes"`
	// StoredBytes is what mlps's own index of this type stores, by its
	// layout's formula, and BuildMemoryBytes what its build holds.
	StoredBytes      int64 `json:"stored_bytes"`
	BuildMemoryBytes int64 `json:"build_memory_bytes"`
}

// SummaryKeyer is implemented by tasks whose metrics include run-level
// keys that belong at the top of summary.json (DLIO's training keys).
type SummaryKeyer interface {
	SummaryKeys() []string
}

// Uniter is implemented by tasks whose metrics have rate or size keys
// whose names do not say their unit, or say it wrong because an upstream
// tool reads them by that name (DLIO's MB that are MiB): Units maps each
// such key to its unit and what it measures, and summary.json carries
// the map for the keys it shows, so that every figure says which it is.
type Uniter interface {
	Units() map[string]string
}

// Checker is implemented by tasks that can tell, without writing, whether
// what they write is already on their targets: every object the plan
// names, at its planned size. When a run leaves a stage out (mlps exec
// --only, --skip) and a stage that runs reads what it writes, the engine
// checks it before any stage starts, so that a series of runs over data
// generated once does not measure a missing or different dataset.
type Checker interface {
	Check(ctx context.Context, env *Env) error
}

// Verifier is implemented by Checkers that can also check content: every
// byte of what they write read back and compared with what they would
// write, for mlps exec --verify. Memory stays bounded by the task's
// buffers, whatever the size of the data.
type Verifier interface {
	Verify(ctx context.Context, env *Env) error
}

// Spread is implemented by tasks that run across processes
// (Env.Processes): each process runs its share of the task's ranks, and
// the lead process gathers their figures, so that its metrics are of
// every rank. A run over many processes holds only such tasks.
type Spread interface {
	// Ranks is the task's ranks over all processes.
	Ranks() int
}

// Unspreadable is implemented by Spread tasks that cannot run across
// processes in some of their configurations. A run across processes asks
// each task before any process joins the others.
type Unspreadable interface {
	// WhyNotSpread says why this task cannot run across processes and
	// what to run instead; "" when it can.
	WhyNotSpread() string
}

// Headliner is implemented by tasks that can say their key figures in one
// line for the human summary; the engine asks once the task has run, and
// the results keep the line.
type Headliner interface {
	Headline(Metrics) string
}

// Env is what a running task gets from the engine. A task captures what
// it needs of the workload at plan time; the run adds only what exists
// once it starts.
type Env struct {
	// Stage is the stage's id.
	Stage string
	// Host describes the machine the run is on.
	Host Host
	// Targets holds an open backend for every target of the workload.
	Targets map[string]backends.Backend
	// Meter receives one record per operation.
	Meter *measure.Meter
	// Dir is the directory for the stage's own detail files (per-step
	// timings and the like), or "" when the run keeps no results.
	Dir string
	// Processes spreads the stage's ranks over the run's processes; nil
	// for a run of one process (LocalGroup).
	Processes Group
}

// Group is the processes the stage's ranks are spread over.
func (e *Env) Group() Group {
	if e.Processes == nil {
		return LocalGroup{}
	}
	return e.Processes
}

// Hosts are the hosts the run's processes run on: this one (Host) in a
// run of one process.
func (e *Env) Hosts() []Host {
	if ms := e.Group().Members(); len(ms) > 1 {
		return Hosts(ms)
	}
	return []Host{e.Host}
}

// Create creates the detail file name in the stage's directory; without a
// directory it returns a writer that discards. The files are written while
// the stage runs, so they stay on disk and out of memory; summary.json,
// written last, is what marks a results directory complete.
func (e *Env) Create(name string) (io.WriteCloser, error) {
	if e.Dir == "" {
		return nopCloser{io.Discard}, nil
	}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(e.Dir, name))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Target returns the open backend of the named target.
func (e *Env) Target(name string) (backends.Backend, error) {
	b, ok := e.Targets[name]
	if !ok {
		return nil, fmt.Errorf("stage %s: target %q is not open", e.Stage, name)
	}
	return b, nil
}

var (
	mu    sync.RWMutex
	kinds = map[string]Kind{}
)

// Register makes a kind available to the planner. It panics when the kind
// is registered twice, which is a programming error.
func Register(k Kind) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := kinds[k.Name]; dup {
		panic("stages: kind registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Lookup returns the kind of that name.
func Lookup(name string) (Kind, bool) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// Kinds lists the registered kinds in sorted order.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Sizing describes the system a dataset must be sized for: the rules
// require a training dataset large enough that neither the clients' page
// caches nor too few steps flatter the result.
type Sizing struct {
	// ClientMemoryBytes is the memory of one client host.
	ClientMemoryBytes int64
	Clients           int
	Accelerators      int
}

// DatasetSize is the dataset a task needs under a Sizing.
type DatasetSize struct {
	Dataset string `json:"dataset"`
	// FileBytes is the payload of one file: samples per file × record
	// bytes, as the rules count it (format overhead aside).
	FileBytes int64 `json:"file_bytes"`
	// FilesByMemory and FilesBySteps are the two minimums; Files is the
	// larger.
	FilesByMemory int64 `json:"files_by_memory"`
	FilesBySteps  int64 `json:"files_by_steps"`
	Files         int64 `json:"files"`
	Subfolders    int64 `json:"subfolders"`
	Bytes         int64 `json:"bytes"`
	// Sets are the --set overrides that make the workload use this size.
	Sets []string `json:"sets"`
	// Explain says how each minimum was computed.
	Explain []string `json:"explain"`
}
