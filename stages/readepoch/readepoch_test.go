package readepoch_test

import (
	"strings"
	"testing"

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
		compute    string
		minAU, max float64
	}{
		{"0.02", 90, 100},
		{"0", 0, 0},
	}
	for _, tt := range tests {
		t.Run("compute="+tt.compute, func(t *testing.T) {
			_, rep := exectest.Run(t, strings.ReplaceAll(memWorkload, "COMPUTE", tt.compute))
			r := rep.Stages[1]
			m := r.Metrics
			au := m["train_au_mean_percentage"].(float64)
			if au < tt.minAU || au > tt.max {
				t.Errorf("AU %.2f%%, want within [%v, %v]", au, tt.minAU, tt.max)
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
				// Each rank: 5 measured steps × 4 samples in about 5 × 20 ms.
				if th := m["train_throughput_mean_samples_per_second"].(float64); th < 2*20/0.2 || th > 2*20/0.1 {
					t.Errorf("throughput %.1f samples/s, want about 400", th)
				}
			}
		})
	}
}
