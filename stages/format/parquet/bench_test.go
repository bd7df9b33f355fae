package parquet

import (
	"io"
	"testing"
	"time"
)

// BenchmarkWrite writes dlrm- and flux-shaped files to io.Discard through
// a 1 MiB buffer and, in the same run, copies as many bytes through buffers
// of the same size: write/copy is the write rate over the copy rate, a
// machine-independent figure (content generation alone runs faster than
// copy; the rest is the format's overhead). The two alternate so that
// whatever else the machine does hits both alike.
func BenchmarkWrite(b *testing.B) {
	for _, bm := range []struct {
		name string
		spec Spec
	}{
		{"dlrm", Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 65536}},            // 50 MB
		{"flux", Spec{Columns: fluxColumns, RowGroupRows: 16, Rows: 16}},                 // 35 MB
		{"dlrm-groups-of-64", Spec{Columns: dlrmColumns, RowGroupRows: 64, Rows: 16384}}, // 12.5 MB in 40-byte and 256-byte pages
	} {
		b.Run(bm.name, func(b *testing.B) {
			size, err := Size(bm.spec)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			src, dst := make([]byte, len(buf)), make([]byte, len(buf))
			fill := fillFor(1, 1)
			fill(src, 0) // a never-written source would be the shared zero page
			copy(dst, src)
			var write, cp time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := Write(io.Discard, bm.spec, fill, buf); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				for n := int64(0); n < size; n += int64(len(buf)) {
					copy(dst, src)
				}
				cp += time.Since(t1)
				write += t1.Sub(t0)
			}
			bytes := float64(size) * float64(b.N)
			b.ReportMetric(bytes/write.Seconds()/1e6, "MB/s")
			b.ReportMetric(bytes/cp.Seconds()/1e6, "copy_MB/s")
			b.ReportMetric(float64(cp)/float64(write), "write/copy")
		})
	}
}

// BenchmarkOpen decodes the footer of a real-size dlrm file: 576 row
// groups of 200 columns, 5 MB.
func BenchmarkOpen(b *testing.B) {
	v := fullFooter(b, Spec{Columns: dlrmColumns, RowGroupRows: 8192, Rows: 4718592})
	b.SetBytes(int64(len(v.footer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(v, v.size); err != nil {
			b.Fatal(err)
		}
	}
}
