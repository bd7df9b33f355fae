package readepoch

import "mlps.dev/mlps/stages/dataset"

// phase is one kind of epoch a rank runs: training, or evaluation on a
// held-out dataset.
type phase struct {
	name    string // "train" or "eval"
	layout  *dataset.Layout
	batch   int64
	steps   int64 // per rank per epoch
	share   int64 // samples in each rank's block
	total   int64 // samples in the dataset
	ranks   int64
	compute Compute
	// Shuffles apply to training only, as in DLIO.
	fileShuffle, sampleShuffle bool
	window                     int64 // sample shuffle window; 0 shuffles the whole block
	excludeStart, excludeEnd   int64
	columns                    []string // parquet columns read; nil: all
	// exact is set when the target makes up as many bytes as a read asks
	// (Traits.Discards): a whole-file read then asks the file's size, not
	// the one byte more that tells a file that grew.
	exact bool
}

func newPhase(name string, l *dataset.Layout, batch int64, ranks int64, c Compute) *phase {
	total := l.Files * l.SamplesPerFile
	return &phase{name: name, layout: l, batch: batch, compute: c, total: total, ranks: ranks,
		steps: total / batch / ranks,
		share: (total + ranks - 1) / ranks,
	}
}

// order maps the positions a rank reads in one epoch (0, 1, ... in batch
// order) to sample ids. Rank r's block is the share samples starting at
// r × share; a last block that runs past the dataset wraps to its start.
// The file shuffle permutes the order of the block's files, keeping each
// file's samples together; the sample shuffle permutes the positions in
// the block, or within windows of shuffle_size positions as a streaming
// shuffle buffer would. Both are permutations computed on demand, so a
// rank holds no per-sample state.
type order struct {
	ph        *phase
	start     int64
	key       uint64
	sperm     permutation
	fperm     permutation
	firstFile int64
}

// shuffleKey is the key of rank's order in epoch: seed + epoch, as DLIO
// seeds its shuffles, mixed with the rank so that blocks differ.
func shuffleKey(seed uint64, epoch, rank int) uint64 {
	return mix64(mix64(seed+uint64(epoch)) + uint64(rank))
}

func (ph *phase) order(key uint64, rank int) *order {
	o := &order{ph: ph, start: int64(rank) * ph.share, key: key}
	o.sperm = newPermutation(uint64(ph.share), key, !ph.sampleShuffle || ph.window > 0)
	spf := ph.layout.SamplesPerFile
	o.firstFile = o.start / spf
	files := (o.start+ph.share-1)/spf - o.firstFile + 1
	o.fperm = newPermutation(uint64(files), mix64(key^0x66696c65), !ph.fileShuffle)
	return o
}

// sample returns the sample id at position pos.
func (o *order) sample(pos int64) int64 {
	q := pos
	if o.ph.sampleShuffle {
		if w := o.ph.window; w > 0 {
			base := pos / w * w
			n := min(w, o.ph.share-base)
			q = base + int64(newPermutation(uint64(n), mix64(o.key+uint64(base)), false).at(uint64(pos-base)))
		} else {
			q = int64(o.sperm.at(uint64(pos)))
		}
	}
	s := o.start + q
	if o.ph.fileShuffle {
		spf := o.ph.layout.SamplesPerFile
		f := o.firstFile + int64(o.fperm.at(uint64(s/spf-o.firstFile)))
		s = f*spf + s%spf
	}
	return s % o.ph.total
}
