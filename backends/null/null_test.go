package null_test

import (
	"io"
	"runtime"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/backendtest"
	_ "mlps.dev/mlps/backends/null"
)

func open(t testing.TB, uri string) backends.Backend {
	t.Helper()
	b, err := backends.Open(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return open(t, "null://") })
}

func TestURI(t *testing.T) {
	for _, tc := range []struct {
		uri, location string
		ok            bool
	}{
		{"null://", "null://", true},
		{"null:", "null://", true},
		{"null://ceiling", "null://ceiling", true},
		{"null://lab/run-1", "null://lab/run-1", true},
		{"null://x?depth=2", "", false},
		{"null://x#frag", "", false},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			b, err := backends.Open(t.Context(), tc.uri)
			if !tc.ok {
				if err == nil {
					b.Close()
					t.Fatalf("Open(%q) succeeded, want an error", tc.uri)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if p := b.Properties(); p.Scheme != "null" || p.Location != tc.location {
				t.Errorf("Properties() = %+v, want null at %s", p, tc.location)
			}
		})
	}
}

// The store keeps nothing per object, so the heap after a hundred thousand
// writes is what it was after a thousand.
func TestWritesKeepNothing(t *testing.T) {
	b := open(t, "null://")
	defer b.Close()
	data := make([]byte, 4096)
	heap := func(objects int) uint64 {
		for i := range objects {
			w, err := b.Create(t.Context(), "a/b/obj-"+itoa(i)+".bin", int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := backends.Put(t.Context(), b, "put/"+itoa(i), data); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	small := heap(1000)
	large := heap(100_000)
	// A map of 100,000 names would hold several MiB; the bound leaves room
	// for the runtime's own noise and nothing more.
	if large > small+1<<20 {
		t.Errorf("heap in use %d bytes after 100,000 objects, %d after 1,000: the store keeps something per object", large, small)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// A read fills any buffer from the pattern: the bytes depend on the
// offset only, so a read split in pieces equals one read whole.
func TestReadSplitEqualsWhole(t *testing.T) {
	b := open(t, "null://")
	defer b.Close()
	const off, n = 65_000, 300_001
	whole := read(t, b, off, n, n)
	for _, chunk := range []int{1, 4096, 65_536, 99_999} {
		if got := read(t, b, off, n, chunk); string(got) != string(whole) {
			t.Errorf("read in %d-byte pieces differs from the whole read", chunk)
		}
	}
	tail := read(t, b, off+70_000, n-70_000, 8192)
	if string(tail) != string(whole[70_000:]) {
		t.Error("a read from a later offset differs from the same bytes of a read from an earlier one")
	}
	zeros := 0
	for _, c := range whole {
		if c == 0 {
			zeros++
		}
	}
	if zeros > n/100 {
		t.Errorf("%d of %d bytes read are zero: the pattern is not filled", zeros, n)
	}
}

func read(t *testing.T, b backends.Backend, off, n int64, chunk int) []byte {
	t.Helper()
	r, err := b.Open(t.Context(), "x.bin", off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []byte
	buf := make([]byte, chunk)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
