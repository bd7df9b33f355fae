package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
)

// columnarWorkload is a parquet dataset of 6 files of 8 row groups, and
// two columnar-query stages of it: scan, 200 queries of 4 workers with
// no footer cache and a predicate that rules out most row groups (of
// 256 ids drawn from all the int64s, their largest is below the bound
// some 3 times in 4), so that every figure but time is the queries' own,
// whichever process runs them; and cached, 600 queries of
// 6 workers with a footer cache, whose footers each process reads for
// itself. The dataset is generated, in one process, under dir.
func columnarWorkload(t *testing.T, dir string) string {
	t.Helper()
	src := fmt.Sprintf(`name: "spread-columnar"
seed: 3
targets: t: uri: "file://%s"
datasets: p: {target: "t", format: "parquet", files: 6, samples_per_file: 2000, record_bytes: 32,
	parquet: {row_group_rows: 256, columns: [
		{name: "id", type: "int64"},
		{name: "x", type: "float32", repeat: 4},
		{name: "pad", type: "bytes", width: 8},
	]}}
stages: {
	gen: {kind: "generate", dataset: "p"}
	scan: {kind: "columnar-query", dataset: "p", columns: ["x"], predicate: {column: "id", min: 9200000000000000000},
		queries: 200, workers: 4, cache_bytes: 0}
	cached: {kind: "columnar-query", dataset: "p", columns: ["x_0", "pad"], queries: 600, workers: 6}
}
`, filepath.Join(dir, "data"))
	return preparedWorkload(t, dir, src, "gen")
}

// The columnar-query stage across processes: over a parquet dataset
// generated in one process, 4 plain processes placed by flags and 4
// under mpirun each run their share of the workers and of the queries,
// and process 0 writes the results of a run of one process: the same
// summary and metric keys; the same queries, rows, row groups and file
// bytes, a query's file being drawn from its number whichever process
// runs it; without a footer cache every read and byte alike, the stage's
// operations and bytes too; with one, the same data bytes, and each
// process's footers read once each of its files; and in every run, the
// stage's operations and bytes those its metrics count, of every process.
func TestColumnarQueryAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	wl := columnarWorkload(t, dir)
	args := func(results string) []string {
		return []string{"exec", wl, "--skip", "gen", "--results", results, "--progress", "none"}
	}
	one := filepath.Join(dir, "one")
	execOK(t, args(one)...)
	want := readJSON(t, filepath.Join(one, "summary.json"))
	metrics := func(res, id string) map[string]any {
		return readJSON(t, filepath.Join(res, "stages", id+".json"))["metrics"].(map[string]any)
	}

	compare := func(name, res string, procs int) {
		t.Helper()
		got := readJSON(t, filepath.Join(res, "summary.json"))
		if k1, k2 := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(k1, k2) {
			t.Errorf("%s: keys %v, one process's %v", name, k1, k2)
		}
		if got["complete"] != true {
			t.Fatalf("%s: incomplete: %v", name, got["error"])
		}
		for _, id := range []string{"scan", "cached"} {
			gm, wm := metrics(res, id), metrics(one, id)
			if k1, k2 := keyPaths(gm, ""), keyPaths(wm, ""); !slices.Equal(k1, k2) {
				t.Errorf("%s: stage %s's metrics\n%v\none process's\n%v", name, id, k1, k2)
			}
			same := []string{"queries", "rows_read", "file_bytes", "row_groups_read", "row_groups_skipped"}
			if id == "scan" {
				same = append(same, "row_groups_without_statistics", "bytes_read", "footer_bytes_read", "reads",
					"bytes_read_fraction", "footer_cache_hits", "footer_cache_misses")
			}
			for _, k := range same {
				if gm[k] != wm[k] {
					t.Errorf("%s: stage %s: %s %v, one process %v", name, id, k, gm[k], wm[k])
				}
			}
			if id == "scan" && (gm["row_groups_skipped"].(float64) <= 0 || gm["row_groups_read"].(float64) <= 0) {
				t.Errorf("%s: stage scan: %v row groups read, %v skipped: the predicate is to rule out some, not all", name, gm["row_groups_read"], gm["row_groups_skipped"])
			}
			wantQueries := map[string]float64{"scan": 200, "cached": 600}[id]
			if gm["queries"] != wantQueries {
				t.Errorf("%s: stage %s ran %v queries, want %v", name, id, gm["queries"], wantQueries)
			}
			for _, k := range []string{"throughput_qps", "rows_per_second", "rows_read", "bytes_read"} {
				if v, ok := gm[k].(float64); !ok || v <= 0 {
					t.Errorf("%s: stage %s: %s %v", name, id, k, gm[k])
				}
			}
			// The meter's operations, gathered apart from the stage's
			// figures, are the reads those count.
			gs, ws := stage(got, id), stage(want, id)
			if gs["ops"] != gm["reads"] || gs["bytes"] != gm["bytes_read"] {
				t.Errorf("%s: stage %s: %v operations of %v bytes, its metrics %v reads of %v bytes",
					name, id, gs["ops"], gs["bytes"], gm["reads"], gm["bytes_read"])
			}
			if id == "scan" && (gs["ops"] != ws["ops"] || gs["bytes"] != ws["bytes"]) {
				t.Errorf("%s: stage scan: %v operations of %v bytes, one process %v of %v", name, gs["ops"], gs["bytes"], ws["ops"], ws["bytes"])
			}
			if id != "cached" {
				continue
			}
			// Each process's cache reads each of its files' footers
			// once: all 6, a process running 100 queries at least.
			hits, misses := gm["footer_cache_hits"].(float64), gm["footer_cache_misses"].(float64)
			if wm["footer_cache_misses"] != 6.0 || misses != float64(procs)*6 || hits+misses != 600 {
				t.Errorf("%s: stage cached: footers %v from the cache and %v read; one process %v and %v, want %d read",
					name, hits, misses, wm["footer_cache_hits"], wm["footer_cache_misses"], procs*6)
			}
			perFooter := wm["footer_bytes_read"].(float64) / wm["footer_cache_misses"].(float64)
			if gm["footer_bytes_read"] != misses*perFooter {
				t.Errorf("%s: stage cached: %v bytes of %v footers, one process %v a footer", name, gm["footer_bytes_read"], misses, perFooter)
			}
			data := func(m map[string]any) float64 { return m["bytes_read"].(float64) - m["footer_bytes_read"].(float64) }
			if data(gm) != data(wm) {
				t.Errorf("%s: stage cached: %v bytes of data read, one process %v", name, data(gm), data(wm))
			}
		}
	}
	compare("one process", one, 1)

	flagsMLPS(t, 4, args(filepath.Join(dir, "four"))...)
	compare("4 processes by flags", filepath.Join(dir, "four"), 4)
	mpirunMLPS(t, args(filepath.Join(dir, "mpi"))...)
	compare("4 processes under mpirun", filepath.Join(dir, "mpi"), 4)
}
