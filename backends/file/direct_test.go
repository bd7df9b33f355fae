package file_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/backends"
)

// O_DIRECT reads return exactly the requested range, whatever the
// alignment of the offset, the length and the caller's buffer.
func TestOpenDirect(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3*4096+777)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := open(t, fileURI(dir))
	d, ok := b.(backends.DirectOpener)
	if !ok {
		t.Fatal("the file backend does not implement DirectOpener")
	}
	bufs := map[string][]byte{
		"aligned":   backends.AlignedBuffer(8192),
		"unaligned": make([]byte, 1000),
		"offset":    backends.AlignedBuffer(8192 + 4096)[1:],
	}
	for _, r := range []struct{ off, n int64 }{
		{0, -1}, {0, 4096}, {100, 5000}, {4096, -1}, {4096 * 3, 777}, {int64(len(data)) - 1, -1}, {5, 0}, {int64(len(data)), -1},
	} {
		for bn, buf := range bufs {
			t.Run(fmt.Sprintf("%d+%d/%s", r.off, r.n, bn), func(t *testing.T) {
				rc, err := d.OpenDirect(t.Context(), "f", r.off, r.n)
				if err != nil {
					t.Skipf("O_DIRECT not available here: %v", err)
				}
				defer rc.Close()
				var got bytes.Buffer
				if _, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{rc}, buf); err != nil {
					t.Fatal(err)
				}
				end := int64(len(data))
				if r.n >= 0 {
					end = r.off + r.n
				}
				if !bytes.Equal(got.Bytes(), data[r.off:end]) {
					t.Errorf("read %d bytes, want %d (equal: false)", got.Len(), end-r.off)
				}
			})
		}
	}
}

// O_DIRECT writes of aligned blocks followed by a short, unaligned tail
// leave exactly the bytes written; Sync and Evict succeed on the file.
func TestCreateDirectSyncEvict(t *testing.T) {
	dir := t.TempDir()
	b := open(t, fileURI(dir))
	d, ok := b.(backends.DirectCreator)
	if !ok {
		t.Fatal("the file backend does not implement DirectCreator")
	}
	data := make([]byte, 5*4096+333)
	for i := range data {
		data[i] = byte(i*13 + i>>10)
	}
	w, err := d.CreateDirect(t.Context(), "sub/d", int64(len(data)))
	if err != nil {
		t.Skipf("O_DIRECT not available here: %v", err)
	}
	buf := backends.AlignedBuffer(2 * 4096)
	for off := 0; off < len(data); off += len(buf) {
		n := copy(buf, data[off:])
		if _, err := w.Write(buf[:n]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	s, ok := w.(backends.Syncer)
	if !ok {
		t.Fatal("the direct writer does not implement Syncer")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "sub/d"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	e, ok := b.(backends.Evicter)
	if !ok {
		t.Fatal("the file backend does not implement Evicter")
	}
	if err := e.Evict(t.Context(), "sub/d"); err != nil {
		t.Fatal(err)
	}
	if err := e.Evict(t.Context(), "absent"); !backends.IsNotExist(err) {
		t.Errorf("Evict of a missing file = %v, want not-exist", err)
	}
}
