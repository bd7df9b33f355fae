// Package dlio converts a DLIO workload YAML (the configuration file that
// DLIO and MLPerf Storage's mlpstorage run, such as unet3d_h100.yaml) into
// an mlps workload written in CUE.
//
// The conversion maps what mlps can express: the model's name, the data
// folder, the dataset's shape, the reader, the training loop, evaluation
// and the AU threshold. Every DLIO field it cannot carry over is reported
// as a Warning at the field's line and column, with the reason; values
// that cannot be converted at all (an unknown format, a negative batch
// size, invalid YAML) are errors.
package dlio

import (
	"fmt"
	"sort"

	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/dsl"
)

// Options adjust a conversion.
type Options struct {
	// Accelerators is the number of emulated accelerators of the training
	// stage. DLIO takes it from mpirun -np, not from its YAML; 0 means 1.
	Accelerators int
	// BaseDir is the directory a relative data folder is resolved
	// against, as DLIO resolves it against its working directory. It must
	// be absolute; "" means the process's working directory.
	BaseDir string
}

// Warning is one DLIO field the conversion did not carry over.
type Warning struct {
	Pos token.Pos
	// Path is the field's path in the DLIO workload, such as
	// "dataset.record_length_resize".
	Path string
	// Reason says why it is not mapped.
	Reason string
}

// String prints the warning as file:line:col: path: not mapped: reason.
func (w Warning) String() string {
	return (&dsl.Error{Pos: w.Pos, Path: w.Path, Msg: "not mapped: " + w.Reason}).Error()
}

// Result is a converted workload.
type Result struct {
	// CUE is the mlps workload, formatted, standalone (no imports).
	CUE []byte
	// Warnings lists the DLIO fields that were not carried over, in the
	// order they appear in the file.
	Warnings []Warning
}

// Convert converts the DLIO workload data, read from filename (the name
// is used in positions and in the output's header), into an mlps
// workload. Errors are dsl.Errors, so dsl.IsInputError reports them as
// the user's.
func Convert(filename string, data []byte, opts Options) (*Result, error) {
	root, err := parseYAML(filename, data)
	if err != nil {
		return nil, err
	}
	if opts.Accelerators == 0 {
		opts.Accelerators = 1
	}
	if opts.Accelerators < 1 || opts.Accelerators > 65536 {
		return nil, dsl.Errors{{Path: "--accelerators", Msg: fmt.Sprintf("%d: want 1 to 65536", opts.Accelerators)}}
	}
	c := newConverter(filename, opts)
	w := c.convert(root)
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return before(c.errs[i].Pos, c.errs[j].Pos) })
		return nil, c.errs
	}
	c.reportUnused(root)
	sort.SliceStable(c.warnings, func(i, j int) bool { return before(c.warnings[i].Pos, c.warnings[j].Pos) })
	src, err := render(filename, w, c.warnings)
	if err != nil {
		return nil, err
	}
	return &Result{CUE: src, Warnings: c.warnings}, nil
}

func before(a, b token.Pos) bool {
	if a.Line() != b.Line() {
		return a.Line() < b.Line()
	}
	return a.Column() < b.Column()
}
