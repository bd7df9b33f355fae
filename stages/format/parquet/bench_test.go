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

// BenchmarkGather measures the min and max scan Write makes of numeric
// values, per type, over 1 MiB of random values (cached, as Write's are
// just filled), alternating with a copy of as many bytes: gather/copy is
// the scan's rate over the copy's, which holds however busy the machine.
func BenchmarkGather(b *testing.B) {
	p := make([]byte, 1<<20)
	fillFor(1, 1)(p, 0)
	dst := make([]byte, len(p))
	for _, typ := range []int32{typeInt32, typeInt64, typeFloat, typeDouble} {
		b.Run(map[int32]string{typeInt32: "int32", typeInt64: "int64", typeFloat: "float32", typeDouble: "float64"}[typ], func(b *testing.B) {
			o := out{stats: make([]minMax, 1)}
			o.gather(&leaf{slot: 0, phys: typ}, 0)
			var gather, cp time.Duration
			for b.Loop() {
				t0 := time.Now()
				o.gatherValues(p)
				t1 := time.Now()
				copy(dst, p)
				cp += time.Since(t1)
				gather += t1.Sub(t0)
			}
			bytes := float64(len(p)) * float64(b.N)
			b.ReportMetric(bytes/gather.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(cp)/float64(gather), "gather/copy")
		})
	}
}
