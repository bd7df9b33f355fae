package readepoch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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
}

func newLoader(ph *phase, b backends.Backend, odirect bool, rec *measure.Worker, transfer int64, gen *content.Generator) (*loader, error) {
	ld := &loader{ph: ph, b: b, open: b.Open, rec: rec, buf: make([]byte, transfer), gen: gen, current: -1, group: -1}
	if odirect {
		d, ok := backends.As[backends.DirectOpener](b)
		if !ok {
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
	r := measure.Record{Op: measure.Read, Target: l.Target, Start: time.Now()}
	// A length, not "to the end": an object store splits a long read into
	// parallel ranged requests only when it knows the length. One byte more
	// than planned still tells a file that grew.
	length := n
	if n < 0 {
		length = want + 1
	}
	rc, err := ld.open(ctx, name, off, length)
	if err == nil {
		r.Endpoint = backends.EndpointOf(rc)
		src := &meteredReader{r: rc, rec: &r}
		if ld.gen != nil {
			src.v = l.Verifier(i, off, ld.gen)
			defer src.v.Close()
		}
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
	if err == nil && r.Bytes != want {
		err = fmt.Errorf("read %d bytes at offset %d, the dataset defines %d: regenerate the dataset or fix its definition", r.Bytes, off, want)
	}
	r.End = time.Now()
	if err != nil {
		r.Err = err
		var ce *dataset.CorruptError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("read %s: %w", name, err)
		}
	}
	ld.rec.Observe(r)
	return r.Bytes, err
}

// meteredReader counts what comes back from storage into a record, and
// checks it when verifying.
type meteredReader struct {
	r   io.Reader
	rec *measure.Record
	v   *dataset.Verifier
}

func (m *meteredReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		if m.rec.FirstByte.IsZero() {
			m.rec.FirstByte = time.Now()
		}
		m.rec.Bytes += int64(n)
		if m.v != nil {
			if verr := m.v.Check(p[:n]); verr != nil {
				return n, verr
			}
		}
	}
	return n, err
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
	rec := measure.Record{Op: measure.Read, Target: l.Target, Start: time.Now()}
	rc, err := ld.open(r.ctx, l.FileName(r.file), off, int64(len(p)))
	var n int
	if err == nil {
		rec.Endpoint = backends.EndpointOf(rc)
		src := &meteredReader{r: rc, rec: &rec}
		if ld.gen != nil {
			src.v = l.Verifier(r.file, off, ld.gen)
			defer src.v.Close()
		}
		n, err = io.ReadFull(src, p)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	rec.End = time.Now()
	rec.Err = err
	ld.rec.Observe(rec)
	ld.bytes += rec.Bytes
	ld.reads++
	return n, err
}
