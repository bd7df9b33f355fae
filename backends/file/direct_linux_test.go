package file

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"mlps.dev/mlps/backends"
)

// A direct writer's tail of whole blocks and a partial one, from an
// aligned buffer: the whole blocks go around the page cache, only the
// partial block through it, and the file holds every byte.
func TestDirectTailKeepsWholeBlocksDirect(t *testing.T) {
	dir := t.TempDir()
	b := newBackend("file", dir, false)
	const a = backends.DirectAlign
	for _, tc := range []struct {
		name   string
		writes []int // lengths of consecutive writes from aligned buffers
		cached []bool
	}{
		{"aligned then tail", []int{2 * a, 3*a + 100}, []bool{false, false, false, false, false, true}},
		{"short file", []int{100}, []bool{true}},
		{"whole blocks", []int{a, a}, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := b.CreateDirect(context.Background(), tc.name, -1)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i, n := range tc.writes {
				p := backends.AlignedBuffer(n)[:n]
				for k := range p {
					p[k] = byte(i*7 + k)
				}
				if m, err := w.Write(p); err != nil || m != n {
					t.Fatalf("write %d: %d, %v", n, m, err)
				}
				want = append(want, p...)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.name)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Munmap(m)
			vec := make([]byte, (len(want)+a-1)/a)
			if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
				t.Fatal(errno)
			}
			for i, v := range vec {
				if cached := v&1 == 1; cached != tc.cached[i] {
					t.Errorf("block %d in the page cache: %v, want %v", i, cached, tc.cached[i])
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("file holds %d bytes, not the %d written", len(got), len(want))
			}
		})
	}
}
