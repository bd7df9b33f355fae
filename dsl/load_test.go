package dsl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A file outside the repository imports the shipped demo, served from the
// binary, and changes fields; the rest keeps the demo's values, and the
// schema's defaults fill what neither sets.
func TestImportShippedWorkload(t *testing.T) {
	p := write(t, t.TempDir(), "mine.cue", `package mine

import "mlps.dev/workloads:demo"

demo
name: "mine"
datasets: train: files: 8
stages: train: epochs: 3
`)
	w, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := w.Datasets["train"]
	if w.Name != "mine" || d.Files != 8 || d.RecordBytes != 4<<20 || d.Prefix != "img" || w.Seed != 1 {
		t.Errorf("workload %+v dataset %+v", w, d)
	}
	var spec struct {
		Common
		Epochs       int `json:"epochs"`
		Accelerators int `json:"accelerators"`
	}
	if err := json.Unmarshal(w.Stages["train"].raw, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Epochs != 3 || spec.Accelerators != 2 {
		t.Errorf("train stage %+v: want epochs 3 from the user, accelerators 2 from the demo", spec)
	}
}

// A misspelled field in a file that imports the demo is reported at the
// user's own line and column.
func TestImportedTypoPointsAtUser(t *testing.T) {
	p := write(t, t.TempDir(), "typo.cue", `package typo

import "mlps.dev/workloads:demo"

demo
datasets: train: filez: 8
`)
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), p+":6:18: datasets.train.filez: field not allowed") {
		t.Fatalf("got %v", err)
	}
	if !IsInputError(err) {
		t.Errorf("not classified as an input error: %T", err)
	}
}

func TestSetOverrides(t *testing.T) {
	demo := filepath.Join("..", "workloads", "demo.cue")
	tests := []struct {
		sets    []string
		check   func(*Workload) bool
		wantErr string
	}{
		{sets: []string{"datasets.train.files=16"}, check: func(w *Workload) bool { return w.Datasets["train"].Files == 16 }},
		{sets: []string{"targets.scratch.uri=file:///tmp/x"}, check: func(w *Workload) bool { return w.Targets["scratch"].URI == "file:///tmp/x" }},
		{sets: []string{`name="quoted"`, "seed=7"}, check: func(w *Workload) bool { return w.Name == "quoted" && w.Seed == 7 }},
		{sets: []string{"datasets.train.files=-1"}, wantErr: "datasets.train.files: invalid value -1 (out of bound >=1)"},
		{sets: []string{"datasets.train.filez=1"}, wantErr: "datasets.train.filez: field not allowed"},
		{sets: []string{"files"}, wantErr: "want field.path=value"},
		{sets: []string{"datasets..files=1"}, wantErr: "empty element"},
		{sets: []string{"stages.train.epochs = 3"}, check: func(w *Workload) bool {
			var spec struct{ Epochs int }
			return json.Unmarshal(w.Stages["train"].raw, &spec) == nil && spec.Epochs == 3
		}},
		// Several flags may build a new entry; one that lacks what the
		// entry needs says the entry does not exist.
		{sets: []string{"targets.fast.uri=mem://", "datasets.train.target=fast"}, check: func(w *Workload) bool { return w.Datasets["train"].Target == "fast" }},
		{sets: []string{"datasets.nosuch.files=5"}, wantErr: `--set[1] datasets.nosuch.files=5:1:1: datasets.nosuch: the workload has no dataset "nosuch" (datasets: train)`},
		{sets: []string{"stages.trian.epochs=5"}, wantErr: `stages.trian: the workload has no stage "trian" (stages: datagen, train); did you mean train?`},
		{sets: []string{"seed.x=1"}, wantErr: "seed.x: seed is an integer and has no fields; set it with --set seed=VALUE"},
		{sets: []string{"seed=="}, wantErr: `seed: "=" is a string; want an integer`},
		{sets: []string{"stages.train.epoch=3"}, wantErr: "stages.train.epoch: field not allowed; did you mean epochs?"},
		{sets: []string{"targets.scratch.uri=/mnt/nvme"}, wantErr: `targets.scratch.uri: invalid value "/mnt/nvme": a URI needs a scheme, such as file:///mnt/nvme`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.sets, " "), func(t *testing.T) {
			w, err := Load(demo, tt.sets)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !IsInputError(err) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(w) {
				t.Errorf("override not applied")
			}
		})
	}
}

func TestDataFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, src string }{
		{"w.yaml", "name: y\ntargets: {t: {uri: 'mem://'}}\ndatasets: {d: {target: t, format: npz, files: 2, record_bytes: 10}}\nstages: {g: {kind: generate, dataset: d}}\n"},
		{"w.json", `{"name": "j", "targets": {"t": {"uri": "mem://"}}, "datasets": {"d": {"target": "t", "format": "npz", "files": 2, "record_bytes": 10}}, "stages": {"g": {"kind": "generate", "dataset": "d"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Load(write(t, dir, tt.name, tt.src), nil)
			if err != nil {
				t.Fatal(err)
			}
			if w.Datasets["d"].Files != 2 || w.Datasets["d"].SamplesPerFile != 1 || w.Stages["g"].Kind != "generate" {
				t.Errorf("decoded %+v", w)
			}
		})
	}
}

func TestResolvedWorkloadExports(t *testing.T) {
	w, err := Load(filepath.Join("..", "workloads", "demo.cue"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.CUE()
	if err != nil || !strings.Contains(string(c), `uri: "tmp://"`) || strings.Contains(string(c), "*") {
		t.Errorf("resolved CUE (defaults must be resolved):\n%s\n%v", c, err)
	}
	j, err := w.JSON()
	if err != nil || !strings.Contains(string(j), `"record_bytes": 4194304`) {
		t.Errorf("resolved JSON:\n%s\n%v", j, err)
	}
}

// A YAML file on which cue's decoder panics (lone carriage returns, found
// by fuzzing the DLIO importer) is an input error naming the file, not a
// crash.
func TestYAMLDecoderPanicIsAnInputError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cr.yaml")
	if err := os.WriteFile(path, []byte("\r\r0"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "cr.yaml:1:1: ") || !strings.Contains(err.Error(), "YAML decoder cannot read this file") {
		t.Errorf("Load = %v; want an input error at cr.yaml:1:1 saying the decoder cannot read it", err)
	}
}
