package main

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
)

// planAll does what `mlps plan` does with a workload, short of printing:
// load it with its overrides, compile it, render the plan as text and
// JSON, and ask for its warnings on this host.
func planAll(tb testing.TB, path string, sets ...string) *planner.Plan {
	tb.Helper()
	w, err := dsl.Load(path, sets)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := planner.Compile(w)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.WriteText(io.Discard); err != nil {
		tb.Fatal(err)
	}
	if err := p.WriteJSON(io.Discard); err != nil {
		tb.Fatal(err)
	}
	p.Warnings(stages.ThisHost())
	return p
}

// unet3dFiles is the unet3d b200 workload (one npz volume per file,
// sizes drawn around 140 MiB, both shuffles on, batch 7, 4 read
// threads) on 8 accelerators with files files.
func unet3dFiles(files int64) (string, []string) {
	return filepath.Join("..", "..", "workloads", "unet3d", "b200.cue"), []string{
		fmt.Sprintf("datasets.train.files=%d", files),
		fmt.Sprintf("datasets.train.subfolders=%d", (files+9999)/10000),
		"stages.train.accelerators=8",
	}
}

// maxLayers is llama3 1t with the largest layer count the schema allows
// and as many pipeline stages as the schema allows it to be split into.
func maxLayers() (string, []string) {
	return filepath.Join("..", "..", "workloads", "llama3", "1t.cue"), []string{
		"stages.checkpoint.model.layers=4096",
	}
}

// reportHeap runs plan once more outside the timer and reports the heap
// it grew to: the peak of live memory a plan needs, measured from a
// collected heap.
func reportHeap(b *testing.B, plan func()) {
	b.StopTimer()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	plan()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MiB-allocated/plan")
	b.ReportMetric(float64(after.HeapSys)/(1<<20), "MiB-heap-sys")
	b.StartTimer()
}

// BenchmarkPlanReadEpoch10MFiles plans a read-epoch over 10 million files
// the way `mlps plan` does. Its cost must not depend on the file count.
func BenchmarkPlanReadEpoch10MFiles(b *testing.B) {
	path, sets := unet3dFiles(10_000_000)
	b.ReportAllocs()
	for b.Loop() {
		planAll(b, path, sets...)
	}
	reportHeap(b, func() { planAll(b, path, sets...) })
}

// BenchmarkPlanCheckpointMaxLayers plans a checkpoint of a model with the
// largest layer count the schema allows.
func BenchmarkPlanCheckpointMaxLayers(b *testing.B) {
	path, sets := maxLayers()
	b.ReportAllocs()
	for b.Loop() {
		planAll(b, path, sets...)
	}
	reportHeap(b, func() { planAll(b, path, sets...) })
}
