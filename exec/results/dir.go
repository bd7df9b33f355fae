package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"mlps.dev/mlps/backends/secret"
)

// ownNames are the entries a results directory holds: what --force
// removes before a run writes into a directory that held an earlier
// result, so that no file of that result is read as this run's.
var ownNames = []string{"workload.cue", "workload.json", "plan.json", "provenance.json", "summary.json", "stages", "log.txt"}

// DirError is a results directory that cannot take this run's results:
// the user's to fix (another --results, --force, permissions, space)
// before any stage runs.
type DirError struct {
	Dir    string
	Reason string
}

func (e *DirError) Error() string { return "results directory " + e.Dir + ": " + e.Reason }

// CreateUnique creates a new directory named base, or base_2, base_3, ...
// when another run (in the same second, or before) took the name, and
// returns it. Mkdir is exclusive, so two runs started together never share
// one.
func CreateUnique(base string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", dirError(base, err)
	}
	for i := 1; i <= 1000; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s_%d", base, i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", dirError(dir, err)
		}
	}
	return "", &DirError{base, "a thousand runs already took this name; choose a directory with --results"}
}

// Claim makes dir this run's: it creates it, or takes an existing empty
// directory. A directory that holds anything is refused unless force,
// and then the files of an earlier result in it are removed first; other
// files stay.
func Claim(dir string, force bool) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return dirError(dir, err)
	}
	err := os.Mkdir(dir, 0o755)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return dirError(dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return dirError(dir, err)
	}
	if !fi.IsDir() {
		return &DirError{dir, "is a file, not a directory; name a new directory with --results"}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return dirError(dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if !force {
		var names []string
		for _, e := range entries[:min(3, len(entries))] {
			names = append(names, e.Name())
		}
		if len(entries) > 3 {
			names = append(names, "...")
		}
		what := "files of an earlier or unfinished run, or of something else"
		if slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() == "summary.json" }) {
			what = "a result (summary.json)"
		}
		return &DirError{dir, fmt.Sprintf("already holds %s: %s; results are written only into a new or empty directory: choose another with --results, or pass --force to remove an earlier result's files there and write into it",
			what, strings.Join(names, ", "))}
	}
	// --force removes only what an earlier run of mlps wrote, known by the
	// provenance.json it wrote first: a directory of the user's may hold
	// a stages/ or a plan.json of its own (a source tree given as
	// --results .), which no flag makes mlps delete.
	if !isResult(dir) {
		for _, name := range ownNames {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				return &DirError{dir, fmt.Sprintf("holds %s but no provenance.json of an mlps run, so --force will not remove it: choose another directory with --results", name)}
			}
		}
		return nil
	}
	for _, name := range ownNames {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return dirError(dir, err)
		}
	}
	return nil
}

// isResult says whether dir holds the provenance.json an mlps run writes
// before its first stage.
func isResult(dir string) bool {
	var p Provenance
	b, err := os.ReadFile(filepath.Join(dir, "provenance.json"))
	return err == nil && json.Unmarshal(b, &p) == nil && p.MlpsVersion != ""
}

func dirError(dir string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	reason := err.Error()
	switch {
	case errors.Is(err, fs.ErrPermission):
		reason += ": this user cannot write there; choose another directory with --results"
	case strings.Contains(reason, "not a directory"):
		reason += ": a file stands where a directory of the path should be; choose another directory with --results"
	default:
		reason += "; choose another directory with --results"
	}
	return &DirError{dir, reason}
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

// Begin writes what is known before the first stage runs into the
// directory Claim or CreateUnique gave this run: the inputs and the
// provenance. Writing them proves the directory writable before anything
// is measured, and leaves a killed run's directory saying what ran; the
// absence of summary.json says it did not finish. Its errors are
// DirErrors.
func Begin(dir string, in Inputs, prov Provenance) error {
	// Exclusive, so of two runs given one empty directory only one
	// proceeds.
	if err := os.Mkdir(filepath.Join(dir, "stages"), 0o755); errors.Is(err, fs.ErrExist) {
		return &DirError{dir, "another run began writing here at the same time; choose another directory with --results"}
	} else if err != nil {
		return dirError(dir, err)
	}
	files := []file{
		{"workload.cue", func() ([]byte, error) { return in.WorkloadCUE, nil }},
		{"workload.json", func() ([]byte, error) { return in.WorkloadJSON, nil }},
		{"plan.json", func() ([]byte, error) { return indent(in.Plan) }},
		{"provenance.json", func() ([]byte, error) { return indent(prov) }},
	}
	if err := writeFiles(dir, files); err != nil {
		var de *DirError
		if errors.As(err, &de) {
			return err
		}
		return dirError(dir, err)
	}
	return nil
}

// OpenLog creates the run's log.txt in dir, begun by Begin: what mlps
// exec prints on stderr for the run (warnings, plain progress lines,
// errors) and the summary table, with anything that looks like a
// credential hidden, as in every file of the directory.
func OpenLog(dir string) (*os.File, io.Writer, error) {
	f, err := os.OpenFile(filepath.Join(dir, "log.txt"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, dirError(dir, err)
	}
	return f, secret.Writer(f), nil
}

// WriteStage writes one stage's report, as exec does when the stage
// ends, so that a run killed later keeps it.
func WriteStage(dir string, sr *StageReport) error {
	data, err := indent(sr)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, stageFile(sr.ID)), data)
}

// Write finishes the results directory Begin started: the provenance
// with the run's times, one file per stage, and summary.json last, so a
// directory with a summary is a finished write. Each file is written to
// a temporary name and renamed into place.
func Write(dir string, rep *Report, prov Provenance) (Summary, error) {
	prov.Workload, prov.Start, prov.End = rep.Workload, rep.Start, rep.End
	files := []file{{"provenance.json", func() ([]byte, error) { return indent(prov) }}}
	for _, sr := range rep.Stages {
		files = append(files, file{stageFile(sr.ID), func() ([]byte, error) { return indent(sr) }})
	}
	sum := Summarize(rep)
	files = append(files, file{"summary.json", func() ([]byte, error) { return indent(sum) }})
	return sum, writeFiles(dir, files)
}

type file struct {
	name string
	data func() ([]byte, error)
}

func writeFiles(dir string, files []file) error {
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return fmt.Errorf("results: %s: %w", f.name, err)
		}
		if err := writeAtomic(filepath.Join(dir, f.name), data); err != nil {
			return err
		}
	}
	return nil
}

// stageID is what the schema allows as a stage name (#Name).
var stageID = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

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
	rep := &Report{Workload: sum.Workload, Start: sum.Start, End: sum.End, Seconds: sum.Seconds, Complete: sum.Complete, GoMaxProcs: sum.GoMaxProcs, Targets: sum.Targets, Skipped: sum.Skipped, Hosts: sum.Hosts}
	if sum.Error != "" {
		rep.Err = errors.New(sum.Error)
	}
	for _, s := range plan.Stages {
		// A stage id is a workload field name; anything else (a path
		// such as ../../x) would read outside the directory.
		if !stageID.MatchString(s.ID) {
			return nil, fmt.Errorf("results: %s: stage id %q is not a stage name", filepath.Join(dir, "plan.json"), s.ID)
		}
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

// writeAtomic writes data to a temporary name, syncs it and renames it
// into place, so that a reader (or a run killed meanwhile) sees the old
// file or the new one, never half of one. Whatever looks like a
// credential is hidden first: a results directory is made to be shared,
// and a secret a user typed where it does not belong must not travel
// with it.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(secret.RedactBytes(data))
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
