// Package backendtest is the conformance suite for backends.Backend. A
// backend's test runs it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend {
//			b, err := backends.Open(t.Context(), "mem://")
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite checks the written contract in backends.Backend, not the
// behaviour of one implementation, so that stages can rely on it for every
// scheme. It also checks the contract of every optional capability
// (backends/capability.go) that the backend, or a reader or writer it
// returns, has: each is found with backends.As, as stages find it, and a
// capability the backend lacks shows as a skipped subtest named after it.
// A backend whose scheme's Traits say Discards (null) cannot read back
// what it was written: the cases that do are not run for it, and one case
// holds it to what it promises instead.
//
// A backend opened with endpoints says so with an Option, since the
// suite cannot see how open configured it:
//
//	backendtest.Run(t, open, backendtest.Endpoints(srv.Endpoint))
package backendtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"

	"mlps.dev/mlps/backends"
)

// Run runs the suite. open is called once per subtest and must return a
// fresh, empty backend; Run closes it when the subtest ends. opts say how
// open configured the backend, where the contract depends on it.
func Run(t *testing.T, open func(t *testing.T) backends.Backend, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	tests := []struct {
		name string
		run  func(*testing.T, backends.Backend)
		// has, for an optional capability, says whether the backend has
		// it; a case the backend has no capability for is not run, so
		// that nothing in the suite skips. (testTraits holds the
		// backend to the capabilities its scheme declares.) keeps marks
		// the cases that read back what they wrote, which a scheme whose
		// Traits say Discards cannot honour; testDiscards holds it to
		// what it promises instead.
		has func(backends.Backend) bool
	}{
		{"WriteStatRead", testWriteStatRead, keeps},
		{"RangedRead", testRangedRead, keeps},
		{"OffsetPastEnd", testOffsetPastEnd, keeps},
		{"Missing", testMissing, keeps},
		{"Delete", testDelete, keeps},
		{"Abort", testAbort, keeps},
		{"Overwrite", testOverwrite, keeps},
		{"Nested", testNested, keeps},
		{"InvalidName", testInvalidName, nil},
		{"Concurrent", testConcurrent, keeps},
		{"Large", testLarge, keeps},
		{"AnnouncedSize", testAnnouncedSize, keeps},
		{"Put", testPut, keeps},
		{"Canceled", testCanceled, keeps},
		{"Properties", testProperties, nil},
		{"Traits", testTraits, nil},
		{"Discards", testDiscards, discards},
		{"DirectOpener", testDirectOpener, has[backends.DirectOpener]},
		{"DirectCreator", testDirectCreator, has[backends.DirectCreator]},
		{"Syncer", testSyncer, func(b backends.Backend) bool { return hasSyncer(t.Context(), b) }},
		{"Evicter", testEvicter, has[backends.Evicter]},
		{"Putter", testPutter, func(b backends.Backend) bool { return keeps(b) && has[backends.Putter](b) }},
		{"Endpointer", func(t *testing.T, b backends.Backend) { testEndpointer(t, b, cfg.endpoints) },
			func(backends.Backend) bool { return len(cfg.endpoints) > 0 }},
	}
	probe := func(has func(backends.Backend) bool) bool {
		b := open(t)
		if b == nil {
			t.Fatal("open returned a nil Backend")
		}
		defer b.Close()
		return has(b)
	}
	for _, tc := range tests {
		if tc.has != nil && !probe(tc.has) {
			t.Logf("%s: the backend does not have it (or discards what it is written); not run", tc.name)
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			if b == nil {
				t.Fatal("open returned a nil Backend")
			}
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Backend.Close: %v", err)
				}
			})
			tc.run(t, b)
		})
	}
}

// keeps reports whether b's scheme stores what is written (its Traits do
// not say Discards).
func keeps(b backends.Backend) bool { return !discards(b) }

func discards(b backends.Backend) bool {
	tr, _ := backends.TraitsOf(b.Properties().Scheme)
	return tr.Discards
}

// has reports whether b has the optional capability T, through decorators.
func has[T any](b backends.Backend) bool {
	_, ok := backends.As[T](b)
	return ok
}

// pattern is an endless deterministic byte stream: a seed gives the same
// bytes however the reads are split, so large objects can be checked chunk
// by chunk without holding an expected copy.
type pattern struct {
	src  *rand.PCG
	word [8]byte
	left int // bytes of word not yet returned
}

func newPattern(seed uint64) *pattern {
	return &pattern{src: rand.NewPCG(seed, 0x6d6c7073)}
}

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		if p.left == 0 {
			binary.LittleEndian.PutUint64(p.word[:], p.src.Uint64())
			p.left = len(p.word)
		}
		b[i] = p.word[len(p.word)-p.left]
		p.left--
	}
	return len(b), nil
}

func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	newPattern(seed).Read(b)
	return b
}

// put writes data as name in one Write and fails the test on any error.
func put(t *testing.T, b backends.Backend, name string, data []byte) {
	t.Helper()
	w, err := b.Create(t.Context(), name, int64(len(data)))
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if n, err := w.Write(data); err != nil || n != len(data) {
		w.Abort()
		t.Fatalf("Write(%q, %d bytes) = %d, %v", name, len(data), n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Writer.Close(%q): %v", name, err)
	}
}

// get reads a range. An error from Open and one from Read are alike to the
// caller, as the contract allows either; io.EOF ends the read normally.
func get(ctx context.Context, b backends.Backend, name string, off, length int64) ([]byte, error) {
	r, err := b.Open(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("reader Close: %w", cerr)
	}
	return data, err
}

// mustGet reads a range and fails the test on an error.
func mustGet(t *testing.T, b backends.Backend, name string, off, length int64) []byte {
	t.Helper()
	data, err := get(t.Context(), b, name, off, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d) and read: %v", name, off, length, err)
	}
	return data
}

// checkSame reports the first difference instead of two dumps of bytes.
func checkSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

func checkSize(t *testing.T, b backends.Backend, name string, want int64) {
	t.Helper()
	info, err := b.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	if info.Size != want || info.Name != name {
		t.Errorf("Stat(%q) = %+v, want {Name:%s Size:%d}", name, info, name, want)
	}
}

func checkNotExist(t *testing.T, b backends.Backend, name string) {
	t.Helper()
	ctx := t.Context()
	if _, err := b.Stat(ctx, name); !backends.IsNotExist(err) {
		t.Errorf("Stat(%q) error = %v (kind %v), want a not-exist error", name, err, backends.KindOf(err))
	}
	if _, err := get(ctx, b, name, 0, -1); !backends.IsNotExist(err) {
		t.Errorf("Open(%q) and read: error = %v (kind %v), want a not-exist error", name, err, backends.KindOf(err))
	}
}

func testWriteStatRead(t *testing.T, b backends.Backend) {
	data := content(1, 100_000)
	put(t, b, "obj.bin", data)
	checkSize(t, b, "obj.bin", int64(len(data)))
	checkSame(t, "whole object", mustGet(t, b, "obj.bin", 0, -1), data)

	put(t, b, "empty.bin", nil)
	checkSize(t, b, "empty.bin", 0)
	checkSame(t, "empty object", mustGet(t, b, "empty.bin", 0, -1), nil)
}

func testRangedRead(t *testing.T, b backends.Backend) {
	const size = 10_000
	data := content(2, size)
	put(t, b, "ranged.bin", data)
	for _, tc := range []struct {
		name        string
		off, length int64
	}{
		{"whole", 0, -1},
		{"start", 0, 100},
		{"middle", 4000, 1234},
		{"tail to end", 9000, -1},
		{"exactly to end", 9000, 1000},
		{"one byte", 5000, 1},
		{"zero length", 100, 0},
		{"past end is short", 9500, 1000},
		{"far past end is short", 1, 1 << 40},
		{"offset at end", size, -1},
		{"offset at end with length", size, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := int64(size)
			if tc.length >= 0 {
				end = min(tc.off+tc.length, size)
			}
			got := mustGet(t, b, "ranged.bin", tc.off, tc.length)
			checkSame(t, fmt.Sprintf("Open(off=%d, length=%d)", tc.off, tc.length), got, data[tc.off:end])
		})
	}
}

func testOffsetPastEnd(t *testing.T, b backends.Backend) {
	const size = 1000
	put(t, b, "short.bin", content(3, size))
	for _, tc := range []struct{ off, length int64 }{
		{size + 1, -1},
		{size + 1, 10},
		{2 * size, 0},
		{1 << 40, -1},
	} {
		got, err := get(t.Context(), b, "short.bin", tc.off, tc.length)
		if err == nil {
			t.Errorf("Open(off=%d, length=%d) of a %d-byte object read %d bytes and no error; an offset past the end must fail",
				tc.off, tc.length, size, len(got))
		} else if k := backends.KindOf(err); k != backends.Permanent {
			t.Errorf("Open(off=%d) past the end: error %v is of kind %v, want permanent", tc.off, err, k)
		}
	}
}

func testMissing(t *testing.T, b backends.Backend) {
	put(t, b, "present.bin", content(4, 100))
	put(t, b, "dir/inside.bin", content(5, 100))
	for _, name := range []string{
		"missing.bin",
		"no/such/dir/x.bin",
		"present.bin/child", // below an object, not a directory
		"dir",               // a prefix of names is not an object
	} {
		t.Run(name, func(t *testing.T) {
			checkNotExist(t, b, name)
			if err := b.Delete(t.Context(), name); !backends.IsNotExist(err) {
				t.Errorf("Delete(%q) error = %v (kind %v), want a not-exist error", name, err, backends.KindOf(err))
			}
		})
	}
	// Nothing above may have disturbed the objects that exist.
	checkSize(t, b, "present.bin", 100)
	checkSize(t, b, "dir/inside.bin", 100)
}

func testDelete(t *testing.T, b backends.Backend) {
	put(t, b, "doomed.bin", content(6, 100))
	put(t, b, "kept.bin", content(7, 100))
	if err := b.Delete(t.Context(), "doomed.bin"); err != nil {
		t.Fatalf("Delete of an existing object: %v", err)
	}
	checkNotExist(t, b, "doomed.bin")
	if err := b.Delete(t.Context(), "doomed.bin"); !backends.IsNotExist(err) {
		t.Errorf("second Delete error = %v (kind %v), want a not-exist error", err, backends.KindOf(err))
	}
	checkSize(t, b, "kept.bin", 100)
}

func testAbort(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	for _, name := range []string{"aborted.bin", "abort/deep/aborted.bin"} {
		w, err := b.Create(ctx, name, 1000)
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		if _, err := w.Write(content(8, 1000)); err != nil {
			t.Fatalf("Write(%q): %v", name, err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort(%q): %v", name, err)
		}
		checkNotExist(t, b, name)
	}

	// Abort after Close is a no-op, so that "defer w.Abort()" is safe.
	data := content(9, 1000)
	w, err := b.Create(ctx, "committed.bin", -1)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Close = %v, want nil", err)
	}
	checkSame(t, "object after Close then Abort", mustGet(t, b, "committed.bin", 0, -1), data)
}

func testOverwrite(t *testing.T, b backends.Backend) {
	for _, tc := range []struct {
		name          string
		first, second int
	}{
		{"shorter", 10_000, 10},
		{"to empty", 1000, 0},
		{"longer", 10, 10_000},
		{"same length", 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "over/" + tc.name + ".bin"
			put(t, b, name, content(10, tc.first))
			second := content(11, tc.second)
			put(t, b, name, second)
			checkSize(t, b, name, int64(tc.second))
			checkSame(t, "overwritten object", mustGet(t, b, name, 0, -1), second)
		})
	}
}

func testNested(t *testing.T, b backends.Backend) {
	objs := map[string][]byte{
		"a/b/c.bin": content(12, 300),
		"a/b/d.bin": content(13, 200),
		"a/e.bin":   content(14, 100),
		"f.bin":     content(15, 50),
	}
	for name, data := range objs {
		put(t, b, name, data)
	}
	for name, data := range objs {
		checkSize(t, b, name, int64(len(data)))
		checkSame(t, name, mustGet(t, b, name, 0, -1), data)
	}
}

func testInvalidName(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	for _, name := range []string{
		"", "/abs.bin", "a//b.bin", "a/", "./a.bin", "a/./b.bin", "a/../b.bin",
		"..", ".", "../escape.bin", `a\b.bin`, "a\x00b.bin",
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if backends.KindOf(err) != backends.Permanent {
					t.Errorf("%s(%q) error = %v (kind %v), want kind permanent", op, name, err, backends.KindOf(err))
				}
			}
			w, err := b.Create(ctx, name, 10)
			if err == nil {
				w.Abort()
			}
			check("Create", err)
			r, err := b.Open(ctx, name, 0, -1)
			if err == nil {
				r.Close()
			}
			check("Open", err)
			_, err = b.Stat(ctx, name)
			check("Stat", err)
			check("Delete", b.Delete(ctx, name))
		})
	}
}

func testConcurrent(t *testing.T, b backends.Backend) {
	const (
		n     = 16
		size  = 64<<10 + 17
		chunk = 4099
	)
	ctx := t.Context()
	name := func(i int) string { return fmt.Sprintf("conc/%02d/obj.bin", i) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			data := content(uint64(100+i), size)
			w, err := b.Create(ctx, name(i), size)
			if err != nil {
				t.Errorf("Create(%q): %v", name(i), err)
				return
			}
			for rest := data; len(rest) > 0; {
				k := min(chunk, len(rest))
				if _, err := w.Write(rest[:k]); err != nil {
					t.Errorf("Write(%q): %v", name(i), err)
					w.Abort()
					return
				}
				rest = rest[k:]
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close(%q): %v", name(i), err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for j := range n {
		wg.Go(func() {
			for k := range n {
				i := (j + k) % n
				got, err := get(ctx, b, name(i), 0, -1)
				if err != nil {
					t.Errorf("reader %d: %q: %v", j, name(i), err)
					return
				}
				if !bytes.Equal(got, content(uint64(100+i), size)) {
					t.Errorf("reader %d: %q: content differs from what writer %d wrote", j, name(i), i)
				}
			}
		})
	}
	wg.Wait()
}

// testLarge streams an object bigger than any buffer in the path, in odd
// chunk sizes that never line up with a power of two, and compares it
// against the regenerated stream rather than a stored copy.
func testLarge(t *testing.T, b backends.Backend) {
	const (
		size       = 20<<20 + 7
		writeChunk = 1_000_003
		readChunk  = 999_983
		name       = "large/object.bin"
		seed       = 42
	)
	ctx := t.Context()
	w, err := b.Create(ctx, name, size)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	src := newPattern(seed)
	buf := make([]byte, writeChunk)
	for left := size; left > 0; {
		k := min(writeChunk, left)
		src.Read(buf[:k])
		if n, err := w.Write(buf[:k]); err != nil || n != k {
			w.Abort()
			t.Fatalf("Write of %d bytes = %d, %v", k, n, err)
		}
		left -= k
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkSize(t, b, name, size)

	compare := func(off, length int64) {
		t.Helper()
		want := newPattern(seed)
		io.CopyN(io.Discard, want, off)
		r, err := b.Open(ctx, name, off, length)
		if err != nil {
			t.Fatalf("Open(off=%d, length=%d): %v", off, length, err)
		}
		defer r.Close()
		got := make([]byte, readChunk)
		exp := make([]byte, readChunk)
		var total int64
		for {
			n, err := io.ReadFull(r, got)
			want.Read(exp[:n])
			if !bytes.Equal(got[:n], exp[:n]) {
				t.Fatalf("Open(off=%d, length=%d): content differs in the %d bytes after byte %d", off, length, n, off+total)
			}
			total += int64(n)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatalf("Open(off=%d, length=%d): read after %d bytes: %v", off, length, total, err)
			}
		}
		wantTotal := size - off
		if length >= 0 {
			wantTotal = min(length, wantTotal)
		}
		if total != wantTotal {
			t.Errorf("Open(off=%d, length=%d) read %d bytes, want %d", off, length, total, wantTotal)
		}
	}
	compare(0, -1)
	compare(12_345_677, 3_000_001)
	compare(size-1_500_000, -1)
}

func testAnnouncedSize(t *testing.T, b backends.Backend) {
	for _, tc := range []struct {
		name     string
		announce int64
		write    int
	}{
		{"unknown", -1, 3000},
		{"unknown and empty", -1, 0},
		{"exact", 3000, 3000},
		{"announced zero", 0, 3000},
		{"announced fewer", 10, 3000},
		{"announced more", 1 << 20, 3000},
		{"announced but empty", 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "size/" + tc.name + ".bin"
			data := content(16, tc.write)
			w, err := b.Create(t.Context(), name, tc.announce)
			if err != nil {
				t.Fatalf("Create(size=%d): %v", tc.announce, err)
			}
			for rest := data; len(rest) > 0; {
				k := min(1000, len(rest))
				if _, err := w.Write(rest[:k]); err != nil {
					w.Abort()
					t.Fatalf("Write: %v", err)
				}
				rest = rest[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close after writing %d bytes with size %d announced: %v", tc.write, tc.announce, err)
			}
			checkSize(t, b, name, int64(tc.write))
			checkSame(t, "content", mustGet(t, b, name, 0, -1), data)
		})
	}
}

// testPut stores whole objects with backends.Put, which goes through the
// backend's Putter when it has one and through Create, Write and Close
// when not; testPutter calls the Putter itself.
func testPut(t *testing.T, b backends.Backend) {
	checkPut(t, b, func(ctx context.Context, name string, data []byte) (string, error) {
		return backends.Put(ctx, b, name, data)
	})
}

// checkPut stores whole objects with store: small, empty and larger than any
// part size the suites use, replacing an older object; the caller's slice
// is free for reuse once store returns.
func checkPut(t *testing.T, b backends.Backend, store func(ctx context.Context, name string, data []byte) (string, error)) {
	for _, tc := range []struct {
		name string
		size int
	}{{"small", 3000}, {"empty", 0}, {"large", 20<<20 + 7}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "put/" + tc.name + ".bin"
			put(t, b, name, content(19, 5000))
			data := content(20, tc.size)
			want := bytes.Clone(data)
			if _, err := store(t.Context(), name, data); err != nil {
				t.Fatalf("Put of %d bytes: %v", tc.size, err)
			}
			clear(data)
			checkSize(t, b, name, int64(tc.size))
			checkSame(t, "content", mustGet(t, b, name, 0, -1), want)
		})
	}
	if _, err := store(t.Context(), "../escape.bin", []byte("x")); backends.KindOf(err) != backends.Permanent {
		t.Errorf("Put of an invalid name: error = %v (kind %v), want kind permanent", err, backends.KindOf(err))
	}
}

func testCanceled(t *testing.T, b backends.Backend) {
	put(t, b, "present.bin", content(17, 1000))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	t.Run("Create", func(t *testing.T) {
		w, err := b.Create(ctx, "canceled.bin", 1000)
		if err == nil {
			// A backend may defer the request to Write or Close.
			if _, err = w.Write(content(18, 1000)); err == nil {
				err = w.Close()
			} else {
				w.Abort()
			}
		}
		if err == nil {
			t.Fatal("Create, Write and Close all succeeded under a canceled context")
		}
		if k := backends.KindOf(err); k != backends.Canceled {
			t.Errorf("error = %v (kind %v), want kind canceled", err, k)
		}
		checkNotExist(t, b, "canceled.bin")
	})
	t.Run("Open", func(t *testing.T) {
		_, err := get(ctx, b, "present.bin", 0, -1)
		if err == nil {
			t.Fatal("Open and read succeeded under a canceled context")
		}
		if k := backends.KindOf(err); k != backends.Canceled {
			t.Errorf("error = %v (kind %v), want kind canceled", err, k)
		}
	})
}

func testProperties(t *testing.T, b backends.Backend) {
	p := b.Properties()
	if p.Scheme == "" {
		t.Error("Properties().Scheme is empty")
	}
	u, err := url.Parse(p.Location)
	switch {
	case p.Location == "":
		t.Error("Properties().Location is empty")
	case err != nil:
		t.Errorf("Properties().Location %q is not a URI: %v", p.Location, errors.Unwrap(err))
	case u.User != nil:
		t.Errorf("Properties().Location %q carries userinfo; it must hold no credentials", u.Redacted())
	case u.Scheme == "":
		t.Errorf("Properties().Location %q has no scheme", p.Location)
	}
}

// testTraits holds the backend to what its scheme declares: the planner
// decides by the traits at plan time (odirect, eviction), so a trait
// without its capability would fail a run the plan accepted, and a
// capability without its trait would be refused needlessly. It also keeps
// the optional-capability cases below from skipping what the backend
// should have.
func testTraits(t *testing.T, b backends.Backend) {
	scheme := b.Properties().Scheme
	tr, ok := backends.TraitsOf(scheme)
	if !ok {
		t.Fatalf("scheme %q of Properties() is not registered", scheme)
	}
	_, direct := backends.As[backends.DirectOpener](b)
	_, create := backends.As[backends.DirectCreator](b)
	_, evict := backends.As[backends.Evicter](b)
	for _, c := range []struct {
		trait, capability string
		declared, has     bool
	}{
		{"DirectRead", "DirectOpener", tr.DirectRead, direct},
		{"DirectWrite", "DirectCreator", tr.DirectWrite, create},
		{"Evict", "Evicter", tr.Evict, evict},
	} {
		if c.declared != c.has {
			t.Errorf("scheme %s declares %s %v, and the backend implements %s: %v", scheme, c.trait, c.declared, c.capability, c.has)
		}
	}
	// A backend that stores reads back what it wrote and no more; one
	// that discards serves as many bytes as are asked.
	put(t, b, "traits/short.bin", content(37, 10))
	got, err := get(t.Context(), b, "traits/short.bin", 0, 20)
	if err != nil {
		t.Fatalf("Open(off=0, length=20) of a 10-byte object and read: %v", err)
	}
	if discarded := len(got) == 20; discarded != tr.Discards {
		t.Errorf("scheme %s declares Discards %v, and a 20-byte read of a 10-byte object returned %d bytes", scheme, tr.Discards, len(got))
	}
}
