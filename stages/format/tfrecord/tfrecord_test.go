package tfrecord

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/format/formattest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fillFor binds a generator to one file's stream, as the dataset writer
// does.
func fillFor(seed uint64, index int64) func(p []byte, off int64) {
	g, s := content.New(seed), content.Stream("train", index)
	return func(p []byte, off int64) { g.Fill(p, s, off) }
}

// want is the content fill gives for a file range.
func want(fill func([]byte, int64), off, n int64) []byte {
	p := make([]byte, n)
	fill(p, off)
	return p
}

// The checks below recompute everything with code of their own, so that a
// mistake in the package (a wrong polynomial, a wrong mask, a wrong field
// number) cannot cancel out against the same mistake in its test.

// crcTable is CRC-32C's byte table, built here from the reflected
// Castagnoli polynomial rather than taken from hash/crc32.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82f63b78
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

func testCRC32C(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c = crcTable[byte(c)^x] ^ c>>8
	}
	return ^c
}

// testMask is TensorFlow's crc32c::Mask, written out from its definition.
func testMask(c uint32) uint32 {
	rot := c>>15 | c<<17
	return rot + 0xa282ead8
}

func TestTestCRC(t *testing.T) {
	ascending := make([]byte, 32)
	for i := range ascending {
		ascending[i] = byte(i)
	}
	// The check value of the CRC catalogue and RFC 3720's iSCSI vectors.
	for _, tt := range []struct {
		in   []byte
		want uint32
	}{
		{[]byte("123456789"), 0xe3069283},
		{make([]byte, 32), 0x8a9136aa},
		{bytes.Repeat([]byte{0xff}, 32), 0x62a8ab43},
		{ascending, 0x46dd794e},
	} {
		if got := testCRC32C(tt.in); got != tt.want {
			t.Errorf("CRC-32C(% x) = %#08x, want %#08x", tt.in[:4], got, tt.want)
		}
	}
}

// frame is one record as the test's own parser finds it.
type frame struct {
	off, len int64 // the whole frame in the file
	dataOff  int64
	data     []byte
}

// parseFrames splits a file into frames, checking both CRCs of each.
func parseFrames(file []byte) ([]frame, error) {
	var fs []frame
	for off := 0; off < len(file); {
		if len(file)-off < 12 {
			return fs, fmt.Errorf("frame at %d: %d bytes left, no room for a header", off, len(file)-off)
		}
		length := binary.LittleEndian.Uint64(file[off:])
		if got, stored := testMask(testCRC32C(file[off:off+8])), binary.LittleEndian.Uint32(file[off+8:]); got != stored {
			return fs, fmt.Errorf("frame at %d: length CRC %#08x, stored %#08x", off, got, stored)
		}
		if length > uint64(len(file)-off-16) {
			return fs, fmt.Errorf("frame at %d: length %d runs past the file's end", off, length)
		}
		data := file[off+12 : off+12+int(length)]
		if got, stored := testMask(testCRC32C(data)), binary.LittleEndian.Uint32(file[off+12+int(length):]); got != stored {
			return fs, fmt.Errorf("frame at %d: data CRC %#08x, stored %#08x", off, got, stored)
		}
		fs = append(fs, frame{int64(off), 16 + int64(length), int64(off) + 12, data})
		off += 16 + int(length)
	}
	return fs, nil
}

// pbField is one field of a protobuf message: a varint or a
// length-delimited body, the only wire types an Example uses.
type pbField struct {
	num, wire int
	v         uint64
	b         []byte
}

func pbVarint(b []byte) (v uint64, n int, err error) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad varint")
}

func pbParse(b []byte) ([]pbField, error) {
	var fs []pbField
	for len(b) > 0 {
		key, n, err := pbVarint(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		f := pbField{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.v, n, err = pbVarint(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
		case 2:
			l, n, err := pbVarint(b)
			if err != nil {
				return nil, err
			}
			if l > uint64(len(b)-n) {
				return nil, fmt.Errorf("field %d: length %d past the message's end", f.num, l)
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("field %d: wire type %d", f.num, f.wire)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// feature is a decoded tf.train.Feature.
type feature struct {
	kind   string // "bytes_list" or "int64_list"
	bytes  [][]byte
	ints   []int64
	packed bool
}

// parseExample decodes a tf.train.Example into its features, with the keys
// in the order of the map entries.
func parseExample(data []byte) (keys []string, feats map[string]feature, err error) {
	top, err := pbParse(data)
	if err != nil {
		return nil, nil, err
	}
	if len(top) != 1 || top[0].num != 1 || top[0].wire != 2 {
		return nil, nil, fmt.Errorf("Example: fields %+v, want only features (1)", top)
	}
	entries, err := pbParse(top[0].b)
	if err != nil {
		return nil, nil, err
	}
	feats = map[string]feature{}
	for _, e := range entries {
		if e.num != 1 || e.wire != 2 {
			return nil, nil, fmt.Errorf("Features: field %d wire %d, want map entries (1)", e.num, e.wire)
		}
		kv, err := pbParse(e.b)
		if err != nil {
			return nil, nil, err
		}
		if len(kv) != 2 || kv[0].num != 1 || kv[1].num != 2 || kv[0].wire != 2 || kv[1].wire != 2 {
			return nil, nil, fmt.Errorf("map entry %+v: want key (1) then value (2)", kv)
		}
		key := string(kv[0].b)
		fv, err := pbParse(kv[1].b)
		if err != nil {
			return nil, nil, err
		}
		if len(fv) != 1 || fv[0].wire != 2 {
			return nil, nil, fmt.Errorf("Feature %q: fields %+v, want one list", key, fv)
		}
		list, err := pbParse(fv[0].b)
		if err != nil {
			return nil, nil, err
		}
		var f feature
		switch fv[0].num {
		case 1:
			f.kind = "bytes_list"
			for _, v := range list {
				if v.num != 1 || v.wire != 2 {
					return nil, nil, fmt.Errorf("BytesList %q: field %d wire %d", key, v.num, v.wire)
				}
				f.bytes = append(f.bytes, v.b)
			}
		case 3:
			f.kind = "int64_list"
			for _, v := range list {
				switch {
				case v.num == 1 && v.wire == 0:
					f.ints = append(f.ints, int64(v.v))
				case v.num == 1 && v.wire == 2:
					f.packed = true
					for b := v.b; len(b) > 0; {
						x, n, err := pbVarint(b)
						if err != nil {
							return nil, nil, err
						}
						f.ints = append(f.ints, int64(x))
						b = b[n:]
					}
				default:
					return nil, nil, fmt.Errorf("Int64List %q: field %d wire %d", key, v.num, v.wire)
				}
			}
		default:
			return nil, nil, fmt.Errorf("Feature %q: field %d, not bytes_list (1) or int64_list (3)", key, fv[0].num)
		}
		keys = append(keys, key)
		feats[key] = f
	}
	return keys, feats, nil
}

// sliceOff is the offset of sub within b, which it is a slice of.
func sliceOff(b, sub []byte) int64 { return int64(cap(b) - cap(sub)) }

// checkFile checks a whole file written for s with fill, independently of
// the package, and returns its frames.
func checkFile(t *testing.T, file []byte, s Spec, fill func([]byte, int64)) []frame {
	t.Helper()
	frames, err := parseFrames(file)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(frames)) != s.Samples {
		t.Fatalf("%d frames, want %d", len(frames), s.Samples)
	}
	for k, f := range frames {
		keys, feats, err := parseExample(f.data)
		if err != nil {
			t.Fatalf("record %d: %v", k, err)
		}
		if !slices.Equal(keys, []string{"image", "size"}) {
			t.Fatalf("record %d: features %q, want [image size] in that order", k, keys)
		}
		img, size := feats["image"], feats["size"]
		if img.kind != "bytes_list" || len(img.bytes) != 1 || int64(len(img.bytes[0])) != s.RecordBytes {
			t.Fatalf("record %d: image is a %s of %d values, want one of %d bytes", k, img.kind, len(img.bytes), s.RecordBytes)
		}
		if size.kind != "int64_list" || !slices.Equal(size.ints, []int64{s.RecordBytes}) || !size.packed {
			t.Errorf("record %d: size is %s %v (packed %v), want packed int64_list [%d]", k, size.kind, size.ints, size.packed, s.RecordBytes)
		}
		imgOff := f.dataOff + sliceOff(f.data, img.bytes[0])
		if off, n := Payload(s, int64(k)); off != imgOff || n != s.RecordBytes {
			t.Errorf("record %d: image at [%d, +%d), Payload says [%d, +%d)", k, imgOff, s.RecordBytes, off, n)
		}
		if off, n := RecordExtent(s, int64(k)); off != f.off || n != f.len {
			t.Errorf("record %d: frame at [%d, +%d), RecordExtent says [%d, +%d)", k, f.off, f.len, off, n)
		}
		if fill != nil && !bytes.Equal(img.bytes[0], want(fill, imgOff, s.RecordBytes)) {
			t.Errorf("record %d: image differs from fill's bytes at its file offsets", k)
		}
	}
	return frames
}

func writeFile(t *testing.T, s Spec, fill func([]byte, int64), buf []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	n, err := Write(&out, s, fill, buf)
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
	return out.Bytes()
}

// TestGolden writes a small file and checks it field by field against a
// hand-worked encoding of DLIO's Example for 100-byte images.
func TestGolden(t *testing.T) {
	s := Spec{RecordBytes: 100, Samples: 3}
	fill := fillFor(42, 7)
	file := writeFile(t, s, fill, nil)
	frames := checkFile(t, file, s, fill)

	// Example{features{feature{key "image" value{bytes_list{value <100>}}}
	//                  feature{key "size" value{int64_list{value [100]}}}}}
	prefix := []byte{
		0x0a, 0x82, 0x01, // Example.features, 130 bytes
		0x0a, 0x71, // Features.feature entry, 113 bytes
		0x0a, 0x05, 'i', 'm', 'a', 'g', 'e', // key
		0x12, 0x68, // value: Feature, 104 bytes
		0x0a, 0x66, // Feature.bytes_list, 102 bytes
		0x0a, 0x64, // BytesList.value, 100 bytes
	}
	suffix := []byte{
		0x0a, 0x0d, // Features.feature entry, 13 bytes
		0x0a, 0x04, 's', 'i', 'z', 'e', // key
		0x12, 0x05, // value: Feature, 5 bytes
		0x1a, 0x03, // Feature.int64_list, 3 bytes
		0x0a, 0x01, 0x64, // Int64List.value, packed: [100]
	}
	for k, f := range frames {
		if f.off != int64(k)*149 || f.len != 149 || len(f.data) != 133 {
			t.Errorf("record %d: frame [%d, +%d) with %d bytes of data, want [%d, +149) with 133", k, f.off, f.len, len(f.data), k*149)
		}
		if !bytes.Equal(f.data[:len(prefix)], prefix) || !bytes.Equal(f.data[len(f.data)-len(suffix):], suffix) {
			t.Errorf("record %d: Example\n% x\nwant\n% x <image> % x", k, f.data, prefix, suffix)
		}
		if got := file[f.off : f.off+8]; !bytes.Equal(got, []byte{133, 0, 0, 0, 0, 0, 0, 0}) {
			t.Errorf("record %d: length % x, want 133 as a uint64", k, got)
		}
	}
	if got, want := IndexSize(s), int64(len("0 149\n149 149\n298 149\n")); got != want {
		t.Errorf("IndexSize = %d, want %d", got, want)
	}
	var idx bytes.Buffer
	if _, err := WriteIndex(&idx, s); err != nil || idx.String() != "0 149\n149 149\n298 149\n" {
		t.Errorf("WriteIndex wrote %q, %v", idx.String(), err)
	}

	// The same file with content that does not depend on the generator is
	// kept in testdata, so any change to the bytes of the format shows up
	// as a diff there.
	counter := func(p []byte, off int64) {
		for i := range p {
			p[i] = byte(off + int64(i))
		}
	}
	file = writeFile(t, s, counter, nil)
	checkFile(t, file, s, counter)
	golden := filepath.Join("testdata", "100x3.tfrecord")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, file, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden+".idx", idx.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []struct {
		path string
		got  []byte
	}{{golden, file}, {golden + ".idx", idx.Bytes()}} {
		want, err := os.ReadFile(g.path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(g.got, want) {
			t.Errorf("output differs from %s (go test -update rewrites it)", g.path)
		}
	}
}

// specs is the table the round-trip tests run over: tiny records, records
// at varint boundaries (127/128, 16383/16384), records larger than any
// buffer below, and many records that share one buffer.
var specs = []Spec{
	{RecordBytes: 1, Samples: 1},
	{RecordBytes: 1, Samples: 10000},
	{RecordBytes: 7, Samples: 3},
	{RecordBytes: 100, Samples: 3},
	{RecordBytes: 127, Samples: 2},
	{RecordBytes: 128, Samples: 2},
	{RecordBytes: 16383, Samples: 2},
	{RecordBytes: 16384, Samples: 2},
	{RecordBytes: 65536 - 56, Samples: 3}, // a frame of about one 64 KiB buffer
	{RecordBytes: 150528, Samples: 16},
	{RecordBytes: 1000003, Samples: 2},
	{RecordBytes: 4 << 20, Samples: 1},
}

func specName(s Spec) string { return fmt.Sprintf("%dx%d", s.RecordBytes, s.Samples) }

// TestWriteSourceSameBytes: taking the image CRCs from the Source changes
// nothing in the file, whose CRCs the round trip's Scanner checks, at any
// buffer size (records straddle flushes at 100003).
func TestWriteSourceSameBytes(t *testing.T) {
	for _, bufLen := range []int{0, 100003, 1 << 20} {
		for i, s := range specs {
			t.Run(fmt.Sprintf("%s/buf%d", specName(s), bufLen), func(t *testing.T) {
				file := writeFile(t, s, fillFor(3, int64(i)), make([]byte, bufLen))
				var out bytes.Buffer
				src := content.New(3).File(content.Stream("train", int64(i)))
				n, err := WriteSource(&out, s, src, make([]byte, bufLen))
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(out.Len()) || !bytes.Equal(out.Bytes(), file) {
					t.Errorf("WriteSource wrote %d bytes (returned %d) that differ from Write's %d", out.Len(), n, len(file))
				}
			})
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	// Buffer sizes: the 64 KiB floor, a size that divides nothing, and the
	// 1 MiB a dataset writer would use.
	for _, bufLen := range []int{0, 100003, 1 << 20} {
		for i, s := range specs {
			t.Run(fmt.Sprintf("%s/buf%d", specName(s), bufLen), func(t *testing.T) {
				fill := fillFor(1, int64(i))
				file := writeFile(t, s, fill, make([]byte, bufLen))
				frames := checkFile(t, file, s, fill)

				var idx bytes.Buffer
				n, err := WriteIndex(&idx, s)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(idx.Len()) || n != IndexSize(s) {
					t.Errorf("WriteIndex returned %d and wrote %d bytes; IndexSize says %d", n, idx.Len(), IndexSize(s))
				}
				checkIndex(t, idx.Bytes(), frames)

				for _, sbuf := range []int{0, 16, 4099, 1 << 20} {
					got := scanAll(t, NewScanner(bytes.NewReader(file), make([]byte, sbuf), true))
					if !slices.Equal(got, dataLens(frames)) {
						t.Fatalf("scanner with a %d-byte buffer: records %v, want %v", sbuf, got, dataLens(frames))
					}
				}
			})
		}
	}
}

// checkIndex parses a tfrecord2idx index the way DALI does and compares it
// with the frames.
func checkIndex(t *testing.T, idx []byte, frames []frame) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(idx))
	k := 0
	for ; sc.Scan(); k++ {
		fields := strings.Split(sc.Text(), " ")
		if len(fields) != 2 {
			t.Fatalf("index line %d %q: want two fields", k, sc.Text())
		}
		off, err1 := strconv.ParseInt(fields[0], 10, 64)
		n, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("index line %d %q: %v %v", k, sc.Text(), err1, err2)
		}
		if k >= len(frames) {
			t.Fatalf("index has more lines than the file's %d records", len(frames))
		}
		if off != frames[k].off || n != frames[k].len {
			t.Errorf("index line %d: %d %d, want the frame %d %d", k, off, n, frames[k].off, frames[k].len)
		}
	}
	if k != len(frames) || !bytes.HasSuffix(idx, []byte("\n")) {
		t.Errorf("index has %d lines, want %d, each ending in a newline", k, len(frames))
	}
}

func dataLens(fs []frame) []int64 {
	var ns []int64
	for _, f := range fs {
		ns = append(ns, int64(len(f.data)))
	}
	return ns
}

// scanAll runs sc to a clean end and returns the lengths it reported.
func scanAll(t *testing.T, sc *Scanner) []int64 {
	t.Helper()
	var ns []int64
	for {
		n, err := sc.Next()
		if err == io.EOF {
			return ns
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(ns), err)
		}
		ns = append(ns, n)
	}
}

// invalid are specs without a file, and what the error must say.
var invalid = []struct {
	name   string
	spec   Spec
	inText string
}{
	{"no record bytes", Spec{0, 1}, "at least 1"},
	{"no samples", Spec{1, 0}, "at least 1"},
	{"negative", Spec{-1, 5}, "at least 1"},
	{"record over 2 GiB", Spec{1 << 31, 1}, "largest protobuf message"},
	{"huge record", Spec{math.MaxInt64, 1}, "largest protobuf message"},
	{"Example over 2 GiB", Spec{math.MaxInt32 - 10, 1}, "-byte Example"},
	{"overflow", Spec{1 << 30, 1 << 40}, "overflow"},
}

func TestSizeRejects(t *testing.T) {
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Size(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.inText) {
				t.Fatalf("Size(%+v) error %v, want one saying %q", tt.spec, err, tt.inText)
			}
			var out bytes.Buffer
			if n, werr := WriteIndex(&out, tt.spec); werr == nil || n != 0 || out.Len() != 0 {
				t.Errorf("WriteIndex = (%d, %v) after writing %d bytes; want the error and nothing written", n, werr, out.Len())
			}
			if n := IndexSize(tt.spec); n != 0 {
				t.Errorf("IndexSize = %d, want 0", n)
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
		Size:  Size,
		Write: Write,
		// Many small records to a buffer, and records larger than one.
		Cases:   append(slices.Clone(specs), Spec{100, 1000}, Spec{200000, 3}),
		Large:   Spec{RecordBytes: 64 << 20, Samples: 1},
		Invalid: bad,
		Name:    specName,
		Allocs:  2, // the head and suffix of a record, which hash/crc32 moves to the heap
		Packed:  true,
		Payload: func(s Spec) []formattest.Extent {
			var es []formattest.Extent
			for k := range s.Samples {
				off, n := Payload(s, k)
				es = append(es, formattest.Extent{Off: off, Len: n})
			}
			return es
		},
	})
}

func TestSizeLimitIsTight(t *testing.T) {
	// The largest record whose Example is exactly the largest protobuf
	// message: a few dozen bytes of encoding below 2 GiB.
	r := int64(math.MaxInt32)
	for ; r > math.MaxInt32-100; r-- {
		if _, err := Size(Spec{r, 1}); err == nil {
			break
		}
	}
	size, err := Size(Spec{r, 1})
	if err != nil {
		t.Fatalf("no record within 100 bytes of 2 GiB fits: %v", err)
	}
	if size != math.MaxInt32+16 {
		t.Errorf("largest record %d gives a %d-byte file, want a %d-byte Example and 16 bytes of frame", r, size, int64(math.MaxInt32))
	}
}

func TestIndexSize(t *testing.T) {
	// Sizes that make the offsets cross decades at various points.
	for _, s := range []Spec{
		{1, 1}, {1, 9}, {1, 10}, {1, 11}, {1, 100}, {1, 1001},
		{3, 4}, {84, 7}, {984, 102}, {1 << 20, 1000},
		{math.MaxInt32 - 100, 4000}, {1, 123457},
	} {
		t.Run(specName(s), func(t *testing.T) {
			off, frame := RecordExtent(s, 0)
			if off != 0 {
				t.Fatalf("record 0 at %d", off)
			}
			want := int64(0)
			for k := range s.Samples {
				want += int64(len(strconv.FormatInt(k*frame, 10) + " " + strconv.FormatInt(frame, 10) + "\n"))
			}
			if got := IndexSize(s); got != want {
				t.Errorf("IndexSize = %d, want %d", got, want)
			}
			n, err := WriteIndex(io.Discard, s)
			if err != nil || n != want {
				t.Errorf("WriteIndex = (%d, %v), want %d", n, err, want)
			}
		})
	}
	// Offsets of 19 digits, near the largest file there can be.
	frame, err := Size(Spec{math.MaxInt32 - 100, 1})
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{math.MaxInt32 - 100, math.MaxInt64 / frame}
	if _, err := Size(s); err != nil {
		t.Fatal(err)
	}
	if got := IndexSize(s); got <= 0 {
		t.Errorf("IndexSize of the largest file = %d", got)
	}
	last, _ := RecordExtent(s, s.Samples-1)
	if len(strconv.FormatInt(last, 10)) != 19 {
		t.Fatalf("last offset %d: want 19 digits for this test", last)
	}
}

func TestExtentsPanic(t *testing.T) {
	for _, tt := range []struct {
		s Spec
		k int64
	}{
		{Spec{100, 3}, 3},
		{Spec{100, 3}, -1},
		{Spec{0, 3}, 0},
	} {
		for name, f := range map[string]func(Spec, int64) (int64, int64){"RecordExtent": RecordExtent, "Payload": Payload} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s(%+v, %d) did not panic", name, tt.s, tt.k)
					}
				}()
				f(tt.s, tt.k)
			}()
		}
	}
}

// failingWriter accepts limit bytes, then fails (or, if short, stops).
type failingWriter struct {
	limit, n int64
	short    bool
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	k := int(min(int64(len(p)), w.limit-w.n))
	w.n += int64(k)
	if k < len(p) {
		if w.short {
			return k, nil
		}
		return k, errDiskFull
	}
	return k, nil
}

func TestWriteIndexReportsWriterErrors(t *testing.T) {
	for _, tt := range []struct {
		limit int64
		short bool
		want  error
	}{
		{0, false, errDiskFull},
		{10, false, errDiskFull},
		{10, true, io.ErrShortWrite},
		{19, false, errDiskFull},
	} {
		t.Run(fmt.Sprintf("%d/short=%v", tt.limit, tt.short), func(t *testing.T) {
			w := &failingWriter{limit: tt.limit, short: tt.short}
			n, err := WriteIndex(w, Spec{100, 3})
			if !errors.Is(err, tt.want) || n != tt.limit {
				t.Errorf("WriteIndex = (%d, %v), want (%d, %v)", n, err, tt.limit, tt.want)
			}
		})
	}
}

func TestScannerMemoryDoesNotGrowWithRecord(t *testing.T) {
	s := Spec{RecordBytes: 64 << 20, Samples: 1}
	buf := make([]byte, 1<<20)
	var file bytes.Buffer
	file.Grow(int(s.RecordBytes) + 1024)
	if _, err := Write(&file, s, fillFor(1, 0), buf); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	r := bytes.NewReader(file.Bytes())
	runtime.ReadMemStats(&before)
	sc := NewScanner(r, buf, true)
	n, err := sc.Next()
	if err != nil || n < s.RecordBytes {
		t.Fatalf("Next = (%d, %v)", n, err)
	}
	if _, err := sc.Next(); err != io.EOF {
		t.Fatalf("second Next: %v, want io.EOF", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("scanning a 64 MiB record allocated %d bytes", grew)
	}
}

func TestScannerErrors(t *testing.T) {
	// Records of 100 bytes fit the scanner's buffer many times over;
	// records of 100000 bytes pass through a 4 KiB buffer in pieces.
	for _, s := range []Spec{{100, 3}, {100000, 3}} {
		file := writeFile(t, s, fillFor(5, 1), nil)
		frame := func(k int64) int64 { off, _ := RecordExtent(s, k); return off }
		img := func(k int64) int64 { off, _ := Payload(s, k); return off }
		size := int64(len(file))
		tests := []struct {
			name     string
			flip     int64 // offset of a byte to invert, or -1
			cut      int64 // file length to keep
			checkCRC bool
			good     int    // records returned before the error
			want     error  // nil: a clean end after good records
			inText   string // the offset the error must name
		}{
			{"good", -1, size, true, 3, nil, ""},
			{"good without CRC", -1, size, false, 3, nil, ""},
			{"length of record 0", 0, size, true, 0, ErrChecksum, "record at offset 0:"},
			{"length of record 1", frame(1) + 2, size, true, 1, ErrChecksum, fmt.Sprintf("record at offset %d:", frame(1))},
			{"length without CRC", frame(1) + 7, size, false, 1, ErrChecksum, fmt.Sprintf("record at offset %d:", frame(1))},
			{"length CRC", frame(2) + 9, size, true, 2, ErrChecksum, fmt.Sprintf("record at offset %d:", frame(2))},
			{"image of record 1", img(1) + 50, size, true, 1, ErrChecksum, fmt.Sprintf("data at offset %d", frame(1)+12)},
			{"image without CRC", img(1) + 50, size, false, 3, nil, ""},
			{"Example header", frame(2) + 12, size, true, 2, ErrChecksum, fmt.Sprintf("record at offset %d:", frame(2))},
			{"data CRC", size - 1, size, true, 2, ErrChecksum, fmt.Sprintf("record at offset %d:", frame(2))},
			{"cut at a frame", -1, frame(2), true, 2, nil, ""},
			{"cut in a header", -1, frame(1) + 5, true, 1, io.ErrUnexpectedEOF, fmt.Sprintf("record at offset %d truncated in its header at offset %d", frame(1), frame(1)+5)},
			{"cut in the data", -1, img(2) + 10, true, 2, io.ErrUnexpectedEOF, fmt.Sprintf("record at offset %d truncated in its %d-byte data at offset %d", frame(2), frame(1)-16, img(2)+10)},
			{"cut in the data without CRC", -1, img(2) + 10, false, 2, io.ErrUnexpectedEOF, fmt.Sprintf("at offset %d", img(2)+10)},
			{"cut in the footer", -1, size - 2, true, 2, io.ErrUnexpectedEOF, fmt.Sprintf("record at offset %d truncated in its footer at offset %d", frame(2), size-2)},
		}
		for _, tt := range tests {
			t.Run(specName(s)+"/"+tt.name, func(t *testing.T) {
				bad := slices.Clone(file[:tt.cut])
				if tt.flip >= 0 {
					bad[tt.flip] ^= 0xff
				}
				// One-byte reads make every read boundary a frame boundary
				// somewhere; the half reader splits reads unevenly.
				for _, r := range []io.Reader{bytes.NewReader(bad), iotest.OneByteReader(bytes.NewReader(bad)), iotest.HalfReader(bytes.NewReader(bad)), iotest.DataErrReader(bytes.NewReader(bad))} {
					sc := NewScanner(r, make([]byte, 4096), tt.checkCRC)
					good := 0
					var err error
					for {
						var n int64
						if n, err = sc.Next(); err != nil {
							break
						}
						if n != frame(1)-16 {
							t.Fatalf("record %d: %d bytes, want %d", good, n, frame(1)-16)
						}
						good++
					}
					if good != tt.good {
						t.Errorf("%d good records, want %d (then %v)", good, tt.good, err)
					}
					if tt.want == nil {
						if err != io.EOF {
							t.Errorf("Next = %v, want io.EOF", err)
						}
						end := size
						if good < int(s.Samples) {
							end = frame(int64(good))
						}
						if sc.Offset() != end {
							t.Errorf("Offset = %d at the end, want %d", sc.Offset(), end)
						}
						continue
					}
					if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inText) {
						t.Errorf("Next = %v, want %v naming %q", err, tt.want, tt.inText)
					}
					if _, again := sc.Next(); again != err {
						t.Errorf("Next after an error = %v, want the same error", again)
					}
				}
			})
		}
	}
}

func TestScannerRange(t *testing.T) {
	s := Spec{RecordBytes: 1000, Samples: 5}
	file := writeFile(t, s, fillFor(2, 3), nil)
	// Damage record 3's data, then read records 2 and 3 from a range reader
	// as a loader would: the error must name file offsets.
	off3, _ := RecordExtent(s, 3)
	p3, _ := Payload(s, 3)
	file[p3] ^= 1
	off2, _ := RecordExtent(s, 2)
	end, n := RecordExtent(s, 4)
	sc := NewScanner(io.NewSectionReader(bytes.NewReader(file), off2, end+n-off2), nil, true)
	sc.SetOffset(off2)
	if _, err := sc.Next(); err != nil {
		t.Fatal(err)
	}
	if sc.Offset() != off3 {
		t.Errorf("Offset = %d after record 2, want %d", sc.Offset(), off3)
	}
	_, err := sc.Next()
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), fmt.Sprintf("record at offset %d:", off3)) {
		t.Errorf("Next = %v, want a checksum error for the record at %d", err, off3)
	}
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	file := writeFile(t, Spec{100, 2}, fillFor(1, 1), nil)
	r := io.MultiReader(bytes.NewReader(file[:200]), iotest.ErrReader(boom))
	sc := NewScanner(r, nil, true)
	if _, err := sc.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Next(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "offset 200") {
		t.Errorf("Next = %v, want boom at offset 200", err)
	}
}

// BenchmarkWrite writes files of 1 MiB records through a 1 MiB buffer next
// to copying the same bytes through the same buffer into io.Discard, the
// least any writer of them has to do. The sides alternate in short batches
// (as in content's BenchmarkFillVsCopy) so that load from neighbours hits
// them alike: "tfrecord/copy" is the ratio of Write's rate to the copy's,
// "source/copy" that of WriteSource (CRCs from the generator's tables, as
// the dataset writer does). ns/op is the time of all three together, so it
// has no MB/s of its own.
func BenchmarkWrite(b *testing.B) {
	s := Spec{RecordBytes: 1 << 20, Samples: 16}
	size, err := Size(s)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	fill := fillFor(1, 0)
	src := content.New(1).File(content.Stream("train", 0))
	var file bytes.Buffer
	if _, err := Write(&file, s, fill, buf); err != nil {
		b.Fatal(err)
	}
	data := file.Bytes()
	var write, source, cp time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := Write(io.Discard, s, fill, buf); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := WriteSource(io.Discard, s, src, buf); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		for off := 0; off < len(data); off += len(buf) {
			n := copy(buf, data[off:])
			io.Discard.Write(buf[:n])
		}
		cp += time.Since(t2)
		source += t2.Sub(t1)
		write += t1.Sub(t0)
	}
	total := float64(size) * float64(b.N)
	b.ReportMetric(total/write.Seconds()/1e6, "tfrecord_MB/s")
	b.ReportMetric(total/source.Seconds()/1e6, "source_MB/s")
	b.ReportMetric(total/cp.Seconds()/1e6, "copy_MB/s")
	b.ReportMetric(float64(cp)/float64(write), "tfrecord/copy")
	b.ReportMetric(float64(cp)/float64(source), "source/copy")
}
