package vectorsearch_test

import (
	"fmt"
	"testing"

	"mlps.dev/mlps/exec/exectest"
)

// BenchmarkIndexes builds every index over the clustered
// collection of 100,000 × 128 vectors (L2) on local files, then runs
// queries at the default search settings, one at a time, with the index
// dropped from the page cache first: it reports the build's time, the
// queries' throughput and per-query p99, recall@10 against the exact
// answer, and the KiB each query read. `just bench` prints them.
func BenchmarkIndexes(b *testing.B) {
	dir := b.TempDir()
	const coll = `targets: t: uri: "file://%s"
datasets: v: {target: "t", path: "coll", format: "fbin", files: 10, samples_per_file: 10000,
	vectors: {dimension: 128, metric: "L2", distribution: "clustered", queries: 1000}}
`
	exectest.Run(b, "name: \"bench-vectors\"\n"+fmt.Sprintf(coll, dir)+"stages: g: {kind: \"generate\", dataset: \"v\"}\n")
	for _, tc := range []struct {
		index   string
		queries int
	}{
		{"FLAT", 100}, // 51 MB a query
		{"IVF_FLAT", 1000},
		{"DISKANN", 1000},
	} {
		b.Run(tc.index, func(b *testing.B) {
			var m map[string]any
			var build float64
			for b.Loop() {
				_, rep := exectest.Run(b, "name: \"bench-index\"\n"+fmt.Sprintf(coll, dir)+
					fmt.Sprintf("stages: ix: {kind: \"index\", dataset: \"v\", index_type: %q}\n", tc.index)+
					fmt.Sprintf("stages: q: {kind: \"query\", index: \"ix\", mode: \"query_count\", query_count: %d}\n", tc.queries))
				build = rep.Stages[0].Metrics["build_seconds"].(float64)
				m = rep.Stages[1].Metrics
			}
			b.ReportMetric(build, "build_s")
			b.ReportMetric(m["throughput_qps"].(float64), "queries/s")
			b.ReportMetric(m["p99_latency_ms"].(float64), "p99_ms")
			b.ReportMetric(m["recall_at_k_mean"].(float64), "recall@10")
			b.ReportMetric(m["bytes_per_query"].(float64)/1024, "KiB/query")
			b.Logf("%s over 100,000 × 128 clustered, file: built in %.2f s; %.0f queries/s, p99 %.2f ms, recall@10 %.4f, %.1f KiB read per query",
				tc.index, build, m["throughput_qps"], m["p99_latency_ms"], m["recall_at_k_mean"], m["bytes_per_query"].(float64)/1024)
		})
	}
}
