package formattest

import (
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// raw is a format made for testing the suite: a magic number, the payload
// from fill and its length, packed into the buffer. Each flaw breaks it the
// way a real format could go wrong, and one check of the suite must notice.
type raw struct {
	long       bool // Size is a byte short of the file
	stateful   bool // every file differs from the last
	constant   bool // the payload ignores fill
	periodic   bool // the payload repeats every 4 KiB
	bigFill    bool // fill fills the payload in one call, past the buffer
	unpacked   bool // the magic number is a write of its own
	allocating bool // every window allocates
	deaf       bool // errors of the writer are ignored
	shortOK    bool // a short write passes for a whole one
	lateReject bool // Write writes the magic number before checking the spec
	files      int64
}

const (
	rawMagic = "RAWFILE!"
	rawExtra = int64(len(rawMagic) + 8)
)

func (r *raw) size(n int64) (int64, error) {
	if n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("raw: a payload of %d bytes is not in [1, 2^40]", n)
	}
	if r.long {
		return n + rawExtra - 1, nil
	}
	return n + rawExtra, nil
}

func (r *raw) payload(n int64) []Extent { return []Extent{{int64(len(rawMagic)), n}} }

var sink []byte

func (r *raw) write(w io.Writer, n int64, fill func([]byte, int64), buf []byte) (int64, error) {
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}
	o := packer{w: w, buf: buf, deaf: r.deaf, shortOK: r.shortOK}
	if r.lateReject {
		o.put([]byte(rawMagic))
		o.flush()
	}
	if _, err := r.size(n); err != nil {
		return o.n, err
	}
	if !r.lateReject {
		o.put([]byte(rawMagic))
	}
	if r.unpacked {
		o.flush()
	}
	if r.bigFill {
		all := make([]byte, n)
		fill(all, o.off())
		o.put(all)
	}
	for left := n; left > 0 && !r.bigFill && (o.err == nil || o.deaf); {
		if o.used == len(o.buf) {
			o.flush()
		}
		p := o.buf[o.used:][:min(int64(len(o.buf)-o.used), left)]
		switch {
		case r.constant:
			clear(p)
		default:
			fill(p, o.off())
		}
		if r.periodic {
			for i := 4096; i < len(p); i++ {
				p[i] = p[i-4096]
			}
		}
		if r.allocating {
			sink = make([]byte, 64)
		}
		o.used += len(p)
		left -= int64(len(p))
	}
	r.files++
	var trailer [8]byte
	binary.LittleEndian.PutUint64(trailer[:], uint64(n))
	if r.stateful {
		trailer[7] = byte(r.files)
	}
	o.put(trailer[:])
	o.flush()
	return o.n, o.err
}

// packer gathers a file in buf, as the formats' writers do.
type packer struct {
	w             io.Writer
	buf           []byte
	used          int
	n             int64
	err           error
	deaf, shortOK bool
}

func (o *packer) off() int64 { return o.n + int64(o.used) }

func (o *packer) flush() {
	if o.used == 0 || (o.err != nil && !o.deaf) {
		return
	}
	n, err := o.w.Write(o.buf[:o.used])
	o.n += int64(n)
	if err == nil && n < o.used && !o.shortOK {
		err = io.ErrShortWrite
	}
	if !o.deaf {
		o.err = err
	}
	o.used = 0
}

func (o *packer) put(b []byte) {
	for len(b) > 0 && (o.err == nil || o.deaf) {
		if o.used == len(o.buf) {
			o.flush()
		}
		k := copy(o.buf[o.used:], b)
		o.used += k
		b = b[k:]
	}
}

func rawFormat(r *raw) Format[int64] {
	return Format[int64]{
		Size:    r.size,
		Write:   r.write,
		Cases:   []int64{1, 4095, 4097, 100000, 1<<20 + 5},
		Large:   32 << 20,
		Invalid: []int64{0, -1, 1<<40 + 1},
		Name:    func(n int64) string { return fmt.Sprint(n) },
		Packed:  true,
		Payload: r.payload,
	}
}

func TestConformingFormatPasses(t *testing.T) {
	Run(t, rawFormat(&raw{}))
}

// fakeT records failures instead of reporting them. Methods it does not
// define are the nil TB's and panic: the suite must not need them.
type fakeT struct {
	testing.TB
	failed bool
	msgs   []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// runCheck runs one check as Run would, on every spec it takes, and returns
// what it reported.
func runCheck[S any](c check[S], f *Format[S]) *fakeT {
	ft := &fakeT{}
	for _, s := range c.specs(f) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(ft, f, s)
		}()
		<-done
	}
	return ft
}

// TestFlawsFail breaks the conforming format one way at a time: the check
// for that part of the contract must fail.
func TestFlawsFail(t *testing.T) {
	for _, tt := range []struct {
		check, name string
		flaw        raw
	}{
		{"ExactSize", "long", raw{long: true}},
		{"Deterministic", "stateful", raw{stateful: true}},
		{"StreamsDiffer", "constant", raw{constant: true}},
		{"NoRepeatedBlock", "periodic", raw{periodic: true}},
		{"FillCalls", "bigFill", raw{bigFill: true}},
		{"FillCalls", "constant", raw{constant: true}},
		{"BoundedWrites", "unpacked", raw{unpacked: true}},
		{"Streaming", "allocating", raw{allocating: true}},
		{"Streaming", "bigFill", raw{bigFill: true}},
		{"WriterErrors", "deaf", raw{deaf: true}},
		{"WriterErrors", "shortOK", raw{shortOK: true}},
		{"Rejects", "lateReject", raw{lateReject: true}},
	} {
		t.Run(tt.check+"/"+tt.name, func(t *testing.T) {
			f := rawFormat(&tt.flaw)
			found := false
			for _, c := range checks[int64]() {
				if c.name != tt.check {
					continue
				}
				found = true
				ft := runCheck(c, &f)
				if !ft.failed {
					t.Errorf("%s passes a format with the flaw", c.name)
				}
				t.Logf("%s reports: %s", c.name, strings.Join(ft.msgs, "; "))
			}
			if !found {
				t.Fatalf("no check %q", tt.check)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	for _, tt := range []struct {
		in, want []Extent
	}{
		{nil, nil},
		{[]Extent{{0, 0}}, nil},
		{[]Extent{{0, 5}, {5, 5}, {10, 0}, {10, 1}}, []Extent{{0, 11}}},
		{[]Extent{{0, 5}, {6, 5}}, []Extent{{0, 5}, {6, 5}}},
	} {
		got := merge(tt.in)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("merge(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPerBlock(t *testing.T) {
	const b = 4096
	for _, tt := range []struct {
		es   []Extent
		n    int64
		want []int64
	}{
		{nil, 0, []int64{0}},
		{nil, 2 * b, []int64{0, 0, 0}},
		{[]Extent{{0, 2 * b}}, 2 * b, []int64{b, b, 0}},
		{[]Extent{{10, 5}, {b - 1, 2}, {2*b + 1, b - 2}}, 3 * b, []int64{6, 1, b - 2, 0}},
		{[]Extent{{b - 8, 3*b + 16}}, 5 * b, []int64{8, b, b, b, 8, 0}},
	} {
		if got := perBlock(tt.es, tt.n); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("perBlock(%v, %d) = %v, want %v", tt.es, tt.n, got, tt.want)
		}
	}
}
