package readepoch

import (
	"testing"

	"mlps.dev/mlps/stages"
)

// The headline gives a verdict only for a stage that finished, with the
// page-cache caveat on the same line, says how much of a partial run its
// figures cover, and names each rate.
func TestHeadline(t *testing.T) {
	done := stages.Metrics{
		"epochs": 2, "train_au_mean_percentage": 95.5, "train_throughput_mean_samples_per_second": 100.0,
		"train_io_mean_MiB_per_second": 400.0, "train_read_MB_per_second": 419.4,
		"train_au_meet_expectation": "success", "potential_caching": false,
		"host_memory_GB": 16.0, "data_size_per_host_GB": 0.5,
	}
	with := func(kv ...any) stages.Metrics {
		m := stages.Metrics{}
		for k, v := range done {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name string
		m    stages.Metrics
		want string
	}{
		{"finished", done,
			"AU 95.50% (minimum 90%: success), 100.0 samples/s (records 400.0 MiB/s), storage read 419.4 MB/s over the epochs"},
		{"fits in memory", with("potential_caching", true),
			"AU 95.50% (minimum 90%: success, but the dataset (512.0 MiB) fits in memory (16.0 GiB): reads may have come from the page cache), 100.0 samples/s (records 400.0 MiB/s), storage read 419.4 MB/s over the epochs"},
		{"one epoch of two", with("epochs", 1, "train_au_meet_expectation", nil, "partial", true),
			"AU 95.50% (partial: 1 of 2 epochs finished, no verdict), 100.0 samples/s (records 400.0 MiB/s), storage read 419.4 MB/s over the epochs"},
		{"no epoch", stages.Metrics{"epochs": 0, "partial": true},
			"no epoch of 2 finished: no AU, throughput or verdict"},
	}
	task := &task{spec: Spec{Epochs: 2, AUMinimum: 0.9}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := task.Headline(tt.m); got != tt.want {
				t.Errorf("headline\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
