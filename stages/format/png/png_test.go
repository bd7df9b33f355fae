package png

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	stdpng "image/png"
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

// segment is a run of scanline bytes and where it sits in the file.
type segment struct{ fileOff, rawOff, n int64 }

// parsed is what check's own reading of a file finds.
type parsed struct {
	width, height int64
	types         []string
	pad           segment // the padding chunk's data; n is 0 without one
	raw           []byte  // the zlib stream's uncompressed data
	segs          []segment
}

// parse reads a file the long way, independently of Write: chunk by chunk
// with their CRCs, then the zlib stream block by block with its Adler-32.
func parse(t testing.TB, file []byte) parsed {
	t.Helper()
	if !bytes.HasPrefix(file, signature[:]) {
		t.Fatalf("no PNG signature: % x", file[:min(len(file), 8)])
	}
	var p parsed
	var z []byte       // the IDAT data, concatenated
	var zOff []segment // where each IDAT chunk's data sits, as fileOff, offset in z, n
	for at := int64(8); at < int64(len(file)); {
		if int64(len(file))-at < chunkOverhead {
			t.Fatalf("%d stray bytes at %d", int64(len(file))-at, at)
		}
		n := int64(binary.BigEndian.Uint32(file[at:]))
		if n > int64(len(file))-at-chunkOverhead {
			t.Fatalf("chunk at %d: length %d runs past the end", at, n)
		}
		typ := string(file[at+4 : at+8])
		data := file[at+8 : at+8+n]
		if got, want := binary.BigEndian.Uint32(file[at+8+n:]), crc32.ChecksumIEEE(file[at+4:at+8+n]); got != want {
			t.Fatalf("%s chunk at %d: CRC %08x, want %08x", typ, at, got, want)
		}
		p.types = append(p.types, typ)
		switch typ {
		case "IHDR":
			if n != 13 {
				t.Fatalf("IHDR of %d bytes", n)
			}
			p.width, p.height = int64(binary.BigEndian.Uint32(data)), int64(binary.BigEndian.Uint32(data[4:]))
			if !bytes.Equal(data[8:], []byte{8, 2, 0, 0, 0}) {
				t.Fatalf("IHDR depth, color, methods % x, want 8-bit RGB", data[8:])
			}
		case padType:
			p.pad = segment{fileOff: at + 8, n: n}
		case "IDAT":
			zOff = append(zOff, segment{at + 8, int64(len(z)), n})
			z = append(z, data...)
		}
		at += n + chunkOverhead
	}
	// IHDR, the padding if any, IDATs, IEND.
	mid := p.types[1 : len(p.types)-1]
	if len(mid) > 0 && mid[0] == padType {
		mid = mid[1:]
	}
	if p.types[0] != "IHDR" || p.types[len(p.types)-1] != "IEND" || len(mid) == 0 ||
		strings.Join(mid, " ") != strings.TrimSpace(strings.Repeat("IDAT ", len(mid))) {
		t.Fatalf("chunks %v, want IHDR, maybe %s, IDATs, IEND", p.types, padType)
	}

	// fileAt maps an offset in z to the file.
	fileAt := func(zo int64) int64 {
		for _, s := range zOff {
			if zo >= s.rawOff && zo < s.rawOff+s.n {
				return s.fileOff + zo - s.rawOff
			}
		}
		t.Fatalf("zlib offset %d is in no IDAT chunk", zo)
		return 0
	}
	if len(z) < 2 || z[0] != 0x78 || (int(z[0])<<8|int(z[1]))%31 != 0 || z[1]&0x20 != 0 {
		t.Fatalf("zlib header % x", z[:min(len(z), 2)])
	}
	at := int64(2)
	for final := false; !final; {
		if int64(len(z))-at < 5 {
			t.Fatalf("zlib stream ends at %d without a final block", at)
		}
		final = z[at]&1 != 0
		if z[at]>>1 != 0 {
			t.Fatalf("block header %02x at zlib offset %d: not a stored block", z[at], at)
		}
		n := int64(binary.LittleEndian.Uint16(z[at+1:]))
		if nn := binary.LittleEndian.Uint16(z[at+3:]); nn != ^uint16(n) {
			t.Fatalf("stored block at %d: LEN %04x NLEN %04x", at, n, nn)
		}
		at += 5
		if at+n > int64(len(z)) {
			t.Fatalf("stored block of %d bytes at zlib offset %d runs past the stream", n, at)
		}
		// A block lies in one chunk; check it rather than split segments.
		if f := fileAt(at); n > 0 && fileAt(at+n-1) != f+n-1 {
			t.Fatalf("stored block at zlib offset %d spans chunks", at)
		}
		if n > 0 {
			p.segs = append(p.segs, segment{fileAt(at), int64(len(p.raw)), n})
		}
		p.raw = append(p.raw, z[at:at+n]...)
		at += n
	}
	if int64(len(z))-at != 4 {
		t.Fatalf("%d bytes after the last block, want the 4 of the Adler-32", int64(len(z))-at)
	}
	if got, want := binary.BigEndian.Uint32(z[at:]), adler32.Checksum(p.raw); got != want {
		t.Fatalf("Adler-32 %08x, want %08x", got, want)
	}
	return p
}

// check verifies everything about one file of s: its size, its structure,
// that image/png decodes it to Dims and to the scanlines' pixels, and that
// pixels and padding are fill's bytes at their file offsets.
func check(t testing.TB, s Spec, file []byte, fill func([]byte, int64)) {
	t.Helper()
	if int64(len(file)) != s.RecordBytes {
		t.Fatalf("%d bytes, want %d", len(file), s.RecordBytes)
	}
	p := parse(t, file)
	w, h := Dims(s)
	if p.width != int64(w) || p.height != int64(h) {
		t.Fatalf("IHDR says %d×%d, Dims %d×%d", p.width, p.height, w, h)
	}
	if h < 1 || w < h || w > 2*h {
		t.Errorf("%d×%d: want h <= w <= 2h", w, h)
	}
	rowLen := 1 + 3*p.width
	if int64(len(p.raw)) != p.height*rowLen {
		t.Fatalf("%d bytes of scanlines, want %d", len(p.raw), p.height*rowLen)
	}

	for _, sg := range p.segs {
		want := make([]byte, sg.n)
		fill(want, sg.fileOff)
		for i := range sg.n {
			if (sg.rawOff+i)%rowLen == 0 {
				want[i] = 0 // filter: None
			}
		}
		if !bytes.Equal(p.raw[sg.rawOff:sg.rawOff+sg.n], want) {
			t.Fatalf("scanline bytes at file offset %d differ from fill's", sg.fileOff)
		}
	}
	if p.pad.n > 0 {
		want := make([]byte, p.pad.n)
		fill(want, p.pad.fileOff)
		if !bytes.Equal(file[p.pad.fileOff:p.pad.fileOff+p.pad.n], want) {
			t.Fatal("padding differs from fill's bytes")
		}
	}

	img, format, err := image.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("image.Decode: %v", err)
	}
	if format != "png" || img.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("image.Decode: %s %v, want png %v", format, img.Bounds(), image.Rect(0, 0, w, h))
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("image.Decode gave a %T, want *image.RGBA", img)
	}
	for y := range h {
		row := p.raw[int64(y)*rowLen+1 : int64(y+1)*rowLen]
		pix := rgba.Pix[y*rgba.Stride:]
		for x := range w {
			if pix[4*x] != row[3*x] || pix[4*x+1] != row[3*x+1] || pix[4*x+2] != row[3*x+2] || pix[4*x+3] != 0xff {
				t.Fatalf("pixel (%d, %d) decodes to % x, the file has % x", x, y, pix[4*x:4*x+4], row[3*x:3*x+3])
			}
		}
	}
}

// sizes is the table the round-trip tests run over: the smallest, odd
// sizes, stored-block boundaries, DLIO's records, and a few megabytes.
var sizes = []int64{
	MinRecordBytes, MinRecordBytes + 1, 95, 96, 97, 100, 101, 997, 1000, 4099,
	65603, 65604, 65620, 131172, 131173, // raw data of about one and two full blocks
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
// minimum up to a few KB, and every size around the first stored-block
// boundaries, where the padding and block arithmetic has its edge cases.
func TestEverySmallSize(t *testing.T) {
	buf := make([]byte, minBuf)
	fill := fillFor(2, 0)
	for _, r := range [][2]int64{{MinRecordBytes, 3000}, {65500, 65700}, {131100, 131250}} {
		for size := r[0]; size <= r[1]; size++ {
			s := Spec{RecordBytes: size}
			check(t, s, write(t, s, fill, buf), fill)
		}
	}
}

// TestDimsFillTheFile checks that the image, not the padding, is the file:
// for sizes of real samples the scanlines are over 99.8% of it.
func TestDimsFillTheFile(t *testing.T) {
	for _, size := range []int64{50000, 150528, 322957, 1 << 20, 4<<20 + 3, 1 << 30, MaxRecordBytes} {
		l, err := plan(Spec{RecordBytes: size})
		if err != nil {
			t.Fatal(err)
		}
		w, h := Dims(Spec{RecordBytes: size})
		if int64(w) != l.width || int64(h) != l.height || l.size != size {
			t.Fatalf("%d: Dims %d×%d, plan %+v", size, w, h, l)
		}
		if frac := float64(l.raw) / float64(size); frac < 0.998 {
			t.Errorf("%d: %d×%d holds %.4f of the file in scanlines", size, w, h, frac)
		}
		t.Logf("%d bytes: %d×%d, padding %d", size, w, h, l.pad)
	}
}

// invalid are sizes without a file: below the smallest, above the largest.
var invalid = []Spec{{-1}, {0}, {1}, {72}, {MinRecordBytes - 1}, {MaxRecordBytes + 1}, {1 << 62}}

func TestConformance(t *testing.T) {
	formattest.Run(t, formattest.Format[Spec]{
		Size:  Size,
		Write: Write,
		Cases: []Spec{
			{MinRecordBytes}, {MinRecordBytes + 1}, {1000}, {4099},
			{65604}, {131173}, // raw data of about one and two full blocks
			{150528}, {1000003}, {3<<20 + 17},
		},
		Large:   Spec{16<<20 + 11},
		Invalid: invalid,
		Name:    func(s Spec) string { return strconv.FormatInt(s.RecordBytes, 10) },
		Packed:  true,
	})
}

// TestSizeRejects checks what the conformance suite does not: that the
// error names the minimum, and that every size from it up has a file.
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
	for size := int64(MinRecordBytes); size < MinRecordBytes+100; size++ {
		if n, err := Size(Spec{RecordBytes: size}); n != size || err != nil {
			t.Fatalf("Size(%d) = %d, %v", size, n, err)
		}
	}
}

func TestAdler32(t *testing.T) {
	p := make([]byte, 1<<20+13)
	fillFor(5, 0)(p, 0)
	ff := bytes.Repeat([]byte{0xff}, 1<<20+13) // the largest sums
	for _, f := range []struct {
		name   string
		update func(uint32, []byte) uint32
	}{{"adlerUpdate", adlerUpdate}, {"adlerGeneric", adlerGeneric}} {
		for _, data := range [][]byte{p, ff} {
			for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 1023, 1024, 1025, 5552, 5553,
				16383, 16384, 16385, 16416, 32768 + 31, 65535, 1 << 20, len(data)} {
				if got, want := f.update(1, data[:n]), adler32.Checksum(data[:n]); got != want {
					t.Errorf("%s: %d bytes: %08x, want %08x", f.name, n, got, want)
				}
				q := data[3:][:min(n, len(data)-3)]
				if got, want := f.update(1, q), adler32.Checksum(q); got != want {
					t.Errorf("%s: %d bytes at an odd address: %08x, want %08x", f.name, len(q), got, want)
				}
			}
			// In pieces, from a running value, as Write calls it.
			d := uint32(1)
			for q := data; len(q) > 0; {
				k := min(len(q), 1+len(q)%40009)
				d = f.update(d, q[:k])
				q = q[k:]
			}
			if want := adler32.Checksum(data); d != want {
				t.Errorf("%s: in pieces: %08x, want %08x", f.name, d, want)
			}
		}
	}
}

// TestGolden pins the bytes of one small file, so that a change of format
// shows. Run go test -update to accept a deliberate one.
func TestGolden(t *testing.T) {
	s := Spec{RecordBytes: 1000}
	got := write(t, s, fillFor(1, 0), nil)
	path := filepath.Join("testdata", "golden.png")
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
// has image/png encode an image of the same dimensions at BestSpeed.
// Write's line reports how many times faster than the encoder it is as
// "x-stdlib".
func BenchmarkWrite(b *testing.B) {
	s := Spec{RecordBytes: 322957}
	w, h := Dims(s)
	fill := fillFor(1, 0)
	buf := make([]byte, 1<<20)
	var stdlib time.Duration // per image

	b.Run("stdlib-BestSpeed", func(b *testing.B) {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		fill(img.Pix, 0)
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 0xff // opaque, so that the encoder writes RGB
		}
		enc := stdpng.Encoder{CompressionLevel: stdpng.BestSpeed}
		var out bytes.Buffer
		if err := enc.Encode(&out, img); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(out.Len()))
		for b.Loop() {
			if err := enc.Encode(io.Discard, img); err != nil {
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

// BenchmarkAdler32 compares adlerUpdate, and the portable adlerGeneric,
// with hash/adler32, which they replace because the Adler-32 is most of
// Write's time.
func BenchmarkAdler32(b *testing.B) {
	p := make([]byte, 1<<20)
	fillFor(1, 0)(p, 0)
	for _, f := range []struct {
		name   string
		update func(uint32, []byte) uint32
	}{
		{"adlerUpdate", adlerUpdate},
		{"adlerGeneric", adlerGeneric},
		{"hash-adler32", func(_ uint32, p []byte) uint32 { return adler32.Checksum(p) }},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				f.update(1, p)
			}
		})
	}
}
