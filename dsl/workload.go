package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/backends"
)

// Workload mirrors schema.#Workload. A test decodes every shipped workload
// strictly into it, so a field added to the schema without its Go twin
// fails the build of the tests, not a user's run.
type Workload struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Seed        uint64 `json:"seed"`
	// RunSeedSet is run_seed as the workload set it; RunSeed() is the
	// seed to use.
	RunSeedSet *uint64            `json:"run_seed,omitempty"`
	MLPerf     *MLPerf            `json:"mlperf,omitempty"`
	Targets    map[string]Target  `json:"targets"`
	Datasets   map[string]Dataset `json:"datasets"`
	Stages     map[string]Stage   `json:"stages"`

	value cue.Value
	// file is the start of the user's file, where an error about a field
	// that is nowhere in the user's text points.
	file token.Pos
}

// MLPerf mirrors schema.#MLPerf.
type MLPerf struct {
	Model       string `json:"model,omitempty"`
	Accelerator string `json:"accelerator,omitempty"`
	Option      string `json:"option,omitempty"`
}

// RunSeed is the seed of a run's own random choices: run_seed, or seed
// when it is unset.
func (w *Workload) RunSeed() uint64 {
	if w.RunSeedSet != nil {
		return *w.RunSeedSet
	}
	return w.Seed
}

// Target mirrors schema.#Target. Its Go definition is the backends'
// own configuration, so the options are written once in Go: the planner
// resolves each target through its scheme (backends.Resolve).
type Target = backends.Config

// Dataset mirrors schema.#Dataset.
type Dataset struct {
	Target           string `json:"target"`
	Path             string `json:"path"`
	Format           string `json:"format"`
	Files            int64  `json:"files"`
	SamplesPerFile   int64  `json:"samples_per_file"`
	RecordBytes      int64  `json:"record_bytes"`
	RecordBytesStdev int64  `json:"record_bytes_stdev"`
	Subfolders       int64  `json:"subfolders"`
	Prefix           string `json:"prefix"`
	// Parquet is set for parquet datasets only.
	Parquet *Parquet `json:"parquet,omitempty"`
	// Vectors is set for vector collections (format fbin) only.
	Vectors *Vectors `json:"vectors,omitempty"`
}

// Vectors mirrors schema.#Vectors.
type Vectors struct {
	Dimension    int64  `json:"dimension"`
	Metric       string `json:"metric"`
	Distribution string `json:"distribution"`
	Clusters     int64  `json:"clusters"`
	Queries      int64  `json:"queries"`
}

// Parquet mirrors schema.#Parquet.
type Parquet struct {
	Columns      []Column `json:"columns"`
	RowGroupRows int64    `json:"row_group_rows"`
}

// Column mirrors schema.#Column.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Elements int64  `json:"elements"`
	Repeat   int64  `json:"repeat"`
	Width    int64  `json:"width,omitempty"`
}

// Common mirrors schema.#Common: the fields every stage kind has. Stage
// packages embed it in their own spec types.
type Common struct {
	Kind  string   `json:"kind"`
	After []string `json:"after"`
}

// Stage is one stage as written. Its kind-specific fields stay encoded
// until the stage package that owns the kind decodes them with Decode, so
// adding a kind touches only that package and the schema.
type Stage struct {
	Common
	raw json.RawMessage
}

// UnmarshalJSON keeps the raw stage for Decode.
func (s *Stage) UnmarshalJSON(b []byte) error {
	s.raw = bytes.Clone(b)
	var c Common
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	s.Common = c
	return nil
}

// MarshalJSON writes the stage as it was decoded.
func (s Stage) MarshalJSON() ([]byte, error) { return s.raw, nil }

// Decode decodes the stage's fields into spec, which must declare every
// field the schema gives the kind: an unknown field is an error, which is
// how the tests prove the Go types and the schema agree.
func (s Stage) Decode(spec any) error {
	d := json.NewDecoder(bytes.NewReader(s.raw))
	d.DisallowUnknownFields()
	if err := d.Decode(spec); err != nil {
		return fmt.Errorf("stage of kind %q: %w (the Go spec and the schema disagree)", s.Kind, err)
	}
	return nil
}

func decode(v cue.Value) (*Workload, error) {
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, fromCUE(err, token.Pos.IsValid)
	}
	w := &Workload{value: v}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(w); err != nil {
		return nil, fmt.Errorf("mlps: schema and Go types disagree: %w", err)
	}
	return w, nil
}

// StageIDs returns the stage names in sorted order, the order every
// listing of stages uses so plans are deterministic.
func (w *Workload) StageIDs() []string {
	ids := make([]string, 0, len(w.Stages))
	for id := range w.Stages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Pos returns where the value at path (field names, and ints for list
// indexes) was written, for error messages.
//
// A field the user did not write (one the schema defaults) is placed at
// the nearest enclosing field the user did write, or else at the start of
// the user's file: an error always points into the user's text, never only
// into the embedded schema.
func (w *Workload) Pos(path ...any) token.Pos {
	for n := len(path); n >= 0; n-- {
		if p := w.pos(path[:n]...); p.IsValid() && !inSchema(p) {
			return p
		}
	}
	if w.file.IsValid() {
		return w.file
	}
	return w.pos(path...)
}

func (w *Workload) pos(path ...any) token.Pos {
	sels := make([]cue.Selector, len(path))
	for i, p := range path {
		switch p := p.(type) {
		case int:
			sels[i] = cue.Index(p)
		case string:
			sels[i] = cue.Str(p)
		default:
			panic(fmt.Sprintf("dsl: Pos: path element %v is neither string nor int", p))
		}
	}
	// A value merged from several places reports one of them, which can be
	// the schema's declaration; the user's own text is the better place.
	v := w.value.LookupPath(cue.MakePath(sels...))
	if p := v.Pos(); !inSchema(p) {
		return p
	}
	if op, args := v.Expr(); op == cue.AndOp {
		for _, a := range args {
			if p := a.Pos(); p.IsValid() && !inSchema(p) {
				return p
			}
		}
	}
	return v.Pos()
}

// ErrorAt is an input error about the field at path, positioned at the
// user's text for it: ErrorAt([]any{"stages", "train", "dataset"}, ...)
// reports "file:line:col: stages.train.dataset: ...".
func (w *Workload) ErrorAt(path []any, format string, args ...any) error {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprint(p)
	}
	return Errorf(w.Pos(path...), strings.Join(parts, "."), format, args...)
}

// CheckTarget is nil when the workload has a target called name, and
// otherwise an input error at path that lists the targets there are.
func (w *Workload) CheckTarget(name string, path ...any) error {
	if _, ok := w.Targets[name]; ok {
		return nil
	}
	return w.ErrorAt(path, "unknown target %q (targets: %s)", name, strings.Join(slices.Sorted(maps.Keys(w.Targets)), ", "))
}

// inSchema reports whether p is in one of the embedded schema's files.
func inSchema(p token.Pos) bool {
	f := filepath.ToSlash(p.Filename())
	return strings.HasSuffix(f, "/schema/workload.cue")
}

// CUE returns the fully resolved workload as CUE source.
func (w *Workload) CUE() ([]byte, error) {
	n := w.value.Syntax(cue.Final(), cue.Concrete(true))
	return format.Node(n)
}

// JSON returns the fully resolved workload as indented JSON.
func (w *Workload) JSON() ([]byte, error) {
	b, err := w.value.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
