package exec_test

import (
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
)

// A whole run on null:// measures mlps without storage: datasets generated
// into it (npz, and jpeg files of one image each), read back by read-epoch
// at exactly their planned sizes, a dataset uploaded to it, checkpoints
// saved and loaded; every stage completes and reports every planned byte.
func TestNullRun(t *testing.T) {
	_, rep := exectest.Run(t, `name: "null"
targets: {n: uri: "null://", c: uri: "null://ckpt", f: uri: "tmp://"}
datasets: {
	npz: {target: "n", path: "npz", format: "npz", files: 16, samples_per_file: 2,
		record_bytes: 65536, record_bytes_stdev: 4000}
	img: {target: "n", path: "img", format: "jpeg", files: 64, record_bytes: 20000}
	src: {target: "f", path: "img", format: "jpeg", files: 8, record_bytes: 5000}
	dst: {target: "n", path: "up", format: "jpeg", files: 8, record_bytes: 5000}
}
stages: {
	gn: {kind: "generate", dataset: "npz"}
	gi: {kind: "generate", dataset: "img", workers: 4}
	gs: {kind: "generate", dataset: "src"}
	rn: {kind: "read-epoch", dataset: "npz", epochs: 2, accelerators: 2, batch_size: 2, read_threads: 2,
		computation_time: 0, transfer_bytes: 16384,
		checkpoint: {target: "c", model_bytes: 3000000, chunk_bytes: 1048576}}
	ri: {kind: "read-epoch", dataset: "img", accelerators: 2, batch_size: 4, computation_time: 0}
	up: {kind: "upload", from: "src", to: "dst", verify: true}
	ck: {kind: "checkpoint", target: "c", writes: 2, reads: 2, chunk_bytes: 1048576,
		model: {layers: 4, hidden: 256, ffn: 1024, heads: 4, kv_heads: 2}}
}
`)
	if len(rep.Stages) != 7 {
		t.Fatalf("%d stages reported, want 7", len(rep.Stages))
	}
	for _, s := range rep.Stages {
		t.Run(s.ID, func(t *testing.T) {
			p := s.Planned.Bytes()
			if s.Status != results.StatusOK {
				t.Errorf("status %q (%s)", s.Status, s.Error)
			}
			if p == 0 || s.Measured.Bytes != p {
				t.Errorf("measured %d bytes, planned %d", s.Measured.Bytes, p)
			}
			if s.Measured.Errors != 0 {
				t.Errorf("%d operations failed", s.Measured.Errors)
			}
		})
	}
}
