package main

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// queryWorkload is a clustered collection of 2,100 vectors with 40
// held-out queries, a FLAT and an IVF_FLAT index of it, and a query stage
// of 300 queries from 4 workers on each: exact on FLAT, and on IVF_FLAT
// a sweep of nprobe whose recall is below 1 and differs from query to
// query. The collection and indexes are built, in one process, under dir.
func queryWorkload(t *testing.T, dir string) string {
	t.Helper()
	src := fmt.Sprintf(`name: "spread-query"
seed: 5
targets: t: uri: "file://%s"
datasets: v: {target: "t", path: "coll", format: "fbin", files: 3, samples_per_file: 700,
	vectors: {dimension: 24, metric: "L2", distribution: "clustered", clusters: 16, queries: 40}}
stages: {
	gen: {kind: "generate", dataset: "v", workers: 2}
	flat: {kind: "index", dataset: "v", index_type: "FLAT"}
	ivf: {kind: "index", dataset: "v", index_type: "IVF_FLAT", nlist: 32}
	exact: {kind: "query", index: "flat", mode: "query_count", query_count: 300, concurrency: 4, top_k: 10}
	probe: {kind: "query", index: "ivf", mode: "query_count", query_count: 300, concurrency: 4, top_k: 10,
		sweep: {parameter: "nprobe", values: [1, 2]}}
}
`, filepath.Join(dir, "data"))
	return preparedWorkload(t, dir, src, "gen,flat,ivf")
}

// The query stages across processes: over a collection and indexes built
// in one process, 3 plain processes placed by flags and 4 under mpirun
// each run their share of the 4 query workers and of the 300 queries,
// and process 0 writes the results of a run of one process: the same
// summary and metric keys, the same number of queries, and, the searches being
// deterministic, the same recall figures (the same 40 distinct queries
// answered alike), bytes and reads per query, and stage operations and
// bytes, but for the IVF_FLAT index that each process opens once.
func TestQueryAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	wl := queryWorkload(t, dir)
	args := func(results string) []string {
		return []string{"exec", wl, "--skip", "gen,flat,ivf", "--results", results, "--progress", "none"}
	}
	one := filepath.Join(dir, "one")
	execOK(t, args(one)...)
	want := readJSON(t, filepath.Join(one, "summary.json"))
	wantMetrics := func(id string) map[string]any {
		return readJSON(t, filepath.Join(one, "stages", id+".json"))["metrics"].(map[string]any)
	}
	// A second run of one process answers alike: what the comparison
	// holds exactly is not timing.
	again := filepath.Join(dir, "again")
	execOK(t, args(again)...)

	compare := func(name, res string, procs int) {
		t.Helper()
		got := readJSON(t, filepath.Join(res, "summary.json"))
		if k1, k2 := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(k1, k2) {
			t.Errorf("%s: keys %v, one process's %v", name, k1, k2)
		}
		if got["complete"] != true {
			t.Fatalf("%s: incomplete: %v", name, got["error"])
		}
		for _, id := range []string{"exact", "probe"} {
			gm := readJSON(t, filepath.Join(res, "stages", id+".json"))["metrics"].(map[string]any)
			wm := wantMetrics(id)
			if k1, k2 := slices.Sorted(maps.Keys(gm)), slices.Sorted(maps.Keys(wm)); !slices.Equal(k1, k2) {
				t.Errorf("%s: stage %s's metrics %v, one process's %v", name, id, k1, k2)
			}
			gp, wp := []any{gm}, []any{wm}
			if id == "probe" {
				gp, wp = gm["sweep"].([]any), wm["sweep"].([]any)
				if len(gp) != 2 || len(wp) != 2 {
					t.Fatalf("%s: stage probe swept %d values, one process %d, want 2", name, len(gp), len(wp))
				}
			}
			// The queries' own reads, which each process counts of its
			// queries only.
			var reads, read float64
			for i := range wp {
				g, w := gp[i].(map[string]any), wp[i].(map[string]any)
				for _, k := range []string{"queries", "recall_queries", "recall_at_k_mean", "recall_at_k_median", "recall_at_k_min",
					"recall_at_k_max", "recall_at_k_p95", "recall_at_k_p99", "recall_at_k_exact_mean", "bytes_per_query", "reads_per_query"} {
					if g[k] != w[k] {
						t.Errorf("%s: stage %s point %d: %s %v, one process %v", name, id, i, k, g[k], w[k])
					}
				}
				if q, ok := g["throughput_qps"].(float64); !ok || q <= 0 {
					t.Errorf("%s: stage %s point %d: throughput %v queries/s", name, id, i, g["throughput_qps"])
				}
				reads += w["queries"].(float64) * w["reads_per_query"].(float64)
				read += w["queries"].(float64) * w["bytes_per_query"].(float64)
			}
			// Every process opens the index: FLAT's reads nothing,
			// IVF_FLAT's its centroids, once a process.
			gs, ws := stage(got, id), stage(want, id)
			openOps, openBytes := ws["ops"].(float64)-reads, ws["bytes"].(float64)-math.Round(read)
			if id == "exact" && (openOps != 0 || openBytes != 0) {
				t.Errorf("stage exact: one process's FLAT index read %v times (%v bytes) beside its queries", openOps, openBytes)
			}
			if id == "probe" && (openOps <= 0 || openBytes <= 0) {
				t.Errorf("stage probe: one process's IVF_FLAT index opened in %v reads of %v bytes", openOps, openBytes)
			}
			extra := float64(procs - 1)
			if gs["ops"] != ws["ops"].(float64)+extra*openOps || gs["bytes"] != ws["bytes"].(float64)+extra*openBytes {
				t.Errorf("%s: stage %s ops %v, bytes %v; one process %v, %v, of which the index's opening %v, %v",
					name, id, gs["ops"], gs["bytes"], ws["ops"], ws["bytes"], openOps, openBytes)
			}
		}
	}
	compare("one process again", again, 1)

	// 3 plain processes: the 4 workers split unevenly, 1, 1 and 2.
	three := filepath.Join(dir, "three")
	errs := flagsMLPS(t, 3, args(three)...)
	if !strings.Contains(errs[1], "process 1 of 3 done; process 0 writes the results") {
		t.Errorf("process 1 said: %s", errs[1])
	}
	compare("3 processes by flags", three, 3)

	four := filepath.Join(dir, "four")
	if b := mpirunMLPS(t, args(four)...); !strings.Contains(string(b), "a run of 4 processes (openmpi)") {
		t.Errorf("mpirun's output:\n%s", b)
	}
	compare("4 processes under mpirun", four, 4)
}
