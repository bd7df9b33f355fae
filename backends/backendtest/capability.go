package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"mlps.dev/mlps/backends"
)

// An Option tells the suite how open configured the backend.
type Option func(*config)

type config struct {
	endpoints []string
}

// Endpoints says that open gave the backend these endpoints (base URLs):
// its readers and writers must then say which of them served them, as
// backends.Endpointer promises.
func Endpoints(urls ...string) Option {
	return func(c *config) { c.endpoints = append(c.endpoints, urls...) }
}

const align = backends.DirectAlign

// skipWithoutDirectIO skips the test when err is the host's file system
// refusing O_DIRECT (EINVAL at open, as tmpfs did before Linux 6.6): that
// says nothing about the backend.
func skipWithoutDirectIO(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("direct I/O is not available on this file system: %v", err)
	}
}

// missingNames are names that are not objects once missingSetup has run:
// absent, below an object, and a prefix of names.
var missingNames = []string{"missing.bin", "no/such/dir/x.bin", "cap/present.bin/child", "cap"}

func missingSetup(t *testing.T, b backends.Backend) {
	put(t, b, "cap/present.bin", content(60, 100))
}

// checkNameErrors runs op on the names that are not objects, on invalid
// names and under a canceled context, and checks each error's kind.
func checkNameErrors(t *testing.T, b backends.Backend, what string, op func(ctx context.Context, name string) error) {
	t.Helper()
	missingSetup(t, b)
	ctx := t.Context()
	for _, name := range missingNames {
		if err := op(ctx, name); !backends.IsNotExist(err) {
			t.Errorf("%s(%q) error = %v (kind %v), want a not-exist error", what, name, err, backends.KindOf(err))
		}
	}
	for _, name := range []string{"", "/abs.bin", "a/../b.bin", "a\x00b.bin"} {
		if err := op(ctx, name); backends.KindOf(err) != backends.Permanent {
			t.Errorf("%s(%q) error = %v (kind %v), want kind permanent", what, name, err, backends.KindOf(err))
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := op(canceled, "cap/present.bin"); backends.KindOf(err) != backends.Canceled {
		t.Errorf("%s under a canceled context: error = %v (kind %v), want kind canceled", what, err, backends.KindOf(err))
	}
}

// readThrough reads all of r with buf as the only buffer: the wrappers
// hide WriterTo and ReaderFrom, so every Read lands in buf as given.
func readThrough(r io.Reader, buf []byte) ([]byte, error) {
	var got bytes.Buffer
	_, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{r}, buf)
	return got.Bytes(), err
}

// testDirectOpener reads ranges aligned and not, into buffers aligned and
// not, and wants what Open reads; past the end, and for names that are no
// object, it wants Open's errors.
func testDirectOpener(t *testing.T, b backends.Backend) {
	d, ok := backends.As[backends.DirectOpener](b)
	if !ok {
		t.Fatal("the backend has no DirectOpener, yet the suite runs its case")
	}
	const (
		size = 3*align + 777
		name = "direct/read.bin"
	)
	put(t, b, name, content(30, size))
	probe, err := d.OpenDirect(t.Context(), name, 0, -1)
	if err != nil {
		skipWithoutDirectIO(t, err)
		t.Fatalf("OpenDirect: %v", err)
	}
	probe.Close()

	getDirect := func(ctx context.Context, name string, off, length int64, buf []byte) ([]byte, error) {
		r, err := d.OpenDirect(ctx, name, off, length)
		if err != nil {
			return nil, err
		}
		data, err := readThrough(r, buf)
		if cerr := r.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("reader Close: %w", cerr)
		}
		return data, err
	}
	bufs := []struct {
		name string
		buf  []byte
	}{
		{"aligned", backends.AlignedBuffer(2 * align)},
		{"short", make([]byte, 1000)},
		{"misaligned address", backends.AlignedBuffer(3 * align)[1 : 1+2*align]},
		{"misaligned address and length", backends.AlignedBuffer(3 * align)[1:]},
	}
	for _, rg := range []struct{ off, length int64 }{
		{0, -1}, {0, align}, {align, 2 * align}, {align, -1}, {100, 5000},
		{3 * align, 777}, {size - 1, -1}, {5, 0}, {align + 1, 1 << 40},
		{size, -1}, {size, 10},
	} {
		want := mustGet(t, b, name, rg.off, rg.length)
		for _, bf := range bufs {
			t.Run(fmt.Sprintf("%d+%d/%s", rg.off, rg.length, bf.name), func(t *testing.T) {
				got, err := getDirect(t.Context(), name, rg.off, rg.length, bf.buf)
				if err != nil {
					t.Fatalf("OpenDirect(off=%d, length=%d) and read: %v", rg.off, rg.length, err)
				}
				checkSame(t, "OpenDirect against Open", got, want)
			})
		}
	}

	// A byte at a time costs a request per byte, so only a few bytes.
	t.Run("bytes across a block boundary", func(t *testing.T) {
		got, err := getDirect(t.Context(), name, align-5, 10, make([]byte, 1))
		if err != nil {
			t.Fatalf("OpenDirect and read a byte at a time: %v", err)
		}
		checkSame(t, "OpenDirect against Open", got, mustGet(t, b, name, align-5, 10))
	})
	t.Run("past end", func(t *testing.T) {
		for _, rg := range []struct{ off, length int64 }{{size + 1, -1}, {size + 1, 10}, {size + align, align}, {1 << 40, -1}} {
			got, err := getDirect(t.Context(), name, rg.off, rg.length, backends.AlignedBuffer(align))
			if err == nil {
				t.Errorf("OpenDirect(off=%d, length=%d) of a %d-byte object read %d bytes and no error; an offset past the end must fail",
					rg.off, rg.length, size, len(got))
			} else if k := backends.KindOf(err); k != backends.Permanent {
				t.Errorf("OpenDirect(off=%d) past the end: error %v is of kind %v, want permanent", rg.off, err, k)
			}
		}
	})
	t.Run("not objects", func(t *testing.T) {
		checkNameErrors(t, b, "OpenDirect", func(ctx context.Context, name string) error {
			_, err := getDirect(ctx, name, 0, -1, backends.AlignedBuffer(align))
			return err
		})
	})
}

// writeChunks writes data in chunks of chunk bytes, each from a buffer
// from AlignedBuffer, so that only the last write may be short.
func writeChunks(t *testing.T, w backends.Writer, data []byte, chunk int) {
	t.Helper()
	buf := backends.AlignedBuffer(chunk)
	for off := 0; off < len(data); off += chunk {
		n := copy(buf, data[off:])
		if k, err := w.Write(buf[:n]); err != nil || k != n {
			w.Abort()
			t.Fatalf("Write of %d bytes at %d = %d, %v", n, off, k, err)
		}
	}
}

// testDirectCreator writes aligned chunks and a short tail over an older,
// longer object, and reads back exactly what was written.
func testDirectCreator(t *testing.T, b backends.Backend) {
	d, ok := backends.As[backends.DirectCreator](b)
	if !ok {
		t.Fatal("the backend has no DirectCreator, yet the suite runs its case")
	}
	probe, err := d.CreateDirect(t.Context(), "direct/probe.bin", 0)
	if err != nil {
		skipWithoutDirectIO(t, err)
		t.Fatalf("CreateDirect: %v", err)
	}
	probe.Abort()

	for _, tc := range []struct {
		name        string
		size, chunk int
	}{
		{"aligned chunks and a short tail", 5*align + 333, 2 * align},
		{"whole blocks", 4 * align, align},
		{"one chunk", 2 * align, 2 * align},
		{"short tail only", 333, 2 * align},
		{"empty", 0, align},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "direct/" + tc.name + ".bin"
			put(t, b, name, content(31, 7*align+5))
			data := content(32, tc.size)
			w, err := d.CreateDirect(t.Context(), name, int64(tc.size))
			if err != nil {
				t.Fatalf("CreateDirect: %v", err)
			}
			writeChunks(t, w, data, tc.chunk)
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkSize(t, b, name, int64(tc.size))
			checkSame(t, "content", mustGet(t, b, name, 0, -1), data)
		})
	}

	t.Run("Abort", func(t *testing.T) {
		w, err := d.CreateDirect(t.Context(), "direct/aborted.bin", 4*align)
		if err != nil {
			t.Fatalf("CreateDirect: %v", err)
		}
		writeChunks(t, w, content(33, 2*align), align)
		if err := w.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
		checkNotExist(t, b, "direct/aborted.bin")
	})
	t.Run("invalid name", func(t *testing.T) {
		w, err := d.CreateDirect(t.Context(), "../escape.bin", align)
		if err == nil {
			w.Abort()
		}
		if backends.KindOf(err) != backends.Permanent {
			t.Errorf("CreateDirect of an invalid name: error = %v (kind %v), want kind permanent", err, backends.KindOf(err))
		}
	})
}

// writerSource is one way the backend makes writers.
type writerSource struct {
	name   string
	create func(ctx context.Context, name string, size int64) (backends.Writer, error)
}

func writerSources(b backends.Backend) []writerSource {
	srcs := []writerSource{{"Create", b.Create}}
	if d, ok := backends.As[backends.DirectCreator](b); ok {
		srcs = append(srcs, writerSource{"CreateDirect", d.CreateDirect})
	}
	return srcs
}

// hasSyncer reports whether a writer of b, from Create or CreateDirect,
// has a Syncer.
func hasSyncer(ctx context.Context, b backends.Backend) bool {
	for _, src := range writerSources(b) {
		w, err := src.create(ctx, "sync/probe.bin", 0)
		if err != nil {
			continue // testSyncer says why, if it runs
		}
		_, ok := backends.As[backends.Syncer](w)
		w.Abort()
		if ok {
			return true
		}
	}
	return false
}

// testSyncer syncs writers that have Syncer before, between and after
// writes, and wants the content intact after Close.
func testSyncer(t *testing.T, b backends.Backend) {
	srcs := writerSources(b)
	for _, src := range srcs {
		t.Run(src.name, func(t *testing.T) {
			const size = 3*align + 100
			name := "sync/" + src.name + ".bin"
			data := content(34, size)
			w, err := src.create(t.Context(), name, size)
			if err != nil {
				skipWithoutDirectIO(t, err)
				t.Fatalf("%s: %v", src.name, err)
			}
			s, ok := backends.As[backends.Syncer](w)
			if !ok {
				w.Abort()
				t.Skipf("%s's writer has no Syncer", src.name)
			}
			syncNow := func(when string) {
				t.Helper()
				if err := s.Sync(); err != nil {
					w.Abort()
					t.Fatalf("Sync %s: %v", when, err)
				}
			}
			syncNow("before any write")
			writeChunks(t, w, data[:2*align], align)
			syncNow("after two blocks")
			writeChunks(t, w, data[2*align:], align)
			syncNow("after the tail")
			if err := w.Close(); err != nil {
				t.Fatalf("Close after Sync: %v", err)
			}
			checkSize(t, b, name, size)
			checkSame(t, "content", mustGet(t, b, name, 0, -1), data)
		})
	}
}

// testEvicter evicts objects, which must read back unchanged, and names
// that are no object, which must be not-exist errors as for Stat.
func testEvicter(t *testing.T, b backends.Backend) {
	e, ok := backends.As[backends.Evicter](b)
	if !ok {
		t.Fatal("the backend has no Evicter, yet the suite runs its case")
	}
	ctx := t.Context()
	for _, size := range []int{10_000, 0} {
		name := fmt.Sprintf("evict/%d.bin", size)
		data := content(35, size)
		put(t, b, name, data)
		mustGet(t, b, name, 0, -1) // so that there is something to evict
		for i := range 2 {
			if err := e.Evict(ctx, name); err != nil {
				t.Fatalf("Evict(%q) #%d of an existing object: %v", name, i+1, err)
			}
			checkSize(t, b, name, int64(size))
			checkSame(t, "content after Evict", mustGet(t, b, name, 0, -1), data)
		}
	}
	checkNameErrors(t, b, "Evict", e.Evict)
}

// testPutter stores objects through the backend's Putter itself, as
// backends.Put does when it finds one.
func testPutter(t *testing.T, b backends.Backend) {
	p, ok := backends.As[backends.Putter](b)
	if !ok {
		t.Fatal("the backend has no Putter, yet the suite runs its case")
	}
	checkPut(t, b, p.Put)
}

// testEndpointer wants every reader and writer of a backend opened with
// endpoints, and every Put, to say which of them served it.
func testEndpointer(t *testing.T, b backends.Backend, endpoints []string) {
	if len(endpoints) == 0 {
		t.Fatal("the backend was not opened with endpoints (backendtest.Endpoints), yet the suite runs its case")
	}
	check := func(what, got string) {
		t.Helper()
		trim := func(s string) string { return strings.TrimSuffix(s, "/") }
		switch {
		case got == "":
			t.Errorf("%s reports no endpoint; opened with endpoints %v, it must say which served it", what, endpoints)
		case !slices.ContainsFunc(endpoints, func(e string) bool { return trim(e) == trim(got) }):
			t.Errorf("%s reports endpoint %q, which is none of %v", what, got, endpoints)
		}
	}
	ctx := t.Context()
	const size = 10_000
	data := content(36, size)
	for i := range len(endpoints) + 1 { // every endpoint's turn, whatever the strategy
		name := fmt.Sprintf("endpoint/%d.bin", i)
		w, err := b.Create(ctx, name, size)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		check("Create's writer", backends.EndpointOf(w))
		if _, err := w.Write(data); err != nil {
			w.Abort()
			t.Fatalf("Write: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, rg := range []struct{ off, length int64 }{{0, -1}, {100, 1000}, {5, 0}, {size, -1}} {
			r, err := b.Open(ctx, name, rg.off, rg.length)
			if err != nil {
				t.Fatalf("Open(off=%d, length=%d): %v", rg.off, rg.length, err)
			}
			check(fmt.Sprintf("Open(off=%d, length=%d)'s reader", rg.off, rg.length), backends.EndpointOf(r))
			io.Copy(io.Discard, r)
			r.Close()
		}
		ep, err := backends.Put(ctx, b, fmt.Sprintf("endpoint/put-%d.bin", i), data)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		check("Put", ep)
	}
}

// testDiscards holds a backend whose Traits say Discards to what it
// promises instead of read-back: every write and Put is accepted whole;
// a read of a named length returns exactly that many bytes, the same bytes
// each time and whatever was written; a read that names no length, and
// Stat, are permanent errors (there is no size to know); Delete succeeds,
// again and again; names and cancellation are checked as for any backend.
func testDiscards(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	t.Run("writes", func(t *testing.T) {
		for _, size := range []int{0, 1, 4099, 3<<20 + 7} {
			data := content(40, size)
			w, err := b.Create(ctx, "discard/w.bin", int64(size/2))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			for rest := data; len(rest) > 0; {
				k := min(1_000_003, len(rest))
				if n, err := w.Write(rest[:k]); err != nil || n != k {
					t.Fatalf("Write of %d bytes = %d, %v; want all of them accepted", k, n, err)
				}
				rest = rest[k:]
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close after %d bytes: %v", size, err)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after Close = %v, want nil", err)
			}
			w, err = b.Create(ctx, "discard/aborted.bin", -1)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			w.Write(data)
			if err := w.Abort(); err != nil {
				t.Errorf("Abort: %v", err)
			}
			if _, err := backends.Put(ctx, b, "discard/put.bin", data); err != nil {
				t.Errorf("Put of %d bytes: %v", size, err)
			}
		}
	})
	t.Run("reads", func(t *testing.T) {
		put(t, b, "discard/written.bin", content(41, 100_000))
		for _, rg := range []struct{ off, length int64 }{
			{0, 0}, {0, 1}, {0, 100_000}, {0, 100_001}, {12_345, 3 << 20}, {1 << 40, 77},
		} {
			first, err := get(ctx, b, "discard/written.bin", rg.off, rg.length)
			if err != nil {
				t.Fatalf("Open(off=%d, length=%d) and read: %v", rg.off, rg.length, err)
			}
			if int64(len(first)) != rg.length {
				t.Errorf("Open(off=%d, length=%d) read %d bytes, want exactly the length asked", rg.off, rg.length, len(first))
			}
			again := mustGet(t, b, "discard/never-written.bin", rg.off, rg.length)
			checkSame(t, fmt.Sprintf("Open(off=%d, length=%d) of a name never written against a written one", rg.off, rg.length), again, first)
		}
		if _, err := get(ctx, b, "discard/written.bin", 0, -1); backends.KindOf(err) != backends.Permanent {
			t.Errorf("Open(length=-1) error = %v (kind %v), want kind permanent: a discarding backend knows no length", err, backends.KindOf(err))
		}
	})
	t.Run("stat and delete", func(t *testing.T) {
		put(t, b, "discard/s.bin", content(42, 100))
		if info, err := b.Stat(ctx, "discard/s.bin"); backends.KindOf(err) != backends.Permanent {
			t.Errorf("Stat = %+v, %v (kind %v), want a permanent error: nothing is kept", info, err, backends.KindOf(err))
		}
		for i := range 2 {
			if err := b.Delete(ctx, "discard/s.bin"); err != nil {
				t.Errorf("Delete #%d = %v, want nil", i+1, err)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if w, err := b.Create(canceled, "discard/c.bin", 10); backends.KindOf(err) != backends.Canceled {
			if err == nil {
				w.Abort()
			}
			t.Errorf("Create under a canceled context: error = %v (kind %v), want kind canceled", err, backends.KindOf(err))
		}
		if _, err := get(canceled, b, "discard/c.bin", 0, 10); backends.KindOf(err) != backends.Canceled {
			t.Errorf("Open under a canceled context: error = %v (kind %v), want kind canceled", err, backends.KindOf(err))
		}
		if _, err := backends.Put(canceled, b, "discard/c.bin", []byte("x")); backends.KindOf(err) != backends.Canceled {
			t.Errorf("Put under a canceled context: error = %v (kind %v), want kind canceled", err, backends.KindOf(err))
		}
	})
}
