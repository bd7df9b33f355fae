// Package png writes PNG images of an exact size with random pixels, the
// way DLIO's training datasets hold .png samples, without running an image
// encoder: the file is laid out directly and its pixels are a caller's
// random bytes.
//
// A file is the signature, IHDR (8-bit RGB, not interlaced), an optional
// padding chunk, IDAT chunks and IEND. The IDAT chunks carry a zlib stream
// of stored (uncompressed) deflate blocks, one block of at most 65535 bytes
// per chunk; the blocks hold the scanlines, each a filter byte 0 (None)
// followed by the row's pixels. Random pixels do not compress, so a real
// encoder's output is no smaller; storing them skips deflate and leaves
// only the CRC-32s and the Adler-32 to compute. Go's image/png decodes
// these files (see the tests), and so does libpng 1.6 without a warning
// (checked by hand).
//
// Dims picks the image that comes closest to the record size from below
// among widths of one to two times the height; the padding chunk "mlPs"
// (ancillary, private, safe to copy: decoders skip it) makes up the
// rest, so a file is exactly RecordBytes long.
//
// Content: Write fills its buffer from fill at the buffer's file offsets
// and then writes the PNG structure (signature, chunk lengths, types and
// CRCs, the zlib and block headers, the filter bytes, the Adler-32) over
// it. Every pixel byte and every byte of the padding chunk's data is
// therefore fill's byte at its own file offset: files of different streams
// differ throughout, no part of a file is a run a deduplicating store could
// share, and equal inputs give identical files.
//
// Files are streamed through a caller's scratch buffer: memory does not
// grow with the image.
package png

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"mlps.dev/mlps/stages/format/imagesize"
	"mlps.dev/mlps/stages/format/window"
)

// Spec describes one .png file.
type Spec struct {
	RecordBytes int64 // the file's size; at least MinRecordBytes
}

const (
	// MinRecordBytes is the smallest size Write makes: a 1×1 image (72
	// bytes) with the shortest padding chunk (12). Some smaller sizes have
	// an image of their own, but not all of them, and no size below 72
	// does.
	MinRecordBytes = fixedLen + blockOverhead + 1 + bpp + chunkOverhead
	// MaxRecordBytes bounds sizes so that the planning arithmetic cannot
	// overflow; a terabyte is far beyond any training sample.
	MaxRecordBytes = 1 << 40
)

const (
	bpp           = 3  // bytes per pixel: 8-bit RGB
	chunkOverhead = 12 // length, type, CRC
	ihdrLen       = chunkOverhead + 13
	// Every stored block sits in an IDAT chunk of its own, with its 5-byte
	// header (BFINAL/BTYPE, LEN, NLEN).
	blockOverhead = chunkOverhead + 5
	maxStored     = 65535 // LEN is 16 bits
	// Signature, IHDR, IEND, and the zlib stream's 2-byte header and
	// 4-byte Adler-32.
	fixedLen = 8 + ihdrLen + chunkOverhead + 2 + 4

	// "mlPs": lowercase first letter, ancillary (a decoder that does not
	// know the chunk skips it); lowercase second, private; uppercase
	// third, as the spec requires; lowercase fourth, safe to copy.
	padType = "mlPs"

	minBuf = 64 << 10
)

// layout is where everything of one file goes.
type layout struct {
	width, height int64
	rowLen        int64 // filter byte and pixels
	raw           int64 // all scanlines: the zlib stream's uncompressed data
	blocks        int64 // stored blocks, and IDAT chunks
	pad           int64 // the padding chunk, overhead included; 0 for none
	size          int64
}

// fileLen is the size of the file of a w×h image without padding.
func fileLen(w, h int64) int64 {
	raw := h * (1 + bpp*w)
	return fixedLen + blockOverhead*((raw+maxStored-1)/maxStored) + raw
}

// pixels is how a file's length follows from its image.
var pixels = imagesize.Format{
	Len:     fileLen,
	MinPad:  chunkOverhead,
	MaxSide: 1<<31 - 1, // IHDR's dimensions are 31-bit
}

// plan chooses the image: of all w×h with h <= w <= 2h whose file, with a
// padding chunk of at least chunkOverhead bytes or none, is at most
// RecordBytes, the largest, and of equally large ones the squarest.
func plan(s Spec) (layout, error) {
	size := s.RecordBytes
	if size < MinRecordBytes || size > MaxRecordBytes {
		return layout{}, fmt.Errorf("png: record bytes %d outside [%d, %d]: the smallest file is a 1×1 image with a %d-byte padding chunk",
			size, int64(MinRecordBytes), int64(MaxRecordBytes), chunkOverhead)
	}
	w, h, n := pixels.Fit(size)
	if n == 0 || size-n-chunkOverhead > 1<<31-1 {
		// Not reached for sizes in range: h = w = 1 always fits.
		return layout{}, fmt.Errorf("png: no image fits %d bytes", size)
	}
	raw := h * (1 + bpp*w)
	return layout{
		width: w, height: h, rowLen: 1 + bpp*w, raw: raw,
		blocks: (raw + maxStored - 1) / maxStored,
		pad:    size - n, size: size,
	}, nil
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
	return int(l.width), int(l.height)
}

var signature = [8]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// Write streams the .png file for s to w and returns the bytes written.
//
// fill(p, off) must set p to the content of the file at offsets
// [off, off+len(p)). Write calls it once for every window of buf, in order
// and covering the whole file, with p no longer than buf, and then writes
// the PNG structure over the window (see the package comment): pixels and
// padding keep fill's bytes. Bind content.Generator.Fill to the file's
// stream to get verifiable files.
//
// buf is scratch space the caller can reuse from file to file; its size sets
// the write size. A buf shorter than 64 KiB is replaced by a 64 KiB one.
func Write(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}
	o := window.New("png", w, buf, fill, l.size)

	var scratch [64]byte
	b := append(scratch[:0], signature[:]...)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = binary.BigEndian.AppendUint32(b, uint32(l.width))
	b = binary.BigEndian.AppendUint32(b, uint32(l.height))
	b = append(b, 8, 2, 0, 0, 0) // depth 8, RGB, deflate, adaptive filters, no interlace
	b = binary.BigEndian.AppendUint32(b, crcSmall(0, b[12:]))
	o.Lit(b)

	if l.pad > 0 {
		b = binary.BigEndian.AppendUint32(scratch[:0], uint32(l.pad-chunkOverhead))
		b = append(b, padType...)
		crc := crcSmall(0, b[4:])
		o.Lit(b)
		for n := l.pad - chunkOverhead; n > 0 && o.Err() == nil; {
			p := o.Take(n)
			crc = crc32.Update(crc, crc32.IEEETable, p)
			n -= int64(len(p))
		}
		o.Lit(binary.BigEndian.AppendUint32(scratch[:0], crc))
	}

	raw := int64(0) // offset in the scanlines
	adler := uint32(1)
	for i := int64(0); i < l.blocks && o.Err() == nil; i++ {
		first, last := i == 0, i == l.blocks-1
		n := min(maxStored, l.raw-raw)
		data := 5 + n
		if first {
			data += 2
		}
		if last {
			data += 4
		}
		b = binary.BigEndian.AppendUint32(scratch[:0], uint32(data))
		b = append(b, "IDAT"...)
		if first {
			// Deflate with a 32 KiB window, FLEVEL 0 ("fastest"), and the
			// check bits that make the header a multiple of 31.
			b = append(b, 0x78, 0x01)
		}
		final := byte(0)
		if last {
			final = 1
		}
		b = append(b, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8)) // BTYPE 00: stored
		crc := crcSmall(0, b[4:])
		o.Lit(b)
		for end := raw + n; raw < end && o.Err() == nil; {
			p := o.Take(end - raw)
			// The filter byte of every row that starts in p.
			for j := (l.rowLen - raw%l.rowLen) % l.rowLen; j < int64(len(p)); j += l.rowLen {
				p[j] = 0
			}
			crc = crc32.Update(crc, crc32.IEEETable, p)
			adler = adlerUpdate(adler, p)
			raw += int64(len(p))
		}
		b = scratch[:0]
		if last {
			b = binary.BigEndian.AppendUint32(b, adler)
		}
		crc = crcSmall(crc, b)
		o.Lit(binary.BigEndian.AppendUint32(b, crc))
	}

	b = binary.BigEndian.AppendUint32(scratch[:0], 0)
	b = append(b, "IEND"...)
	o.Lit(binary.BigEndian.AppendUint32(b, crcSmall(0, b[4:])))
	return o.Finish()
}

// crcSmall is crc32.Update for the few bytes of a header: the library's
// fast path goes through a function variable, which makes escape analysis
// move a stack array it is given to the heap.
func crcSmall(crc uint32, p []byte) uint32 {
	crc = ^crc
	for _, c := range p {
		crc = crc32.IEEETable[byte(crc)^c] ^ crc>>8
	}
	return ^crc
}
