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

// Planning costs the same for any number of files: a plan of 10 million
// files allocates what one of a thousand does, give or take the few
// allocations whose size follows the digits of the count. Allocations,
// unlike time, do not depend on the machine's load. With sizes drawn per
// file, sums visit each file up to dataset.ExactFiles files, so the drawn
// case starts above it.
func TestPlanCostDoesNotGrowWithFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []int64
		sets  []string
	}{
		{"fixed size", []int64{1_000, 100_000, 10_000_000}, []string{"datasets.train.record_bytes_stdev=0"}},
		{"drawn sizes", []int64{10_000, 1_000_000, 10_000_000}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var allocs []float64
			for _, files := range tc.files {
				path, sets := unet3dFiles(files)
				w, err := dsl.Load(path, append(sets, tc.sets...))
				if err != nil {
					t.Fatal(err)
				}
				allocs = append(allocs, testing.AllocsPerRun(3, func() {
					p, err := planner.Compile(w)
					if err != nil {
						t.Fatal(err)
					}
					p.WriteText(io.Discard)
					p.WriteJSON(io.Discard)
					p.Warnings(stages.ThisHost())
				}))
			}
			t.Logf("allocations per plan of %v files: %v", tc.files, allocs)
			for i, n := range allocs {
				if d := n - allocs[0]; d > 16 || d < -16 {
					t.Errorf("planning %d files allocates %.0f times, %d files %.0f", tc.files[i], n, tc.files[0], allocs[0])
				}
			}
		})
	}
}

// Planning a checkpoint costs the same for any layer count and grows with
// the ranks only through the pipeline's stages: llama3 1t's shape with 128
// or 4096 layers, and with 2 or 512 data-parallel replicas, allocates the
// same.
func TestPlanCostDoesNotGrowWithLayersOrReplicas(t *testing.T) {
	path, _ := maxLayers()
	var allocs []float64
	cases := [][]string{
		{"stages.checkpoint.model.layers=128"},
		{"stages.checkpoint.model.layers=4096"},
		{"stages.checkpoint.model.layers=4096", "stages.checkpoint.parallelism.data=512"},
	}
	for _, sets := range cases {
		w, err := dsl.Load(path, sets)
		if err != nil {
			t.Fatal(err)
		}
		allocs = append(allocs, testing.AllocsPerRun(3, func() {
			p, err := planner.Compile(w)
			if err != nil {
				t.Fatal(err)
			}
			p.WriteText(io.Discard)
			p.Warnings(stages.ThisHost())
		}))
	}
	t.Logf("allocations per plan of %v: %v", cases, allocs)
	for i, n := range allocs {
		if d := n - allocs[0]; d > 16 || d < -16 {
			t.Errorf("planning with %v allocates %.0f times, with %v %.0f", cases[i], n, cases[0], allocs[0])
		}
	}
}
