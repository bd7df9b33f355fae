package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"mlps.dev/mlps/stages/content"
)

// CorruptError reports the first byte of a file that differs from what the
// dataset defines.
type CorruptError struct {
	File   string
	Offset int64
	Got    byte
	Want   byte
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: byte at offset %d is 0x%02x, the dataset defines 0x%02x", e.File, e.Offset, e.Got, e.Want)
}

// verifyChunk bounds the bytes compared at once, and so the memory a
// verifier holds, whatever the size of the reads it checks.
const verifyChunk = 256 << 10

// Verifier checks bytes read from one file, in order from a starting
// offset, against the file as the dataset defines it: a data file as Write
// produces it, or an index file as WriteIndex does. It regenerates the file
// alongside the reads, so it holds no more than one buffer, and any format
// can be checked, headers and framing included. Regeneration starts at
// the file's beginning: checking a range deep in a large file first
// regenerates everything before it.
type Verifier struct {
	name string
	what string // "file" or "index file", for the error past the end
	off  int64
	pr   *io.PipeReader
	want []byte
	err  error
	// done is closed when the regeneration has returned, so a test can
	// tell that Close stopped it.
	done chan struct{}
}

// Verifier returns a verifier for file i whose next checked byte is at
// offset off. Close it when done.
func (l *Layout) Verifier(i, off int64, gen *content.Generator) *Verifier {
	return newVerifier(l.FileName(i), "file", off, func(w io.Writer) error {
		_, err := l.Write(w, i, gen, make([]byte, verifyChunk))
		return err
	})
}

// IndexVerifier returns a verifier for the index file of file i whose next
// checked byte is at offset off; for a format without index files every
// Check fails. Close it when done.
func (l *Layout) IndexVerifier(i, off int64) *Verifier {
	name, ok := l.IndexName(i)
	if !ok {
		v := &Verifier{name: l.FileName(i), off: off, done: make(chan struct{})}
		close(v.done)
		v.err = fmt.Errorf("verify the index of %s: format %s has no index files", v.name, l.Format)
		return v
	}
	return newVerifier(name, "index file", off, func(w io.Writer) error {
		_, err := l.WriteIndex(w, i)
		return err
	})
}

// newVerifier starts regenerating the file name with write and skips to
// offset off.
func newVerifier(name, what string, off int64, write func(io.Writer) error) *Verifier {
	pr, pw := io.Pipe()
	v := &Verifier{name: name, what: what, off: off, pr: pr, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		pw.CloseWithError(write(pw))
	}()
	if n, err := io.CopyN(io.Discard, pr, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("verify %s: the dataset defines no byte at offset %d: the %s ends at %d", name, off, what, n)
		} else {
			err = fmt.Errorf("verify %s: %w", name, err)
		}
		v.err = err
	}
	return v
}

// Check compares p with the file's next len(p) bytes. The first mismatch is
// a *CorruptError; bytes past the file's end are an error that says where
// it ends. After an error every call returns it.
func (v *Verifier) Check(p []byte) error {
	for len(p) > 0 && v.err == nil {
		n := min(len(p), verifyChunk)
		if cap(v.want) < n {
			v.want = make([]byte, n)
		}
		want := v.want[:n]
		got, err := io.ReadFull(v.pr, want)
		// The bytes that did come are checked first: a wrong byte before
		// the end is the first thing wrong with the file.
		if v.compare(p[:got], want[:got]) {
			break
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("verify %s: the file goes on past offset %d, where the dataset's %s ends", v.name, v.off, v.what)
			} else {
				err = fmt.Errorf("verify %s: %w", v.name, err)
			}
			v.err = err
			break
		}
		p = p[n:]
	}
	return v.err
}

// compare checks p against want, advancing the offset, and reports whether
// it found a wrong byte.
func (v *Verifier) compare(p, want []byte) bool {
	if !bytes.Equal(p, want) {
		for j := range p {
			if p[j] != want[j] {
				v.err = &CorruptError{File: v.name, Offset: v.off + int64(j), Got: p[j], Want: want[j]}
				return true
			}
		}
	}
	v.off += int64(len(p))
	return false
}

// Close stops the regeneration.
func (v *Verifier) Close() {
	if v.pr != nil {
		v.pr.CloseWithError(errors.New("verifier closed"))
	}
}
