package main

import (
	"path/filepath"
	"testing"
	"time"
)

// retinanetSets is the rules' worked example of the largest training
// dataset: 2,127,821 one-image files over one subfolder per 10,000.
var retinanetSets = []string{"--set", "datasets.train.files=2127821", "--set", "datasets.train.subfolders=213",
	"--set", "stages.train.accelerators=8"}

// Planning millions of files costs memory for neither names nor sizes:
// the plan of the worked example stays under 256 MiB of RSS.
func TestPlanMillionsOfFilesMemory(t *testing.T) {
	args := append([]string{"plan", filepath.Join("..", "..", "workloads", "retinanet", "b200.cue")}, retinanetSets...)
	out, rss, err := peakRSS(t, mlps(args...))
	if err != nil {
		t.Fatalf("mlps plan: %v\n%s", err, out)
	}
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss > 256<<20 {
		t.Errorf("planning 2,127,821 files took %d MiB of RSS, want under 256", rss>>20)
	}
}

// BenchmarkPlanRetinanet times planning the worked example, the issue's
// 2-second budget, in a fresh process as a user meets it.
func BenchmarkPlanRetinanet(b *testing.B) {
	args := append([]string{"plan", filepath.Join("..", "..", "workloads", "retinanet", "b200.cue")}, retinanetSets...)
	for b.Loop() {
		start := time.Now()
		if out, err := mlps(args...).CombinedOutput(); err != nil {
			b.Fatalf("mlps plan: %v\n%s", err, out)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/plan")
	}
}
