package rules

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages"
)

// Class is a verdict: what a run, a benchmark's series of runs or a
// whole tree of results may be published as.
type Class string

// The classes, from best to worst: any INVALID finding makes its run
// INVALID, else any OPEN finding makes it OPEN.
const (
	Closed  Class = "CLOSED"
	Open    Class = "OPEN"
	Invalid Class = "INVALID"
)

func (c Class) rank() int { return slices.Index([]Class{Closed, Open, Invalid}, c) }

// Worse returns the worse of two classes.
func Worse(a, b Class) Class {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Finding is what one check found: the rule by id and name, the class
// it gives, and the parameter with the expected and the actual value.
// A check that holds yields a CLOSED finding, so that the verdict says
// what was checked as well as what failed.
type Finding struct {
	Rule      string `json:"rule"`
	Name      string `json:"name"`
	Class     Class  `json:"class"`
	Parameter string `json:"parameter,omitempty"`
	Expected  string `json:"expected,omitempty"`
	Actual    string `json:"actual,omitempty"`
	// Run is the run the finding is of, for a finding about a series.
	Run    string `json:"run,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Severity is a submission check's: "error" where the check fails
	// the submission.
	Severity string `json:"severity,omitempty"`
}

// RunVerdict is one results directory's findings.
type RunVerdict struct {
	// Dir is the run's directory relative to the validated path.
	Dir string `json:"dir"`
	// Benchmark is the benchmark the run measured, or "datagen" for a run
	// that only prepared data for one.
	Benchmark string    `json:"benchmark"`
	Series    string    `json:"series"`
	Class     Class     `json:"class"`
	Findings  []Finding `json:"findings"`
}

// SeriesVerdict is the findings about a benchmark's series of runs of
// one workload on one system (the six runs of a training result, a
// checkpoint's write and read), and the series' class with its runs'.
type SeriesVerdict struct {
	Key       string    `json:"key"`
	Benchmark string    `json:"benchmark"`
	Runs      []string  `json:"runs"`
	Class     Class     `json:"class"`
	Findings  []Finding `json:"findings"`
}

// Verdict is the validation of a path: every run, every series, each
// benchmark's class and the overall one.
type Verdict struct {
	Edition    string           `json:"edition"`
	Path       string           `json:"path"`
	Class      Class            `json:"class"`
	Benchmarks map[string]Class `json:"benchmarks"`
	Series     []SeriesVerdict  `json:"series"`
	Runs       []RunVerdict     `json:"runs"`
}

// Validate checks every results directory at or below root against the
// edition named. An error is a path that holds no results, or results
// that cannot be read; a run that breaks a rule is a finding.
func Validate(root, edition string) (*Verdict, error) {
	ed, err := Load(edition)
	if err != nil {
		return nil, err
	}
	dirs, err := results.FindRuns(root)
	if err != nil {
		return nil, err
	}
	runs := make([]*results.Run, len(dirs))
	var g errgroup.Group
	g.SetLimit(8)
	for i, d := range dirs {
		g.Go(func() error {
			r, err := results.ReadRun(d)
			runs[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	v := &Verdict{Edition: edition, Path: root, Class: Closed, Benchmarks: map[string]Class{}}
	c := &checker{ed: ed, root: root}
	bySeries := map[string][]*run{}
	for _, r := range runs {
		rr := c.newRun(r)
		bySeries[rr.series] = append(bySeries[rr.series], rr)
	}
	for _, key := range slices.Sorted(maps.Keys(bySeries)) {
		rs := bySeries[key]
		slices.SortFunc(rs, func(a, b *run) int {
			return cmp.Or(a.start().Compare(b.start()), cmp.Compare(a.rel, b.rel))
		})
		s := SeriesVerdict{Key: key, Benchmark: rs[0].bench}
		for _, r := range rs {
			c.checkRun(r)
			s.Runs = append(s.Runs, r.rel)
		}
		s.Findings = c.checkSeries(rs[0].bench, rs)
		s.Class = Closed
		for _, f := range s.Findings {
			s.Class = Worse(s.Class, f.Class)
		}
		for _, r := range rs {
			rv := RunVerdict{Dir: r.rel, Benchmark: r.benchLabel(), Series: key, Class: Closed, Findings: r.findings}
			for _, f := range r.findings {
				rv.Class = Worse(rv.Class, f.Class)
			}
			s.Class = Worse(s.Class, rv.Class)
			v.Runs = append(v.Runs, rv)
		}
		v.Series = append(v.Series, s)
		b := s.Benchmark
		if b == "" {
			b = "other"
		}
		v.Benchmarks[b] = Worse(cmp.Or(v.Benchmarks[b], Closed), s.Class)
		v.Class = Worse(v.Class, s.Class)
	}
	return v, nil
}

// checker holds what every check reads.
type checker struct {
	ed   *Edition
	root string
}

// run is one results directory as the checks see it.
type run struct {
	*results.Run
	rel string
	// bench is the benchmark the run belongs to; prep is set for a run
	// that only prepared its data (generate, index).
	bench  string
	prep   bool
	series string
	// model, accelerator and option are the workload's mlperf block,
	// model filled in from the stage where the workload says it there.
	model, accelerator, option string
	findings                   []Finding
}

func (r *run) benchLabel() string {
	if r.prep {
		return "datagen"
	}
	return r.bench
}

func (c *checker) newRun(r *results.Run) *run {
	rel, err := filepath.Rel(c.root, r.Dir)
	if err != nil || rel == "." {
		rel = filepath.Base(r.Dir)
	}
	rr := &run{Run: r, rel: filepath.ToSlash(rel)}
	rr.model, rr.accelerator, rr.option = r.MLPerf()
	rr.bench = r.Benchmark()
	if rr.bench == "" {
		// A run that only built data belongs to the benchmark that
		// reads it.
		rr.prep = true
		for _, k := range r.Kinds() {
			switch k {
			case "generate":
				rr.bench = cmp.Or(rr.bench, results.Training)
			case "index":
				rr.bench = results.VectorDatabase
			}
		}
	}
	what := rr.model
	switch rr.bench {
	case results.Training:
		if rr.accelerator != "" {
			what += "@" + rr.accelerator
		}
	case results.Checkpointing:
		if s := rr.stageOf("checkpoint"); s != nil && what == "" {
			what, _ = get(s, "model", "name").(string)
		}
	case results.VectorDatabase:
		what = rr.indexType()
	case results.KVCache:
		what = cmp.Or(rr.option, what)
	}
	name, _ := r.Workload["name"].(string)
	if what == "" {
		what = name
	}
	system, _, _ := results.Layout(rr.rel)
	rr.series = strings.Join(nonEmpty(system, cmp.Or(rr.bench, "other"), what), "/")
	return rr
}

func nonEmpty(ss ...string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}

// stageOf is the workload's spec of the first stage of kind that the run
// ran, or nil.
func (r *run) stageOf(kind string) map[string]any {
	id := r.stageID(kind)
	if id == "" {
		return nil
	}
	st, _ := r.Workload["stages"].(map[string]any)
	s, _ := st[id].(map[string]any)
	return s
}

// stageID is the id of the first stage of kind the run ran, or of its
// workload when the run did not finish.
func (r *run) stageID(kind string) string {
	if r.Report != nil {
		for _, sr := range r.Report.Stages {
			if sr.Kind == kind {
				return sr.ID
			}
		}
		return ""
	}
	st, _ := r.Workload["stages"].(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(st)) {
		if s, _ := st[id].(map[string]any); s["kind"] == kind {
			return id
		}
	}
	return ""
}

// indexType is the type of the index the run's queries searched, or
// that it built: the index stage's, which the queries name, whether or
// not this run built it.
func (r *run) indexType() string {
	st, _ := r.Workload["stages"].(map[string]any)
	if id, ok := r.stageOf("query")["index"].(string); ok {
		t, _ := get(st, id, "index_type").(string)
		return t
	}
	t, _ := r.stageOf("index")["index_type"].(string)
	return t
}

// report is the report of the first stage of kind the run ran, or nil.
func (r *run) report(kind string) *results.StageReport {
	if r.Report == nil {
		return nil
	}
	for _, sr := range r.Report.Stages {
		if sr.Kind == kind {
			return sr
		}
	}
	return nil
}

// metric is a stage's recorded metric as a number.
func metric(sr *results.StageReport, key string) (float64, bool) {
	if sr == nil {
		return 0, false
	}
	return stages.Number(sr.Metrics[key])
}

// get walks a decoded JSON object by keys.
func get(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func (r *run) add(f Finding) { r.findings = append(r.findings, f) }

// checkRun runs the checks of one run: that it finished, then its
// benchmark's.
func (c *checker) checkRun(r *run) {
	if !r.Finished {
		r.add(Finding{Rule: "run.finished", Name: "the run finished", Class: Invalid,
			Expected: "summary.json", Actual: "absent",
			Detail: "the run was killed or is still running: a run that did not finish has no verdict"})
		return
	}
	if !r.Summary.Complete {
		r.add(Finding{Rule: "run.complete", Name: "every stage of the run finished", Class: Invalid,
			Parameter: "complete", Expected: "true", Actual: "false", Detail: r.Summary.Error})
		return
	}
	if r.prep {
		return
	}
	switch r.bench {
	case results.Training:
		c.training(r)
	case results.Checkpointing:
		c.checkpointing(r)
	case results.VectorDatabase:
		c.vectorDatabase(r)
	case results.KVCache:
		c.kvCache(r)
	default:
		r.add(Finding{Rule: "run.benchmark", Name: "the run measured an MLPerf Storage benchmark", Class: Open,
			Expected: "a read-epoch, checkpoint, query or kvcache stage", Actual: strings.Join(r.Kinds(), ", ")})
	}
}

// checkSeries runs the checks of a series of runs of one benchmark.
func (c *checker) checkSeries(bench string, rs []*run) []Finding {
	switch bench {
	case results.Training:
		return c.trainingSeries(rs)
	case results.Checkpointing:
		return c.checkpointSeries(rs)
	case results.VectorDatabase:
		return c.vectorSeries(rs)
	}
	return nil
}

// measured are the runs of a series that ran its benchmark (not only
// prepared data).
func measured(rs []*run) []*run {
	var out []*run
	for _, r := range rs {
		if !r.prep {
			out = append(out, r)
		}
	}
	return out
}

func num(f float64) string { return fmt.Sprintf("%.6g", f) }
