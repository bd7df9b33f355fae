package diskann

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"mlps.dev/mlps/stages/vector"
)

// The benchmarks' collection is issue 14's: 100,000 clustered vectors of
// dimension 128 (100 zipf-weighted clusters), L2, on local files.
// MLPS_DISKANN_BENCH_N shrinks it for a quick look.
const (
	benchDim      = 128
	benchClusters = 100
	benchQueries  = 1000
)

func benchN(b *testing.B) int {
	if s := os.Getenv("MLPS_DISKANN_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("MLPS_DISKANN_BENCH_N=%q", s)
		}
		return n
	}
	return 100_000
}

// BenchmarkBuild builds the index with the defaults (max_degree 64,
// search_list_size 200, alpha 1.2, M = 64) on all cores and writes it to
// local files.
func BenchmarkBuild(b *testing.B) {
	n := benchN(b)
	src := vector.NewSource(benchDim, vector.Clustered, benchClusters, 1)
	data := collection(src, n)
	blobs := vector.OnBackend(openBackend(b, fileURI(b.TempDir())), "")
	var st BuildStats
	for b.Loop() {
		var err error
		if st, err = Build(b.Context(), blobs, "bench", data, benchDim, BuildParams{Metric: vector.L2, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	b.ReportMetric(st.PQTime.Seconds(), "pq-s")
	b.ReportMetric(st.GraphTime.Seconds(), "graph-s")
	b.ReportMetric(float64(st.IndexBytes+st.PQBytes)/(1<<20), "MiB-written")
	b.ReportMetric(float64(st.MemoryBytes)/(1<<20), "MiB-build-memory")
	b.ReportMetric(st.AvgDegree, "avg-degree")
}

// BenchmarkSearch searches the index, built once outside the timer, one
// query at a time through one Searcher, at the default settings and at
// search_list_size 200. Each op is one query; it reports queries per
// second, the p99 of the queries' own latencies, KiB read per query and
// recall@10 against the exact answer. The index's file is in the page
// cache after the first queries: this measures the engine, not the disk.
func BenchmarkSearch(b *testing.B) {
	n := benchN(b)
	be := openBackend(b, fileURI(b.TempDir()))
	f := newFixture(b, vector.OnBackend(be, ""), n, benchDim, benchQueries, vector.L2, BuildParams{Seed: 1})
	ix, err := Open(b.Context(), f.blobs, "idx", OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []SearchParams{{}, {ListSize: 200}} {
		p := p.withDefaults()
		b.Run(fmt.Sprintf("L=%d/W=%d", p.ListSize, p.BeamWidth), func(b *testing.B) {
			s := ix.NewSearcher(p)
			var res []vector.Neighbor
			var all SearchStats
			var hit float64
			lat := make([]time.Duration, 0, 1<<16)
			i := 0
			for b.Loop() {
				q := i % len(f.queries)
				start := time.Now()
				var st SearchStats
				res, st, err = s.Search(b.Context(), f.queries[q], testK, res[:0])
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				all.Add(st)
				hit += recall(res, f.truth[q])
				i++
			}
			slices.Sort(lat)
			nq := float64(b.N)
			b.ReportMetric(nq/b.Elapsed().Seconds(), "QPS")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(all.BytesRead)/nq/1024, "KiB/query")
			b.ReportMetric(float64(all.Hops)/nq, "hops/query")
			b.ReportMetric(hit/nq, "recall@10")
		})
	}
}
