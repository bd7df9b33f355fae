package ivf

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages/vector"
)

// The benchmark's collection: issue 14's 100,000 × 128 clustered
// vectors, at the defaults (COSINE, nlist 4√N, nprobe nlist/16).
const (
	benchN        = 100_000
	benchDim      = 128
	benchClusters = 100
	benchQueries  = 200
	benchK        = 10
)

var bench struct {
	once    sync.Once
	dir     string // the file backend's root, removed by TestMain
	err     error
	stats   BuildStats
	file    backends.Backend
	mem     backends.Backend
	queries [][]float32
	truth   [][]vector.Neighbor
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchSetup builds the index once per process, on local files, copies
// its objects into a mem backend, and computes the exact answers of the
// queries over the whole collection, all outside any timer.
func benchSetup(b *testing.B) {
	bench.once.Do(func() {
		ctx := context.Background()
		src := vector.NewSource(benchDim, vector.Clustered, benchClusters, 1)
		bench.dir, bench.err = os.MkdirTemp("", "ivf-bench-")
		if bench.err != nil {
			return
		}
		uri := (&url.URL{Scheme: "file", Path: filepath.ToSlash(bench.dir)}).String()
		if bench.file, bench.err = backends.Open(ctx, uri); bench.err != nil {
			return
		}
		if bench.stats, bench.err = Build(ctx, Params{Seed: 1}, FromSource(src, benchN), vector.OnBackend(bench.file, ""), ""); bench.err != nil {
			return
		}
		if bench.mem, bench.err = backends.Open(ctx, "mem://"); bench.err != nil {
			return
		}
		names := []string{IndexName("")}
		for j := range bench.stats.NList {
			names = append(names, ListName("", j))
		}
		for _, name := range names {
			if bench.err = copyObject(ctx, bench.file, bench.mem, name); bench.err != nil {
				return
			}
		}
		bench.queries = make([][]float32, benchQueries)
		for i := range bench.queries {
			bench.queries[i] = make([]float32, benchDim)
			src.Query(int64(i), bench.queries[i])
		}
		bench.truth = exactAll(src, benchN, vector.Cosine, bench.queries, benchK)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
}

func copyObject(ctx context.Context, from, to backends.Backend, name string) error {
	r, err := from.Open(ctx, name, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	w, err := to.Create(ctx, name, int64(len(data)))
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// BenchmarkSearch runs queries one after another through one Searcher
// and reports their rate, the 99th percentile of each query's own
// latency, the KiB each read and the recall@10 against the exact answer
// over the whole collection (computed outside the timer).
//
//	go test ./stages/vector/ivf -run '^$' -bench Search -benchtime 2000x
func BenchmarkSearch(b *testing.B) {
	benchSetup(b)
	b.Logf("build: %d × %d, nlist %d, sample %d, %d iterations; %.1f s (train %.1f s, assign %.1f s, write %.1f s); %d objects, %.1f MiB; peak %.1f MiB by the formula",
		benchN, benchDim, bench.stats.NList, bench.stats.Sample, bench.stats.Iterations, bench.stats.Duration.Seconds(),
		bench.stats.Train.Seconds(), bench.stats.Assign.Seconds(), bench.stats.Write.Seconds(),
		bench.stats.Objects, float64(bench.stats.BytesWritten)/(1<<20), float64(bench.stats.PeakBytes)/(1<<20))
	for _, tc := range []struct {
		name    string
		backend backends.Backend
	}{{"file", bench.file}, {"mem", bench.mem}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			x, err := Open(ctx, vector.OnBackend(tc.backend, ""), "")
			if err != nil {
				b.Fatal(err)
			}
			s := x.NewSearcher()
			b.ReportAllocs()
			var sum float64
			for i, q := range bench.queries {
				got, _, err := s.Search(ctx, q, benchK, 0)
				if err != nil {
					b.Fatal(err)
				}
				sum += recall(got, bench.truth[i])
			}
			lat := make([]time.Duration, 0, b.N)
			var read int64
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				t := time.Now()
				_, st, err := s.Search(ctx, bench.queries[i%benchQueries], benchK, 0)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				read += st.BytesRead
			}
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "QPS")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(read)/float64(b.N)/1024, "KiB/query")
			b.ReportMetric(100*float64(read)/float64(b.N)/float64(x.Bytes()), "%read")
			b.ReportMetric(sum/benchQueries, "recall@10")
		})
	}
}
