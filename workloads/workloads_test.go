package workloads_test

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"testing"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
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
		if accel == model {
			continue // the model's shared definitions
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
