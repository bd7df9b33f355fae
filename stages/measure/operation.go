package measure

import (
	"io"
	"time"

	"mlps.dev/mlps/backends"
)

// Operation is one backend operation being metered, the one way every
// stage makes its records: Begin it when the request starts, pass its
// reader or writer through Reader or Writer (or count with Moved), End
// it with the operation's outcome. What it records is what moved: the
// bytes the backend returned or accepted, when the first of them did, and
// the endpoint that served it.
//
// An Operation belongs to the goroutine that began it; a caller that
// counts from several goroutines (parallel ranged reads of one file)
// serialises its calls.
type Operation struct {
	w   *Worker
	rec Record
	err error
}

// Begin starts metering one operation of kind op against target.
func (w *Worker) Begin(op Op, target string) *Operation {
	return &Operation{w: w, rec: Record{Op: op, Target: target, Start: time.Now()}}
}

// Via notes the endpoint that serves the operation, from the reader or
// writer the backend returned (backends.Endpointer); the first one
// noted stays.
func (o *Operation) Via(x any) {
	if o.rec.Endpoint == "" {
		o.rec.Endpoint = backends.EndpointOf(x)
	}
}

// Moved counts n bytes that came back or went out.
func (o *Operation) Moved(n int64) {
	if n > 0 {
		if o.rec.FirstByte.IsZero() {
			o.rec.FirstByte = time.Now()
		}
		o.rec.Bytes += n
	}
}

// Bytes is what the operation moved so far.
func (o *Operation) Bytes() int64 { return o.rec.Bytes }

// Err is the first error the operation's reader or writer returned,
// io.EOF aside: the operation's own failure, as distinct from a failure
// of whatever it was copied to or from.
func (o *Operation) Err() error { return o.err }

// Reader returns r counting into the operation. With check, every byte
// read is passed to it, and its error ends the read: how a stage
// verifies content as it arrives.
func (o *Operation) Reader(r io.Reader, check func([]byte) error) io.Reader {
	o.Via(r)
	return &reader{o: o, r: r, check: check}
}

// Writer returns w counting into the operation the bytes w accepts.
func (o *Operation) Writer(w io.Writer) io.Writer {
	o.Via(w)
	return &writer{o: o, w: w}
}

// End records the operation, failed when err is not nil, and returns
// err.
func (o *Operation) End(err error) error {
	o.rec.End, o.rec.Err = time.Now(), err
	o.w.Observe(o.rec)
	return err
}

type reader struct {
	o     *Operation
	r     io.Reader
	check func([]byte) error
}

func (m *reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.o.Moved(int64(n))
	if n > 0 && m.check != nil {
		if cerr := m.check(p[:n]); cerr != nil {
			err = cerr
		}
	}
	if err != nil && err != io.EOF && m.o.err == nil {
		m.o.err = err
	}
	return n, err
}

type writer struct {
	o *Operation
	w io.Writer
}

func (m *writer) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.o.Moved(int64(n))
	if err != nil && m.o.err == nil {
		m.o.err = err
	}
	return n, err
}
