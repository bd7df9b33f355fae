package jpeg

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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

func write(t testing.TB, s Spec, fill func([]byte, int64), buf []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	n, err := Write(&out, s, fill, buf)
	if err != nil {
		t.Fatalf("Write(%d): %v", s.RecordBytes, err)
	}
	if n != s.RecordBytes || int64(out.Len()) != s.RecordBytes {
		t.Fatalf("Write(%d) returned %d and wrote %d bytes", s.RecordBytes, n, out.Len())
	}
	return out.Bytes()
}

// extent is a range of file offsets.
type extent struct{ off, n int64 }

// parsed is what parse's own reading of a file finds.
type parsed struct {
	markers       []byte // the marker of every segment, in order
	width, height int
	com           []extent // COM payloads
	scan          extent   // the entropy-coded data
	tables        []byte   // DQT, SOF0, DHT and SOS, all of each segment
}

// parse reads a file's marker segments, independently of Write.
func parse(t testing.TB, file []byte) parsed {
	t.Helper()
	if !bytes.HasPrefix(file, []byte{0xff, 0xd8}) {
		t.Fatalf("no SOI: % x", file[:min(len(file), 2)])
	}
	var p parsed
	at := int64(2)
	for {
		if int64(len(file))-at < 4 || file[at] != 0xff {
			t.Fatalf("no marker segment at %d", at)
		}
		m := file[at+1]
		p.markers = append(p.markers, m)
		n := int64(binary.BigEndian.Uint16(file[at+2:]))
		if n < 2 || at+2+n > int64(len(file)) {
			t.Fatalf("marker %02x at %d: length %d runs past the end", m, at, n)
		}
		data := file[at+4 : at+2+n]
		switch m {
		case 0xfe:
			p.com = append(p.com, extent{at + 4, n - 2})
		case 0xc0:
			p.height, p.width = int(binary.BigEndian.Uint16(data[1:])), int(binary.BigEndian.Uint16(data[3:]))
			fallthrough
		case 0xdb, 0xc4, 0xda:
			p.tables = append(p.tables, file[at:at+2+n]...)
		}
		at += 2 + n
		if m == 0xda {
			break
		}
	}
	// The scan runs to the EOI that ends the file; nothing in it may look
	// like a marker.
	if !bytes.HasSuffix(file, []byte{0xff, 0xd9}) {
		t.Fatalf("file ends in % x, not EOI", file[len(file)-2:])
	}
	p.scan = extent{at, int64(len(file)) - 2 - at}
	if i := bytes.IndexByte(file[at:len(file)-2], 0xff); i >= 0 {
		t.Fatalf("0xFF at %d in the entropy-coded data", at+int64(i))
	}
	return p
}

// check verifies everything about one file of s: its size, its segments,
// that image/jpeg decodes it to Dims, and that the entropy-coded data and
// the padding are fill's bytes at their file offsets as the package
// comment says.
func check(t testing.TB, s Spec, file []byte, fill func([]byte, int64)) {
	t.Helper()
	if int64(len(file)) != s.RecordBytes {
		t.Fatalf("%d bytes, want %d", len(file), s.RecordBytes)
	}
	p := parse(t, file)
	w, h := Dims(s)
	if p.width != w || p.height != h {
		t.Fatalf("SOF0 says %d×%d, Dims %d×%d", p.width, p.height, w, h)
	}
	if h < 8 || w < h || w > 2*h || w%8 != 0 || h%8 != 0 {
		t.Errorf("%d×%d: want multiples of 8 with h <= w <= 2h", w, h)
	}
	markers := fmt.Sprintf("% x", p.markers)
	if want := "e0 " + strings.Repeat("fe ", len(p.com)) + "db c0 c4 da"; markers != want {
		t.Fatalf("markers %s, want %s", markers, want)
	}
	if p.scan.n != int64(w)*int64(h) {
		t.Fatalf("%d bytes of entropy-coded data for %d pixels, want one per pixel", p.scan.n, w*h)
	}

	for _, e := range p.com {
		want := make([]byte, e.n)
		fill(want, e.off)
		if !bytes.Equal(file[e.off:e.off+e.n], want) {
			t.Fatalf("COM payload at %d differs from fill's bytes", e.off)
		}
	}
	want := make([]byte, p.scan.n)
	fill(want, p.scan.off)
	dc := 0
	for i, b := range file[p.scan.off : p.scan.off+p.scan.n] {
		if i%64 != 0 {
			if b != want[i]&0x7f {
				t.Fatalf("entropy byte %d is %02x, want fill's %02x without its top bit", i, b, want[i])
			}
			continue
		}
		// DC: fill's low six bits, the sign bit against the predictor.
		sign := byte(0x40)
		if dc > 0 {
			sign = 0
		}
		if b != want[i]&0x3f|sign {
			t.Fatalf("DC byte %d is %02x, want %02x from fill's %02x and DC %d", i, b, want[i]&0x3f|sign, want[i], dc)
		}
		if b >= 0x40 {
			dc += int(b)
		} else {
			dc += int(b) - 127
		}
		if dc < -127 || dc > 127 {
			t.Fatalf("DC wanders to %d", dc)
		}
	}

	img, format, err := image.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("image.Decode: %v", err)
	}
	if format != "jpeg" || img.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("image.Decode: %s %v, want jpeg %v", format, img.Bounds(), image.Rect(0, 0, w, h))
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("image.Decode gave a %T, want *image.Gray", img)
	}
}

// TestTables pins the tables the design rests on, byte for byte: a
// change here changes what every decoder sees.
func TestTables(t *testing.T) {
	s := Spec{RecordBytes: 4000}
	p := parse(t, write(t, s, fillFor(1, 0), nil))
	w, h := Dims(s)
	want := []byte{0xff, 0xdb, 0, 67, 0}
	want = append(want, bytes.Repeat([]byte{1}, 64)...)
	want = append(want, 0xff, 0xc0, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	want = append(want, 0xff, 0xc4, 0, 38)
	want = append(want, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7)
	want = append(want, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7)
	want = append(want, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0)
	if !bytes.Equal(p.tables, want) {
		t.Errorf("tables\n% x\nwant\n% x", p.tables, want)
	}
}

// sizes is the table the round-trip tests run over: the smallest, odd
// sizes, sizes needing several COM segments, DLIO's records, and a few
// megabytes.
var sizes = []int64{
	MinRecordBytes, MinRecordBytes + 1, 282, 283, 284, 285, 286, 997, 1000, 4099,
	150528,  // resnet50's resized record
	322957,  // retinanet
	1000003, // prime
	3<<20 + 17,
	8 << 20,
}

func TestWriteRoundTrip(t *testing.T) {
	// Buffer sizes: the 64 KiB floor, a size that divides nothing, and the
	// 1 MiB a dataset writer would use.
	for _, bufLen := range []int{0, 100003, 1 << 20} {
		for i, size := range sizes {
			t.Run(fmt.Sprintf("%d/buf%d", size, bufLen), func(t *testing.T) {
				s := Spec{RecordBytes: size}
				fill := fillFor(1, int64(i))
				check(t, s, write(t, s, fill, make([]byte, bufLen)), fill)
			})
		}
	}
}

// TestEverySmallSize writes, parses and decodes every size from the
// minimum up to a few KB, where the COM arithmetic has its edge cases.
func TestEverySmallSize(t *testing.T) {
	buf := make([]byte, minBuf)
	fill := fillFor(2, 0)
	for size := int64(MinRecordBytes); size <= 5000; size++ {
		s := Spec{RecordBytes: size}
		check(t, s, write(t, s, fill, buf), fill)
	}
}

// TestDimsFillTheFile checks that the image, not the padding, is the file,
// and that the largest sizes plan within JPEG's limits.
func TestDimsFillTheFile(t *testing.T) {
	for _, size := range []int64{50000, 150528, 322957, 1 << 20, 4<<20 + 3, 1 << 30, MaxRecordBytes - 1, MaxRecordBytes} {
		l, err := plan(Spec{RecordBytes: size})
		if err != nil {
			t.Fatal(err)
		}
		w, h := Dims(Spec{RecordBytes: size})
		if int64(w) != 8*l.bw || int64(h) != 8*l.bh || l.size != size || w > 65535 || h > 65535 {
			t.Fatalf("%d: Dims %d×%d, plan %+v", size, w, h, l)
		}
		if frac := float64(int64(w)*int64(h)) / float64(size); frac < 0.99 {
			t.Errorf("%d: %d×%d holds %.4f of the file in entropy-coded data", size, w, h, frac)
		}
		t.Logf("%d bytes: %d×%d, padding %d", size, w, h, l.com)
	}
}

// TestSeveralComments writes a file whose padding needs several COM
// segments. Only images near the largest have that much left over, too
// big to write in a test, so it writes a small image with such padding.
func TestSeveralComments(t *testing.T) {
	if l, err := plan(Spec{RecordBytes: MaxRecordBytes - 1}); err != nil || l.com <= maxSegment {
		t.Errorf("plan(MaxRecordBytes-1) = %+v, %v: want padding of several segments", l, err)
	}
	for _, com := range []int64{maxSegment, maxSegment + 1, maxSegment + 3, 2*maxSegment + 1, 300001} {
		t.Run(strconv.FormatInt(com, 10), func(t *testing.T) {
			l := layout{bw: 2, bh: 1, com: com, size: headerLen + 2*blockBytes + com}
			var out bytes.Buffer
			if n, err := emit(&out, l, fillFor(1, 0), nil); err != nil || n != l.size {
				t.Fatalf("emit = %d, %v; want %d bytes", n, err, l.size)
			}
			p := parse(t, out.Bytes())
			total := int64(0)
			for _, e := range p.com {
				total += e.n + comOverhead
			}
			if want := (com + maxSegment - 1) / maxSegment; int64(len(p.com)) != want || total != com {
				t.Errorf("%d COM segments of %d bytes in all, want %d of %d", len(p.com), total, want, com)
			}
			if _, err := stdjpeg.Decode(bytes.NewReader(out.Bytes())); err != nil {
				t.Error(err)
			}
		})
	}
}

// invalid are sizes without a file: below the smallest, above the largest.
var invalid = []Spec{{-1}, {0}, {1}, {218}, {MinRecordBytes - 1}, {MaxRecordBytes + 1}, {1 << 62}}

func TestConformance(t *testing.T) {
	formattest.Run(t, formattest.Format[Spec]{
		Size:  Size,
		Write: Write,
		Cases: []Spec{
			{MinRecordBytes}, {MinRecordBytes + 1}, {1000}, {4099},
			{150528}, {1000003}, {3<<20 + 17},
		},
		Large:   Spec{16<<20 + 11},
		Invalid: invalid,
		Name:    func(s Spec) string { return strconv.FormatInt(s.RecordBytes, 10) },
		Packed:  true,
	})
}

// TestSizeRejects checks what the conformance suite does not: that the
// error names the minimum, which a user who asked for less needs to know.
func TestSizeRejects(t *testing.T) {
	for _, s := range invalid {
		t.Run(strconv.FormatInt(s.RecordBytes, 10), func(t *testing.T) {
			_, err := Size(s)
			if err == nil {
				t.Fatalf("Size(%d) succeeded", s.RecordBytes)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(MinRecordBytes)) {
				t.Errorf("error %q does not name the minimum %d", err, MinRecordBytes)
			}
			if w, h := Dims(s); w != 0 || h != 0 {
				t.Errorf("Dims = %d×%d, want 0×0", w, h)
			}
		})
	}
}

// TestGolden pins the bytes of one small file, so that a change of format
// shows. Run go test -update to accept a deliberate one.
func TestGolden(t *testing.T) {
	s := Spec{RecordBytes: 1000}
	got := write(t, s, fillFor(1, 0), nil)
	path := filepath.Join("testdata", "golden.jpg")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Write(%d) differs from %s; if the change is meant, run go test -update", s.RecordBytes, path)
	}
}

// BenchmarkWrite writes a retinanet-sized file, and then, in the same run,
// has image/jpeg encode a grayscale image of the same dimensions at its
// default quality. Write's line reports how many times faster than the
// encoder it is as "x-stdlib".
func BenchmarkWrite(b *testing.B) {
	s := Spec{RecordBytes: 322957}
	w, h := Dims(s)
	fill := fillFor(1, 0)
	buf := make([]byte, 1<<20)
	var stdlib time.Duration // per image

	b.Run("stdlib", func(b *testing.B) {
		img := image.NewGray(image.Rect(0, 0, w, h))
		fill(img.Pix, 0)
		var out bytes.Buffer
		if err := stdjpeg.Encode(&out, img, nil); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(out.Len()))
		for b.Loop() {
			if err := stdjpeg.Encode(io.Discard, img, nil); err != nil {
				b.Fatal(err)
			}
		}
		stdlib = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("mlps", func(b *testing.B) {
		b.SetBytes(s.RecordBytes)
		for b.Loop() {
			if _, err := Write(io.Discard, s, fill, buf); err != nil {
				b.Fatal(err)
			}
		}
		if stdlib > 0 {
			b.ReportMetric(float64(stdlib)/float64(b.Elapsed()/time.Duration(b.N)), "x-stdlib")
		}
	})
}

func TestClearTopBits(t *testing.T) {
	src := make([]byte, 5000)
	fillFor(3, 0)(src, 0)
	for i := range 300 {
		src[i] = 0xff // every bit set
	}
	for _, off := range []int{0, 1, 7} {
		for _, n := range []int{0, 1, 31, 32, 127, 128, 129, 255, 256, 1000, 4096 + 100} {
			p := append([]byte(nil), src[off:off+n]...)
			clearTopBits(p)
			for i, b := range p {
				if b != src[off+i]&0x7f {
					t.Fatalf("%d bytes at offset %d: byte %d is %02x, want %02x", n, off, i, b, src[off+i]&0x7f)
				}
			}
		}
	}
}
