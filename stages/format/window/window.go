// Package window streams a file whose content bytes come from a fill
// function and whose structure bytes (headers, markers, checksums) a
// format writes over them, through one caller buffer: the way the jpeg
// and png writers build files of an exact size without holding them.
package window

import (
	"fmt"
	"io"
)

// Writer streams a file through buf in windows of len(buf) bytes. Each
// window is filled from fill at its file offsets when it starts; the format
// takes its bytes in order, overwriting the structure and leaving the
// content.
type Writer struct {
	name string // the format, for errors
	w    io.Writer
	buf  []byte
	fill func(p []byte, off int64)
	size int64  // planned file size
	win  []byte // the current window
	at   int    // bytes of win taken
	off  int64  // file offset of win[0]
	n    int64  // bytes written
	err  error
}

// New starts a file of size bytes of format name (for errors) on w.
func New(name string, w io.Writer, buf []byte, fill func(p []byte, off int64), size int64) *Writer {
	o := &Writer{name: name, w: w, buf: buf, fill: fill, size: size}
	o.next()
	return o
}

// Err is the first error of a write, or of writing past the planned size.
func (o *Writer) Err() error { return o.err }

// next writes the taken window and starts the next one.
func (o *Writer) next() {
	if o.err == nil && o.at > 0 {
		n, err := o.w.Write(o.win[:o.at])
		o.n += int64(n)
		if err == nil && n < o.at {
			err = io.ErrShortWrite
		}
		o.err = err
	}
	o.off += int64(o.at)
	o.at = 0
	o.win = o.buf[:min(int64(len(o.buf)), o.size-o.off)]
	if o.err == nil && len(o.win) > 0 {
		o.fill(o.win, o.off)
	}
}

// Take returns the next up to n bytes of the file, as fill set them; the
// caller may change them.
func (o *Writer) Take(n int64) []byte {
	if o.at == len(o.win) {
		o.next()
		if len(o.win) == 0 && o.err == nil {
			// Only a bug in a format's plan gets us here; a corrupt file
			// must not pass as a good one.
			o.err = fmt.Errorf("%s: writing past the planned %d bytes", o.name, o.size)
		}
	}
	p := o.win[o.at:][:min(n, int64(len(o.win)-o.at))]
	o.at += len(p)
	return p
}

// Lit writes structure bytes.
func (o *Writer) Lit(b []byte) {
	for len(b) > 0 && o.err == nil {
		b = b[copy(o.Take(int64(len(b))), b):]
	}
}

// Finish writes the last window and checks the file has its planned size.
func (o *Writer) Finish() (int64, error) {
	o.next()
	if o.err == nil && o.n != o.size {
		o.err = fmt.Errorf("%s: wrote %d bytes, planned %d", o.name, o.n, o.size)
	}
	return o.n, o.err
}
