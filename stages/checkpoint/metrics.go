package checkpoint

import (
	"fmt"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/internal/ckpt"
	"mlps.dev/mlps/stages/measure"
)

// gb is the unit of the upstream keys named _GB: 2^30 bytes, as DLIO and
// the reference table compute them. The _GiB twins say so by name.
const gb = 1 << 30

// metrics turns the saves and loads into the stage's figures. Each save
// or load's duration is its slowest rank's time, and its throughput the
// bytes of all ranks over that duration, never rank 0's time alone.
func (t *task) metrics(saves, loads []ckpt.PhaseResult) stages.Metrics {
	m := stages.Metrics{
		"checkpoint_size_GB":  float64(t.bytes) / gb,
		"checkpoint_size_GiB": float64(t.bytes) / gb,
		"checkpoint_bytes":    t.bytes,
		"ranks":               t.ranks,
		"full_run_ranks":      t.full,
		"checkpoints_saved":   len(saves),
		"checkpoints_loaded":  len(loads),
	}
	if t.ranks < t.full {
		m["subset"] = true
		m["full_run_checkpoint_size_GB"] = float64(t.fullBytes) / gb
		m["full_run_checkpoint_bytes"] = t.fullBytes
	}
	for _, ph := range []struct {
		name string
		rs   []ckpt.PhaseResult
	}{{"save", saves}, {"load", loads}} {
		if len(ph.rs) == 0 {
			continue
		}
		var durs, rates, bytes []float64
		for _, r := range ph.rs {
			durs = append(durs, r.Seconds)
			rates = append(rates, float64(r.Bytes)/gb/r.Seconds)
			bytes = append(bytes, float64(r.Bytes))
		}
		md, sd := measure.MeanStdev(durs)
		mr, sr := measure.MeanStdev(rates)
		p := ph.name + "_checkpoint_"
		m[p+"duration_mean_seconds"] = md
		m[p+"duration_stdev_seconds"] = sd
		m[p+"io_mean_GB_per_second"] = mr
		m[p+"io_stdev_GB_per_second"] = sr
		m[p+"io_mean_GiB_per_second"] = mr
		m[p+"io_stdev_GiB_per_second"] = sr
		m[p+"durations_seconds"] = durs
		m[p+"io_GB_per_second"] = rates
		var total float64
		for _, b := range bytes {
			total += b
		}
		m[ph.name+"_bytes"] = int64(total)
	}
	return m
}

// SummaryKeys are the keys this stage puts at the top of summary.json.
func (t *task) SummaryKeys() []string {
	return []string{
		"save_checkpoint_io_mean_GB_per_second", "save_checkpoint_io_stdev_GB_per_second",
		"save_checkpoint_duration_mean_seconds", "save_checkpoint_duration_stdev_seconds",
		"load_checkpoint_io_mean_GB_per_second", "load_checkpoint_io_stdev_GB_per_second",
		"load_checkpoint_duration_mean_seconds", "load_checkpoint_duration_stdev_seconds",
		"checkpoint_size_GB", "checkpoint_bytes", "full_run_checkpoint_size_GB",
	}
}

// Units says that the upstream _GB keys count GiB (2^30 bytes), and
// what each rate divides.
func (t *task) Units() map[string]string {
	u := map[string]string{
		"checkpoint_size_GB":          "GiB (2^30 bytes), the upstream key; the same figure as checkpoint_size_GiB",
		"full_run_checkpoint_size_GB": "GiB (2^30 bytes), the upstream key",
	}
	for _, ph := range []string{"save", "load"} {
		p := ph + "_checkpoint_"
		u[p+"io_mean_GB_per_second"] = "GiB/s (2^30 bytes): all ranks' bytes of one " + ph + " ÷ its slowest rank's time, mean over " + ph + "s; the upstream key, the same figure as " + p + "io_mean_GiB_per_second"
		u[p+"io_stdev_GB_per_second"] = "GiB/s (2^30 bytes): as " + p + "io_mean_GB_per_second, its stdev; the same figure as " + p + "io_stdev_GiB_per_second"
		u[p+"io_GB_per_second"] = "GiB/s (2^30 bytes): each " + ph + "'s all ranks' bytes ÷ its slowest rank's time"
	}
	return u
}

// Headline says the stage's key figures in one line.
func (t *task) Headline(m stages.Metrics) string {
	s := fmt.Sprintf("checkpoint %s on %d ranks", measure.IEC(t.bytes), t.ranks)
	for _, ph := range []string{"save", "load"} {
		rate, ok := m[ph+"_checkpoint_io_mean_GB_per_second"].(float64)
		if !ok {
			continue
		}
		d, _ := m[ph+"_checkpoint_duration_mean_seconds"].(float64)
		n, _ := m["checkpoints_"+map[string]string{"save": "saved", "load": "loaded"}[ph]].(int)
		s += fmt.Sprintf("; %s %.2f GiB/s, %.2f s each (mean of %d)", ph, rate, d, n)
	}
	if caching, _ := m["potential_caching"].(bool); caching {
		s += "; the checkpoint is under 3 × this host's memory and its cache was not dropped: loads may have come from the page cache"
	}
	if t.ranks < t.full {
		s += fmt.Sprintf("; the full %d-rank run would save %s", t.full, measure.IEC(t.fullBytes))
	}
	return s
}
