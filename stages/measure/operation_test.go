package measure

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// endpointReader is a reader that says which endpoint served it, as an
// object store's readers do.
type endpointReader struct {
	io.Reader
	ep string
}

func (r endpointReader) Endpoint() string { return r.ep }

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		n := w.after
		w.after = 0
		return n, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

// Each case meters one operation the way stages do and checks the one
// record it leaves: its kind, target, endpoint, bytes, error and whether
// a first byte was noted.
func TestOperation(t *testing.T) {
	errCheck := errors.New("byte 3 differs")
	for _, tc := range []struct {
		name      string
		op        Op
		run       func(o *Operation) error
		bytes     int64
		endpoint  string
		err       string // of the record, "" for none
		own       string // Operation.Err, "" for none
		firstByte bool
	}{
		{name: "read through", op: Read, run: func(o *Operation) error {
			_, err := io.Copy(io.Discard, o.Reader(endpointReader{strings.NewReader("hello"), "http://127.0.0.1:9000"}, nil))
			return err
		}, bytes: 5, endpoint: "http://127.0.0.1:9000", firstByte: true},
		{name: "checked read fails at the check", op: Read, run: func(o *Operation) error {
			_, err := io.Copy(io.Discard, o.Reader(strings.NewReader("hello"), func([]byte) error { return errCheck }))
			return err
		}, bytes: 5, err: errCheck.Error(), own: errCheck.Error(), firstByte: true},
		{name: "short write", op: Write, run: func(o *Operation) error {
			_, err := o.Writer(&failingWriter{after: 3}).Write([]byte("hello"))
			return err
		}, bytes: 3, err: "disk full", own: "disk full", firstByte: true},
		{name: "nothing moved", op: Write, run: func(o *Operation) error {
			return errors.New("create refused")
		}, err: "create refused"},
		{name: "counted by the caller", op: Read, run: func(o *Operation) error {
			o.Moved(0)
			o.Moved(7)
			o.Via(endpointReader{nil, "http://a"})
			o.Via(endpointReader{nil, "http://b"}) // the first stays
			return nil
		}, bytes: 7, endpoint: "http://a", firstByte: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMeter("s")
			o := m.Worker().Begin(tc.op, "tgt")
			err := o.End(tc.run(o))
			if got := errText(err); got != tc.err {
				t.Errorf("End returned %q, want %q", got, tc.err)
			}
			if got := errText(o.Err()); got != tc.own {
				t.Errorf("Err() = %q, want %q", got, tc.own)
			}
			snap := m.Snapshot()
			if len(snap.Ops) != 1 {
				t.Fatalf("%d op kinds recorded, want 1: %+v", len(snap.Ops), snap.Ops)
			}
			s := snap.Ops[0]
			wantErrors := uint64(0)
			if tc.err != "" {
				wantErrors = 1
			}
			if s.Op != tc.op.String() || s.Target != "tgt" || s.Endpoint != tc.endpoint || s.Count != 1 ||
				s.Bytes != tc.bytes || s.Errors != wantErrors || s.FirstError != tc.err {
				t.Errorf("recorded %+v", s)
			}
			if (s.FirstByte != nil) != tc.firstByte {
				t.Errorf("first byte recorded: %v, want %v", s.FirstByte != nil, tc.firstByte)
			}
		})
	}
}

// Metering a stream changes none of its bytes.
func TestOperationPassesBytesThrough(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10000)
	var out bytes.Buffer
	w := NewMeter("s").Worker()
	r, wr := w.Begin(Read, "a"), w.Begin(Write, "b")
	if _, err := io.CopyBuffer(wr.Writer(&out), r.Reader(bytes.NewReader(data), nil), make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) || r.Bytes() != int64(len(data)) || wr.Bytes() != int64(len(data)) {
		t.Errorf("copied %d bytes (equal %v), read counted %d, write %d", out.Len(), bytes.Equal(out.Bytes(), data), r.Bytes(), wr.Bytes())
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
