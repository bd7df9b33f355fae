// Package npz writes NumPy .npz files the way DLIO's training datasets hold
// them: np.savez(path, x=records, y=labels), an uncompressed zip of two .npy
// arrays; and the .npy files of DLIO's npy datasets, which hold x alone
// (np.save(path, x)).
//
// x is uint8 with shape (d1, d2, samples), where d1*d2 is exactly the record
// size (see Shape); y is int64 with shape (samples,). The bytes of both
// arrays come from a caller's fill function, so a dataset written from
// content.Generator can be verified byte for byte on read-back, and no part
// of a file (not even the labels) is a dedupable run of zeros. Everything
// else (zip and .npy headers) is a pure function of the Spec, and timestamps
// are fixed, so equal inputs give identical files.
//
// Files are streamed through a caller's scratch buffer: memory does not grow
// with the file. Zip64 is not written; Size reports the specs that would
// need it.
package npz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"
	"strings"
)

// Spec describes one .npz file.
type Spec struct {
	RecordBytes int64 // bytes per sample in x; at least 1
	Samples     int64 // samples in the file; at least 1
}

// ErrNeedsZip64 is wrapped by the errors of specs whose file would need
// zip64, so that a caller can tell "too big for this format" from a bad spec.
var ErrNeedsZip64 = errors.New("needs zip64, which this writer does not produce")

// Extent is a range of file offsets.
type Extent struct{ Off, Len int64 }

const (
	localHeaderLen   = 30
	descriptorLen    = 16
	centralHeaderLen = 46
	endRecordLen     = 22

	// The zip fields are 32 bits wide and 0xFFFFFFFF means "see the zip64
	// record", so every size and offset must stay below it.
	zip32Limit = math.MaxUint32

	xName, yName = "x.npy", "y.npy"

	// 1980-01-01 00:00:00, the earliest DOS time: a fixed stamp keeps the
	// files reproducible.
	dosTime, dosDate = 0, 1<<5 | 1

	flagDescriptor = 1 << 3 // CRC and sizes follow the data
	versionNeeded  = 20     // 2.0: data descriptors
	// Made by "Unix", version 2.0, so that external attributes carry a
	// plain 0644 file mode that unzip and Python show sensibly.
	versionMadeBy = 3<<8 | 20
	externalAttrs = 0o100644 << 16

	minBuf = 64 << 10
)

// shapeSearch bounds how far below the square root Shape looks for a
// divisor, so that sizing a file costs the same for every record size:
// planning 28,000 unet3d files of different sizes must take milliseconds.
const shapeSearch = 1024

// Shape returns the first two dimensions of x, with d1*d2 exactly the
// record size: d1 is the largest divisor of RecordBytes among the
// shapeSearch integers at and below its square root, and d2 =
// RecordBytes/d1; when none of them divides it, the shape is 1 × size.
// Squares and sizes with a divisor near the root (the usual image and
// volume sizes) come out as square as they can be. It returns 0, 0 when
// RecordBytes < 1.
func Shape(s Spec) (d1, d2 int64) {
	n := s.RecordBytes
	if n < 1 {
		return 0, 0
	}
	r := int64(math.Sqrt(float64(n)))
	for r*r > n { // float rounding, either way
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	for d := r; d > 1 && d > r-shapeSearch; d-- {
		if n%d == 0 {
			return d, n / d
		}
	}
	return 1, n
}

// layout is where everything of one file goes.
type layout struct {
	xHeader, yHeader string // .npy prefixes
	xData, yData     Extent // fill's bytes
	xLocal, yLocal   int64  // local file headers
	central, size    int64  // central directory start, file size
}

func plan(s Spec) (layout, error) {
	if s.RecordBytes < 1 || s.Samples < 1 {
		return layout{}, fmt.Errorf("npz: record bytes %d and samples %d must both be at least 1", s.RecordBytes, s.Samples)
	}
	if s.RecordBytes > math.MaxInt64/s.Samples {
		return layout{}, fmt.Errorf("npz: %d samples of %d bytes overflow a file size", s.Samples, s.RecordBytes)
	}
	// Refuse oversized files before Shape, whose trial division takes
	// sqrt(RecordBytes) steps, and before any sum below could overflow.
	if n := s.RecordBytes * s.Samples; n >= zip32Limit {
		return layout{}, fmt.Errorf("npz: x.npy would be over %d bytes, more than the %d a zip entry holds: %w",
			n, int64(zip32Limit-1), ErrNeedsZip64)
	}
	d1, d2 := Shape(s)
	var l layout
	l.xHeader = npyHeader("|u1", d1, d2, s.Samples)
	l.yHeader = npyHeader("<i8", s.Samples)

	at := int64(0)
	l.xLocal = at
	at += localHeaderLen + int64(len(xName)) + int64(len(l.xHeader))
	l.xData = Extent{at, s.RecordBytes * s.Samples}
	at += l.xData.Len + descriptorLen
	l.yLocal = at
	at += localHeaderLen + int64(len(yName)) + int64(len(l.yHeader))
	l.yData = Extent{at, 8 * s.Samples}
	at += l.yData.Len + descriptorLen
	l.central = at
	at += 2*centralHeaderLen + int64(len(xName)+len(yName))
	l.size = at + endRecordLen

	// The central directory's start is the largest offset a 32-bit field
	// holds; entry sizes are checked on their own so the error names them.
	for _, e := range []struct {
		name string
		n    int64
	}{
		{xName, int64(len(l.xHeader)) + l.xData.Len},
		{yName, int64(len(l.yHeader)) + l.yData.Len},
	} {
		if e.n >= zip32Limit {
			return layout{}, fmt.Errorf("npz: %s would be %d bytes, more than the %d a zip entry holds: %w",
				e.name, e.n, int64(zip32Limit-1), ErrNeedsZip64)
		}
	}
	if l.central >= zip32Limit {
		return layout{}, fmt.Errorf("npz: the zip directory would start at offset %d, past the %d a zip offset holds: %w",
			l.central, int64(zip32Limit-1), ErrNeedsZip64)
	}
	return l, nil
}

// Size returns the exact size in bytes of the file Write produces for s, or
// an error when s is invalid or the file would need zip64.
func Size(s Spec) (int64, error) {
	l, err := plan(s)
	return l.size, err
}

// Payload returns the file extents of x's and y's array data: the bytes
// Write takes from fill at their own file offsets. A reader verifies these
// against the generator; everything outside them is format metadata.
func Payload(s Spec) (x, y Extent, err error) {
	l, err := plan(s)
	return l.xData, l.yData, err
}

// npyHeader returns the .npy v1.0 prefix (magic, version, length, header
// dict) exactly as NumPy's np.save writes it for a C-ordered array, spare
// room for growing the first axis included, so our files look like
// NumPy's to anything that inspects them.
func npyHeader(descr string, shape ...int64) string {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }"
	const growthDigits = 21 // NumPy's GROWTH_AXIS_MAX_DIGITS
	dict += strings.Repeat(" ", growthDigits-len(dims[0]))

	const prefix, align = 10, 64 // magic 6, version 2, length 2
	hlen := len(dict) + 1        // the final '\n'
	pad := align - (prefix+hlen)%align
	var b strings.Builder
	b.WriteString("\x93NUMPY\x01\x00")
	b.WriteByte(byte(hlen + pad))
	b.WriteByte(byte((hlen + pad) >> 8))
	b.WriteString(dict)
	b.WriteString(strings.Repeat(" ", pad))
	b.WriteByte('\n')
	return b.String()
}

// Write streams the .npz file for s to w and returns the bytes written.
//
// fill(p, off) must set p to the content of the file at offsets
// [off, off+len(p)); it is called only for the array data (see Payload),
// in order, with p no longer than buf. Bind content.Generator.Fill to the
// file's stream to get verifiable files.
//
// buf is scratch space the caller can reuse from file to file; its size sets
// the write size. A buf shorter than 64 KiB is replaced by a 64 KiB one.
func Write(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	return write(w, s, zipWriter{w: w, buf: buf, fill: fill})
}

// Source is array data that knows its own CRC: Fill works as Write's fill,
// and UpdateCRC32 continues an IEEE CRC-32 (as crc32.Update does) over the
// bytes Fill would put at [off, off+n) without seeing them.
// content.Generator.File gives one.
type Source interface {
	Fill(p []byte, off int64)
	UpdateCRC32(crc uint32, off, n int64) uint32
}

// WriteSource is Write with the data's CRC-32 taken from src instead of
// hashed from the bytes, which costs as much CPU as generating them: only
// the .npy headers are hashed. The file is the same byte for byte.
func WriteSource(w io.Writer, s Spec, src Source, buf []byte) (int64, error) {
	return write(w, s, zipWriter{w: w, buf: buf, fill: src.Fill, crc: src.UpdateCRC32})
}

func write(w io.Writer, s Spec, z zipWriter) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	if len(z.buf) < minBuf {
		z.buf = make([]byte, minBuf)
	}
	x := z.entry(xName, l.xHeader, l.xData)
	y := z.entry(yName, l.yHeader, l.yData)

	dir := z.buf[:0]
	for _, e := range []entry{x, y} {
		dir = binary.LittleEndian.AppendUint32(dir, 0x02014b50)
		dir = binary.LittleEndian.AppendUint16(dir, versionMadeBy)
		dir = binary.LittleEndian.AppendUint16(dir, versionNeeded)
		dir = binary.LittleEndian.AppendUint16(dir, flagDescriptor)
		dir = binary.LittleEndian.AppendUint16(dir, 0) // stored
		dir = binary.LittleEndian.AppendUint16(dir, dosTime)
		dir = binary.LittleEndian.AppendUint16(dir, dosDate)
		dir = binary.LittleEndian.AppendUint32(dir, e.crc)
		dir = binary.LittleEndian.AppendUint32(dir, uint32(e.size))
		dir = binary.LittleEndian.AppendUint32(dir, uint32(e.size))
		dir = binary.LittleEndian.AppendUint16(dir, uint16(len(e.name)))
		dir = binary.LittleEndian.AppendUint16(dir, 0) // extra
		dir = binary.LittleEndian.AppendUint16(dir, 0) // comment
		dir = binary.LittleEndian.AppendUint16(dir, 0) // disk
		dir = binary.LittleEndian.AppendUint16(dir, 0) // internal attributes
		dir = binary.LittleEndian.AppendUint32(dir, externalAttrs)
		dir = binary.LittleEndian.AppendUint32(dir, uint32(e.local))
		dir = append(dir, e.name...)
	}
	dir = binary.LittleEndian.AppendUint32(dir, 0x06054b50)
	dir = binary.LittleEndian.AppendUint16(dir, 0) // this disk
	dir = binary.LittleEndian.AppendUint16(dir, 0) // disk with the directory
	dir = binary.LittleEndian.AppendUint16(dir, 2) // entries on this disk
	dir = binary.LittleEndian.AppendUint16(dir, 2) // entries
	dir = binary.LittleEndian.AppendUint32(dir, uint32(l.size-endRecordLen-l.central))
	dir = binary.LittleEndian.AppendUint32(dir, uint32(l.central))
	dir = binary.LittleEndian.AppendUint16(dir, 0) // comment
	z.write(dir)

	if z.err == nil && z.n != l.size {
		// Only a bug in plan or here gets us here; a corrupt file must not
		// pass as a good one.
		z.err = fmt.Errorf("npz: wrote %d bytes, planned %d", z.n, l.size)
	}
	return z.n, z.err
}

// zipWriter carries the running offset and the first error through the
// writes of one file, so the format code above reads straight through.
type zipWriter struct {
	w    io.Writer
	buf  []byte
	fill func(p []byte, off int64)
	// crc, when set, gives the data's CRC without hashing it (Source).
	crc func(crc uint32, off, n int64) uint32
	n   int64
	err error
}

type entry struct {
	name  string
	local int64
	size  int64
	crc   uint32
}

func (z *zipWriter) write(p []byte) {
	if z.err != nil {
		return
	}
	n, err := z.w.Write(p)
	z.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	z.err = err
}

// entry writes one stored member: local header, .npy prefix, the data from
// fill, and the data descriptor with the CRC computed on the way (or from
// z.crc).
func (z *zipWriter) entry(name, npy string, data Extent) entry {
	e := entry{name: name, local: z.n, size: int64(len(npy)) + data.Len}

	h := z.buf[:0]
	h = binary.LittleEndian.AppendUint32(h, 0x04034b50)
	h = binary.LittleEndian.AppendUint16(h, versionNeeded)
	h = binary.LittleEndian.AppendUint16(h, flagDescriptor)
	h = binary.LittleEndian.AppendUint16(h, 0) // stored
	h = binary.LittleEndian.AppendUint16(h, dosTime)
	h = binary.LittleEndian.AppendUint16(h, dosDate)
	h = binary.LittleEndian.AppendUint32(h, 0) // CRC, sizes: in the descriptor
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint16(h, uint16(len(name)))
	h = binary.LittleEndian.AppendUint16(h, 0) // extra
	h = append(h, name...)
	z.write(h)

	h = append(z.buf[:0], npy...)
	e.crc = crc32.Update(0, crc32.IEEETable, h)
	z.write(h)

	for off := data.Off; off < data.Off+data.Len && z.err == nil; {
		p := z.buf[:min(int64(len(z.buf)), data.Off+data.Len-off)]
		z.fill(p, off)
		if z.crc == nil {
			e.crc = crc32.Update(e.crc, crc32.IEEETable, p)
		}
		z.write(p)
		off += int64(len(p))
	}
	if z.crc != nil {
		e.crc = z.crc(e.crc, data.Off, data.Len)
	}

	d := z.buf[:0]
	d = binary.LittleEndian.AppendUint32(d, 0x08074b50)
	d = binary.LittleEndian.AppendUint32(d, e.crc)
	d = binary.LittleEndian.AppendUint32(d, uint32(e.size))
	d = binary.LittleEndian.AppendUint32(d, uint32(e.size))
	z.write(d)
	return e
}
