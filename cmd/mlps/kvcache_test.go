package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// kvOverhead is what a kvcache run holds beyond its buffers: the Go
// runtime, the loaded workload, the histograms and the entries' records.
const kvOverhead = 96 << 20

// The kvcache stage's memory is its buffers, max_concurrent_allocs ×
// chunk_bytes, plus a fixed overhead, whatever the entries' sizes
// (llama3.1-8b's are up to 3.1 GiB): measured for 4 and 16 requests at
// once, 64 MiB and 256 MiB of buffers, in a child `mlps exec` each.
func TestKVCacheMemoryIsTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes gigabytes for 8 s twice; skipped with -short")
	}
	dir := t.TempDir()
	const chunk = 16 << 20
	peak := map[int]int64{}
	for _, allocs := range []int{4, 16} {
		src := fmt.Sprintf(`name: "rss"
targets: t: uri: "file://%s/data"
stages: kv: {kind: "kvcache", target: "t", model: "llama3.1-8b", users: 32, duration: 8,
	max_concurrent_allocs: %d, chunk_bytes: %d, storage_bytes: 8589934592}
`, dir, allocs, chunk)
		wl := filepath.Join(dir, fmt.Sprintf("kv%d.cue", allocs))
		if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, rss, err := peakRSS(t, mlps("exec", wl, "--results", filepath.Join(dir, fmt.Sprintf("results%d", allocs)), "--progress", "none"))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		peak[allocs] = rss
		limit := int64(allocs)*chunk + kvOverhead
		t.Logf("max_concurrent_allocs %d: buffers %d MiB, peak RSS %.1f MiB, limit %d MiB",
			allocs, allocs*chunk>>20, float64(rss)/(1<<20), limit>>20)
		if rss > limit {
			t.Errorf("max_concurrent_allocs %d: peak RSS %.1f MiB, above the buffers' %d MiB + %d MiB", allocs, float64(rss)/(1<<20), allocs*chunk>>20, kvOverhead>>20)
		}
	}
	t.Logf("16 at once hold %.1f MiB more than 4 (their buffers: %d MiB more)", float64(peak[16]-peak[4])/(1<<20), 12*chunk>>20)
}
