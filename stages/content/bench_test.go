package content

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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

// BenchmarkFillVsCopy reports fill throughput over copy throughput (the
// target is at least 1.2 at every size). Separate runs of BenchmarkFill and
// BenchmarkCopy are at the mercy of whatever else the machine does in
// between, so here the two alternate in short batches, each timed on its
// own, and every pair of batches gives one ratio: "fill/copy" is the median
// of those ratios, with their min and max beside it, so one pair disturbed
// by a neighbour moves the range, not the figure. Which side goes first
// alternates too, so neither always runs on the caches the other left.
// Batches of several operations keep each side's buffers as warm as they
// are in the separate benchmarks.
func BenchmarkFillVsCopy(b *testing.B) {
	g := New(1)
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			p, src, dst := make([]byte, n), make([]byte, n), make([]byte, n)
			g.Fill(src, 7, 0)
			g.Fill(p, 7, 0)
			copy(dst, src)
			batch := max(1, (16<<20)/n)
			off := int64(0)
			fillBatch := func() time.Duration {
				t0 := time.Now()
				for range batch {
					g.Fill(p, 7, off)
					off += int64(n)
				}
				return time.Since(t0)
			}
			copyBatch := func() time.Duration {
				t0 := time.Now()
				for range batch {
					copy(dst, src)
				}
				return time.Since(t0)
			}
			var fill, cp time.Duration
			var ratios []float64
			for b.Loop() {
				var f, c time.Duration
				if len(ratios)%2 == 0 {
					f = fillBatch()
					c = copyBatch()
				} else {
					c = copyBatch()
					f = fillBatch()
				}
				fill += f
				cp += c
				ratios = append(ratios, float64(c)/float64(f))
			}
			reportRatios(b, "fill/copy", ratios)
			bytes := float64(n) * float64(batch) * float64(len(ratios))
			b.ReportMetric(bytes/fill.Seconds()/1e6, "fill_MB/s")
			b.ReportMetric(bytes/cp.Seconds()/1e6, "copy_MB/s")
		})
	}
}

// reportRatios reports the median of per-pair ratios as name and their
// range as name_min and name_max, plus how many pairs there were.
func reportRatios(b *testing.B, name string, ratios []float64) {
	slices.Sort(ratios)
	k := len(ratios)
	med := ratios[k/2]
	if k%2 == 0 {
		med = (ratios[k/2-1] + ratios[k/2]) / 2
	}
	b.ReportMetric(med, name)
	b.ReportMetric(ratios[0], name+"_min")
	b.ReportMetric(ratios[k-1], name+"_max")
	b.ReportMetric(float64(k), "pairs")
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
