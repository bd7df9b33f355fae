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

// Verifier checks bytes read from one file, in order from a starting
// offset, against the file as Write produces it. It regenerates the file
// alongside the reads, so it holds no more than one buffer, and any format
// can be checked, headers and framing included. Regeneration starts at
// the file's beginning: checking a range deep in a large file first
// regenerates everything before it.
type Verifier struct {
	name string
	off  int64
	pr   *io.PipeReader
	want []byte
	err  error
}

// Verifier returns a verifier for file i whose next checked byte is at
// offset off. Close it when done.
func (l *Layout) Verifier(i, off int64, gen *content.Generator) *Verifier {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 256<<10)
		_, err := l.Write(pw, i, gen, buf)
		pw.CloseWithError(err)
	}()
	v := &Verifier{name: l.FileName(i), pr: pr}
	if _, err := io.CopyN(io.Discard, pr, off); err != nil {
		v.err = fmt.Errorf("verify %s: the dataset defines no byte at offset %d: %w", v.name, off, err)
	}
	v.off = off
	return v
}

// Check compares p with the file's next len(p) bytes. The first mismatch is
// a *CorruptError; after an error every call returns it.
func (v *Verifier) Check(p []byte) error {
	for len(p) > 0 && v.err == nil {
		n := min(len(p), 256<<10)
		if cap(v.want) < n {
			v.want = make([]byte, n)
		}
		want := v.want[:n]
		if _, err := io.ReadFull(v.pr, want); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("verify %s: read past offset %d, where the dataset's file ends", v.name, v.off)
			}
			v.err = err
			break
		}
		if !bytes.Equal(p[:n], want) {
			for j := range n {
				if p[j] != want[j] {
					v.err = &CorruptError{File: v.name, Offset: v.off + int64(j), Got: p[j], Want: want[j]}
					break
				}
			}
			break
		}
		v.off += int64(n)
		p = p[n:]
	}
	return v.err
}

// Close stops the regeneration.
func (v *Verifier) Close() {
	v.pr.CloseWithError(errors.New("verifier closed"))
}
