// Package formattest is the conformance suite for the file formats of
// stages/format. A format's test runs it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		formattest.Run(t, formattest.Format[Spec]{
//			Size:    Size,
//			Write:   Write,
//			Cases:   []Spec{{RecordBytes: 1000}, {RecordBytes: 1 << 20}},
//			Large:   Spec{RecordBytes: 16 << 20},
//			Invalid: []Spec{{RecordBytes: 0}},
//		})
//	}
//
// The suite checks the contract the writers share, not one format's
// layout, so that the dataset stage can rely on it for every format and a
// format's own tests are left with what is particular to it (decoding the
// files with a reader of the format, its limits, its golden bytes):
//
//   - Write writes exactly Size bytes and returns their number;
//   - equal specs and fill give equal bytes, whatever the buffer;
//   - the content is fill's, so files of different streams differ and no
//     block of content.BlockSize bytes that holds content repeats within
//     or across them: a deduplicating store has nothing to share;
//   - fill is called in file order, for at most a buffer's bytes at a time
//     and, where the format lists them, for exactly its payload bytes,
//     which the file then holds unchanged;
//   - writes to the writer are at most a buffer each (a full buffer bar
//     the last, for formats that pack their output), and memory does not
//     grow with the file;
//   - the writer's first error, or a short write, ends Write, which returns
//     it with the bytes the writer took and writes nothing more;
//   - a spec Size rejects, Write rejects with the same error before it
//     writes anything or calls fill.
package formattest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"

	"mlps.dev/mlps/stages/content"
)

// Format describes the format under test: its functions, bound to its
// spec type S, and the specs to check them on.
type Format[S any] struct {
	// Size returns the exact size of the file Write makes for a spec, or
	// why there is none.
	Size func(S) (int64, error)
	// Write streams the file for a spec to w, with content from fill and
	// buf as scratch space; a buf shorter than 64 KiB is replaced by a
	// 64 KiB one.
	Write func(w io.Writer, s S, fill func(p []byte, off int64), buf []byte) (int64, error)

	// Cases are valid specs: the edge cases of the format's layout, small
	// enough to hold a few files of each in memory.
	Cases []S
	// Large is a valid spec of a file of tens of megabytes, only ever
	// written to a writer that keeps nothing: memory must not grow with it.
	Large S
	// Invalid are specs Size rejects.
	Invalid []S

	// Name names a spec in subtests; nil numbers them.
	Name func(S) string
	// Allocs is the most allocations one Write of Large may make when it
	// is given its buffer: planning's, which do not grow with the file.
	Allocs float64
	// Packed says that the format gathers its output in the buffer, so
	// that every write but the last is a full buffer.
	Packed bool
	// Payload, if set, returns the extents of a file that Write takes from
	// fill unchanged. fill is then called for these bytes and no others.
	Payload func(S) []Extent
}

// Extent is a range of file offsets.
type Extent struct{ Off, Len int64 }

const (
	// minBuf is the buffer every format falls back to.
	minBuf = 64 << 10
	// seed seeds every file the suite writes; files differ by stream.
	seed = 1
)

// bufLens are the buffers files are written through: nothing (the 64 KiB
// fallback), a size that divides nothing, and the 1 MiB a dataset writer
// uses.
var bufLens = []int{0, 100003, 1 << 20}

// check is one subtest, run for each spec its specs returns.
type check[S any] struct {
	name  string
	specs func(f *Format[S]) []S
	run   func(t testing.TB, f *Format[S], s S)
}

func checks[S any]() []check[S] {
	cases := func(f *Format[S]) []S { return f.Cases }
	return []check[S]{
		{"ExactSize", cases, checkExactSize[S]},
		{"Deterministic", cases, checkDeterministic[S]},
		{"StreamsDiffer", cases, checkStreamsDiffer[S]},
		{"NoRepeatedBlock", cases, checkNoRepeatedBlock[S]},
		{"FillCalls", cases, checkFillCalls[S]},
		{"BoundedWrites", cases, checkBoundedWrites[S]},
		{"WriterErrors", cases, checkWriterErrors[S]},
		{"Streaming", func(f *Format[S]) []S { return []S{f.Large} }, checkStreaming[S]},
		{"Rejects", func(f *Format[S]) []S { return f.Invalid }, checkRejects[S]},
	}
}

// Run runs the suite on f.
func Run[S any](t *testing.T, f Format[S]) {
	if f.Size == nil || f.Write == nil || len(f.Cases) == 0 || len(f.Invalid) == 0 {
		t.Fatal("formattest: a Format needs Size, Write, Cases and Invalid")
	}
	for _, c := range checks[S]() {
		t.Run(c.name, func(t *testing.T) {
			for i, s := range c.specs(&f) {
				name := fmt.Sprint(i)
				if f.Name != nil {
					name = f.Name(s)
				}
				t.Run(name, func(t *testing.T) { c.run(t, &f, s) })
			}
		})
	}
}

var gen = content.New(seed)

// fillFor binds the generator to one stream, as the dataset writer binds
// it to one file.
func fillFor(stream int64) func(p []byte, off int64) {
	s := content.Stream("formattest", stream)
	return func(p []byte, off int64) { gen.Fill(p, s, off) }
}

// size is f.Size of a spec that must be valid.
func size[S any](t testing.TB, f *Format[S], s S) int64 {
	t.Helper()
	n, err := f.Size(s)
	if err != nil {
		t.Fatalf("Size: %v", err)
	}
	return n
}

// write returns the file of s for stream, written through a buffer of
// bufLen bytes.
func write[S any](t testing.TB, f *Format[S], s S, stream int64, bufLen int) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := f.Write(&out, s, fillFor(stream), make([]byte, bufLen)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out.Bytes()
}

func checkExactSize[S any](t testing.TB, f *Format[S], s S) {
	want := size(t, f, s)
	if again := size(t, f, s); again != want {
		t.Fatalf("Size says %d, then %d", want, again)
	}
	for _, bufLen := range bufLens {
		var out bytes.Buffer
		n, err := f.Write(&out, s, fillFor(0), make([]byte, bufLen))
		if err != nil {
			t.Fatalf("buffer of %d: Write: %v", bufLen, err)
		}
		if n != want || int64(out.Len()) != want {
			t.Errorf("buffer of %d: Write returned %d and wrote %d bytes; Size says %d", bufLen, n, out.Len(), want)
		}
	}
}

// checkDeterministic writes a file, then the same file again through every
// buffer, each dirty with other bytes: a format must leave neither a
// buffer's old contents nor any state of its own in a file.
func checkDeterministic[S any](t testing.TB, f *Format[S], s S) {
	want := write(t, f, s, 0, 0)
	for _, bufLen := range bufLens {
		buf := bytes.Repeat([]byte{0xa5}, bufLen)
		var out bytes.Buffer
		if _, err := f.Write(&out, s, fillFor(0), buf); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if i := mismatch(out.Bytes(), want); i >= 0 {
			t.Fatalf("a write through a buffer of %d differs from the first at byte %d", bufLen, i)
		}
	}
}

func checkStreamsDiffer[S any](t testing.TB, f *Format[S], s S) {
	a, b := write(t, f, s, 1, 0), write(t, f, s, 2, 0)
	if bytes.Equal(a, b) {
		t.Fatal("the files of two streams are identical")
	}
	if f.Payload == nil {
		return
	}
	// Eight random bytes agree by chance once in 2^64 files.
	for _, e := range f.Payload(s) {
		if e.Len >= 8 && bytes.Equal(a[e.Off:e.Off+e.Len], b[e.Off:e.Off+e.Len]) {
			t.Errorf("the payload at [%d, +%d) is the same in the files of two streams", e.Off, e.Len)
		}
	}
}

// checkNoRepeatedBlock looks for a block that repeats within a file or
// across the files of two streams. Metadata is the same in every file of a
// spec, so with a Payload a block counts only if it holds enough of it that
// two streams' blocks agree by chance once in 2^128.
func checkNoRepeatedBlock[S any](t testing.TB, f *Format[S], s S) {
	const enough = 16
	var payload []int64 // payload bytes of each block
	if f.Payload != nil {
		payload = perBlock(f.Payload(s), size(t, f, s))
	}
	seen := map[string]string{}
	for stream := range int64(2) {
		file := write(t, f, s, stream, 0)
		for off := 0; off+content.BlockSize <= len(file); off += content.BlockSize {
			if payload != nil && payload[off/content.BlockSize] < enough {
				continue
			}
			k := string(file[off : off+content.BlockSize])
			here := fmt.Sprintf("the block at %d of stream %d", off, stream)
			if prev, ok := seen[k]; ok {
				t.Fatalf("%s repeats %s", here, prev)
			}
			seen[k] = here
		}
	}
}

// perBlock returns how many bytes of the extents each block of a file of
// n bytes holds.
func perBlock(es []Extent, n int64) []int64 {
	c := make([]int64, n/content.BlockSize+1)
	for _, e := range es {
		for off, end := e.Off, e.Off+e.Len; off < end; {
			b := off / content.BlockSize
			next := min(end, (b+1)*content.BlockSize)
			c[b] += next - off
			off = next
		}
	}
	return c
}

// checkFillCalls records fill's calls through an odd-sized buffer.
func checkFillCalls[S any](t testing.TB, f *Format[S], s S) {
	const bufLen = 100003
	n := size(t, f, s)
	fill := fillFor(0)
	var calls []Extent
	var out bytes.Buffer
	_, err := f.Write(&out, s, func(p []byte, off int64) {
		calls = append(calls, Extent{off, int64(len(p))})
		fill(p, off)
	}, make([]byte, bufLen))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	end := int64(0)
	for _, c := range calls {
		if c.Len < 1 || c.Len > bufLen || c.Off < end || c.Off+c.Len > n {
			t.Fatalf("fill of [%d, +%d) after the bytes up to %d, with a %d-byte buffer and a %d-byte file", c.Off, c.Len, end, bufLen, n)
		}
		end = c.Off + c.Len
	}
	if f.Payload == nil {
		return
	}
	payload := f.Payload(s)
	if got, want := merge(calls), merge(payload); !slices.Equal(got, want) {
		t.Fatalf("fill filled %v, the payload is %v", got, want)
	}
	file := out.Bytes()
	for _, e := range payload {
		want := make([]byte, e.Len)
		fill(want, e.Off)
		if i := mismatch(file[e.Off:e.Off+e.Len], want); i >= 0 {
			t.Fatalf("the payload at [%d, +%d) differs from fill's bytes at byte %d", e.Off, e.Len, i)
		}
	}
}

// merge joins adjacent extents, so that how fill's calls are split does not
// matter, and drops empty ones.
func merge(es []Extent) []Extent {
	var m []Extent
	for _, e := range es {
		if e.Len == 0 {
			continue
		}
		if k := len(m) - 1; k >= 0 && m[k].Off+m[k].Len == e.Off {
			m[k].Len += e.Len
			continue
		}
		m = append(m, e)
	}
	return m
}

// chunkWriter keeps the lengths of the writes it takes, and nothing of
// their bytes.
type chunkWriter struct {
	lens []int
	n    int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.lens = append(w.lens, len(p))
	w.n += int64(len(p))
	return len(p), nil
}

// checkChunks checks the writes of one file through a buffer of bufLen.
func checkChunks[S any](t testing.TB, f *Format[S], w *chunkWriter, bufLen int) {
	t.Helper()
	limit := max(bufLen, minBuf)
	for i, n := range w.lens {
		if n < 1 || n > limit {
			t.Fatalf("write %d of %d bytes, with a %d-byte buffer", i, n, limit)
		}
		if f.Packed && n != limit && i != len(w.lens)-1 {
			t.Fatalf("write %d of %d writes is %d bytes, short of the %d-byte buffer", i, len(w.lens), n, limit)
		}
	}
}

func checkBoundedWrites[S any](t testing.TB, f *Format[S], s S) {
	n := size(t, f, s)
	for _, bufLen := range bufLens[:2] {
		var w chunkWriter
		if _, err := f.Write(&w, s, fillFor(0), make([]byte, bufLen)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if w.n != n {
			t.Fatalf("wrote %d bytes, Size says %d", w.n, n)
		}
		checkChunks(t, f, &w, bufLen)
	}
}

// checkStreaming writes Large through the smallest buffer, the most
// windows for a format to allocate in: neither allocations nor allocated
// bytes may grow with the file.
func checkStreaming[S any](t testing.TB, f *Format[S], s S) {
	n := size(t, f, s)
	buf := make([]byte, minBuf)
	fill := fillFor(0)
	w := chunkWriter{lens: make([]int, 0, n/minBuf+2)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := f.Write(&w, s, fill, buf)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if w.n != n {
		t.Fatalf("wrote %d bytes, Size says %d", w.n, n)
	}
	checkChunks(t, f, &w, len(buf))
	if grew := after.TotalAlloc - before.TotalAlloc; grew > minBuf {
		t.Errorf("writing %d bytes allocated %d bytes", n, grew)
	}
	allocs := testing.AllocsPerRun(2, func() {
		if _, err := f.Write(io.Discard, s, fill, buf); err != nil {
			t.Fatalf("Write: %v", err)
		}
	})
	if allocs > f.Allocs {
		t.Errorf("writing %d bytes made %v allocations, more than the %v planning may make", n, allocs, f.Allocs)
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter takes limit bytes, then fails: with errDiskFull, or, if
// short, by taking less than it is given without an error. With whole it
// takes all of the write that passes the limit and fails it all the same.
// Writes after the failure are counted: they must not happen.
type failingWriter struct {
	limit, n     int64
	short, whole bool
	failed       bool
	after        int // writes after the failing one
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.failed {
		w.after++
		return 0, errDiskFull
	}
	k := int(min(int64(len(p)), w.limit-w.n))
	if k == len(p) {
		w.n += int64(k)
		return k, nil
	}
	w.failed = true
	if w.whole {
		k = len(p)
	}
	w.n += int64(k)
	if w.short {
		return k, nil
	}
	return k, errDiskFull
}

func checkWriterErrors[S any](t testing.TB, f *Format[S], s S) {
	n := size(t, f, s)
	var tests []failingWriter
	for _, limit := range []int64{0, 1, n / 2, n - 1} {
		if limit < n && (len(tests) == 0 || tests[len(tests)-1].limit != limit) {
			tests = append(tests, failingWriter{limit: limit})
		}
	}
	tests = append(tests, failingWriter{limit: n / 2, short: true}, failingWriter{limit: n / 2, whole: true})
	for _, w := range tests {
		want := errDiskFull
		if w.short {
			want = io.ErrShortWrite
		}
		got, err := f.Write(&w, s, fillFor(0), nil)
		if !errors.Is(err, want) || got != w.n || !w.failed {
			t.Errorf("a writer that fails after %d bytes (short %v, whole %v): Write = (%d, %v), want (%d, %v)",
				w.limit, w.short, w.whole, got, err, w.n, want)
		}
		if w.after > 0 {
			t.Errorf("a writer that fails after %d bytes (short %v, whole %v): %d writes after the failure",
				w.limit, w.short, w.whole, w.after)
		}
	}
}

func checkRejects[S any](t testing.TB, f *Format[S], s S) {
	_, err := f.Size(s)
	if err == nil {
		t.Fatal("Size accepts the spec")
	}
	var w chunkWriter
	filled := false
	n, werr := f.Write(&w, s, func([]byte, int64) { filled = true }, nil)
	if werr == nil || n != 0 || w.n != 0 || len(w.lens) != 0 || filled {
		t.Fatalf("Write = (%d, %v) after %d writes of %d bytes, fill called %v; want Size's error and nothing done",
			n, werr, len(w.lens), w.n, filled)
	}
	if werr.Error() != err.Error() {
		t.Errorf("Write's error %q is not Size's %q", werr, err)
	}
}

// mismatch returns the offset of the first difference of a and b, or -1.
func mismatch(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
