package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/dsl/dlio"
	"mlps.dev/mlps/planner"
)

const importHelp = `Usage: mlps import dlio CONFIG.yaml [flags] > WORKLOAD.cue

Converts a DLIO workload (the YAML file DLIO and mlpstorage run, such as
unet3d_h100.yaml) into an mlps workload, printed on stdout as CUE. Each
DLIO field that has no mlps equivalent is reported on stderr as
CONFIG.yaml:LINE:COL: FIELD: not mapped: REASON; they are warnings, and the
conversion still succeeds.

A relative dataset.data_folder is resolved against the current directory,
as DLIO resolves it against the directory it runs in. DLIO takes the number
of accelerators from mpirun -np, not from its YAML: give it with
--accelerators.

Examples:
  mlps import dlio unet3d_h100.yaml > unet3d.cue
  mlps import dlio unet3d_h100.yaml --accelerators 8 > unet3d.cue
  mlps plan unet3d.cue --set targets.data.uri=file:///mnt/nvme/unet3d

Flags:
`

func importCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, importHelp)
		return exitOK
	}
	if len(args) == 0 || args[0] != "dlio" {
		if len(args) == 0 {
			fmt.Fprint(stderr, "mlps import: want a source format: mlps import dlio CONFIG.yaml\n\n")
		} else {
			fmt.Fprintf(stderr, "mlps import: unknown source format %q (supported: dlio)\n\n", args[0])
		}
		fmt.Fprint(stderr, importHelp)
		return exitUsage
	}
	fs := newFlags("import dlio", importHelp, stderr)
	accel := fs.Int("accelerators", 1, "number of emulated accelerators (DLIO's mpirun -np)")
	path, code, ok := parse(fs, args[1:], stderr)
	if !ok {
		return code
	}
	if *accel < 1 || *accel > 65536 {
		fmt.Fprintf(stderr, "mlps import dlio: --accelerators %d: want 1 to 65536\n", *accel)
		return exitUsage
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if u := errors.Unwrap(err); u != nil {
			err = u
		}
		fmt.Fprintf(stderr, "mlps import dlio: cannot read %s: %v\n", path, err)
		return exitUsage
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "mlps import dlio: %v\n", err)
		return exitFailed
	}
	res, err := dlio.Convert(path, data, dlio.Options{Accelerators: *accel, BaseDir: wd})
	if err != nil {
		fmt.Fprintln(stderr, err)
		if dsl.IsInputError(err) {
			return exitUsage
		}
		return exitFailed
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	checkPlans(res.CUE, stderr)
	if _, err := stdout.Write(res.CUE); err != nil {
		fmt.Fprintf(stderr, "mlps import dlio: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// checkPlans plans the converted workload as mlps plan would, and warns
// when it would be rejected: a conversion can be right and still not plan,
// when it uses a format this mlps does not implement yet, or when the
// dataset is too small for --accelerators.
func checkPlans(src []byte, stderr io.Writer) {
	dir, err := os.MkdirTemp("", "mlps-import-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "workload.cue")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return
	}
	w, err := dsl.Load(path, nil)
	if err == nil {
		_, err = planner.Compile(w)
	}
	if err == nil {
		return
	}
	var es dsl.Errors
	if !errors.As(err, &es) {
		fmt.Fprintf(stderr, "mlps import dlio: warning: mlps plan would reject the converted workload: %v\n", err)
		return
	}
	for _, e := range es {
		msg := e.Msg
		if e.Path != "" {
			msg = e.Path + ": " + msg
		}
		fmt.Fprintf(stderr, "mlps import dlio: warning: mlps plan would reject the converted workload: %s\n", msg)
	}
}
