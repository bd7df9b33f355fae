package window

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Content from fill stays where structure is not written; structure
// overwrites it across window boundaries; sizes are enforced both ways.
func TestWriter(t *testing.T) {
	fill := func(p []byte, off int64) {
		for i := range p {
			p[i] = byte('a' + (off+int64(i))%26)
		}
	}
	var out bytes.Buffer
	w := New("test", &out, make([]byte, 4), fill, 10)
	w.Lit([]byte("XYZ"))
	if got := string(w.Take(3)); got != "d" { // the rest of the first window
		t.Errorf("Take(3) = %q, want %q", got, "d")
	}
	w.Lit([]byte("12345"))
	w.Take(2)
	if n, err := w.Finish(); n != 10 || err != nil {
		t.Fatalf("Finish = %d, %v", n, err)
	}
	if got := out.String(); got != "XYZd12345j" {
		t.Errorf("file %q, want %q", got, "XYZd12345j")
	}

	short := New("test", &bytes.Buffer{}, make([]byte, 4), fill, 10)
	short.Take(4)
	if _, err := short.Finish(); err == nil || !strings.Contains(err.Error(), "wrote 4 bytes, planned 10") {
		t.Errorf("short file: %v", err)
	}
	long := New("test", &bytes.Buffer{}, make([]byte, 4), fill, 2)
	long.Lit([]byte("abc"))
	if err := long.Err(); err == nil || !strings.Contains(err.Error(), "writing past the planned 2 bytes") {
		t.Errorf("long file: %v", err)
	}
	failing := New("test", errWriter{}, make([]byte, 4), fill, 8)
	failing.Take(8)
	if _, err := failing.Finish(); !errors.Is(err, errBoom) {
		t.Errorf("writer error: %v", err)
	}
}

var errBoom = errors.New("boom")

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errBoom }
