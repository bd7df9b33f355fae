package readepoch

import (
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
)

// work is what one epoch of ph reads on all ranks, in order without
// shuffling: exact for every format when samples are not shuffled and for
// one-sample files either way; with shuffled multi-sample files a loader
// may fetch a file more often than this counts. Files counts the files
// each rank touches; Ops the reads (a whole file, a run of records, a row
// group's columns).
//
// It costs the same for any number of files or samples: each rank reads
// a run of consecutive samples, so what its loaders fetch is counted with
// floor sums over the batches (units of a fixed size) or, for row groups
// whose last one in a file is short, by walking one period of the pattern
// the batches make against the files (at most samples_per_file batches).
// Sizes that differ by file are summed by dataset.Layout's rule.
func (t *task) work(ph *phase) stages.Work {
	l := ph.layout
	// Sizes summed over many files of drawn sizes are expectations, and
	// so are the bytes of row groups (their values, not page headers).
	w := stages.Work{Expected: !l.ExactSizes() || l.Access() == dataset.RowGroups}
	spf := l.SamplesPerFile
	threads := int64(t.spec.ReadThreads)
	n := ph.steps * ph.batch // samples each rank reads
	for r := range ph.ranks {
		// The rank's samples as positions on the dataset repeated end to
		// end: its block may wrap to the dataset's start.
		a := r * ph.share
		f0, f1 := a/spf, (a+n-1)/spf
		files := f1 - f0 + 1
		switch l.Access() {
		case dataset.Records:
			w.Files += files
			w.Ops += ph.steps // at least one read per batch
			// Every sample is one record of its file; the first and last
			// files may be read in part.
			head, tail := a-f0*spf, (f1+1)*spf-(a+n)
			w.ReadBytes += spf*l.SumRecordExtents(f0, files) -
				head*l.SumRecordExtents(f0, 1) - tail*l.SumRecordExtents(f1, 1)
		case dataset.RowGroups:
			// Each loader holds the row group it read last; the estimate
			// counts the selected values, not page headers and footers.
			w.Files += files
			row := selectedRowBytes(l.Parquet.Columns, ph.columns)
			reads, rows := loaderReads(a, ph.batch, ph.steps, threads, spf, l.RowGroupRows())
			w.Ops += reads
			w.ReadBytes += rows * row
		default:
			// Each loader holds the last file it read; batches go to the
			// loaders round-robin.
			reads, _ := loaderReads(a, ph.batch, ph.steps, threads, spf, spf)
			w.Files += reads
			w.Ops += reads
			// Every file of the run once, and the files read again by
			// another loader at the mean size.
			bytes := l.SumSizes(f0, files)
			if again := reads - files; again > 0 {
				bytes += again * (bytes / files)
				w.Expected = w.Expected || l.RecordBytesStdev > 0
			}
			w.ReadBytes += bytes
		}
	}
	return w
}

// loaderReads counts the units (files, or row groups of group rows) that
// the loaders of one rank fetch in an epoch, and the samples those units
// hold: the rank reads steps batches of batch samples from position a on,
// batch i going to loader i mod threads, which fetches every unit the
// batch touches except one it still holds from its previous batch.
//
// Units of one size m (group divides spf, or a group is the whole file)
// are counted in closed form: batch i touches ⌊(y+batch-1)/m⌋ - ⌊y/m⌋ + 1
// units (y = a + i·batch), and its loader still holds the first when the
// d = (threads-1)·batch + 1 positions before y lie in the same unit, so
// both are floor sums. Otherwise a batch's count depends only on y mod spf,
// which repeats every spf/gcd(batch, spf) batches: one period is walked.
func loaderReads(a, batch, steps, threads, spf, group int64) (units, samples int64) {
	m := min(group, spf)
	if spf%m == 0 {
		touched := steps + floorDiff(steps, m, batch, a+batch-1, a)
		var held int64
		if d := (threads-1)*batch + 1; d < m && steps > threads {
			k := steps - threads
			y := a + threads*batch
			held = k - floorDiff(k, m, batch, y, y-d)
		}
		units = touched - held
		return units, units * m
	}
	u := ragged{spf: spf, group: group}
	batchReads := func(i int64) (int64, int64) {
		y0 := a + i*batch
		y1 := y0 + batch - 1
		n, s := u.index(y1)-u.index(y0)+1, u.end(y1)-u.start(y0)
		if i >= threads && u.index(y0) == u.index(y0-(threads-1)*batch-1) {
			n, s = n-1, s-(u.end(y0)-u.start(y0))
		}
		return n, s
	}
	add := func(from, to int64) (n, s int64) {
		for i := from; i < to; i++ {
			dn, ds := batchReads(i)
			n, s = n+dn, s+ds
		}
		return n, s
	}
	head := min(steps, threads)
	units, samples = add(0, head)
	period := spf / gcd(batch, spf)
	if q := (steps - head) / period; q > 0 {
		n, s := add(head, head+period)
		units, samples = units+q*n, samples+q*s
		head += q * period
	}
	n, s := add(head, steps)
	return units + n, samples + s
}

// ragged is a file of spf rows cut into row groups of group rows, the
// last one short, repeated end to end.
type ragged struct{ spf, group int64 }

func (u ragged) groups() int64 { return (u.spf + u.group - 1) / u.group }

// index numbers the row group holding position y.
func (u ragged) index(y int64) int64 { return y/u.spf*u.groups() + y%u.spf/u.group }

// start and end bound the row group holding y: [start, end).
func (u ragged) start(y int64) int64 { return y/u.spf*u.spf + y%u.spf/u.group*u.group }
func (u ragged) end(y int64) int64 {
	return y/u.spf*u.spf + min(u.spf, (y%u.spf/u.group+1)*u.group)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// floorDiff is Σ_{i<n} ⌊(a·i+b)/m⌋ - ⌊(a·i+c)/m⌋ for b, c ≥ 0. Each sum
// alone can exceed int64 (it grows with n²), so both are taken modulo
// 2^64, where their difference, which is small, is exact.
func floorDiff(n, m, a, b, c int64) int64 {
	return int64(floorSum(uint64(n), uint64(m), uint64(a), uint64(b)) - floorSum(uint64(n), uint64(m), uint64(a), uint64(c)))
}

// floorSum is Σ_{i<n} ⌊(a·i+b)/m⌋ modulo 2^64, by the Euclid-like
// reduction: every division it makes is of a value at most a·n+b, which
// must fit in 64 bits; only the accumulated sum wraps.
func floorSum(n, m, a, b uint64) uint64 {
	var ans uint64
	for {
		if a >= m {
			ans += triangle(n) * (a / m)
			a %= m
		}
		if b >= m {
			ans += n * (b / m)
			b %= m
		}
		yMax := a*n + b
		if yMax < m {
			return ans
		}
		n, b, m, a = yMax/m, yMax%m, a, m
	}
}

// triangle is n(n-1)/2 modulo 2^64, halving the even factor first.
func triangle(n uint64) uint64 {
	if n%2 == 0 {
		return n / 2 * (n - 1)
	}
	return (n - 1) / 2 * n
}
