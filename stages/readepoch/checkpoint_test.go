package readepoch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/exec/exectest"
)

// Training that checkpoints after epoch 2 and then every 2 epochs saves
// after epochs 2, 4 and 6, rank 0 one file of model_bytes each, fsynced;
// the saves are timed apart from the epochs, so the stage's wall time
// holds both and the epochs' reads stay the train figures.
func TestEpochCheckpoints(t *testing.T) {
	dir := t.TempDir()
	src := fmt.Sprintf(`name: "ck"
targets: m: uri: "mem://"
targets: f: uri: "file://%s"
datasets: d: {target: "m", format: "npz", files: 16, record_bytes: 65536}
stages: {
	g: {kind: "generate", dataset: "d"}
	r: {kind: "read-epoch", dataset: "d", epochs: 7, accelerators: 2, batch_size: 2, computation_time: 0.001,
		checkpoint: {target: "f", path: "unet3d/ckpt", model_bytes: 5000000, after_epoch: 2, every: 2, chunk_bytes: 1048576}}
}
`, dir)
	p, rep := exectest.Run(t, src)
	r := rep.Stages[1]
	m := r.Metrics
	if got := fmt.Sprint(m["checkpoint_epochs"]); got != "[2 4 6]" {
		t.Errorf("checkpoints after epochs %s, want [2 4 6]", got)
	}
	for _, e := range []int{2, 4, 6} {
		fi, err := os.Stat(filepath.Join(dir, "unet3d/ckpt", fmt.Sprintf("global_epoch%d", e), "model_states-0.pt"))
		if err != nil || fi.Size() != 5000000 {
			t.Errorf("checkpoint of epoch %d: %v", e, err)
		}
	}
	if w := p.Nodes[1].Task.Work().WriteBytes; w != 3*5000000 || m["checkpoint_bytes_written"] != int64(w) {
		t.Errorf("planned %d bytes of checkpoints, wrote %v", w, m["checkpoint_bytes_written"])
	}
	var saves float64
	for _, s := range m["checkpoint_save_seconds"].([]float64) {
		saves += s
	}
	if wall := m["train_wall_seconds"].(float64); wall+saves > r.Seconds {
		t.Errorf("epochs %.3f s and saves %.3f s add up to more than the stage's %.3f s: they overlap", wall, saves, r.Seconds)
	}
	if got := m["train_bytes_read"].(int64); got != r.Planned.ReadBytes {
		t.Errorf("train read %d bytes, planned %d", got, r.Planned.ReadBytes)
	}
	if r.Measured.Bytes != r.Planned.ReadBytes+3*5000000 {
		t.Errorf("measured %d bytes, want the reads and the checkpoints", r.Measured.Bytes)
	}
}
