// Package tfrecord writes TFRecord files the way DLIO's training datasets
// hold them: tf.io.TFRecordWriter output whose records are serialised
// tf.train.Example messages with two features, "image" (a BytesList holding
// one sample of RecordBytes bytes) and "size" (an Int64List holding
// RecordBytes). DLIO's generator puts its configured record dimension in
// "size"; the record size keeps each record self-describing, and only
// that varint's length and value differ.
//
// Each record is framed as TensorFlow frames it:
//
//	uint64 length     little endian, the length of data
//	uint32 masked CRC-32C of the 8 length bytes
//	data              the serialised Example
//	uint32 masked CRC-32C of data
//
// The image bytes come from a caller's fill function, addressed by file
// offset, so a dataset written from content.Generator can be verified byte
// for byte on read-back. Everything else (framing, protobuf tags and
// lengths) is a pure function of the Spec; the CRCs depend on the image
// bytes as well. The Example is encoded here by hand, with the map entries
// sorted by key, so equal inputs give identical files.
//
// Every record of a file has the same size, so the frame of record k starts
// at k times the frame size (RecordExtent) and no index is needed to find
// it; WriteIndex still writes the tfrecord2idx text index that DALI and
// DLIO keep next to each file.
//
// Files are streamed through a caller's scratch buffer and read back by
// Scanner through another: memory does not grow with the record or the
// file, even for records of hundreds of megabytes.
package tfrecord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"strconv"
)

// Spec describes one TFRecord file.
type Spec struct {
	RecordBytes int64 // bytes of the image feature of each record; at least 1
	Samples     int64 // records in the file; at least 1
}

// ErrChecksum is wrapped by Scanner's errors for a record whose length or
// data does not match its CRC.
var ErrChecksum = errors.New("checksum mismatch")

const (
	// headerLen and footerLen frame each record's data: length and its
	// CRC before, the data's CRC after.
	headerLen = 8 + 4
	footerLen = 4

	// maxMessage is the largest message protobuf serialises or parses
	// (2 GiB - 1): TensorFlow cannot produce or read back an Example
	// larger than this, so neither do we.
	maxMessage = math.MaxInt32

	// maxMeta bounds the protobuf bytes around the image: tags, five
	// varint lengths of at most 5 bytes (a message is below 2^31) and the
	// two keys.
	maxMeta = 64

	minBuf = 64 << 10

	// Protobuf wire types.
	wireVarint = 0
	wireBytes  = 2

	// Field numbers of tensorflow/core/example/{example,feature}.proto.
	fieldExampleFeatures = 1 // Example.features: Features
	fieldFeaturesFeature = 1 // Features.feature: map<string, Feature>
	fieldMapKey          = 1 // every map entry's key
	fieldMapValue        = 2 // every map entry's value
	fieldBytesList       = 1 // Feature.bytes_list: BytesList
	fieldInt64List       = 3 // Feature.int64_list: Int64List
	fieldListValue       = 1 // BytesList.value, Int64List.value

	imageKey, sizeKey = "image", "size"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// mask is TensorFlow's crc32c::Mask. A CRC computed over data that itself
// contains CRCs is weak, so TFRecord stores every CRC rotated and offset.
func mask(crc uint32) uint32 {
	return (crc>>15 | crc<<17) + 0xa282ead8
}

// varintLen is the length of x as a protobuf varint.
func varintLen(x uint64) int64 {
	return int64(bits.Len64(x|1)+6) / 7
}

// layout is the shape of every frame of one file. The data of a record is
// prefix, the image bytes and suffix: since the map entries are written
// "image" first, the image bytes end up nearly at the end of the Example.
type layout struct {
	data   int64 // Example length
	prefix int64 // Example bytes before the image bytes
	suffix int64 // Example bytes after them
	frame  int64 // whole frame: header, data, footer
	size   int64 // file
}

// message lengths of the Example for a record of n image bytes, from the
// inside out. Every length below is of a length-delimited field: one tag
// byte (all field numbers are below 16), the varint length, the body.
type message struct {
	bytesList, imageFeature, imageEntry int64
	packed, int64List, sizeFeature      int64
	sizeEntry, features, example        int64
}

func field(body int64) int64 { return 1 + varintLen(uint64(body)) + body }

func measure(n int64) message {
	var m message
	m.bytesList = field(n)
	m.imageFeature = field(m.bytesList)
	m.imageEntry = field(int64(len(imageKey))) + field(m.imageFeature)
	m.packed = varintLen(uint64(n))
	m.int64List = field(m.packed)
	m.sizeFeature = field(m.int64List)
	m.sizeEntry = field(int64(len(sizeKey))) + field(m.sizeFeature)
	m.features = field(m.imageEntry) + field(m.sizeEntry)
	m.example = field(m.features)
	return m
}

func plan(s Spec) (layout, error) {
	if s.RecordBytes < 1 || s.Samples < 1 {
		return layout{}, fmt.Errorf("tfrecord: record bytes %d and samples %d must both be at least 1", s.RecordBytes, s.Samples)
	}
	// Check the image alone first, so the sums in measure cannot overflow.
	if s.RecordBytes > maxMessage {
		return layout{}, fmt.Errorf("tfrecord: a record of %d bytes is over the %d bytes of the largest protobuf message", s.RecordBytes, maxMessage)
	}
	m := measure(s.RecordBytes)
	if m.example > maxMessage {
		return layout{}, fmt.Errorf("tfrecord: a record of %d bytes makes a %d-byte Example, over the %d bytes of the largest protobuf message",
			s.RecordBytes, m.example, maxMessage)
	}
	var l layout
	l.data = m.example
	l.suffix = m.sizeEntry + 1 + varintLen(uint64(m.sizeEntry))
	l.prefix = l.data - s.RecordBytes - l.suffix
	l.frame = headerLen + l.data + footerLen
	if s.Samples > math.MaxInt64/l.frame {
		return layout{}, fmt.Errorf("tfrecord: %d records of %d bytes overflow a file size", s.Samples, l.frame)
	}
	l.size = s.Samples * l.frame
	return l, nil
}

// Size returns the exact size in bytes of the file Write produces for s, or
// an error when s is invalid: no records, empty records, an Example over
// protobuf's 2 GiB limit, or a file size past int64.
func Size(s Spec) (int64, error) {
	l, err := plan(s)
	return l.size, err
}

// mustPlan is plan for the functions that have no error to return: like
// an index out of range, asking them about a spec Size rejects is a bug in
// the caller.
func mustPlan(s Spec, k int64) layout {
	l, err := plan(s)
	if err != nil {
		panic(err)
	}
	if k < 0 || k >= s.Samples {
		panic(fmt.Sprintf("tfrecord: record %d out of range [0, %d)", k, s.Samples))
	}
	return l
}

// RecordExtent returns the file range of record k's whole frame, header and
// footer included: the range a loader reads to get the record, and the one
// the index names. It panics if s is invalid (Size returns an error) or k
// is not in [0, s.Samples).
func RecordExtent(s Spec, k int64) (off, n int64) {
	l := mustPlan(s, k)
	return k * l.frame, l.frame
}

// Payload returns the file range of record k's image bytes: the bytes Write
// takes from fill at their own file offsets. A reader verifies these against
// the generator; everything outside them is format metadata. It panics
// like RecordExtent.
func Payload(s Spec, k int64) (off, n int64) {
	l := mustPlan(s, k)
	return k*l.frame + headerLen + l.prefix, s.RecordBytes
}

// appendTag appends a field's key: its number and wire type.
func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

// appendLen appends the key and the length of a length-delimited field;
// the body follows.
func appendLen(b []byte, field int, n int64) []byte {
	return binary.AppendUvarint(appendTag(b, field, wireBytes), uint64(n))
}

// appendPrefix appends the Example bytes up to the image bytes:
//
//	Example{features: Features{feature: {"image": Feature{bytes_list: BytesList{value: [<image>
func appendPrefix(b []byte, n int64) []byte {
	m := measure(n)
	b = appendLen(b, fieldExampleFeatures, m.features)
	b = appendLen(b, fieldFeaturesFeature, m.imageEntry)
	b = appendLen(b, fieldMapKey, int64(len(imageKey)))
	b = append(b, imageKey...)
	b = appendLen(b, fieldMapValue, m.imageFeature)
	b = appendLen(b, fieldBytesList, m.bytesList)
	return appendLen(b, fieldListValue, n)
}

// appendSuffix appends the Example bytes after the image bytes: the "size"
// entry, whose Int64List is packed as TensorFlow's proto3 serialises it.
//
//	"size": Feature{int64_list: Int64List{value: [n]}}}}}
func appendSuffix(b []byte, n int64) []byte {
	m := measure(n)
	b = appendLen(b, fieldFeaturesFeature, m.sizeEntry)
	b = appendLen(b, fieldMapKey, int64(len(sizeKey)))
	b = append(b, sizeKey...)
	b = appendLen(b, fieldMapValue, m.sizeFeature)
	b = appendLen(b, fieldInt64List, m.int64List)
	b = appendLen(b, fieldListValue, m.packed)
	return binary.AppendUvarint(b, uint64(n))
}

// Write streams the TFRecord file for s to w and returns the bytes written.
//
// fill(p, off) must set p to the content of the file at offsets
// [off, off+len(p)); it is called only for the image bytes (see Payload),
// in order, with p no longer than buf. Bind content.Generator.Fill to the
// file's stream to get verifiable files.
//
// buf is scratch space the caller can reuse from file to file; its size sets
// the write size. Records are packed into it back to back, so small records
// still go out in buf-sized writes, and large ones pass through it in
// pieces. A buf shorter than 64 KiB is replaced by a 64 KiB one.
func Write(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	return write(w, s, fill, nil, buf)
}

// Source is image data that knows its own CRC: Fill works as Write's fill,
// and UpdateCRC32C continues a CRC-32C (as crc32.Update with Castagnoli's
// table does) over the bytes Fill would put at [off, off+n) without seeing
// them. content.Generator.File gives one.
type Source interface {
	Fill(p []byte, off int64)
	UpdateCRC32C(crc uint32, off, n int64) uint32
}

// WriteSource is Write with each record's CRC over its image bytes taken
// from src instead of hashed, which costs more CPU than generating them:
// only the few bytes of protobuf around the image are hashed. The file is
// the same byte for byte.
func WriteSource(w io.Writer, s Spec, src Source, buf []byte) (int64, error) {
	return write(w, s, src.Fill, src.UpdateCRC32C, buf)
}

// write is Write, with the image CRCs from crcOf when it is not nil.
func write(w io.Writer, s Spec, fill func(p []byte, off int64), crcOf func(crc uint32, off, n int64) uint32, buf []byte) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}

	// Everything but the image bytes and the data CRC is the same in
	// every record, and so is the CRC of the data up to the image bytes:
	// work them out once per file.
	var headArr [headerLen + maxMeta]byte
	var suffixArr [maxMeta]byte
	head := binary.LittleEndian.AppendUint64(headArr[:0], uint64(l.data))
	head = binary.LittleEndian.AppendUint32(head, mask(crc32.Checksum(head, castagnoli)))
	head = appendPrefix(head, s.RecordBytes)
	prefixCRC := crc32.Checksum(head[headerLen:], castagnoli)
	suffix := appendSuffix(suffixArr[:0], s.RecordBytes)
	if int64(len(head)) != headerLen+l.prefix || int64(len(suffix)) != l.suffix {
		// Only a disagreement between measure and the append functions
		// gets us here; a file with wrong lengths must not be written.
		return 0, fmt.Errorf("tfrecord: encoded %d+%d bytes around the image, planned %d+%d",
			len(head)-headerLen, len(suffix), l.prefix, l.suffix)
	}

	fw := frameWriter{w: w, buf: buf}
	var footer [footerLen]byte
	for range s.Samples {
		fw.put(head)
		crc := prefixCRC
		if crcOf != nil {
			crc = crcOf(crc, fw.n+int64(fw.used), s.RecordBytes)
		}
		for n := s.RecordBytes; n > 0 && fw.room(); {
			p := fw.buf[fw.used:][:min(int64(len(fw.buf)-fw.used), n)]
			fill(p, fw.n+int64(fw.used))
			if crcOf == nil {
				crc = crc32.Update(crc, castagnoli, p)
			}
			fw.used += len(p)
			n -= int64(len(p))
		}
		crc = crc32.Update(crc, castagnoli, suffix)
		fw.put(suffix)
		binary.LittleEndian.PutUint32(footer[:], mask(crc))
		fw.put(footer[:])
		if fw.err != nil {
			break
		}
	}
	fw.flush()

	if fw.err == nil && fw.n != l.size {
		fw.err = fmt.Errorf("tfrecord: wrote %d bytes, planned %d", fw.n, l.size)
	}
	return fw.n, fw.err
}

// frameWriter gathers a file in buf and writes it out whenever buf is full.
// The file offset of buf[used] is n+used, which is what fill is given.
type frameWriter struct {
	w    io.Writer
	buf  []byte
	used int
	n    int64 // bytes written to w
	err  error
}

func (f *frameWriter) flush() {
	if f.err != nil || f.used == 0 {
		return
	}
	n, err := f.w.Write(f.buf[:f.used])
	f.n += int64(n)
	if err == nil && n < f.used {
		err = io.ErrShortWrite
	}
	f.used = 0
	f.err = err
}

// room makes buf have space, flushing it when full, and reports whether
// writing may go on.
func (f *frameWriter) room() bool {
	if f.used == len(f.buf) {
		f.flush()
	}
	return f.err == nil
}

// put copies metadata into buf. It may straddle a flush: buf holds at least
// 64 KiB, but a frame boundary falls anywhere in it.
func (f *frameWriter) put(b []byte) {
	for len(b) > 0 && f.room() {
		k := copy(f.buf[f.used:], b)
		f.used += k
		b = b[k:]
	}
}

// indexLine appends one line of the tfrecord2idx index: the frame's offset
// and its whole length.
func indexLine(b []byte, off, n int64) []byte {
	b = strconv.AppendInt(b, off, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\n')
}

// IndexSize returns the size in bytes of the index WriteIndex writes for s,
// or 0 when s is invalid (Size says why; a valid index is never empty). It
// counts digits by decade instead of formatting every line, so it costs
// the same for any number of records.
func IndexSize(s Spec) int64 {
	l, err := plan(s)
	if err != nil {
		return 0
	}
	frameDigits := int64(len(strconv.FormatInt(l.frame, 10)))
	// Every line is the offset, a space, the frame length and a newline.
	total := s.Samples * (1 + frameDigits + 1)
	// Offsets are k*frame for k in [0, Samples): those at or above 10^d
	// have more than d digits; count one extra digit for each of them per
	// decade they pass. Offset 0 has 1 digit, like 1 to 9.
	last := (s.Samples - 1) * l.frame
	total += s.Samples // the first digit of every offset
	for p := int64(10); p <= last; {
		// Offsets ≥ p are those of k ≥ ceil(p/frame).
		first := (p + l.frame - 1) / l.frame
		total += s.Samples - first
		if p > math.MaxInt64/10 {
			break
		}
		p *= 10
	}
	return total
}

// WriteIndex streams to w the index DALI's tfrecord2idx (which DLIO runs
// after writing each file) would make of the file Write produces for s: one
// line "offset length\n" per record, both in decimal, the offset of the
// frame and its whole length (see RecordExtent). It returns the bytes
// written. Lines are gathered in one small buffer; nothing is allocated
// per record.
func WriteIndex(w io.Writer, s Spec) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	const flushAt = 32 << 10
	const maxLine = 2*20 + 2 // two int64s, a space and a newline
	b := make([]byte, 0, flushAt+maxLine)
	var n int64
	write := func() error {
		k, err := w.Write(b)
		n += int64(k)
		if err == nil && k < len(b) {
			err = io.ErrShortWrite
		}
		b = b[:0]
		return err
	}
	for k := range s.Samples {
		b = indexLine(b, k*l.frame, l.frame)
		if len(b) >= flushAt {
			if err := write(); err != nil {
				return n, err
			}
		}
	}
	if len(b) > 0 {
		if err := write(); err != nil {
			return n, err
		}
	}
	if want := IndexSize(s); n != want {
		return n, fmt.Errorf("tfrecord: wrote an index of %d bytes, planned %d", n, want)
	}
	return n, nil
}

// Scanner reads TFRecord frames one after another, as a training loader
// consumes a file, without holding a record: each record's data passes
// through the scanner's buffer on its way to being counted (and, if asked,
// checksummed) and is then dropped.
//
// Reads from r are buffer-sized and ignore frame boundaries, as
// TensorFlow's buffered record reader does, so the I/O a storage system sees
// is set by the buffer, not by the records.
type Scanner struct {
	r        io.Reader
	buf      []byte
	lo, hi   int   // unread bytes are buf[lo:hi]
	off      int64 // file offset of buf[lo]
	checkCRC bool
	eof      bool  // r has returned io.EOF
	err      error // sticky: once a frame is bad, so is the rest
}

// NewScanner returns a Scanner reading frames from r, which must start at a
// frame boundary (offset 0 of a file, or a RecordExtent offset; see
// SetOffset). buf is scratch space whose size sets the read size; a buf
// shorter than 16 bytes (it must hold a header) is replaced by a 64 KiB
// one. With checkCRC the data of every record is checked against its CRC;
// the length's CRC is always checked, because a wrong length would send
// the scanner off reading garbage for up to 2^63 bytes.
func NewScanner(r io.Reader, buf []byte, checkCRC bool) *Scanner {
	if len(buf) < 16 {
		buf = make([]byte, minBuf)
	}
	return &Scanner{r: r, buf: buf, checkCRC: checkCRC}
}

// SetOffset tells the scanner the file offset its reader starts at, so that
// Offset and the errors of Next name offsets in the file rather than in the
// range being read. Call it before the first Next.
func (s *Scanner) SetOffset(off int64) { s.off = off }

// Offset returns the file offset of the next frame: after a clean io.EOF,
// the end of the last frame.
func (s *Scanner) Offset() int64 { return s.off }

// fill reads more of r into buf after the unread bytes, moving them to the
// front first when there is no room behind them. It returns false at the
// end of r or on a read error (which it records).
func (s *Scanner) fill() bool {
	if s.eof {
		return false
	}
	if s.lo == s.hi || (s.lo > 0 && s.hi == len(s.buf)) {
		s.hi = copy(s.buf, s.buf[s.lo:s.hi])
		s.lo = 0
	}
	// Like bufio: a reader that keeps returning nothing is broken, not slow.
	for range 100 {
		n, err := s.r.Read(s.buf[s.hi:])
		if n < 0 || n > len(s.buf)-s.hi {
			s.err = fmt.Errorf("tfrecord: reader returned %d bytes for a %d-byte read", n, len(s.buf)-s.hi)
			return false
		}
		s.hi += n
		if err == io.EOF {
			s.eof = true
			return n > 0
		}
		if err != nil {
			s.err = fmt.Errorf("tfrecord: reading at offset %d: %w", s.off+int64(s.hi-s.lo), err)
			return false
		}
		if n > 0 {
			return true
		}
	}
	s.err = fmt.Errorf("tfrecord: reading at offset %d: %w", s.off+int64(s.hi-s.lo), io.ErrNoProgress)
	return false
}

// need makes n ≤ len(buf) bytes unread, reading as needed; false means r
// ended first or failed.
func (s *Scanner) need(n int) bool {
	for s.hi-s.lo < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

// truncated is the error of a frame that r ends inside of.
func (s *Scanner) truncated(frame int64, what string) error {
	return fmt.Errorf("tfrecord: record at offset %d truncated in its %s at offset %d: %w",
		frame, what, s.off+int64(s.hi-s.lo), io.ErrUnexpectedEOF)
}

// Next consumes the next frame from r and returns the length of its data
// (the serialised Example). It returns io.EOF when r ends exactly at a frame
// boundary. A frame cut short, a length that fails its CRC and, with
// checkCRC, data that fails its CRC give an error naming the offsets
// involved; truncation wraps io.ErrUnexpectedEOF and checksum failures
// ErrChecksum. After an error, Next keeps returning it.
func (s *Scanner) Next() (n int64, err error) {
	if s.err != nil {
		return 0, s.err
	}
	frame := s.off
	if !s.need(headerLen) {
		switch {
		case s.err != nil:
		case s.hi == s.lo:
			return 0, io.EOF // a clean end
		default:
			s.err = s.truncated(frame, "header")
		}
		return 0, s.err
	}
	h := s.buf[s.lo : s.lo+headerLen]
	length := binary.LittleEndian.Uint64(h)
	if got, want := mask(crc32.Checksum(h[:8], castagnoli)), binary.LittleEndian.Uint32(h[8:]); got != want {
		s.err = fmt.Errorf("tfrecord: record at offset %d: length %#x has CRC %#08x, the file says %#08x: %w",
			frame, length, got, want, ErrChecksum)
		return 0, s.err
	}
	if length > uint64(math.MaxInt64-headerLen-footerLen-max(frame, 0)) {
		// Only a file we did not write gets here, since the length passed
		// its CRC; its offsets would not fit an int64.
		s.err = fmt.Errorf("tfrecord: record at offset %d: length %d runs past the largest file offset", frame, length)
		return 0, s.err
	}
	s.lo += headerLen
	s.off += headerLen

	var crc uint32
	for left := int64(length); left > 0; {
		if s.lo == s.hi && !s.fill() {
			if s.err == nil {
				s.err = s.truncated(frame, fmt.Sprintf("%d-byte data", length))
			}
			return 0, s.err
		}
		p := s.buf[s.lo:][:min(int64(s.hi-s.lo), left)]
		if s.checkCRC {
			crc = crc32.Update(crc, castagnoli, p)
		}
		s.lo += len(p)
		s.off += int64(len(p))
		left -= int64(len(p))
	}

	if !s.need(footerLen) {
		if s.err == nil {
			s.err = s.truncated(frame, "footer")
		}
		return 0, s.err
	}
	stored := binary.LittleEndian.Uint32(s.buf[s.lo:])
	if s.checkCRC && mask(crc) != stored {
		s.err = fmt.Errorf("tfrecord: record at offset %d: its %d bytes of data at offset %d have CRC %#08x, the file says %#08x: %w",
			frame, length, frame+headerLen, mask(crc), stored, ErrChecksum)
		return 0, s.err
	}
	s.lo += footerLen
	s.off += footerLen
	return int64(length), nil
}
