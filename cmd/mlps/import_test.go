package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const unet3dYAML = "../../dsl/dlio/testdata/dlio/unet3d_h100.yaml"

var notMapped = regexp.MustCompile(`^(.+\.yaml):(\d+):(\d+): ([a-z_.]+): not mapped: .+$`)

// mlps import dlio prints a workload that mlps plan accepts, and one
// warning per DLIO field it does not map, at the field's line and column.
func TestImportDLIO(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"import", "dlio", unet3dYAML, "--accelerators", "2"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var fields []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		m := notMapped.FindStringSubmatch(l)
		if m == nil || m[1] != unet3dYAML {
			t.Errorf("stderr line %q is not %s:LINE:COL: FIELD: not mapped: REASON", l, unet3dYAML)
			continue
		}
		fields = append(fields, m[4])
	}
	for _, f := range []string{"dataset.record_length_bytes_resize", "checkpoint.checkpoint_after_epoch", "model.model_size"} {
		if !strings.Contains(strings.Join(fields, " "), f) {
			t.Errorf("no warning for %s; warned about %v", f, fields)
		}
	}
	wd, _ := os.Getwd()
	if want := `"file://` + filepath.ToSlash(filepath.Join(wd, "data", "unet3d")) + `"`; !strings.Contains(stdout.String(), want) {
		t.Errorf("the relative data folder is not resolved against the working directory: want %s in\n%s", want, stdout.String())
	}

	wl := filepath.Join(t.TempDir(), "unet3d.cue")
	if err := os.WriteFile(wl, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"plan", wl, "--format", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("plan of the imported workload: exit %d: %s", code, stderr.String())
	}
	var plan struct {
		Workload string `json:"workload"`
		Stages   []struct {
			ID       string `json:"id"`
			Kind     string `json:"kind"`
			Describe string `json:"describe"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &plan); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, stdout.String())
	}
	if plan.Workload != "unet3d" || len(plan.Stages) != 1 || plan.Stages[0].Kind != "read-epoch" ||
		!strings.Contains(plan.Stages[0].Describe, "5 epochs: 2 accelerators × 12 steps of batch 7, 4 read threads") {
		t.Errorf("plan %+v", plan)
	}
}

// A DLIO workload that generates its data, trains and evaluates runs end
// to end once imported: the data lands in DLIO's {data_folder}/train and
// {data_folder}/valid.
func TestImportedDLIORuns(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data", "tiny")
	cfg := filepath.Join(dir, "tiny.yaml")
	src := `model:
  name: tiny
framework: pytorch
workflow:
  generate_data: True
  train: True
  evaluation: True
dataset:
  data_folder: ` + data + `/
  format: npz
  num_files_train: 8
  num_files_eval: 4
  num_samples_per_file: 2
  record_length_bytes: 4096
reader:
  data_loader: pytorch
  batch_size: 2
  batch_size_eval: 2
  read_threads: 2
  file_shuffle: seed
  sample_shuffle: seed
train:
  epochs: 2
  computation_time: 0
evaluation:
  eval_time: 0
`
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"import", "dlio", cfg}, &stdout, &stderr); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "would reject") {
		t.Errorf("import: %s", stderr.String())
	}
	wl := filepath.Join(dir, "tiny.cue")
	if err := os.WriteFile(wl, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	results := filepath.Join(dir, "results")
	if code := run([]string{"exec", wl, "--results", results, "--json", "--progress", "none"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exec: exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if sum["epochs"] != 2.0 {
		t.Errorf("summary %v", sum)
	}
	for sub, want := range map[string]int{"train": 8, "valid": 4} {
		files, _ := filepath.Glob(filepath.Join(data, sub, "*.npz"))
		if len(files) != want {
			t.Errorf("%s/%s holds %d npz files, want %d", data, sub, len(files), want)
		}
	}
}

// Input that cannot be converted exits 2 with file:line:col and prints
// nothing on stdout; so do bad command lines.
func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	syntax := write("syntax.yaml", "dataset:\n  format: npz\n   num_files_train: 8\n")
	format := write("format.yaml", "dataset:\n  format: nzp\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"syntax error", []string{"import", "dlio", syntax}, syntax + ":3:4: invalid YAML: "},
		{"unknown format", []string{"import", "dlio", format}, format + `:2:11: dataset.format: unknown format "nzp"`},
		{"missing file", []string{"import", "dlio", filepath.Join(dir, "nope.yaml")}, "mlps import dlio: cannot read "},
		{"no source", []string{"import"}, "mlps import: want a source format"},
		{"unknown source", []string{"import", "tfds", format}, `mlps import: unknown source format "tfds"`},
		{"no file", []string{"import", "dlio"}, "mlps import dlio: want one workload, got 0 arguments"},
		{"bad accelerators", []string{"import", "dlio", format, "--accelerators", "0"}, "mlps import dlio: --accelerators 0: want 1 to 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.HasPrefix(stderr.String(), tc.want) {
				t.Errorf("stderr:\n%s\nwant it to start with:\n%s", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
		})
	}
}
