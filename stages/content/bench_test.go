package content

import (
	"fmt"
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

// BenchmarkFillVsCopy reports fill throughput over copy throughput as
// "fill/copy" (the target is at least 1.2 from 1 MiB up). Separate runs of
// BenchmarkFill and BenchmarkCopy are at the mercy of whatever else the
// machine does in between, so here the two alternate in short batches and
// each is timed on its own: load from neighbours hits both alike. Batches of
// several operations keep each side's buffers as warm as they are in the
// separate benchmarks.
func BenchmarkFillVsCopy(b *testing.B) {
	g := New(1)
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			p, src, dst := make([]byte, n), make([]byte, n), make([]byte, n)
			g.Fill(src, 7, 0)
			g.Fill(p, 7, 0)
			copy(dst, src)
			batch := max(1, (16<<20)/n)
			var fill, cp time.Duration
			off := int64(0)
			for b.Loop() {
				t0 := time.Now()
				for range batch {
					g.Fill(p, 7, off)
					off += int64(n)
				}
				t1 := time.Now()
				for range batch {
					copy(dst, src)
				}
				cp += time.Since(t1)
				fill += t1.Sub(t0)
			}
			bytes := float64(n) * float64(batch) * float64(b.N)
			b.ReportMetric(bytes/fill.Seconds()/1e6, "fill_MB/s")
			b.ReportMetric(bytes/cp.Seconds()/1e6, "copy_MB/s")
			b.ReportMetric(float64(cp)/float64(fill), "fill/copy")
		})
	}
}
