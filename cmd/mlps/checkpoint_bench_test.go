package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCheckpointPeakRSS saves and loads a 1 GiB and a 16 GiB
// checkpoint on the file backend (a real disk under TMPDIR), each in a
// child `mlps exec`, and reports the peak RSS (VmHWM) of each and their
// difference: the checkpoint streams through the stage's fixed pool of
// chunks, so memory must not grow with it. It fails when the two differ by
// 16 MiB or more. The model is llama3-8b's shape with hidden 1024, ffn
// 3584 and vocab 32000 on 8 ranks (ZeRO-3): 1 layer is 1.05 GiB, 76
// layers 15.9 GiB; chunks are the default 64 × 32 MiB.
func BenchmarkCheckpointPeakRSS(b *testing.B) {
	dir := b.TempDir()
	rss := map[int]int64{}
	for b.Loop() {
		for _, layers := range []int{1, 76} {
			wl := filepath.Join(dir, fmt.Sprintf("ck%d.cue", layers))
			src := fmt.Sprintf(`name: "rss"
targets: t: uri: "file://%s/data"
stages: c: {
	kind: "checkpoint", target: "t", path: "ck%d", writes: 1, reads: 1, fsync: true
	model: {name: "llama3-8b-shaped", layers: %d, hidden: 1024, ffn: 3584, heads: 8, kv_heads: 8, vocab: 32000}
	parallelism: {data: 8, zero: 3}
}
`, dir, layers, layers)
			if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
				b.Fatal(err)
			}
			out, peak, err := peakRSS(b, mlps("exec", wl, "--results", filepath.Join(dir, fmt.Sprintf("results%d-%d", layers, len(rss))), "--progress", "none"))
			if err != nil {
				b.Fatalf("mlps exec: %v\n%s", err, out)
			}
			rss[layers] = max(rss[layers], peak)
			os.RemoveAll(filepath.Join(dir, "data"))
		}
	}
	small, large := rss[1], rss[76]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(small)/(1<<20), "peak_RSS_1GiB_MiB")
	b.ReportMetric(float64(large)/(1<<20), "peak_RSS_16GiB_MiB")
	b.ReportMetric(float64(large-small)/(1<<20), "difference_MiB")
	b.Logf("peak RSS: 1.05 GiB checkpoint %.1f MiB, 15.9 GiB checkpoint %.1f MiB, difference %.1f MiB",
		float64(small)/(1<<20), float64(large)/(1<<20), float64(large-small)/(1<<20))
	if d := large - small; d >= 16<<20 || d <= -16<<20 {
		b.Errorf("peak RSS differs by %.1f MiB between the 1 GiB and the 16 GiB checkpoint", float64(d)/(1<<20))
	}
}
