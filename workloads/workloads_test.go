package workloads_test

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/kvcache"
	"mlps.dev/mlps/workloads"
)

// shrink holds, per model, the --set overrides that make its workloads
// small enough to run in a test: few files, small records, a short epoch.
// Everything else (format, layout, shuffles, columns) stays as shipped.
var shrink = map[string][]string{
	"unet3d": {"datasets.train.files=8", "datasets.train.record_bytes=65536", "datasets.train.record_bytes_stdev=8192",
		"stages.train.batch_size=2", "stages.train.epochs=2"},
	"resnet50": {"datasets.train.files=4", "datasets.train.samples_per_file=20", "datasets.train.record_bytes=1000",
		"stages.train.batch_size=10"},
	"cosmoflow": {"datasets.train.files=16", "datasets.train.record_bytes=20000", "datasets.train.record_bytes_stdev=1000",
		"datasets.train.subfolders=2"},
	"retinanet": {"datasets.train.files=32", "datasets.train.record_bytes=20000", "datasets.train.subfolders=2",
		"stages.train.batch_size=4", "stages.train.epochs=2"},
	"dlrm": {"datasets.train.files=4", "datasets.train.samples_per_file=1000", "datasets.train.parquet.row_group_rows=256",
		"stages.train.batch_size=500"},
	"flux": {"datasets.train.files=6", "datasets.train.samples_per_file=2", "stages.train.batch_size=2"},
}

// Every shipped training workload plans at full size, and runs shrunk: two
// accelerators, every byte verified against the generator.
func TestShippedWorkloads(t *testing.T) {
	files, err := fs.Glob(workloads.Files, "*/*.cue")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, f := range files {
		model, accel := path.Dir(f), strings.TrimSuffix(path.Base(f), ".cue")
		if accel == model || model == "llama3" || model == "vectordb" || model == "kvcache" || f == "dlrm/query.cue" {
			continue // the model's shared definitions; checkpointing, vector search, KV cache and queries have their own tests
		}
		ran++
		t.Run(model+"/"+accel, func(t *testing.T) {
			sets, ok := shrink[model]
			if !ok {
				t.Fatalf("no shrink overrides for model %s: add them to this test", model)
			}
			full := exectest.PlanFile(t, f)
			if n := full.Workload.Name; n != model+"-"+accel {
				t.Errorf("name %q, want %s-%s", n, model, accel)
			}
			sets = append(sets, "stages.train.accelerators=2", "stages.train.computation_time=0.001", "stages.train.verify=true")
			p := exectest.PlanFile(t, f, sets...)
			rep := exec.Run(context.Background(), p, exec.Options{})
			if !rep.Complete {
				t.Fatalf("run incomplete: %v", rep.Err)
			}
			train := rep.Stages[len(rep.Stages)-1]
			m := train.Metrics
			if got := m["train_bytes_read"].(int64); got == 0 || got != train.Measured.Bytes {
				t.Errorf("train_bytes_read %d, measured %d", got, train.Measured.Bytes)
			}
			if au := m["train_au_mean_percentage"].(float64); au <= 0 || au > 100 {
				t.Errorf("AU %.2f%%", au)
			}
		})
	}
	if ran < 13 {
		t.Errorf("%d accelerator workloads, want the 13 of the reference table", ran)
	}
}

// The llama3 checkpointing workloads plan at full size with the reference's
// process counts and the sizes the formulas give, and the 8b one runs
// scaled down (a quarter of the layers, small hidden and vocab) on file
// and mem targets with fsync, every byte verified.
func TestLlama3Workloads(t *testing.T) {
	for _, tc := range []struct {
		size  string
		ranks int64
		bytes int64 // one checkpoint, from the sizing formulas
	}{
		{"8b", 8, 112_425_623_552},
		{"70b", 64, 978_406_572_032},
		{"405b", 512, 5_682_508_791_808},
		{"1t", 1024, 16_564_174_094_592},
	} {
		t.Run(tc.size, func(t *testing.T) {
			p := exectest.PlanFile(t, "llama3/"+tc.size+".cue")
			if n := p.Workload.Name; n != "llama3-"+tc.size {
				t.Errorf("name %q", n)
			}
			w := p.Nodes[0].Task.Work()
			if w.WriteBytes != 10*tc.bytes || w.ReadBytes != 10*tc.bytes {
				t.Errorf("plans writing %d and reading %d bytes, want 10 × %d each", w.WriteBytes, w.ReadBytes, tc.bytes)
			}
			if !strings.Contains(p.Nodes[0].Task.Describe(), fmt.Sprintf("on %d ranks", tc.ranks)) {
				t.Errorf("describe: %s", p.Nodes[0].Task.Describe())
			}
		})
	}
	for _, uri := range []string{"mem://", "tmp://"} {
		t.Run("8b-scaled/"+uri, func(t *testing.T) {
			p := exectest.PlanFile(t, "llama3/8b.cue", "targets.ckpt.uri="+uri,
				"stages.checkpoint.model.layers=8", "stages.checkpoint.model.hidden=256",
				"stages.checkpoint.model.ffn=896", "stages.checkpoint.model.vocab=8000",
				"stages.checkpoint.writes=2", "stages.checkpoint.reads=2",
				"stages.checkpoint.chunk_bytes=65536", "stages.checkpoint.verify=true")
			rep := exec.Run(context.Background(), p, exec.Options{})
			if !rep.Complete {
				t.Fatalf("run incomplete: %v", rep.Err)
			}
			m := rep.Stages[0].Metrics
			size := m["checkpoint_bytes"].(int64)
			if got := m["save_bytes"].(int64) + m["load_bytes"].(int64); got != 4*size || got != rep.Stages[0].Measured.Bytes {
				t.Errorf("saved and loaded %d bytes, measured %d, want 4 × %d", got, rep.Stages[0].Measured.Bytes, size)
			}
			for _, k := range []string{"save_checkpoint_io_mean_GB_per_second", "save_checkpoint_duration_mean_seconds",
				"load_checkpoint_io_mean_GB_per_second", "load_checkpoint_duration_mean_seconds"} {
				if v, ok := m[k].(float64); !ok || v <= 0 {
					t.Errorf("%s = %v", k, m[k])
				}
			}
		})
	}
}

// vectorShrink makes a vectordb workload small enough to run in a test:
// 3 shards of 400 vectors of dimension 16, clustered, 20 queries run 40
// times.
var vectorShrink = []string{"datasets.vectors.files=3", "datasets.vectors.samples_per_file=400",
	"datasets.vectors.vectors.dimension=16", "datasets.vectors.vectors.distribution=clustered",
	"datasets.vectors.vectors.queries=20", "stages.search.mode=query_count", "stages.search.query_count=40"}

// The vectordb workloads plan at full size, upstream's 1,000,000 × 1536
// (10,000,000 for the 10m variant), and run shrunk: every query answered,
// recall scored against the whole collection.
func TestVectorDBWorkloads(t *testing.T) {
	for _, tc := range []struct {
		file, index string
		vectors     int64
	}{
		{"flat", "FLAT", 1_000_000},
		{"ivf_flat", "IVF_FLAT", 1_000_000},
		{"diskann", "DISKANN", 1_000_000},
		{"diskann_10m", "DISKANN", 10_000_000},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := "vectordb/" + tc.file + ".cue"
			full := exectest.PlanFile(t, f)
			if n := full.Workload.Name; n != "vectordb-"+strings.ReplaceAll(tc.file, "_", "-") {
				t.Errorf("name %q", n)
			}
			d := full.Workload.Datasets["vectors"]
			if n := d.Files * d.SamplesPerFile; n != tc.vectors || d.Vectors.Dimension != 1536 || d.Vectors.Metric != "COSINE" {
				t.Errorf("collection of %d × %d under %s, want %d × 1536 under COSINE", n, d.Vectors.Dimension, d.Vectors.Metric, tc.vectors)
			}
			if d := full.Nodes[0].Task.Describe(); !strings.Contains(d, "shards of 10000 vectors of dimension 1536 (uniform, COSINE)") {
				t.Errorf("generate stage: %s", d)
			}
			if !strings.Contains(full.Nodes[1].Task.Describe(), tc.index) {
				t.Errorf("index stage: %s", full.Nodes[1].Task.Describe())
			}
			if tc.vectors > 1_000_000 {
				return
			}
			p := exectest.PlanFile(t, f, vectorShrink...)
			rep := exec.Run(context.Background(), p, exec.Options{})
			if !rep.Complete {
				t.Fatalf("run incomplete: %v", rep.Err)
			}
			m := rep.Stages[len(rep.Stages)-1].Metrics
			if q := m["queries"]; q != int64(40) {
				t.Errorf("%v queries, want 40", q)
			}
			if r, _ := m["recall_at_k_mean"].(float64); r <= 0.5 || m["ground_truth_coverage"] != 1.0 {
				t.Errorf("recall@10 %v against a ground truth of coverage %v", m["recall_at_k_mean"], m["ground_truth_coverage"])
			}
		})
	}
}

// The dlrm query workload plans at full size, reading the 40 training
// columns of each queried file (about 21% of it), and runs shrunk.
func TestDLRMQueryWorkload(t *testing.T) {
	full := exectest.PlanFile(t, "dlrm/query.cue")
	if n := full.Workload.Name; n != "dlrm-query" {
		t.Errorf("name %q", n)
	}
	q := full.Nodes[len(full.Nodes)-1]
	if d := q.Task.Describe(); !strings.Contains(d, "100 columnar queries") || !strings.Contains(d, "40 of 200 columns") {
		t.Errorf("describe: %s", d)
	}
	// 100 queries of 21.2% of a 3.6 GB file, and the footers of the at
	// most 100 files they read.
	if w := q.Task.Work(); w.ReadBytes < 72e9 || w.ReadBytes > 80e9 || w.Files != 100 {
		t.Errorf("plans reading %d bytes of %d files", w.ReadBytes, w.Files)
	}
	p := exectest.PlanFile(t, "dlrm/query.cue", "targets.data.uri=mem://", "datasets.train.files=2",
		"datasets.train.samples_per_file=1000", "datasets.train.parquet.row_group_rows=256", "stages.query.queries=10")
	rep := exec.Run(context.Background(), p, exec.Options{})
	if !rep.Complete {
		t.Fatalf("run incomplete: %v", rep.Err)
	}
	st := rep.Stages[len(rep.Stages)-1]
	m := st.Metrics
	if m["queries"] != int64(10) || m["bytes_read"] != st.Measured.Bytes || m["row_groups_read"] != int64(40) {
		t.Errorf("%v queries, %v row groups, read %v bytes, measured %d", m["queries"], m["row_groups_read"], m["bytes_read"], st.Measured.Bytes)
	}
	if f := m["bytes_read_fraction"].(float64); f < 0.20 || f > 0.25 {
		t.Errorf("read %.1f%% of the files' bytes, want the 21%% the training columns are (and their footers), at most a quarter", 100*f)
	}
}

// The KV-cache options plan with the values of rules.md's CLOSED table:
// seed 42, 300 s, three trials, the model, users, tiers and allocation
// cap of each option. (stages/kvcache runs option 1 shrunk.)
func TestKVCacheWorkloads(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		option, model string
		users         int
		cpu           int64
		allocs        int
	}{
		{"option1", "llama3.1-8b", 200, 0, 16},
		{"option2", "llama3.1-8b", 100, 4 * gib, 16},
		{"option3", "llama3.1-70b-instruct", 70, 0, 4},
	} {
		t.Run(tc.option, func(t *testing.T) {
			p := exectest.PlanFile(t, "kvcache/"+tc.option+".cue")
			if n := p.Workload.Name; n != "kvcache-"+tc.option {
				t.Errorf("name %q", n)
			}
			if p.Workload.Seed != 42 {
				t.Errorf("seed %d, want 42", p.Workload.Seed)
			}
			var s kvcache.Spec
			if err := p.Workload.Stages["kvcache"].Decode(&s); err != nil {
				t.Fatal(err)
			}
			if s.Model != tc.model || s.Users != tc.users || s.Duration != 300 || s.Trials != 3 ||
				s.GPUBytes != 0 || s.CPUBytes != tc.cpu || s.MaxConcurrentAllocs != tc.allocs || !s.Fsync {
				t.Errorf("%+v", s)
			}
		})
	}
}
