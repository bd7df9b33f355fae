package objstore

import (
	"context"
	"errors"
	"io"
	"sync"
)

// ErrPastEnd is what a Getter returns (wrapped) when the range starts at or
// past the end of the object (HTTP 416).
var ErrPastEnd = errors.New("range starts past the end of the object")

// Getter fetches up to n bytes of an object from off, as one ranged
// request.
type Getter func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// Split returns a reader of up to length bytes from off, fetched as chunks
// of chunk bytes with up to conc requests in flight, delivered in order.
// It holds at most conc chunk buffers. When the object ends early, the
// reader returns what exists and then io.EOF, as backends.Backend.Open
// promises; a range past the end of the first chunk is the caller's to
// rule out before calling Split.
func Split(ctx context.Context, get Getter, off, length, chunk int64, conc int) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	r := &splitReader{cancel: cancel, order: make(chan chan fetched, conc), bufs: make(chan []byte, conc)}
	for range conc {
		r.bufs <- nil // a slot; the buffer is made on first use
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.order)
		for pos := off; pos < off+length; pos += chunk {
			var buf []byte
			select {
			case buf = <-r.bufs:
			case <-ctx.Done():
				return
			}
			n := min(chunk, off+length-pos)
			if int64(cap(buf)) < n {
				buf = make([]byte, chunk)
			}
			res := make(chan fetched, 1)
			select {
			case r.order <- res:
			case <-ctx.Done():
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				res <- fetch(ctx, get, pos, buf[:n])
			}()
		}
	}()
	return r
}

type fetched struct {
	buf  []byte
	n    int
	full bool // the chunk held every byte asked for
	err  error
}

func fetch(ctx context.Context, get Getter, off int64, buf []byte) fetched {
	body, err := get(ctx, off, int64(len(buf)))
	if err != nil {
		if errors.Is(err, ErrPastEnd) {
			return fetched{buf: buf}
		}
		return fetched{buf: buf, err: err}
	}
	n, err := io.ReadFull(body, buf)
	cerr := body.Close()
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return fetched{buf: buf, n: n}
	case err != nil:
		return fetched{buf: buf, n: n, err: err}
	case cerr != nil:
		return fetched{buf: buf, n: n, err: cerr}
	}
	return fetched{buf: buf, n: n, full: true}
}

type splitReader struct {
	cancel context.CancelFunc
	order  chan chan fetched
	bufs   chan []byte
	wg     sync.WaitGroup
	cur    fetched
	pos    int
	have   bool
	done   bool
	err    error
}

func (r *splitReader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.have && r.pos < r.cur.n {
			n := copy(p, r.cur.buf[r.pos:r.cur.n])
			r.pos += n
			return n, nil
		}
		if r.have {
			r.have = false
			r.bufs <- r.cur.buf
			if !r.cur.full {
				r.err = io.EOF // the object ended inside this chunk
				continue
			}
		}
		res, ok := <-r.order
		if !ok {
			r.err = io.EOF
			continue
		}
		r.cur, r.pos, r.have = <-res, 0, true
		if r.cur.err != nil {
			r.err = r.cur.err
		}
	}
}

func (r *splitReader) Close() error {
	r.cancel()
	// Drain so the fetchers can finish and nothing leaks.
	go func() {
		for res := range r.order {
			<-res
		}
	}()
	r.wg.Wait()
	return nil
}

// Upload sends the bytes it reads from body to the store as one object; it
// returns when the object is committed or the upload failed. An upload
// that sees an error from body must not commit.
type Upload func(ctx context.Context, body io.Reader) error

// PipeWriter is a backends.Writer that streams what is written into an
// SDK's upload call running in its own goroutine, so that an object of any
// size passes through a bounded buffer.
type PipeWriter struct {
	pw       *io.PipeWriter
	cancel   context.CancelFunc
	result   chan error
	endpoint string
	done     func()
	closed   bool
	err      error
}

// errAborted fails the upload's body so that it does not commit.
var errAborted = errors.New("upload aborted")

// NewPipeWriter starts upload reading from the returned writer. endpoint
// is reported by Endpoint; done, when not nil, is called once the upload
// has ended.
func NewPipeWriter(ctx context.Context, upload Upload, endpoint string, done func()) *PipeWriter {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &PipeWriter{pw: pw, cancel: cancel, result: make(chan error, 1), endpoint: endpoint, done: done}
	go func() {
		err := upload(ctx, pr)
		if err == nil {
			err = ctx.Err() // an upload that returned early under cancel
		}
		pr.CloseWithError(errors.Join(err, errAborted))
		w.result <- err
	}()
	return w
}

func (w *PipeWriter) Endpoint() string { return w.endpoint }

func (w *PipeWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the body and waits for the upload to commit.
func (w *PipeWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.pw.Close()
	w.err = <-w.result
	w.cancel()
	if w.done != nil {
		w.done()
	}
	return w.err
}

// Abort fails the body so the upload cannot commit, and waits for it.
func (w *PipeWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.pw.CloseWithError(errAborted)
	w.cancel()
	<-w.result
	if w.done != nil {
		w.done()
	}
	return nil
}
