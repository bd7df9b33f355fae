package vectorsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages/measure"
	"mlps.dev/mlps/stages/vector"
)

// blobs is vector.Blobs over a backend, below dir, with every write and
// read one metered operation of the stage. A Worker aggregates without
// locks, so each read of a batch in flight at once records into a Worker
// of its own: blobs holds one per slot and is used by one goroutine.
type blobs struct {
	b      backends.Backend
	open   func(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	target string
	dir    string
	meter  *measure.Meter
	// mu guards free, the Workers not in use, and the reads since the
	// last take, for per-query figures.
	mu           sync.Mutex
	free         []*measure.Worker
	bytes, reads int64
	// written counts the bytes of every object written.
	written atomic.Int64
}

func newBlobs(b backends.Backend, target, dir string, meter *measure.Meter) *blobs {
	return &blobs{b: b, open: b.Open, target: target, dir: dir, meter: meter}
}

// direct makes s read with O_DIRECT, around the host's page cache; the
// plan checked that the target can.
func (s *blobs) direct() *blobs {
	if d, ok := backends.As[backends.DirectOpener](s.b); ok {
		s.open = d.OpenDirect
	}
	return s
}

func (s *blobs) name(n string) string {
	if s.dir == "" {
		return n
	}
	return s.dir + "/" + n
}

func (s *blobs) get() *measure.Worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		w := s.free[n-1]
		s.free = s.free[:n-1]
		return w
	}
	return s.meter.Worker()
}

func (s *blobs) put(w *measure.Worker) {
	s.mu.Lock()
	s.free = append(s.free, w)
	s.mu.Unlock()
}

func (s *blobs) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	rec := s.get()
	op := rec.Begin(measure.Write, s.target)
	w, err := s.b.Create(ctx, s.name(name), size)
	if err != nil {
		op.End(err)
		s.put(rec)
		return nil, err
	}
	return &meteredWriter{Writer: w, op: op, mw: op.Writer(w), s: s, rec: rec}, nil
}

// meteredWriter counts what reaches the object and ends the operation
// when the object is whole, or dropped.
type meteredWriter struct {
	backends.Writer
	op   *measure.Operation
	mw   io.Writer
	s    *blobs
	rec  *measure.Worker
	done bool
}

func (w *meteredWriter) Write(p []byte) (int, error) {
	n, err := w.mw.Write(p)
	w.s.written.Add(int64(n))
	return n, err
}

func (w *meteredWriter) Close() error {
	err := w.Writer.Close()
	w.end(err)
	return err
}

func (w *meteredWriter) Abort() error {
	err := w.Writer.Abort()
	w.end(errAborted)
	return err
}

// errAborted marks a write operation whose object was dropped.
var errAborted = errors.New("aborted")

func (w *meteredWriter) end(err error) {
	if w.done {
		return
	}
	w.done = true
	w.op.End(err)
	w.s.put(w.rec)
}

func (s *blobs) ReadBatch(ctx context.Context, reads []vector.Read) error {
	if len(reads) == 1 {
		return s.read(ctx, reads[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range reads {
		g.Go(func() error { return s.read(gctx, r) })
	}
	return g.Wait()
}

func (s *blobs) read(ctx context.Context, r vector.Read) error {
	rec := s.get()
	op := rec.Begin(measure.Read, s.target)
	rc, err := s.open(ctx, s.name(r.Name), r.Off, int64(len(r.Buf)))
	if err == nil {
		_, err = io.ReadFull(op.Reader(rc, nil), r.Buf)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	n := op.Bytes()
	err = op.End(err)
	// One lock gives the Worker back and counts the read, where there
	// were two: a DISKANN search makes about a hundred reads.
	s.mu.Lock()
	s.free = append(s.free, rec)
	if err == nil {
		s.bytes += n
		s.reads++
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("read %d bytes of %s at offset %d: %w", len(r.Buf), s.name(r.Name), r.Off, err)
	}
	return nil
}

// take returns the bytes and reads since the last take, and starts over.
func (s *blobs) take() (bytes, reads int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bytes, reads = s.bytes, s.reads
	s.bytes, s.reads = 0, 0
	return bytes, reads
}
