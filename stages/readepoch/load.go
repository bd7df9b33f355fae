package readepoch

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/format/parquet"
	"mlps.dev/mlps/stages/measure"
)

// loader is one read thread of one rank: it fetches the samples of the
// batches it is given the way a training framework's reader does for the
// dataset's format, and records one operation per storage read.
type loader struct {
	ph      *phase
	b       backends.Backend
	open    func(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
	rec     *measure.Worker
	buf     []byte
	gen     *content.Generator // set when verifying
	current int64              // the file this loader holds, or -1
	group   int                // the row group it holds, for RowGroups formats
	pq      *parquet.File      // the open parquet file, for RowGroups formats
	cols    []int              // its selected columns
	// bytes and reads count what the loader fetched for the batch being
	// loaded, through readAt.
	bytes, reads int64
	// verifier checks the read in flight, when verifying.
	verifier *dataset.Verifier
}

func newLoader(ph *phase, b backends.Backend, odirect bool, rec *measure.Worker, transfer int64, gen *content.Generator) (*loader, error) {
	ld := &loader{ph: ph, b: b, open: b.Open, rec: rec, buf: make([]byte, transfer), gen: gen, current: -1, group: -1}
	if odirect {
		d, ok := backends.As[backends.DirectOpener](b)
		if !ok {
			// The plan refused odirect on a target without the trait, and
			// backendtest holds each backend to its traits.
			return nil, fmt.Errorf("odirect: target %s (%s) cannot read with O_DIRECT", ph.layout.Target, b.Properties().Scheme)
		}
		ld.open = d.OpenDirect
		ld.buf = backends.AlignedBuffer(int(transfer))
	}
	return ld, nil
}

// batch is what a loader hands the accelerator: the batch's data is not
// kept, only what reading it cost.
type batch struct {
	// reads counts storage reads: whole files, record runs or ranges.
	bytes, reads int64
	err          error
}

// load reads the samples at positions [first, first+n) of o.
func (ld *loader) load(ctx context.Context, o *order, first, n int64) batch {
	var res batch
	l := ld.ph.layout
	spf := l.SamplesPerFile
	read := func(f, off, size int64) {
		got, err := ld.read(ctx, f, off, size)
		res.bytes += got
		res.reads++
		if err != nil && res.err == nil {
			res.err = err
		}
	}
	switch l.Access() {
	case dataset.Records:
		// A run of consecutive records of one file is one sequential read,
		// as a record reader streams them.
		for p := first; p < first+n && res.err == nil; {
			s := o.sample(p)
			f, k := s/spf, s%spf
			end := k + 1
			for p+end-k < first+n && end < spf && o.sample(p+end-k) == f*spf+end {
				end++
			}
			off, _, _ := l.RecordExtent(f, k)
			last, ln, _ := l.RecordExtent(f, end-1)
			read(f, off, last+ln-off)
			p += end - k
		}
	case dataset.RowGroups:
		// Whole row groups of the selected columns, as DLIO's parquet
		// reader fetches them; the open file's footer is read once.
		rgr := l.RowGroupRows()
		for p := first; p < first+n && res.err == nil; p++ {
			s := o.sample(p)
			f, g := s/spf, int((s%spf)/rgr)
			if f == ld.current && g == ld.group {
				continue
			}
			ld.bytes, ld.reads = 0, 0
			err := ld.readGroup(ctx, f, g)
			res.bytes += ld.bytes
			res.reads += ld.reads
			if err != nil {
				res.err = fmt.Errorf("read %s: %w", l.FileName(f), err)
			}
		}
	default:
		for p := first; p < first+n && res.err == nil; p++ {
			f := o.sample(p) / spf
			if f == ld.current {
				continue // the loader holds the file it loaded for an earlier sample
			}
			read(f, 0, -1)
			ld.current = f
		}
	}
	return res
}

// read reads n bytes of file i from off (n < 0: to the end) in
// transfer_bytes calls, checks the amount and, when verifying, every byte,
// and records it as one read operation.
func (ld *loader) read(ctx context.Context, i, off, n int64) (int64, error) {
	l := ld.ph.layout
	name := l.FileName(i)
	want := n
	if n < 0 {
		want = l.FileSize(i)
	}
	op := ld.rec.Begin(measure.Read, l.Target)
	// A length, not "to the end": an object store splits a long read into
	// parallel ranged requests only when it knows the length. One byte more
	// than planned still tells a file that grew, on a target that stores.
	length := n
	if n < 0 {
		length = want
		if !ld.ph.exact {
			length++
		}
	}
	rc, err := ld.open(ctx, name, off, length)
	if err == nil {
		src := op.Reader(rc, ld.check(i, off))
		if sc := l.Scanner(src, off, ld.buf, ld.gen != nil); sc != nil {
			for err == nil {
				_, err = sc.Next()
			}
		} else {
			for err == nil {
				_, err = src.Read(ld.buf)
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil && op.Bytes() != want {
		err = fmt.Errorf("read %d bytes at offset %d, the dataset defines %d: regenerate the dataset or fix its definition", op.Bytes(), off, want)
	}
	ld.closeCheck()
	if op.End(err) != nil {
		var ce *dataset.CorruptError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("read %s: %w", name, err)
		}
	}
	return op.Bytes(), err
}

// check returns the check of bytes read from file i at off when
// verifying, or nil; closeCheck stops it once the read is done.
func (ld *loader) check(i, off int64) func([]byte) error {
	if ld.gen == nil {
		return nil
	}
	ld.verifier = ld.ph.layout.Verifier(i, off, ld.gen)
	return ld.verifier.Check
}

func (ld *loader) closeCheck() {
	if ld.verifier != nil {
		ld.verifier.Close()
		ld.verifier = nil
	}
}

// readGroup fetches row group g of file f, opening the file (its footer)
// when the loader does not hold it yet.
func (ld *loader) readGroup(ctx context.Context, f int64, g int) error {
	l := ld.ph.layout
	if ld.pq == nil || ld.current != f {
		ld.current, ld.pq = -1, nil
		pf, err := parquet.Open(&rangeReader{ctx: ctx, ld: ld, file: f}, l.FileSize(f))
		if err != nil {
			return err
		}
		names := ld.ph.columns
		if len(names) == 0 {
			names = pf.Columns()
		}
		if ld.cols, err = pf.Select(names); err != nil {
			return err
		}
		ld.pq, ld.current = pf, f
	}
	ld.group = -1
	if _, err := ld.pq.ReadRowGroup(g, ld.cols, ld.buf); err != nil {
		return err
	}
	ld.group = g
	return nil
}

// rangeReader is a file as an io.ReaderAt for a format reader that seeks
// (parquet): each ReadAt is one ranged read from storage, recorded as one
// operation and verified like any other read.
type rangeReader struct {
	ctx  context.Context
	ld   *loader
	file int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	ld := r.ld
	l := ld.ph.layout
	op := ld.rec.Begin(measure.Read, l.Target)
	rc, err := ld.open(r.ctx, l.FileName(r.file), off, int64(len(p)))
	var n int
	if err == nil {
		n, err = io.ReadFull(op.Reader(rc, ld.check(r.file, off)), p)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	ld.closeCheck()
	op.End(err)
	ld.bytes += op.Bytes()
	ld.reads++
	return n, err
}
