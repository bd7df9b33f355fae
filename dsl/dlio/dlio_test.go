package dlio_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/dsl/dlio"
	"mlps.dev/mlps/planner"
	_ "mlps.dev/mlps/stages/all"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// base is where relative data folders resolve in these tests.
const base = "/srv/mlps"

func convertFile(t *testing.T, path string, opts dlio.Options) *dlio.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if opts.BaseDir == "" {
		opts.BaseDir = base
	}
	r, err := dlio.Convert(path, data, opts)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return r
}

func warningLines(r *dlio.Result) string {
	var b strings.Builder
	for _, w := range r.Warnings {
		b.WriteString(w.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// load writes the converted workload to a file of its own and loads it
// as mlps plan does: a standalone workload the schema accepts.
func load(t *testing.T, src []byte) *dsl.Workload {
	t.Helper()
	path := filepath.Join(t.TempDir(), "converted.cue")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := dsl.Load(path, nil)
	if err != nil {
		t.Fatalf("dsl.Load of the converted workload: %v\n%s", err, src)
	}
	return w
}

// readEpoch is the part of schema.#ReadEpoch the tests look at.
type readEpoch struct {
	Kind            string          `json:"kind"`
	Dataset         string          `json:"dataset"`
	Epochs          int             `json:"epochs"`
	Accelerators    int             `json:"accelerators"`
	BatchSize       int64           `json:"batch_size"`
	ReadThreads     int             `json:"read_threads"`
	PrefetchSize    int             `json:"prefetch_size"`
	ComputationTime json.RawMessage `json:"computation_time"`
	FileShuffle     string          `json:"file_shuffle"`
	SampleShuffle   string          `json:"sample_shuffle"`
	AUMinimum       float64         `json:"au_minimum"`
}

func stage(t *testing.T, w *dsl.Workload, id string) readEpoch {
	t.Helper()
	st, ok := w.Stages[id]
	if !ok {
		t.Fatalf("no stage %s (stages: %v)", id, w.StageIDs())
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var s readEpoch
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The MLPerf Storage configurations convert to workloads that load and
// plan with the reference numbers, and the output and the warnings match
// their golden files.
func TestConvertReference(t *testing.T) {
	type want struct {
		name                          string
		format                        string
		files, samples, rec, recStdev int64
		batch                         int64
		threads, epochs               int
		compute                       string
		au                            float64
		fileShuffle, sampleShuffle    string
		uri                           string
	}
	for _, tc := range []struct {
		file string
		want want
	}{
		{"unet3d_h100", want{
			name: "unet3d", format: "npz", files: 168, samples: 1, rec: 146600628, recStdev: 68341808,
			batch: 7, threads: 4, epochs: 5, compute: "0.323", au: 0.90,
			fileShuffle: "seed", sampleShuffle: "seed", uri: "file:///srv/mlps/data/unet3d",
		}},
		{"resnet50_h100", want{
			name: "resnet50", format: "tfrecord", files: 1024, samples: 1251, rec: 114660, recStdev: 0,
			batch: 400, threads: 8, epochs: 5, compute: "0.224", au: 0.90,
			fileShuffle: "off", sampleShuffle: "off", uri: "file:///srv/mlps/data/resnet50",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := convertFile(t, filepath.Join("testdata", "dlio", tc.file+".yaml"), dlio.Options{})
			golden(t, filepath.Join("testdata", tc.file+".cue.golden"), r.CUE)
			golden(t, filepath.Join("testdata", tc.file+".warnings.golden"), []byte(warningLines(r)))

			w := load(t, r.CUE)
			// Planning is the proof that mlps accepts the workload; the
			// values checked below are those of the planned workload.
			p, err := planner.Compile(w)
			if err != nil {
				t.Fatalf("planner.Compile of the converted workload: %v", err)
			}
			w = p.Workload
			g := tc.want
			if w.Name != g.name {
				t.Errorf("name %q, want %q", w.Name, g.name)
			}
			if u := w.Targets["data"].URI; u != g.uri {
				t.Errorf("target uri %q, want %q", u, g.uri)
			}
			d := w.Datasets["train"]
			if d.Path != "train" || d.Format != g.format || d.Files != g.files || d.SamplesPerFile != g.samples ||
				d.RecordBytes != g.rec || d.RecordBytesStdev != g.recStdev {
				t.Errorf("dataset train: %+v\nwant path train, format %s, %d files, %d samples per file, record_bytes %d, stdev %d",
					d, g.format, g.files, g.samples, g.rec, g.recStdev)
			}
			s := stage(t, w, "train")
			if s.Kind != "read-epoch" || s.Dataset != "train" || s.BatchSize != g.batch || s.ReadThreads != g.threads ||
				s.Epochs != g.epochs || string(s.ComputationTime) != g.compute || s.AUMinimum != g.au ||
				s.FileShuffle != g.fileShuffle || s.SampleShuffle != g.sampleShuffle || s.Accelerators != 1 || s.PrefetchSize != 2 {
				t.Errorf("stage train: %+v\nwant batch %d, %d read threads, %d epochs, computation_time %s, au %g, shuffles %s/%s, 1 accelerator, prefetch 2",
					s, g.batch, g.threads, g.epochs, g.compute, g.au, g.fileShuffle, g.sampleShuffle)
			}
			if len(p.Nodes) != 1 || p.Nodes[0].ID != "train" || p.Work().ReadBytes == 0 {
				t.Errorf("plan: want the one read-epoch stage train reading bytes, got %d nodes", len(p.Nodes))
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// --accelerators sets the read-epoch stage's accelerators.
func TestAccelerators(t *testing.T) {
	r := convertFile(t, filepath.Join("testdata", "dlio", "unet3d_h100.yaml"), dlio.Options{Accelerators: 8})
	if s := stage(t, load(t, r.CUE), "train"); s.Accelerators != 8 {
		t.Errorf("accelerators %d, want 8", s.Accelerators)
	}
}

// Each case converts a small DLIO workload; the output must load, and
// the fields named hold the CUE values given, while the warnings name the
// fields given (file:line:col: path: not mapped: ...).
func TestConvertCases(t *testing.T) {
	const minimal = "model:\n  name: m\ndataset:\n  format: npz\n  num_files_train: 64\n  record_length_bytes: 4096\n"
	for _, tc := range []struct {
		name string
		yaml string
		// fields maps a path in the converted workload to its value in
		// CUE syntax; "-" means the field is absent.
		fields map[string]string
		// warnings are substrings of the warning lines, in order; every
		// warning must be listed.
		warnings []string
	}{
		{
			name: "defaults of DLIO are spelt out",
			yaml: "workflow:\n  train: true\n",
			fields: map[string]string{
				"name":                            `"cfg"`,
				"datasets.train.format":           `"tfrecord"`,
				"datasets.train.files":            "8",
				"datasets.train.samples_per_file": "1",
				"datasets.train.record_bytes":     "65536",
				"targets.data.uri":                `"file:///srv/mlps/data"`,
				"stages.train.prefetch_size":      "2",
				"stages.train.au_minimum":         "0.9",
				"stages.datagen":                  "-",
			},
		},
		{
			name: "older DLIO field names",
			yaml: "model: old\ndataset:\n  format: npz\n  record_length: 1000.4\n  record_length_stdev: 10\n  record_length_resize: 5\n",
			fields: map[string]string{
				"name":                              `"old"`,
				"datasets.train.record_bytes":       "1000",
				"datasets.train.record_bytes_stdev": "10",
			},
			warnings: []string{"cfg.yaml:6:3: dataset.record_length_resize: not mapped: DLIO reshapes"},
		},
		{
			name: "record_dims give the record length",
			yaml: "dataset:\n  format: npy\n  record_dims: [128, 128, 4]\n  record_element_type: float32\n  record_length_bytes: 9\n",
			fields: map[string]string{
				"datasets.train.format":       `"npy"`,
				"datasets.train.record_bytes": "262144",
			},
			warnings: []string{"cfg.yaml:5:3: dataset.record_length_bytes: not mapped: record_dims gives the record size"},
		},
		{
			name: "generate, evaluate, seed, subfolders, prefix and the reader",
			yaml: minimal + "  num_files_eval: 8\n  num_subfolders_train: 4\n  num_subfolders_eval: 2\n  file_prefix: sample\n" +
				"workflow:\n  generate_data: yes\n  evaluation: True\n" +
				"reader:\n  batch_size: 4\n  batch_size_eval: 2\n  read_threads: 0\n  prefetch_size: 6\n  transfer_size: 262144\n  odirect: true\n  file_shuffle: random\n  sample_shuffle: off\n" +
				"train:\n  seed: 42\n  epochs: 4\n  total_training_steps: 100\n" +
				"evaluation:\n  eval_time: 0.5\n  eval_after_epoch: 2\n  epochs_between_evals: 2\n" +
				"output:\n  folder: out\n  metric:\n    exclude_start_steps: 2\n    exclude_end_steps: 1\n",
			fields: map[string]string{
				"seed":                                     "42",
				"datasets.train.subfolders":                "4",
				"datasets.train.prefix":                    `"sample"`,
				"datasets.valid.path":                      `"valid"`,
				"datasets.valid.files":                     "8",
				"datasets.valid.subfolders":                "2",
				"datasets.valid.prefix":                    `"sample"`,
				"stages.datagen.dataset":                   `"train"`,
				"stages.\"datagen-valid\".dataset":         `"valid"`,
				"stages.train.batch_size":                  "4",
				"stages.train.read_threads":                "1",
				"stages.train.prefetch_size":               "6",
				"stages.train.transfer_bytes":              "262144",
				"stages.train.odirect":                     "true",
				"stages.train.file_shuffle":                `"random"`,
				"stages.train.sample_shuffle":              `"off"`,
				"stages.train.epochs":                      "4",
				"stages.train.exclude_start_steps":         "2",
				"stages.train.exclude_end_steps":           "1",
				"stages.train.evaluation.dataset":          `"valid"`,
				"stages.train.evaluation.batch_size":       "2",
				"stages.train.evaluation.computation_time": "0.5",
				"stages.train.evaluation.after_epoch":      "2",
				"stages.train.evaluation.every":            "2",
			},
			warnings: []string{
				"reader.read_threads: not mapped: 0 makes DLIO load in the training process",
				"train.total_training_steps: not mapped: mlps reads whole epochs",
				"output.folder: not mapped: mlps exec writes its results to --results DIR",
			},
		},
		{
			name: "computation_time with a separate stdev is a normal distribution",
			yaml: minimal + "train:\n  computation_time: 0.2\n  computation_time_stdev: 0.05\n",
			fields: map[string]string{
				"stages.train.computation_time": `{type: "normal", mean: 0.2, stdev: 0.05, min: 0}`,
			},
		},
		{
			name: "computation_time distributions",
			yaml: minimal + "train:\n  computation_time:\n    type: uniform\n    min: 0.1\n    max: 0.3\n" +
				"evaluation:\n  eval_time: {type: gamma, shape: 4, scale: 0.05, mean: 9}\n" +
				"workflow:\n  evaluation: false\n",
			fields: map[string]string{
				"stages.train.computation_time.type": `"uniform"`,
				"stages.train.computation_time.mean": "0.2",
				"stages.train.evaluation":            "-",
			},
			warnings: []string{
				"evaluation.eval_time.type: not mapped: workflow.evaluation is off",
				"evaluation.eval_time.shape: not mapped: workflow.evaluation is off",
				"evaluation.eval_time.scale: not mapped: workflow.evaluation is off",
				"evaluation.eval_time.mean: not mapped: workflow.evaluation is off",
			},
		},
		{
			name: "gamma, exponential and poisson distributions",
			yaml: minimal + "  num_files_eval: 4\nworkflow:\n  evaluation: true\n" +
				"train:\n  computation_time: {type: gamma, shape: 4, scale: 0.05}\n" +
				"evaluation:\n  eval_time: {type: poisson, lam: 4, stdev: 1}\n",
			fields: map[string]string{
				"stages.train.computation_time.type":             `"gamma"`,
				"stages.train.computation_time.mean":             "0.2",
				"stages.train.computation_time.stdev":            "0.1",
				"stages.train.evaluation.computation_time.type":  `"poisson"`,
				"stages.train.evaluation.computation_time.mean":  "4",
				"stages.train.evaluation.computation_time.stdev": "2",
			},
			warnings: []string{"evaluation.eval_time.stdev: not mapped: DLIO's poisson distribution does not use it"},
		},
		{
			name: "tensorflow's shuffle buffer",
			yaml: "framework: tensorflow\ndataset:\n  num_files_train: 16\nreader:\n  sample_shuffle: seed\n",
			fields: map[string]string{
				"stages.train.shuffle_size":   "1024",
				"stages.train.sample_shuffle": `"seed"`,
			},
			warnings: []string{"cfg.yaml:1:1: framework: not mapped"},
		},
		{
			name: "pytorch ignores shuffle_size",
			yaml: "framework: pytorch\ndataset:\n  num_files_train: 16\nreader:\n  data_loader: pytorch\n  sample_shuffle: seed\n  shuffle_size: 64\n",
			fields: map[string]string{
				"stages.train.shuffle_size": "-",
			},
			warnings: []string{
				"framework: not mapped",
				"reader.data_loader: not mapped",
				"cfg.yaml:7:3: reader.shuffle_size: not mapped: only DLIO's tensorflow loader shuffles within a buffer",
			},
		},
		{
			name: "s3 storage stays on file:// and is reported",
			yaml: "storage:\n  storage_type: s3\n  storage_root: bucket\n  storage_options:\n    endpoint_url: http://minio:9000\n" + minimal,
			fields: map[string]string{
				"targets.data.uri": `"file:///srv/mlps/data"`,
			},
			warnings: []string{
				"cfg.yaml:2:3: storage.storage_type: not mapped: mlps has no s3 backend yet",
				"cfg.yaml:3:3: storage.storage_root: not mapped: it names the bucket",
				"cfg.yaml:5:5: storage.storage_options.endpoint_url: not mapped",
			},
		},
		{
			name: "a local storage_root and an absolute data folder",
			yaml: "storage:\n  storage_type: local_fs\n  storage_root: /mnt/nvme\ndataset:\n  data_folder: unet3d/\n  num_files_train: 16\n",
			fields: map[string]string{
				"targets.data.uri": `"file:///mnt/nvme/unet3d"`,
			},
		},
		{
			name: "misspelt and unknown fields",
			yaml: minimal + "train:\n  epoch: 5\n  cmoputation_time: 1\nmystery: 1\n",
			fields: map[string]string{
				"stages.train.epochs": "1",
			},
			warnings: []string{
				"cfg.yaml:8:3: train.epoch: not mapped: not a DLIO field mlps import knows (DLIO ignores fields it does not read); did you mean train.epochs?",
				"train.cmoputation_time: not mapped: not a DLIO field mlps import knows (DLIO ignores fields it does not read); did you mean train.computation_time?",
				"cfg.yaml:10:1: mystery: not mapped: not a DLIO field",
			},
		},
		{
			name: "a model of model_size bytes is checkpointed between epochs",
			yaml: "model:\n  name: m\n  model_size: 499153191\ndataset:\n  format: npz\n  num_files_train: 64\n  record_length_bytes: 4096\n" +
				"workflow:\n  checkpoint: true\ncheckpoint:\n  checkpoint_folder: ckpt/unet3d\n  checkpoint_after_epoch: 5\n" +
				"  epochs_between_checkpoints: 2\n  steps_between_checkpoints: 100\n  rank_sync: true\n",
			fields: map[string]string{
				"targets.ckpt.uri":                    `"file://` + filepath.ToSlash(filepath.Join(base, "ckpt")) + `"`,
				"stages.train.checkpoint.target":      `"ckpt"`,
				"stages.train.checkpoint.path":        `"unet3d"`,
				"stages.train.checkpoint.model_bytes": "499153191",
				"stages.train.checkpoint.after_epoch": "5",
				"stages.train.checkpoint.every":       "2",
				"stages.train.checkpoint.fsync":       "false",
				"stages.checkpoint":                   "-",
			},
			warnings: []string{
				"cfg.yaml:14:3: checkpoint.steps_between_checkpoints: not mapped: mlps checkpoints at the end of epochs",
				"cfg.yaml:15:3: checkpoint.rank_sync: not mapped: mlps saves every rank's own files",
			},
		},
		{
			name: "a transformer becomes a checkpoint stage",
			yaml: "model:\n  name: llama_8b\n  type: transformer\n  num_layers: 32\n  parallelism:\n    tensor: 1\n    pipeline: 1\n    zero_stage: 3\n" +
				"    data: 8\n  transformer:\n    vocab_size: 128256\n    hidden_size: 4096\n    ffn_hidden_size: 14336\n" +
				"    num_attention_heads: 32\n    num_kv_heads: 8\nworkflow:\n  generate_data: false\n  train: false\n  checkpoint: true\n" +
				"checkpoint:\n  checkpoint_folder: checkpoints/llama_8b\n  time_between_checkpoints: 5\n  num_checkpoints_write: 10\n" +
				"  num_checkpoints_read: 10\n  fsync: true\n",
			fields: map[string]string{
				"targets.ckpt.uri":                   `"file://` + filepath.ToSlash(filepath.Join(base, "checkpoints")) + `"`,
				"targets.data":                       "-",
				"datasets":                           "{}",
				"stages.checkpoint.kind":             `"checkpoint"`,
				"stages.checkpoint.path":             `"llama_8b"`,
				"stages.checkpoint.model.layers":     "32",
				"stages.checkpoint.model.hidden":     "4096",
				"stages.checkpoint.model.kv_heads":   "8",
				"stages.checkpoint.parallelism.data": "8",
				"stages.checkpoint.parallelism.zero": "3",
				"stages.checkpoint.ranks":            "1",
				"stages.checkpoint.writes":           "10",
				"stages.checkpoint.pause":            "5",
				"stages.checkpoint.fsync":            "true",
			},
		},
		{
			name: "generate only",
			yaml: minimal + "workflow:\n  generate_data: true\n  train: false\nreader:\n  batch_size: 4\n",
			fields: map[string]string{
				"stages.datagen.kind": `"generate"`,
				"stages.train":        "-",
			},
			warnings: []string{"reader.batch_size: not mapped: workflow.train is off"},
		},
		{
			name: "DLIO's saved hydra config nests the workload",
			yaml: "workload:\n  model:\n    name: nested\n  dataset:\n    num_files_train: 16\n  train:\n    epoch: 2\n",
			fields: map[string]string{
				"name": `"nested"`,
			},
			warnings: []string{"cfg.yaml:7:5: train.epoch: not mapped"},
		},
		{
			name: "parquet without columns is one binary column",
			yaml: "dataset:\n  format: parquet\n  num_files_train: 16\n  num_samples_per_file: 128\n  record_length_bytes: 512\n",
			fields: map[string]string{
				"datasets.train.parquet.columns": `[{name: "data", type: "bytes", width: 512, elements: 1, repeat: 1}]`,
			},
		},
		{
			name: "parquet columns",
			yaml: "dataset:\n  format: parquet\n  num_files_train: 16\n  num_samples_per_file: 128\n  parquet:\n    row_group_size: 64\n    columns:\n" +
				"      - {name: label, dtype: float32, size: 1, read: true}\n      - {name: features, dtype: float64, size: 16, read: false}\n",
			fields: map[string]string{
				"datasets.train.record_bytes":           "132",
				"datasets.train.parquet.row_group_rows": "64",
				"stages.train.columns":                  `["label"]`,
			},
		},
		{
			name: "model names are made valid",
			yaml: "model:\n  name: Llama3.1-8B\ndataset:\n  num_files_train: 16\n",
			fields: map[string]string{
				"name": `"llama3-1-8b"`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cfg.yaml")
			r, err := dlio.Convert(path, []byte(tc.yaml), dlio.Options{BaseDir: base})
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			w := load(t, r.CUE)
			if _, err := planner.Compile(w); err != nil && !strings.Contains(err.Error(), "not supported yet") {
				t.Errorf("planner.Compile: %v\n%s", err, r.CUE)
			}
			// Look the fields up in the resolved workload, defaults filled.
			resolved, err := w.CUE()
			if err != nil {
				t.Fatal(err)
			}
			v := cuecontext.New().CompileBytes(resolved)
			for p, want := range tc.fields {
				f := v.LookupPath(cue.ParsePath(p))
				if want == "-" {
					if f.Exists() {
						t.Errorf("%s = %v, want it absent", p, f)
					}
					continue
				}
				wv := cuecontext.New().CompileString(want)
				if !f.Exists() {
					t.Errorf("%s missing, want %s\n%s", p, want, r.CUE)
				} else if err := f.Subsume(wv); err != nil || wv.Subsume(f) != nil {
					t.Errorf("%s = %v, want %s", p, f, want)
				}
			}
			got := strings.ReplaceAll(warningLines(r), path, "cfg.yaml")
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if got == "" {
				lines = nil
			}
			if len(lines) != len(tc.warnings) {
				t.Errorf("%d warnings, want %d:\n%s", len(lines), len(tc.warnings), got)
			}
			for i := range min(len(lines), len(tc.warnings)) {
				if !strings.Contains(lines[i], tc.warnings[i]) {
					t.Errorf("warning %d:\n%s\nwant it to contain:\n%s", i, lines[i], tc.warnings[i])
				}
			}
		})
	}
}

// Input that cannot be converted is an input error at file:line:col.
func TestConvertErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"syntax error", "model:\n  name: unet3d\ndataset:\n  format: npz\n   num_files_train: 168\n",
			"cfg.yaml:5:4: invalid YAML: "},
		{"unclosed flow", "dataset:\n  record_dims: [1, 2\n  format: npz\n",
			"cfg.yaml:2:3: invalid YAML: "},
		{"tab indentation", "dataset:\n\tformat: npz\n", "cfg.yaml:2:1: invalid YAML: "},
		{"unknown format", "dataset:\n  format: nzp\n  num_files_train: 8\n",
			`cfg.yaml:2:11: dataset.format: unknown format "nzp" (DLIO formats: csv, hdf5, hdf5_opt, indexed_binary, jpeg, mmap_indexed_binary, npy, npz, parquet, png, synthetic, tfrecord)`},
		{"format without an mlps equivalent", "dataset:\n  format: csv\n",
			`cfg.yaml:2:11: dataset.format: format "csv" has no mlps equivalent (mlps formats: hdf5, jpeg, npy, npz, parquet, png, tfrecord)`},
		{"synthetic", "dataset:\n  format: synthetic\n", "cfg.yaml:2:11: dataset.format: format synthetic reads no files"},
		{"negative batch", "reader:\n  batch_size: -4\n", "cfg.yaml:2:15: reader.batch_size: -4 is out of range: want 1 to 1099511627776"},
		{"fractional epochs", "train:\n  epochs: 2.5\n", "cfg.yaml:2:11: train.epochs: want a whole number, got the number 2.5"},
		{"shuffle", "reader:\n  file_shuffle: sometimes\n", `cfg.yaml:2:17: reader.file_shuffle: want off, seed or random, got the string "sometimes"`},
		{"au as a percentage", "metric:\n  au: 90\n", "cfg.yaml:2:7: metric.au: 90 is out of range: want 0 to 1"},
		{"distribution", "train:\n  computation_time: {type: weibull, mean: 1}\n", `cfg.yaml:2:28: train.computation_time.type: unknown distribution "weibull"`},
		{"section not a mapping", "dataset: npz\n", `cfg.yaml:1:10: dataset: want a mapping of dataset fields, got the string "npz"`},
		{"not a mapping", "- a\n- b\n", "cfg.yaml:1:1: a DLIO workload is a YAML mapping"},
		{"empty", "# nothing\n", "cfg.yaml:1:1: empty DLIO workload"},
		{"duplicate key", "dataset:\n  format: npz\n  format: npy\n", "cfg.yaml:3:3: dataset.format: duplicate key; first written at line 2"},
		{"nothing to do", "workflow:\n  train: false\n", "cfg.yaml:1:1: workflow: nothing to convert"},
		{"checkpoint of an unknown size", "workflow:\n  train: false\n  checkpoint: true\n",
			"cfg.yaml:3:15: workflow.checkpoint: workflow.checkpoint is on without training, but the model is not a transformer"},
		{"replicas of a transformer", "model:\n  type: transformer\n  num_layers: 2\n  parallelism:\n    tensor: 3\n  transformer:\n" +
			"    vocab_size: 100\n    hidden_size: 64\n    ffn_hidden_size: 128\n    num_attention_heads: 4\n" +
			"workflow:\n  train: false\n  checkpoint: true\n",
			"cfg.yaml:2:3: model: mpirun -np (--accelerators 1) is not a multiple of tensor × pipeline = 3"},
		{"bad prefix", "dataset:\n  file_prefix: ../x\n", `cfg.yaml:2:16: dataset.file_prefix: file prefix "../x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cfg.yaml")
			_, err := dlio.Convert(path, []byte(tc.yaml), dlio.Options{BaseDir: base})
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !dsl.IsInputError(err) {
				t.Errorf("%v: not an input error", err)
			}
			got := strings.ReplaceAll(err.Error(), path, "cfg.yaml")
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("error:\n%s\nwant it to start with:\n%s", got, tc.want)
			}
		})
	}
}
