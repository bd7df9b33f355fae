package readepoch_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
)

const memWorkload = `name: "au"
targets: m: uri: "mem://"
datasets: d: {target: "m", format: "npz", files: 48, record_bytes: 65536}
stages: {
	g: {kind: "generate", dataset: "d"}
	r: {kind: "read-epoch", dataset: "d", epochs: 2, accelerators: 2, batch_size: 4, read_threads: 2,
		computation_time: COMPUTE}
}
`

// With I/O from memory far faster than compute, the accelerators are busy
// nearly all the time; with no compute they never are. Either way every
// planned byte is read and the figures agree with each other.
func TestAUAndThroughput(t *testing.T) {
	tests := []struct {
		compute string
	}{
		{"0.02"},
		{"0"},
	}
	for _, tt := range tests {
		t.Run("compute="+tt.compute, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results")
			_, rep := exectest.Try(t, strings.ReplaceAll(memWorkload, "COMPUTE", tt.compute), exec.Options{Dir: dir})
			if !rep.Complete {
				t.Fatalf("run incomplete: %v", rep.Err)
			}
			r := rep.Stages[1]
			m := r.Metrics
			au := m["train_au_mean_percentage"].(float64)
			if tt.compute == "0" {
				if au != 0 {
					t.Errorf("AU %.2f%% with no compute, want 0", au)
				}
			} else {
				// A loaded machine oversleeps the compute of one rank more
				// than the other's, and the barrier makes both wait: the AU
				// is checked against the steps' own times, and "far faster"
				// as the ranks hardly waiting for data.
				want, wait := stepsAU(t, filepath.Join(dir, "stages", "r", "steps.csv"))
				if math.Abs(au-want) > 2 || au > 100 {
					t.Errorf("AU %.2f%%, want %.2f ± 2 (from steps.csv)", au, want)
				}
				if wait > 0.1 {
					t.Errorf("the ranks waited for data %.0f %% of their compute time, want under 10 %%", 100*wait)
				}
			}
			if got := m["train_bytes_read"].(int64); got != r.Planned.ReadBytes || got != r.Measured.Bytes {
				t.Errorf("bytes read %d, planned %d, measured %d", got, r.Planned.ReadBytes, r.Measured.Bytes)
			}
			if m["steps_per_epoch"].(int64) != 6 || len(m["train_au_percentage"].([]float64)) != 2 {
				t.Errorf("steps %v, epochs %v", m["steps_per_epoch"], m["train_au_percentage"])
			}
			// 5 measured steps of batch 4 per rank, summed over 2 ranks.
			for _, th := range m["train_throughput_samples_per_second"].([]float64) {
				if th <= 0 {
					t.Errorf("throughput %v", th)
				}
			}
			if tt.compute != "0" {
				// Each rank: 5 measured steps × 4 samples in at least 5 × 20
				// ms, so at most 400 samples/s; how far below, a loaded
				// machine decides, so the figure is checked against the
				// steps' own times instead.
				th := m["train_throughput_mean_samples_per_second"].(float64)
				want := measuredThroughput(t, filepath.Join(dir, "stages", "r", "steps.csv"), 4)
				if th > 2*20/0.1 || math.Abs(th-want) > 0.1*want {
					t.Errorf("throughput %.1f samples/s, want %.1f ± 10 %% (from steps.csv) and at most 400", th, want)
				}
			}
		})
	}
}
