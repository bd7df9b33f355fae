package dataset

import (
	"math"
	"math/rand/v2"
	"testing"

	"mlps.dev/mlps/dsl"
)

// Sums of per-file sizes: exact while a dataset has at most ExactFiles
// files (round its end included), and beyond within a small relative
// error of the exact sum, with no per-file work.
func TestSumSizes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      dsl.Dataset
		maxErr float64 // relative, of the exact sum
	}{
		{"flat", dsl.Dataset{Format: "npz", Files: 100_000, SamplesPerFile: 2, RecordBytes: 4096}, 0},
		{"small", dsl.Dataset{Format: "npz", Files: 1000, SamplesPerFile: 1, RecordBytes: 4096, RecordBytesStdev: 2000}, 0},
		{"tfrecord small", dsl.Dataset{Format: "tfrecord", Files: ExactFiles, SamplesPerFile: 3, RecordBytes: 10000, RecordBytesStdev: 5000}, 0},
		// unet3d's shape: stdev near half the mean.
		{"unet3d", dsl.Dataset{Format: "npz", Files: 300_000, SamplesPerFile: 1, RecordBytes: 146600628, RecordBytesStdev: 68341808}, 1e-3},
		{"tfrecord", dsl.Dataset{Format: "tfrecord", Files: 200_000, SamplesPerFile: 4, RecordBytes: 20000, RecordBytesStdev: 1000}, 1e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, "d", tc.d, 7)
			var want, ext int64
			for i := range l.Files {
				want += l.FileSize(i)
				if _, n, ok := l.RecordExtent(i, 0); ok {
					ext += n
				}
			}
			check := func(what string, got, want int64) {
				if e := math.Abs(float64(got-want)) / float64(want); e > tc.maxErr {
					t.Errorf("%s: %d, the files sum to %d: relative error %.2g, want at most %.2g", what, got, want, e, tc.maxErr)
				}
			}
			check("TotalBytes", l.TotalBytes(), want)
			if l.Access() == Records {
				check("SumRecordExtents", l.SumRecordExtents(0, l.Files), ext)
			}
			if tc.maxErr == 0 {
				// Round the end: the last file and the first two.
				if got, w := l.SumSizes(l.Files-1, 3), l.FileSize(l.Files-1)+l.FileSize(0)+l.FileSize(1); got != w {
					t.Errorf("SumSizes(Files-1, 3) = %d, want %d", got, w)
				}
			}
		})
	}
}

// A sum over a dataset's files allocates the same for any number of files
// beyond ExactFiles; below, the files' walk draws each size without
// allocating for the generator.
func TestSumSizesAllocates(t *testing.T) {
	d := dsl.Dataset{Format: "npz", SamplesPerFile: 1, RecordBytes: 4096, RecordBytesStdev: 100}
	var src rand.PCG
	r := rand.New(&src)
	l := mustNew(t, "d", d, 1)
	if n := testing.AllocsPerRun(5, func() { l.draw(&src, r, 3) }); n != 0 {
		t.Errorf("a draw allocates %.0f times", n)
	}
	d.Files = 100 * ExactFiles
	big := testing.AllocsPerRun(5, func() { mustNew(t, "d", d, 1).TotalBytes() })
	d.Files = 1 << 40
	if huge := testing.AllocsPerRun(5, func() { mustNew(t, "d", d, 1).TotalBytes() }); huge != big {
		t.Errorf("TotalBytes of %d files allocates %.0f times, of 2^40 files %.0f", 100*ExactFiles, big, huge)
	}
}
