package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mlps.dev/mlps/backends/secret"
)

// CheckDir fails when dir already holds a result, so that a run never
// mixes its files with an earlier one's.
func CheckDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		return fmt.Errorf("results directory %s already holds a result (summary.json); choose another with --results", dir)
	}
	return nil
}

// Inputs are what was run, recorded beside the results so that they can
// be reproduced: the resolved workload as CUE and JSON, and the plan.
type Inputs struct {
	WorkloadCUE  []byte
	WorkloadJSON []byte
	// Plan is the plan in its JSON form (planner.JSONPlan).
	Plan any
	Seed uint64
}

// Write writes the results directory: the inputs, the provenance, one
// file per stage, and summary.json last, so a directory with a summary is
// a finished write. Each file is written to a temporary name and renamed
// into place.
func Write(dir string, in Inputs, rep *Report, prov Provenance) (Summary, error) {
	if err := os.MkdirAll(filepath.Join(dir, "stages"), 0o755); err != nil {
		return Summary{}, err
	}
	prov.Workload, prov.Seed, prov.Start, prov.End = rep.Workload, in.Seed, rep.Start, rep.End
	type file struct {
		name string
		data func() ([]byte, error)
	}
	files := []file{
		{"workload.cue", func() ([]byte, error) { return in.WorkloadCUE, nil }},
		{"workload.json", func() ([]byte, error) { return in.WorkloadJSON, nil }},
		{"plan.json", func() ([]byte, error) { return indent(in.Plan) }},
		{"provenance.json", func() ([]byte, error) { return indent(prov) }},
	}
	for _, sr := range rep.Stages {
		files = append(files, file{stageFile(sr.ID), func() ([]byte, error) { return indent(sr) }})
	}
	sum := Summarize(rep)
	files = append(files, file{"summary.json", func() ([]byte, error) { return indent(sum) }})
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return sum, fmt.Errorf("results: %s: %w", f.name, err)
		}
		if err := writeAtomic(filepath.Join(dir, f.name), data); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func stageFile(id string) string { return filepath.Join("stages", id+".json") }

// Load reads a finished results directory back into the report it was
// written from, in the plan's stage order; a directory without
// summary.json holds no finished result and is an error.
func Load(dir string) (*Report, error) {
	var sum Summary
	if err := readJSON(filepath.Join(dir, "summary.json"), &sum); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("results directory %s holds no finished result (no summary.json)", dir)
		}
		return nil, err
	}
	var plan struct {
		Stages []struct {
			ID string `json:"id"`
		} `json:"stages"`
	}
	if err := readJSON(filepath.Join(dir, "plan.json"), &plan); err != nil {
		return nil, err
	}
	rep := &Report{Workload: sum.Workload, Start: sum.Start, End: sum.End, Seconds: sum.Seconds, Complete: sum.Complete, Targets: sum.Targets}
	if sum.Error != "" {
		rep.Err = errors.New(sum.Error)
	}
	for _, s := range plan.Stages {
		sr := &StageReport{}
		if err := readJSON(filepath.Join(dir, stageFile(s.ID)), sr); err != nil {
			return nil, err
		}
		rep.Stages = append(rep.Stages, sr)
	}
	return rep, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("results: %s: %w", path, err)
	}
	return nil
}

func indent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// writeAtomic writes data under path through a temporary name. Whatever
// looks like a credential is hidden first: a results directory is made to
// be shared, and a secret a user typed where it does not belong must not
// travel with it.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, secret.RedactBytes(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
