package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/format/formattest"
	"mlps.dev/mlps/stages/format/imagesize"
	"mlps.dev/mlps/stages/format/npz/npztest"
)

// fillFor binds a generator to one file's stream, as the dataset writer
// does.
func fillFor(seed uint64, index int64) func(p []byte, off int64) {
	g, s := content.New(seed), content.Stream("train", index)
	return func(p []byte, off int64) { g.Fill(p, s, off) }
}

// want is the content fill gives for an extent.
func want(fill func([]byte, int64), e Extent) []byte {
	p := make([]byte, e.Len)
	fill(p, e.Off)
	return p
}

func TestShape(t *testing.T) {
	tests := []struct {
		bytes, d1, d2 int64
	}{
		{0, 0, 0},
		{-5, 0, 0},
		{1, 1, 1},
		{2, 1, 2},
		{4, 2, 2},
		{12, 3, 4},
		{13, 1, 13},
		{150528, 384, 392},        // resnet50's resized record
		{2097152, 1024, 2048},     // unet3d's resized record
		{4 << 20, 2048, 2048},     // the example in DLIO's configs
		{146600628, 1, 146600628}, // unet3d's mean record: 2*2*3*12216719, no divisor near the root
		{40000 * 40256, 40000, 40256},
		{1000 * 1000003, 1, 1000 * 1000003}, // the divisor 1000 is beyond the search
		{999983, 1, 999983},                 // prime
		{4294967291, 1, 4294967291},         // largest prime below 2^32
		{1 << 62, 1 << 31, 1 << 31},         // square, where float sqrt is inexact
		{(1<<31 - 1) * (1<<31 - 1), 1<<31 - 1, 1<<31 - 1},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.bytes, 10), func(t *testing.T) {
			d1, d2 := Shape(Spec{RecordBytes: tt.bytes, Samples: 1})
			if d1 != tt.d1 || d2 != tt.d2 {
				t.Errorf("Shape = (%d, %d), want (%d, %d)", d1, d2, tt.d1, tt.d2)
			}
		})
	}

	// The definition itself, for every size up to a few thousand.
	for n := int64(1); n <= 5000; n++ {
		d1, d2 := Shape(Spec{RecordBytes: n})
		if d1*d2 != n || d1 > d2 {
			t.Fatalf("Shape(%d) = (%d, %d): want d1*d2 == %d and d1 <= d2", n, d1, d2, n)
		}
		for d := d1 + 1; d*d <= n; d++ {
			if n%d == 0 && d > imagesize.Sqrt(n)-shapeSearch {
				t.Fatalf("Shape(%d) = (%d, %d), but %d is a larger divisor not above the square root", n, d1, d2, d)
			}
		}
	}
}

// specs is the table every round-trip test runs over.
var specs = []Spec{
	{RecordBytes: 1, Samples: 1},
	{RecordBytes: 7, Samples: 3},
	{RecordBytes: 13, Samples: 1},
	{RecordBytes: 997, Samples: 5},
	{RecordBytes: 65537, Samples: 2},
	{RecordBytes: 150528, Samples: 16},
	{RecordBytes: 1000003, Samples: 2},
	{RecordBytes: 4 << 20, Samples: 1},
}

func specName(s Spec) string { return fmt.Sprintf("%dx%d", s.RecordBytes, s.Samples) }

// npyRE matches the header dict of a C-ordered array with its padding.
var npyRE = regexp.MustCompile(`^\{'descr': '([^']*)', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \} *\n$`)

// parseNpy checks an .npy v1.0 prefix and returns its dtype, shape and the
// length of the prefix.
func parseNpy(t *testing.T, b []byte) (descr string, shape []int64, n int) {
	t.Helper()
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("no .npy v1.0 magic: % x", b[:min(len(b), 10)])
	}
	n = 10 + int(binary.LittleEndian.Uint16(b[8:]))
	if n%64 != 0 {
		t.Errorf(".npy prefix is %d bytes, not a multiple of 64", n)
	}
	m := npyRE.FindStringSubmatch(string(b[10:n]))
	if m == nil {
		t.Fatalf(".npy header %q is not a C-ordered array dict", b[10:n])
	}
	for _, f := range strings.Split(m[2], ",") {
		if f = strings.TrimSpace(f); f != "" {
			d, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			shape = append(shape, d)
		}
	}
	return m[1], shape, n
}

// sourceFor is fillFor's generator and stream as a Source.
func sourceFor(seed uint64, index int64) Source {
	return content.New(seed).File(content.Stream("train", index))
}

// writers are the two ways to write a file, which must give the same bytes:
// with the CRC hashed from fill's bytes, and with it taken from the Source.
var writers = []struct {
	name  string
	write func(w io.Writer, s Spec, seed uint64, index int64, buf []byte) (int64, error)
}{
	{"Write", func(w io.Writer, s Spec, seed uint64, index int64, buf []byte) (int64, error) {
		return Write(w, s, fillFor(seed, index), buf)
	}},
	{"WriteSource", func(w io.Writer, s Spec, seed uint64, index int64, buf []byte) (int64, error) {
		return WriteSource(w, s, sourceFor(seed, index), buf)
	}},
}

func TestWriteRoundTrip(t *testing.T) {
	// Buffer sizes: the 64 KiB floor, a size that divides nothing, and the
	// 1 MiB a dataset writer would use.
	for _, wr := range writers {
		for _, bufLen := range []int{0, 100003, 1 << 20} {
			for i, s := range specs {
				t.Run(fmt.Sprintf("%s/%s/buf%d", wr.name, specName(s), bufLen), func(t *testing.T) {
					roundTrip(t, s, bufLen, int64(i), wr.write)
				})
			}
		}
	}
}

// TestWriteSourceSameBytes: taking the CRC from the Source changes nothing
// in the file.
func TestWriteSourceSameBytes(t *testing.T) {
	for i, s := range specs {
		t.Run(specName(s), func(t *testing.T) {
			var a, b bytes.Buffer
			if _, err := Write(&a, s, fillFor(4, int64(i)), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := WriteSource(&b, s, sourceFor(4, int64(i)), nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("WriteSource's file differs from Write's")
			}
		})
	}
}

func roundTrip(t *testing.T, s Spec, bufLen int, i int64, write func(w io.Writer, s Spec, seed uint64, index int64, buf []byte) (int64, error)) {
	fill := fillFor(1, i)
	var out bytes.Buffer
	n, err := write(&out, s, 1, i, make([]byte, bufLen))
	if err != nil {
		t.Fatal(err)
	}
	size, err := Size(s)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || int64(out.Len()) != size {
		t.Fatalf("Write returned %d and wrote %d bytes; Size says %d", n, out.Len(), size)
	}
	file := out.Bytes()

	zr, err := zip.NewReader(bytes.NewReader(file), size)
	if err != nil {
		t.Fatal(err)
	}
	if names := []string{zr.File[0].Name, zr.File[1].Name}; len(zr.File) != 2 || !slices.Equal(names, []string{"x.npy", "y.npy"}) {
		t.Fatalf("entries %v, want [x.npy y.npy]", names)
	}
	x, y, err := Payload(s)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := Shape(s)
	for _, e := range []struct {
		f      *zip.File
		descr  string
		shape  []int64
		region Extent
	}{
		{zr.File[0], "|u1", []int64{d1, d2, s.Samples}, x},
		{zr.File[1], "<i8", []int64{s.Samples}, y},
	} {
		if e.f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", e.f.Name, e.f.Method)
		}
		if !e.f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: modified %v, want the fixed 1980-01-01", e.f.Name, e.f.Modified)
		}
		rc, err := e.f.Open()
		if err != nil {
			t.Fatal(err)
		}
		// Reading to EOF makes archive/zip check the CRC.
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.f.Name, err)
		}
		descr, shape, hlen := parseNpy(t, data)
		if descr != e.descr || !slices.Equal(shape, e.shape) {
			t.Errorf("%s: descr %q shape %v, want %q %v", e.f.Name, descr, shape, e.descr, e.shape)
		}
		off, err := e.f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if got := (Extent{off + int64(hlen), int64(len(data) - hlen)}); got != e.region {
			t.Errorf("%s: array data at %+v, Payload says %+v", e.f.Name, got, e.region)
		}
		if !bytes.Equal(data[hlen:], want(fill, e.region)) {
			t.Errorf("%s: array data differs from fill's bytes at its file offsets", e.f.Name)
		}
	}
}

// invalid are specs without a file: what makes each one invalid, and
// whether it is zip64 that it would need.
var invalid = []struct {
	name   string
	spec   Spec
	zip64  bool
	inText string
}{
	{"no records", Spec{0, 1}, false, "at least 1"},
	{"no samples", Spec{1, 0}, false, "at least 1"},
	{"negative", Spec{-1, 5}, false, "at least 1"},
	{"overflow", Spec{math.MaxInt64 / 2, 3}, false, "overflow"},
	{"huge prime record", Spec{2305843009213693951, 1}, true, "x.npy would be"}, // 2^61-1: must not trial-divide
	{"huge sample count", Spec{1, 1 << 61}, true, "x.npy would be"},
	{"x entry of 4 GiB", Spec{1 << 32, 1}, true, "x.npy would be"},
	{"x entry of 4 GiB - 1", Spec{math.MaxUint32, 1}, true, "x.npy would be"},
	{"many samples", Spec{1 << 20, 1 << 12}, true, "x.npy would be"},
	{"y entry", Spec{1, 1 << 29}, true, "y.npy would be"},
}

func TestSizeRejects(t *testing.T) {
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Size(tt.spec)
			if err == nil {
				t.Fatalf("Size(%+v) succeeded", tt.spec)
			}
			if errors.Is(err, ErrNeedsZip64) != tt.zip64 || !strings.Contains(err.Error(), tt.inText) {
				t.Errorf("Size(%+v) error %q: want zip64 %v and text %q", tt.spec, err, tt.zip64, tt.inText)
			}
		})
	}
}

func TestConformance(t *testing.T) {
	var bad []Spec
	for _, tt := range invalid {
		bad = append(bad, tt.spec)
	}
	formattest.Run(t, formattest.Format[Spec]{
		Size:    Size,
		Write:   Write,
		Cases:   specs,
		Large:   Spec{RecordBytes: 64 << 20, Samples: 1},
		Invalid: bad,
		Name:    specName,
		Allocs:  32, // the .npy headers, built as strings
		Payload: func(s Spec) []formattest.Extent {
			x, y, _ := Payload(s) // the suite asks of valid specs only
			return []formattest.Extent{formattest.Extent(x), formattest.Extent(y)}
		},
	})
}

// TestConformanceNPY runs the suite on the .npy files, which have the
// x array alone and no zip64 limit.
func TestConformanceNPY(t *testing.T) {
	formattest.Run(t, formattest.Format[Spec]{
		Size:    NPYSize,
		Write:   WriteNPY,
		Cases:   specs,
		Large:   Spec{RecordBytes: 64 << 20, Samples: 1},
		Invalid: []Spec{{0, 1}, {1, 0}, {-1, 5}, {math.MaxInt64 / 2, 3}},
		Name:    specName,
		Allocs:  32, // the .npy headers, built as strings
		Payload: func(s Spec) []formattest.Extent {
			x, _ := NPYPayload(s) // the suite asks of valid specs only
			return []formattest.Extent{formattest.Extent(x)}
		},
	})
}

func TestSizeLimitIsTight(t *testing.T) {
	// Walk down from 4 GiB to the largest one-sample record that fits. The
	// directory offset, which counts both entries and their headers, is
	// what gives out first, a few hundred bytes below the limit.
	r := int64(math.MaxUint32)
	for ; r > math.MaxUint32-1024; r-- {
		if _, err := Size(Spec{r, 1}); err == nil {
			break
		}
	}
	size, err := Size(Spec{r, 1})
	if err != nil {
		t.Fatalf("no one-sample record within 1 KiB of 4 GiB fits: %v", err)
	}
	x, y, _ := Payload(Spec{r, 1})
	if dir := y.Off + y.Len + 16; dir != math.MaxUint32-1 {
		t.Errorf("largest file (record %d, %d bytes) has its directory at %d, want %d", r, size, dir, int64(math.MaxUint32-1))
	}
	if _, err := Size(Spec{r + 1, 1}); !errors.Is(err, ErrNeedsZip64) || !strings.Contains(err.Error(), "zip directory") {
		t.Errorf("one byte more: error %v, want the directory offset to need zip64", err)
	}
	if x.Len != r {
		t.Errorf("x data %d bytes, want %d", x.Len, r)
	}
}

// TestNumpyLoads is the check that matters: NumPy itself opens the files
// and sees DLIO's shapes, dtypes and our bytes.
func TestNumpyLoads(t *testing.T) {
	python := npztest.Python(t)
	dir := t.TempDir()
	const edge = 64
	var paths []string
	for i, s := range specs {
		path := filepath.Join(dir, specName(s)+".npz")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Write(f, s, fillFor(3, int64(i)), nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	files, err := npztest.Load(python, edge, paths...)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		t.Run(specName(s), func(t *testing.T) {
			fill := fillFor(3, int64(i))
			x, y, err := Payload(s)
			if err != nil {
				t.Fatal(err)
			}
			d1, d2 := Shape(s)
			for _, a := range []struct {
				name  string
				dtype string
				shape []int64
				data  Extent
			}{
				{"x", "uint8", []int64{d1, d2, s.Samples}, x},
				{"y", "int64", []int64{s.Samples}, y},
			} {
				got, ok := files[i][a.name]
				if !ok {
					t.Fatalf("numpy found arrays %v, no %q", files[i], a.name)
				}
				if got.Dtype != a.dtype || !slices.Equal(got.Shape, a.shape) {
					t.Errorf("%s: numpy sees %s %v, want %s %v", a.name, got.Dtype, got.Shape, a.dtype, a.shape)
				}
				n := min(a.data.Len, edge)
				head := want(fill, Extent{a.data.Off, n})
				tail := want(fill, Extent{a.data.Off + a.data.Len - n, n})
				if !bytes.Equal(got.Head, head) || !bytes.Equal(got.Tail, tail) {
					t.Errorf("%s: numpy's first and last bytes differ from fill's", a.name)
				}
			}
			if len(files[i]) != 2 {
				t.Errorf("numpy found %d arrays, want x and y", len(files[i]))
			}
		})
	}
}

// TestNpyHeaderMatchesNumpy compares our .npy prefixes byte for byte with
// the ones NumPy writes for the same dtype and shape, padding included.
func TestNpyHeaderMatchesNumpy(t *testing.T) {
	python := npztest.Python(t)
	shapes := []struct {
		descr string
		shape []int64
	}{
		{"|u1", []int64{1, 1, 1}},
		{"|u1", []int64{2048, 2048, 1}},
		{"|u1", []int64{5226, 28053, 7}},
		{"|u1", []int64{1, 4294967291, 1}},
		{"<i8", []int64{1}},
		{"<i8", []int64{1251}},
		{"<i8", []int64{123456789012}},
	}
	for _, tt := range shapes {
		t.Run(fmt.Sprint(tt.descr, tt.shape), func(t *testing.T) {
			dims := make([]string, len(tt.shape))
			for i, d := range tt.shape {
				dims[i] = strconv.FormatInt(d, 10)
			}
			script := fmt.Sprintf(`import io, sys, numpy as np
b = io.BytesIO()
np.lib.format.write_array_header_1_0(b, {'descr': %q, 'fortran_order': False, 'shape': (%s,)})
sys.stdout.buffer.write(b.getvalue())`, tt.descr, strings.Join(dims, ", "))
			out, err := exec.Command(python, "-c", script).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := npyHeader(tt.descr, tt.shape...); got != string(out) {
				t.Errorf("our header\n%q\nNumPy's\n%q", got, out)
			}
		})
	}
}

// BenchmarkWrite writes a file of one 4 MiB record next to filling the same
// bytes bare, so the cost of the format (CRC, headers, write calls) shows:
// "npz" hashes the data for its CRC, "npz-source" takes the CRC from the
// generator's tables (WriteSource, what the dataset writer uses).
func BenchmarkWrite(b *testing.B) {
	s := Spec{RecordBytes: 4 << 20, Samples: 1}
	size, err := Size(s)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	fill := fillFor(1, 0)
	b.Run("npz", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := Write(io.Discard, s, fill, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	src := sourceFor(1, 0)
	b.Run("npz-source", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := WriteSource(io.Discard, s, src, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fill-only", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			for off := int64(0); off < size; off += int64(len(buf)) {
				fill(buf[:min(int64(len(buf)), size-off)], off)
			}
		}
	})
}

// TestNumpyLoadsNPY: NumPy opens our .npy files as the x array, and the
// sizes we plan are the sizes we write.
func TestNumpyLoadsNPY(t *testing.T) {
	python := npztest.Python(t)
	dir := t.TempDir()
	const edge = 64
	var paths []string
	for i, s := range specs {
		path := filepath.Join(dir, specName(s)+".npy")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := WriteNPY(f, s, fillFor(5, int64(i)), nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if size, _ := NPYSize(s); size != n {
			t.Errorf("%s: wrote %d bytes, NPYSize says %d", specName(s), n, size)
		}
		paths = append(paths, path)
	}
	files, err := npztest.Load(python, edge, paths...)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		x, _ := NPYPayload(s)
		got := files[i][""]
		d1, d2 := Shape(s)
		if got.Dtype != "uint8" || !slices.Equal(got.Shape, []int64{d1, d2, s.Samples}) {
			t.Errorf("%s: numpy sees %s %v", specName(s), got.Dtype, got.Shape)
		}
		n := min(x.Len, edge)
		fill := fillFor(5, int64(i))
		if !bytes.Equal(got.Head, want(fill, Extent{x.Off, n})) || !bytes.Equal(got.Tail, want(fill, Extent{x.Off + x.Len - n, n})) {
			t.Errorf("%s: numpy's first and last bytes differ from fill's", specName(s))
		}
	}
}
