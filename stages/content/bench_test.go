package content

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mlps.dev/mlps/backends/pairbench"
)

// benchSizes straddle the caches of a typical server core: 256 KiB fits in
// L2 together with a copy's source, 64 MiB fits in no private cache, and
// from 1 MiB on the runtime's copy switches to non-temporal stores.
var benchSizes = []int{256 << 10, 1 << 20, 4 << 20, 64 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkFill and BenchmarkCopy use the same sub-benchmark names so that
// `go test -bench . ./stages/content` prints fill and copy rates of each
// size one above the other.
func BenchmarkFill(b *testing.B) {
	g := New(1)
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			p := make([]byte, n)
			g.Fill(p, 7, 0) // fault the pages in outside the timing
			b.SetBytes(int64(n))
			off := int64(0)
			for b.Loop() {
				g.Fill(p, 7, off)
				off += int64(n)
			}
		})
	}
}

func BenchmarkCopy(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			src, dst := make([]byte, n), make([]byte, n)
			// A never-written source would be the kernel's shared zero
			// page, always in L1: fill it so that copy reads real memory.
			New(1).Fill(src, 7, 0)
			copy(dst, src)
			b.SetBytes(int64(n))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkFillVsCopy compares Fill with copy() of the same number of bytes
// through backends/pairbench, the harness of every side-by-side benchmark:
// alternated pairs of runs, the median of the per-pair ratios of fill's
// rate over copy's (the target is at least 1.2 at every size) with its
// range, both rates and both CPU costs, and a row in `just bench`'s table.
// A run moves runBytes through one buffer, tens of milliseconds, so that a
// pair sees one moment of a machine whose neighbours come and go.
func BenchmarkFillVsCopy(b *testing.B) {
	const runBytes = 1 << 30
	g := New(1)
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			p, src, dst := make([]byte, n), make([]byte, n), make([]byte, n)
			g.Fill(src, 7, 0)
			g.Fill(p, 7, 0)
			copy(dst, src)
			reps := runBytes / n
			timed := func(op func()) (pairbench.Run, error) {
				t0 := time.Now()
				for range reps {
					op()
				}
				return pairbench.Run{Bytes: int64(reps * n), Seconds: time.Since(t0).Seconds()}, nil
			}
			off := int64(0)
			fill := pairbench.Side{Name: "fill", Run: func(context.Context) (pairbench.Run, error) {
				return timed(func() { g.Fill(p, 7, off); off += int64(n) })
			}}
			cp := pairbench.Side{Name: "copy", Run: func(context.Context) (pairbench.Run, error) {
				return timed(func() { copy(dst, src) })
			}}
			// Comparing inside b.Loop, once, makes the framework call this
			// function once: without b.Loop it would run the comparison
			// again for a larger b.N and add its row to the table again.
			done := false
			for b.Loop() {
				if !done {
					pairbench.Compare(b, pairbench.Config{
						Name: fmt.Sprintf("content fill vs copy, %s buffers, one core", sizeName(n)),
					}, fill, cp)
					done = true
				}
			}
		})
	}
}

// reportRatios reports the median of per-pair ratios as name and their
// range as name_min and name_max, plus how many pairs there were.
func reportRatios(b *testing.B, name string, ratios []float64) {
	b.ReportMetric(pairbench.Median(ratios), name)
	b.ReportMetric(slices.Min(ratios), name+"_min")
	b.ReportMetric(slices.Max(ratios), name+"_max")
	b.ReportMetric(float64(len(ratios)), "pairs")
}

// BenchmarkFillThenWrite decides ntMin: it fills a buffer and writes it
// into a file's page cache, as generate and checkpoint do, once with cached
// stores and once bypassing the cache, alternated in pairs.
// "cached/nt" is the median of per-pair time ratios: above 1 the
// non-temporal fill makes the fill-and-write faster at that size.
func BenchmarkFillThenWrite(b *testing.B) {
	g := New(1)
	for _, n := range []int{1 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20} {
		b.Run(sizeName(n), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "fill"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			p := make([]byte, n)
			round := func(m storeMode) time.Duration {
				t0 := time.Now()
				for i := range max(1, (16<<20)/n) {
					g.fill(p, 7, int64(i*n), m)
					if _, err := f.WriteAt(p, 0); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			round(storeCached) // the file's pages exist from here on
			var ratios []float64
			for b.Loop() {
				var c, nt time.Duration
				if len(ratios)%2 == 0 {
					c, nt = round(storeCached), round(storeNT)
				} else {
					nt, c = round(storeNT), round(storeCached)
				}
				ratios = append(ratios, float64(c)/float64(nt))
			}
			reportRatios(b, "cached/nt", ratios)
		})
	}
}
