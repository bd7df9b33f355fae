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
