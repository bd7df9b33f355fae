// Package jpeg writes baseline JPEG images of an exact size with random
// content, the way DLIO's training datasets hold .jpg samples, without
// running an image encoder: the file is laid out directly and its
// entropy-coded data is a caller's random bytes, made valid by a choice of
// Huffman tables under which almost any bits decode.
//
// A file is SOI, APP0 (JFIF 1.01), COM segments that pad the file to its
// exact size, DQT (every quantizer 1), SOF0 (8-bit grayscale, width and
// height multiples of 8), DHT, SOS, the entropy-coded data and EOI.
//
// The design: each DHT table, DC and AC, defines a single code, "0" of
// length 1, for the symbol 7 (DC: a difference of category 7; AC: run 0,
// size 7). A single code of length 1 is a legal table (the reserved code is
// the all-ones one, "1"): Go's image/jpeg decodes these files (see the
// tests), and so does libjpeg-turbo 2.1 without a warning (checked by
// hand).
// Under these tables every coefficient of every block, DC and 63 AC, is
// the code bit 0 followed by 7 bits of value: exactly one byte, 0xxxxxxx.
// An 8×8 block is 64 such bytes, the scan is byte-aligned from start to
// end, and since no byte has its top bit set, no 0xFF ever occurs: no byte
// stuffing, no padding bits, and the data's size is 64 bytes per block,
// known in advance. Seven bits in eight are random, and the coefficients
// are ±64..127 (dequantized by 1), a noise image after the decoder's
// clamping.
//
// The DC coefficient is coded as a difference from the previous block's, so
// random differences would walk the DC value far outside anything a
// decoder expects. The first value bit of a DC byte (its bit 6) is the
// difference's sign; Write sets it against the running value instead of
// taking it from fill, which keeps every block's DC in -127..127.
//
// Dims picks the image that comes closest to the record size from below
// among widths of one to two times the height; COM segments of fill's
// bytes make up the rest, so a file is exactly RecordBytes long.
//
// Content: Write fills its buffer from fill at the buffer's file offsets
// and then writes the JPEG structure over it: marker segments are
// replaced, the entropy-coded bytes keep fill's low seven bits (six for
// the DC bytes), the COM payloads keep fill's bytes. Files of different
// streams differ throughout, no part of a file is a run a deduplicating
// store could share, and equal inputs give identical files.
//
// Files are streamed through a caller's scratch buffer: memory does not
// grow with the image.
package jpeg

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"mlps.dev/mlps/stages/format/imagesize"
	"mlps.dev/mlps/stages/format/window"
)

// Spec describes one .jpg file.
type Spec struct {
	RecordBytes int64 // the file's size; at least MinRecordBytes
}

const (
	// MinRecordBytes is the smallest size Write makes: one 8×8 block (218
	// bytes) and an empty COM segment (4). Sizes 219 to 221 have no file,
	// having less than a COM segment left over.
	MinRecordBytes = headerLen + blockBytes + comOverhead
	// MaxRecordBytes is the file of the largest image: 65528×65528 pixels,
	// the largest multiple of 8 that SOF's 16-bit dimensions hold.
	MaxRecordBytes = headerLen + blockBytes*maxSide*maxSide
)

const (
	blockBytes  = 64 // an 8×8 block: 64 coefficients of one byte each
	maxSide     = 65535 / 8
	comOverhead = 4 // marker and length
	maxSegment  = 2 + 65535
	// SOI, APP0, DQT, SOF0, DHT, SOS and EOI.
	headerLen = 2 + 18 + 69 + 13 + 40 + 10 + 2

	// symbol is the one symbol of both Huffman tables: DC category 7, or AC
	// run 0 and size 7.
	symbol = 0x07

	minBuf = 64 << 10
)

// layout is where everything of one file goes.
type layout struct {
	bw, bh int64 // blocks across and down
	com    int64 // COM segments, overhead included; 0 for none
	size   int64
}

// blocks is how a file's length follows from its image, in 8×8 blocks.
var blocks = imagesize.Format{
	Len:     func(bw, bh int64) int64 { return headerLen + blockBytes*bw*bh },
	MinPad:  comOverhead,
	MaxSide: maxSide,
}

// plan chooses the image: of all w×h blocks with h <= w <= 2h whose file,
// with COM segments of at least comOverhead bytes or none, is at most
// RecordBytes, the largest, and of equally large ones the squarest.
func plan(s Spec) (layout, error) {
	size := s.RecordBytes
	if size < MinRecordBytes || size > MaxRecordBytes {
		return layout{}, fmt.Errorf("jpeg: record bytes %d outside [%d, %d]: the smallest file is one 8×8 block with an empty COM segment",
			size, int64(MinRecordBytes), int64(MaxRecordBytes))
	}
	bw, bh, n := blocks.Fit(size)
	if n == 0 {
		// Not reached for sizes in range: one block always fits.
		return layout{}, fmt.Errorf("jpeg: no image fits %d bytes", size)
	}
	return layout{bw: bw, bh: bh, com: size - n, size: size}, nil
}

// Size returns the size in bytes of the file Write produces for s, which is
// s.RecordBytes, or an error when s is out of range.
func Size(s Spec) (int64, error) {
	l, err := plan(s)
	return l.size, err
}

// Dims returns the width and height of the image in the file for s, or 0, 0
// when s is out of range.
func Dims(s Spec) (width, height int) {
	l, _ := plan(s)
	return int(8 * l.bw), int(8 * l.bh)
}

// Write streams the .jpg file for s to w and returns the bytes written.
//
// fill(p, off) must set p to the content of the file at offsets
// [off, off+len(p)). Write calls it once for every window of buf, in order
// and covering the whole file, with p no longer than buf, and then writes
// the JPEG structure over the window (see the package comment). Bind
// content.Generator.Fill to the file's stream to get verifiable files.
//
// buf is scratch space the caller can reuse from file to file; its size sets
// the write size. A buf shorter than 64 KiB is replaced by a 64 KiB one.
func Write(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	return emit(w, l, fill, buf)
}

// emit writes the file of l.
func emit(w io.Writer, l layout, fill func(p []byte, off int64), buf []byte) (int64, error) {
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}
	o := window.New("jpeg", w, buf, fill, l.size)

	var scratch [160]byte
	o.Lit(append(scratch[:0],
		0xff, 0xd8, // SOI
		// APP0: JFIF 1.01, no density units and a 1:1 aspect ratio, no
		// thumbnail.
		0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0))

	// The padding: as few COM segments as hold it, of sizes that differ
	// by at most one, so that none is shorter than its overhead.
	segs := (l.com + maxSegment - 1) / maxSegment
	for i := range segs {
		n := l.com / segs
		if i < l.com%segs {
			n++
		}
		o.Lit(append(scratch[:0], 0xff, 0xfe, byte((n-2)>>8), byte(n-2)))
		for n -= comOverhead; n > 0 && o.Err() == nil; {
			n -= int64(len(o.Take(n)))
		}
	}

	b := append(scratch[:0], 0xff, 0xdb, 0, 67, 0) // DQT: table 0, 8-bit
	for range 64 {
		b = append(b, 1)
	}
	// SOF0: 8-bit samples, the height and width, one component (1) of
	// sampling factors 1×1 that uses quantizer 0.
	width, height := 8*l.bw, 8*l.bh
	b = append(b, 0xff, 0xc0, 0, 11, 8, byte(height>>8), byte(height), byte(width>>8), byte(width), 1, 1, 0x11, 0)
	// DHT: the DC and the AC table 0, each of one code of length 1.
	b = append(b, 0xff, 0xc4, 0, 2+2*(1+16+1))
	for _, class := range []byte{0x00, 0x10} { // DC table 0, AC table 0
		b = append(b, class, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, symbol)
	}
	// SOS: one component, 1, coded with DC and AC tables 0; the whole
	// spectrum, 0 to 63; no successive approximation.
	b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0)
	o.Lit(b)

	// The entropy-coded data: a byte per coefficient, 0 and 7 value bits.
	dc := 0        // the decoder's DC predictor
	at := int64(0) // bytes of the data so far
	for n := blockBytes * l.bw * l.bh; n > 0 && o.Err() == nil; {
		p := o.Take(n)
		dc = coefficients(p, at, dc)
		at += int64(len(p))
		n -= int64(len(p))
	}

	o.Lit(append(scratch[:0], 0xff, 0xd9)) // EOI
	return o.Finish()
}

// coefficients turns fill's bytes p, which start at byte at of the
// entropy-coded data, into coefficients: it clears bit 7 of every byte, and
// sets bit 6 of the DC bytes (the first of every 64) against the DC
// predictor dc, which it returns updated.
func coefficients(p []byte, at int64, dc int) int {
	clearTopBits(p)
	for j := (blockBytes - at%blockBytes) % blockBytes; j < int64(len(p)); j += blockBytes {
		p[j], dc = steer(p[j], dc)
	}
	return dc
}

// steer returns the DC byte 0svvvvvv made of the low six bits of b and the
// sign s that moves the DC predictor dc towards 0, and dc moved. The value
// bits 1vvvvvv are a difference of +1vvvvvv (64..127), 0vvvvvv one of
// vvvvvv-127 (-127..-64), so dc stays in -127..127. Branch-free: the sign
// is a coin toss that a branch predictor would miss half the time.
func steer(b byte, dc int) (byte, int) {
	v := int(b & 0x3f)
	up := (dc - 1) >> (strconv.IntSize - 1) // -1 if dc <= 0, else 0
	return byte(v | 0x40&up), dc + v - 127 + 191&up
}

// clearTopBitsGeneric clears bit 7 of every byte of p, a word at a time.
// clearTopBits is this or, on amd64, AVX2 assembly: the masking is most of
// Write's work after fill.
func clearTopBitsGeneric(p []byte) {
	const low7 = 0x7f7f7f7f7f7f7f7f
	for ; len(p) >= 32; p = p[32:] {
		q := p[:32:32]
		binary.LittleEndian.PutUint64(q, binary.LittleEndian.Uint64(q)&low7)
		binary.LittleEndian.PutUint64(q[8:], binary.LittleEndian.Uint64(q[8:])&low7)
		binary.LittleEndian.PutUint64(q[16:], binary.LittleEndian.Uint64(q[16:])&low7)
		binary.LittleEndian.PutUint64(q[24:], binary.LittleEndian.Uint64(q[24:])&low7)
	}
	for i := range p {
		p[i] &= 0x7f
	}
}
