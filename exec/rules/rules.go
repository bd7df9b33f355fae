// Package rules loads MLPerf Storage's rules by edition from the CUE data
// in schema/editions: the numbers and lists a validator checks results
// against. Each edition file is checked against #Edition and decoded
// strictly into Edition, so a number the Go checks do not know of, or a
// missing one, is an error when the edition loads, not a wrong verdict.
package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"

	"mlps.dev/mlps/schema/editions"
)

// Latest is the edition a validator uses unless told otherwise.
const Latest = "v3.0"

// Edition mirrors schema/editions.#Edition.
type Edition struct {
	ToolSets       []string       `json:"tool_sets"`
	Training       Training       `json:"training"`
	Checkpointing  Checkpointing  `json:"checkpointing"`
	VectorDatabase VectorDatabase `json:"vector_database"`
	KVCache        KVCache        `json:"kv_cache"`
}

// Training mirrors #Edition.training.
type Training struct {
	AUMinimum            map[string]float64 `json:"au_minimum"`
	ClosedModels         []string           `json:"closed_models"`
	ClosedAccelerators   []string           `json:"closed_accelerators"`
	WarmupRuns           int                `json:"warmup_runs"`
	MeasuredRuns         int                `json:"measured_runs"`
	RepeatWithin         float64            `json:"repeat_within"`
	ClosedMayChange      map[string]string  `json:"closed_may_change"`
	OpenMayChange        map[string]string  `json:"open_may_change"`
	ODirectModels        []string           `json:"odirect_models"`
	DatasizeMemoryFactor float64            `json:"datasize_memory_factor"`
	DatasizeSteps        int                `json:"datasize_steps"`
}

// Checkpointing mirrors #Edition.checkpointing.
type Checkpointing struct {
	Writes              int                `json:"writes"`
	Reads               int                `json:"reads"`
	Fsync               bool               `json:"fsync"`
	Processes           map[string]int     `json:"processes"`
	Subset              map[string]int     `json:"subset"`
	AcceleratorMemoryGB map[string]float64 `json:"accelerator_memory_GB"`
	ReadWithinSeconds   float64            `json:"read_within_seconds"`
	ClosedMayChange     map[string]string  `json:"closed_may_change"`
	OpenMayChange       map[string]string  `json:"open_may_change"`
	CacheMemoryFactor   float64            `json:"cache_memory_factor"`
}

// VectorDatabase mirrors #Edition.vector_database.
type VectorDatabase struct {
	Runs            int      `json:"runs"`
	MinTimedSeconds float64  `json:"min_timed_seconds"`
	ClosedIndexes   []string `json:"closed_indexes"`
	RequiredMetrics []string `json:"required_metrics"`
	RecallCoverage  float64  `json:"recall_coverage"`
}

// KVCache mirrors #Edition.kv_cache.
type KVCache struct {
	Seed                       uint64              `json:"seed"`
	Trials                     int                 `json:"trials"`
	PauseBetweenOptionsSeconds float64             `json:"pause_between_options_seconds"`
	Options                    map[string]KVOption `json:"options"`
}

// KVOption is one CLOSED KV-cache option, per client.
type KVOption struct {
	Model               string  `json:"model"`
	Users               int     `json:"users"`
	DurationSeconds     float64 `json:"duration_seconds"`
	GPUGiB              float64 `json:"gpu_GiB"`
	CPUGiB              float64 `json:"cpu_GiB"`
	MaxConcurrentAllocs int     `json:"max_concurrent_allocs"`
}

// Load returns edition name, or an error that names the editions there
// are.
func Load(name string) (*Edition, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	e, ok := all[name]
	if !ok {
		return nil, fmt.Errorf("no edition %q; the editions are %s", name, strings.Join(names(all), ", "))
	}
	return e, nil
}

// Names lists the editions, in sorted order.
func Names() ([]string, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	return names(all), nil
}

func names(all map[string]*Edition) []string {
	ns := make([]string, 0, len(all))
	for n := range all {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// load compiles the editions once.
var load = sync.OnceValues(compile)

// compile compiles every edition file and unifies them: edition.cue
// constrains editions with #Edition, each other file adds one edition.
func compile() (map[string]*Edition, error) {
	files, err := fs.Glob(editions.Files, "*.cue")
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	ctx := cuecontext.New()
	v := ctx.CompileString("{}")
	for _, f := range files {
		src, err := editions.Files.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fv := ctx.CompileBytes(src, cue.Filename("schema/editions/"+f))
		if err := fv.Err(); err != nil {
			return nil, fmt.Errorf("edition file %s: %s", f, errors.Details(err, nil))
		}
		v = v.Unify(fv)
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, fmt.Errorf("editions: %s", errors.Details(err, nil))
	}
	b, err := v.LookupPath(cue.ParsePath("editions")).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("editions: %s", errors.Details(err, nil))
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var all map[string]*Edition
	if err := d.Decode(&all); err != nil {
		return nil, fmt.Errorf("editions: %w (the Go types and schema/editions disagree)", err)
	}
	return all, nil
}
