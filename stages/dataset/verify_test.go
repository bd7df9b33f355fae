package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/content"
)

// kinds are the two files a verifier checks: a data file and an index file.
var kinds = []struct {
	name string
	what string // how the error past the end calls it
	// name, bytes and verifier of file i of l
	file     func(l *Layout, i int64) string
	bytes    func(t *testing.T, l *Layout, i int64) []byte
	verifier func(l *Layout, i, off int64) *Verifier
}{
	{"data", "file",
		func(l *Layout, i int64) string { return l.FileName(i) },
		func(t *testing.T, l *Layout, i int64) []byte { return file(t, l, i, content.New(9)) },
		func(l *Layout, i, off int64) *Verifier { return l.Verifier(i, off, content.New(9)) }},
	{"index", "index file",
		func(l *Layout, i int64) string { name, _ := l.IndexName(i); return name },
		func(t *testing.T, l *Layout, i int64) []byte {
			t.Helper()
			var b bytes.Buffer
			if _, err := l.WriteIndex(&b, i); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		func(l *Layout, i, off int64) *Verifier { return l.IndexVerifier(i, off) }},
}

// verifyShapes are files of both kinds larger than a verifier's chunk, so
// that chunk boundaries fall inside the checks.
var verifyShapes = []struct {
	name string
	d    dsl.Dataset
}{
	// An index line is "offset length\n": 100000 records give an index
	// of several chunks.
	{"tfrecord", dsl.Dataset{Format: "tfrecord", Files: 3, SamplesPerFile: 100000, RecordBytes: 3, Prefix: "rec", Path: "data/train"}},
	{"tfrecord-stdev", dsl.Dataset{Format: "tfrecord", Files: 3, SamplesPerFile: 100000, RecordBytes: 20, RecordBytesStdev: 5, Prefix: "rec", Path: "train"}},
	{"npz", dsl.Dataset{Format: "npz", Files: 2, SamplesPerFile: 3, RecordBytes: 300000, Prefix: "img"}},
	{"npy", dsl.Dataset{Format: "npy", Files: 2, SamplesPerFile: 1, RecordBytes: 600000, Prefix: "img"}},
	{"parquet", dsl.Dataset{Format: "parquet", Files: 2, SamplesPerFile: 30000, RecordBytes: 24, Prefix: "img", Parquet: pq}},
	{"jpeg", dsl.Dataset{Format: "jpeg", Files: 2, SamplesPerFile: 1, RecordBytes: 700000, Prefix: "img"}},
	{"png", dsl.Dataset{Format: "png", Files: 2, SamplesPerFile: 1, RecordBytes: 700000, Prefix: "img"}},
}

// forEach runs f for every file kind of every shape that has it.
func forEach(t *testing.T, f func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(off int64) *Verifier)) {
	for _, k := range kinds {
		for _, s := range verifyShapes {
			l := mustNew(t, "d", s.d, 9)
			if _, ok := l.IndexName(0); k.name == "index" && !ok {
				continue
			}
			t.Run(k.name+"/"+s.name, func(t *testing.T) {
				i := l.Files - 1
				want := k.bytes(t, l, i)
				if len(want) <= verifyChunk {
					t.Fatalf("the %s file is %d bytes, no more than a chunk", k.name, len(want))
				}
				f(t, l, i, k.file(l, i), k.what, want, func(off int64) *Verifier { return k.verifier(l, i, off) })
			})
		}
	}
}

// check feeds p to v in pieces of the given sizes, the last repeated, and
// returns the first error.
func check(v *Verifier, p []byte, pieces ...int) error {
	for j := 0; len(p) > 0; j++ {
		n := min(len(p), pieces[min(j, len(pieces)-1)])
		if err := v.Check(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// A file as the dataset defines it passes, however the reads cut it.
func TestVerifierPasses(t *testing.T) {
	forEach(t, func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(int64) *Verifier) {
		for _, pieces := range [][]int{{len(want)}, {1, 7, 4096}, {verifyChunk + 1}, {100003}} {
			v := verifier(0)
			if err := check(v, want, pieces...); err != nil {
				t.Errorf("reads of %v bytes: %v", pieces, err)
			}
			v.Close()
		}
	})
}

// A wrong byte anywhere is a *CorruptError naming the file, the byte's
// offset and both values, and every later Check returns it.
func TestVerifierCorrupt(t *testing.T) {
	forEach(t, func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(int64) *Verifier) {
		n := int64(len(want))
		for _, at := range []int64{0, 1, verifyChunk - 1, verifyChunk, n / 2, n - 1} {
			bad := bytes.Clone(want)
			bad[at] ^= 0x20
			for _, pieces := range [][]int{{len(bad)}, {4096}} {
				v := verifier(0)
				err := check(v, bad, pieces...)
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("byte %d flipped, reads of %v: error %v, want a *CorruptError", at, pieces, err)
				}
				if *ce != (CorruptError{File: name, Offset: at, Got: bad[at], Want: want[at]}) {
					t.Errorf("byte %d flipped: %+v", at, *ce)
				}
				if !strings.Contains(ce.Error(), fmt.Sprintf("%s: byte at offset %d is", name, at)) {
					t.Errorf("error %q does not name the file and offset", ce)
				}
				if again := v.Check(want[:1]); again != err {
					t.Errorf("after %v, Check returned %v", err, again)
				}
				v.Close()
			}
		}
	})
}

// A verifier started at an offset checks from there, and reports wrong
// bytes at their offsets in the file.
func TestVerifierOffset(t *testing.T) {
	forEach(t, func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(int64) *Verifier) {
		n := int64(len(want))
		for _, off := range []int64{1, verifyChunk + 3, n - 1} {
			v := verifier(off)
			if err := check(v, want[off:], 5000); err != nil {
				t.Errorf("from offset %d: %v", off, err)
			}
			v.Close()

			bad := bytes.Clone(want[off:])
			bad[len(bad)-1] ^= 1
			v = verifier(off)
			var ce *CorruptError
			if err := check(v, bad, 5000); !errors.As(err, &ce) || ce.Offset != n-1 {
				t.Errorf("from offset %d, last byte flipped: %v, want a *CorruptError at %d", off, err, n-1)
			}
			v.Close()
		}

		// At the end there is nothing left to check; past it, nothing to
		// start from.
		v := verifier(n)
		if err := v.Check(nil); err != nil {
			t.Errorf("at the end, checking nothing: %v", err)
		}
		if err := v.Check([]byte{0}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("past offset %d", n)) {
			t.Errorf("at the end, checking a byte: %v", err)
		}
		v.Close()
		v = verifier(n + 10)
		err := v.Check(want[:1])
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s: the dataset defines no byte at offset %d", name, n+10)) {
			t.Errorf("starting past the end: %v", err)
		}
		v.Close()
	})
}

// Bytes beyond the file's end are an error naming the file and where the
// dataset's file ends; a wrong byte before the end is reported first.
func TestVerifierPastEnd(t *testing.T) {
	forEach(t, func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(int64) *Verifier) {
		n := len(want)
		long := append(bytes.Clone(want), "tail"...)
		msg := fmt.Sprintf("verify %s: the file goes on past offset %d, where the dataset's %s ends", name, n, what)
		for _, pieces := range [][]int{{len(long)}, {n, 4}, {4096}, {n - 1, 1, 1}} {
			v := verifier(0)
			err := check(v, long, pieces...)
			if err == nil || err.Error() != msg {
				t.Errorf("reads of %v: error %v, want %q", pieces, err, msg)
			}
			if again := v.Check(want[:1]); again != err {
				t.Errorf("after %v, Check returned %v", err, again)
			}
			v.Close()
		}

		// The last byte shares its read with the tail.
		long[n-1] ^= 1
		for _, pieces := range [][]int{{len(long)}, {n - 1, 5}} {
			v := verifier(0)
			var ce *CorruptError
			if err := check(v, long, pieces...); !errors.As(err, &ce) || ce.Offset != int64(n-1) {
				t.Errorf("the last byte flipped and a tail, reads of %v: %v, want a *CorruptError at %d", pieces, err, n-1)
			}
			v.Close()
		}
	})
}

// Close ends the regeneration, which would otherwise block for good on a
// file nobody reads to its end.
func TestVerifierClose(t *testing.T) {
	forEach(t, func(t *testing.T, l *Layout, i int64, name, what string, want []byte, verifier func(int64) *Verifier) {
		for _, read := range []int{0, 1, verifyChunk + 1} {
			v := verifier(0)
			if err := v.Check(want[:read]); err != nil {
				t.Fatal(err)
			}
			v.Close()
			// A regression hangs here, and the test binary's timeout
			// names this test.
			<-v.done
			if err := v.Check(want[read:][:1]); err == nil {
				t.Errorf("a closed verifier passed a byte")
			}
		}
	})
}

// Formats without index files have no index to verify.
func TestIndexVerifierWithoutIndex(t *testing.T) {
	l := mustNew(t, "d", dsl.Dataset{Format: "npz", Files: 2, SamplesPerFile: 1, RecordBytes: 10, Prefix: "img"}, 1)
	v := l.IndexVerifier(1, 0)
	defer v.Close()
	err := v.Check([]byte("0 10\n"))
	if err == nil || !strings.Contains(err.Error(), "img_1_of_2.npz: format npz has no index files") {
		t.Errorf("error %v", err)
	}
}

// A verifier regenerating a file that fails to write passes the failure
// on, with the file's name.
func TestVerifierRegenerationError(t *testing.T) {
	boom := errors.New("boom")
	v := newVerifier("f", "file", 0, func(w io.Writer) error {
		if _, err := w.Write([]byte("ab")); err != nil {
			return err
		}
		return boom
	})
	defer v.Close()
	if err := v.Check([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := v.Check([]byte("c")); !errors.Is(err, boom) || !strings.Contains(err.Error(), "verify f:") {
		t.Errorf("error %v, want boom about f", err)
	}
}
