package readepoch

import (
	"math/rand/v2"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
)

// walkReads is loaderReads done the plain way, batch by batch and sample
// by sample, as the loaders fetch: the reference the closed forms must
// agree with.
func walkReads(a, batch, steps, threads, spf, group int64) (units, samples int64) {
	u := ragged{spf: spf, group: min(group, spf)}
	last := make([]int64, threads)
	for i := range last {
		last[i] = -1
	}
	for i := range steps {
		ld := i % threads
		for y := a + i*batch; y < a+(i+1)*batch; y++ {
			if k := u.index(y); k != last[ld] {
				last[ld] = k
				units++
				samples += u.end(y) - u.start(y)
			}
		}
	}
	return units, samples
}

// The closed forms and the period walk count what the loaders fetch, for
// files and row groups of every shape: whole units, short last groups,
// batches smaller and larger than a unit, loaders that hold a unit across
// batches and those that cannot.
func TestLoaderReadsMatchesWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	for range 20000 {
		spf := pick(1, 2, 3, 7, 12, 64, 100, 288, 1000)
		group := pick(1, 2, 3, 5, 8, 64, 256, 8192, spf)
		batch := pick(1, 2, 3, 4, 7, 16, 50, 333)
		threads := pick(1, 2, 3, 4, 8)
		steps := r.Int64N(40)
		a := r.Int64N(5000)
		wu, ws := walkReads(a, batch, steps, threads, spf, group)
		gu, gs := loaderReads(a, batch, steps, threads, spf, group)
		if gu != wu || gs != ws {
			t.Fatalf("a %d batch %d steps %d threads %d spf %d group %d: %d units of %d samples, the walk gives %d of %d",
				a, batch, steps, threads, spf, group, gu, gs, wu, ws)
		}
	}
}

// The floor sums hold where the sums themselves pass 2^63: only their
// difference must fit.
func TestFloorDiff(t *testing.T) {
	for _, tc := range []struct{ n, m, a, b, c, want int64 }{
		{0, 5, 3, 4, 1, 0},
		{10, 1, 7, 9, 2, 70},
		// Σ ⌊(7i+b)/1⌋ reaches 3e19 here.
		{3_000_000_000, 1, 7, 5, 0, 15_000_000_000},
		{3_000_000_000, 3, 3, 3, 0, 3_000_000_000},
	} {
		if got := floorDiff(tc.n, tc.m, tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("floorDiff(%d, %d, %d, %d, %d) = %d, want %d", tc.n, tc.m, tc.a, tc.b, tc.c, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n, m, a, b := r.Int64N(200), 1+r.Int64N(50), r.Int64N(100), r.Int64N(1000)
		var want uint64
		for i := range n {
			want += uint64((a*i + b) / m)
		}
		if got := floorSum(uint64(n), uint64(m), uint64(a), uint64(b)); got != want {
			t.Fatalf("floorSum(%d, %d, %d, %d) = %d, want %d", n, m, a, b, got, want)
		}
	}
}

// walkWork is an epoch's planned work the plain way: every rank's
// batches, sample by sample, each loader holding what it read last.
func walkWork(ph *phase, threads int64) stages.Work {
	var w stages.Work
	l := ph.layout
	spf := l.SamplesPerFile
	group := spf
	if l.Access() == dataset.RowGroups {
		group = l.RowGroupRows()
	}
	u := ragged{spf: spf, group: min(group, spf)}
	for r := range ph.ranks {
		a := r * ph.share
		last := make([]int64, threads)
		for i := range last {
			last[i] = -1
		}
		files := map[int64]bool{}
		for i := range ph.steps {
			ld := i % threads
			if l.Access() == dataset.Records {
				w.Ops++
			}
			for y := a + i*ph.batch; y < a+(i+1)*ph.batch; y++ {
				f := y / spf % l.Files
				files[y/spf] = true
				switch l.Access() {
				case dataset.Records:
					_, n, _ := l.RecordExtent(f, y%spf)
					w.ReadBytes += n
				case dataset.RowGroups:
					if k := u.index(y); k != last[ld] {
						last[ld] = k
						w.Ops++
						w.ReadBytes += (u.end(y) - u.start(y)) * l.RecordBytes(f)
					}
				default:
					if k := u.index(y); k != last[ld] {
						last[ld] = k
						w.Ops++
						w.Files++
						w.ReadBytes += l.FileSize(f)
					}
				}
			}
		}
		if l.Access() != dataset.WholeFile {
			w.Files += int64(len(files))
		}
	}
	return w
}

// An epoch's planned work in closed form is what the loaders read, for
// each way a format is read, with ranks whose blocks wrap to the
// dataset's start.
func TestWorkMatchesWalk(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		d                     dsl.Dataset
		ranks, batch, threads int64
	}{
		{"npz one sample", dsl.Dataset{Format: "npz", Files: 37, SamplesPerFile: 1, RecordBytes: 5000, RecordBytesStdev: 900}, 3, 4, 2},
		{"npz many samples", dsl.Dataset{Format: "npz", Files: 23, SamplesPerFile: 5, RecordBytes: 700}, 4, 3, 3},
		{"tfrecord drawn", dsl.Dataset{Format: "tfrecord", Files: 19, SamplesPerFile: 7, RecordBytes: 3000, RecordBytesStdev: 400}, 3, 5, 2},
		{"parquet short groups", dsl.Dataset{Format: "parquet", Files: 9, SamplesPerFile: 50, RecordBytes: 8,
			Parquet: &dsl.Parquet{RowGroupRows: 16, Columns: []dsl.Column{{Name: "x", Type: "int64", Elements: 1, Repeat: 1}}}}, 4, 7, 3},
		{"parquet whole groups", dsl.Dataset{Format: "parquet", Files: 9, SamplesPerFile: 64, RecordBytes: 8,
			Parquet: &dsl.Parquet{RowGroupRows: 16, Columns: []dsl.Column{{Name: "x", Type: "int64", Elements: 1, Repeat: 1}}}}, 5, 9, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := dataset.New("d", tc.d, 3)
			if err != nil {
				t.Fatal(err)
			}
			ph := newPhase("train", l, tc.batch, tc.ranks, Compute{})
			task := &task{spec: Spec{Accelerators: int(tc.ranks), ReadThreads: int(tc.threads)}}
			got, want := task.work(ph), walkWork(ph, tc.threads)
			// Row groups' bytes count their values only, an expectation
			// the plan labels; these datasets' sizes are otherwise exact.
			if wantExpected := tc.d.Format == "parquet"; got.Expected != wantExpected {
				t.Errorf("work.Expected = %v, want %v", got.Expected, wantExpected)
			}
			got.Expected = false
			if got != want {
				t.Errorf("work %+v, the walk %+v", got, want)
			}
		})
	}
}
