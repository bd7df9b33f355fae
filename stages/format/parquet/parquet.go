// Package parquet writes Apache Parquet files the way DLIO's parquet
// datasets hold them: one row per sample, the columns a workload defines,
// row groups of a fixed number of rows. It also reads them back the way a
// training loader does: the footer first, then whole row groups, fetching
// only the column chunks of the selected columns.
//
// Every column is required (no nulls). A scalar column holds one value per
// row; a column with Elements > 1 is a LIST of that many required elements
// per row, in the standard three-level layout (name.list.element) that
// pyarrow writes and reads. "bytes" is FIXED_LEN_BYTE_ARRAY of Width bytes,
// so a row is exactly RowBytes of values. A column with Repeat > 1 becomes
// columns {name}_0 ... {name}_{repeat-1}.
//
// The layout is a pure function of the Spec, so that Size is exact without
// writing anything: values are PLAIN-encoded and uncompressed, no
// dictionary, page CRCs, page indexes or bloom filters (whose encoded
// lengths would depend on the values), pages hold a fixed number of rows
// (about 1 MiB of values, never less than one row), list levels are RLE
// runs whose lengths depend only on the shape, and created_by is a
// constant. Every column chunk of a numeric column carries min and max
// statistics, as pyarrow writes them by default, so that a reader can skip
// row groups by them: their values depend on the data, their length only
// on the column's type (4 or 8 bytes each), so Size stays exact. That is also why the pages are encoded here and not by
// parquet-go's writer: it always writes a page CRC, a varint whose length
// depends on the data, and it holds a whole row group of every column in
// memory before writing it. The tests read the files back with parquet-go.
//
// The value bytes come from a caller's fill function, addressed by file
// offset as in the other formats, so a dataset written from
// content.Generator can be verified byte for byte on read-back (Payload
// lists the ranges). Values are random bit patterns: floats may be NaNs,
// which PLAIN stores as they are. Equal inputs give identical files.
//
// Files are streamed through a caller's scratch buffer: memory does not grow
// with the rows, the row group or the row, and the footer is encoded chunk
// by chunk as it is written. What Write does keep until the footer is the
// min and max of each numeric column chunk, 16 bytes a chunk, a fraction
// of the footer they go into (over 60 bytes a chunk): 368 KiB for the dlrm
// file's 576 row groups of 40 numeric columns.
package parquet

import (
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
)

// Spec describes one parquet file.
type Spec struct {
	// Columns as the workload writes them: Repeat is expanded here.
	Columns []Column
	// RowGroupRows is the number of rows in each row group but the last,
	// which holds the rest; at least 1.
	RowGroupRows int64
	// Rows is the number of rows (samples) in the file; at least 1.
	Rows int64
}

// Column is one column as a workload defines it. Its fields are those of
// the workload language's column, so that a caller converts one to the
// other directly.
type Column struct {
	Name string
	// Type is float32, float64, int32, int64 or bytes.
	Type string
	// Elements is the number of values per row; more than 1 makes the
	// column a list, 0 counts as 1.
	Elements int64
	// Repeat is the number of copies of the column, named {Name}_0 to
	// {Name}_{Repeat-1}; 0 and 1 give one, named Name.
	Repeat int64
	// Width is the size of a bytes value; other types have none.
	Width int64
}

// Extent is a range of file offsets.
type Extent struct{ Off, Len int64 }

const (
	magic = "PAR1"

	// pageValues is the value bytes a page aims at, pyarrow's default page
	// size; a page holds whole rows, so at least one.
	pageValues = 1 << 20

	// createdBy is constant so that equal specs give equal files.
	createdBy = "mlps.dev/mlps stages/format/parquet"

	minBuf = 64 << 10
)

// Parquet enums (parquet.thrift).
const (
	typeInt32  = 1
	typeInt64  = 2
	typeFloat  = 4
	typeDouble = 5
	typeFLBA   = 7 // FIXED_LEN_BYTE_ARRAY

	encPlain = 0
	encRLE   = 3

	required = 0
	repeated = 2

	convertedList = 3
	logicalList   = 3 // LogicalType union member LIST

	pageData = 0 // DATA_PAGE (v1)
)

// leaf is one column of the file, Repeat expanded.
type leaf struct {
	name     string
	phys     int32
	slot     int   // among the numeric leaves, whose chunks have statistics; -1 for the others
	width    int32 // FIXED_LEN_BYTE_ARRAY length
	elemSize int64
	elems    int64 // per row; > 1 for a list
	rowBytes int64
	pageRows int64
	full     chunk // a chunk of a full row group
	last     chunk // a chunk of the last row group
}

func (c *leaf) list() bool { return c.elems > 1 }

// chunk is the plan of one column chunk: up to two runs of identical pages
// (full pages, then a shorter last one).
type chunk struct {
	runs   [2]pageRun
	size   int64 // headers, levels and values
	values int64 // list elements count one each, as in num_values
}

type pageRun struct {
	count  int64
	rows   int64
	header []byte // the thrift PageHeader
	levels int64  // level bytes, length prefixes included
	data   int64  // value bytes
}

func (r *pageRun) size() int64 { return int64(len(r.header)) + r.levels + r.data }

type layout struct {
	s         Spec
	leaves    []leaf
	groups    int64
	groupRows int64 // rows of every group but the last
	lastRows  int64
	data      int64 // end of the last column chunk
	numeric   int   // leaves with statistics
}

func (l *layout) rows(g int64) int64 {
	if g == l.groups-1 {
		return l.lastRows
	}
	return l.groupRows
}

func (l *layout) chunk(c *leaf, g int64) *chunk {
	if g == l.groups-1 {
		return &c.last
	}
	return &c.full
}

// RowBytes returns the value bytes of one row: the sum over the expanded
// columns of element size × elements (a bytes element is Width bytes). It
// does not validate cols; Size and Write do.
func RowBytes(cols []Column) int64 {
	var n int64
	for _, c := range cols {
		size := int64(0)
		switch c.Type {
		case "float32", "int32":
			size = 4
		case "float64", "int64":
			size = 8
		case "bytes":
			size = c.Width
		}
		n += size * max(c.Elements, 1) * max(c.Repeat, 1)
	}
	return n
}

func plan(s Spec) (*layout, error) {
	if s.RowGroupRows < 1 || s.Rows < 1 {
		return nil, fmt.Errorf("parquet: row group rows %d and rows %d must both be at least 1", s.RowGroupRows, s.Rows)
	}
	if len(s.Columns) == 0 {
		return nil, fmt.Errorf("parquet: no columns")
	}
	l := &layout{s: s, groupRows: min(s.RowGroupRows, s.Rows)}
	l.groups = (s.Rows + l.groupRows - 1) / l.groupRows
	l.lastRows = s.Rows - (l.groups-1)*l.groupRows
	if l.groups > math.MaxInt32 {
		// The footer's list of row groups has a 32-bit size.
		return nil, fmt.Errorf("parquet: %d row groups of %d rows are too many", l.groups, l.groupRows)
	}

	seen := map[string]bool{}
	// Bound every sum below in float64 first, so that the int64 arithmetic
	// that follows cannot overflow: values, levels (at most 14 bytes a row
	// and leaf), page headers (under 64 bytes, at most one a row) and footer
	// entries (under 128 bytes plus the name, one per chunk).
	bound, footer := 0.0, 0.0
	for _, col := range s.Columns {
		c := leaf{elems: max(col.Elements, 1), slot: -1}
		switch col.Type {
		case "float32":
			c.phys, c.elemSize = typeFloat, 4
		case "float64":
			c.phys, c.elemSize = typeDouble, 8
		case "int32":
			c.phys, c.elemSize = typeInt32, 4
		case "int64":
			c.phys, c.elemSize = typeInt64, 8
		case "bytes":
			if col.Width < 1 || col.Width > math.MaxInt32 {
				return nil, fmt.Errorf("parquet: column %q: width %d is not in [1, %d]", col.Name, col.Width, math.MaxInt32)
			}
			c.phys, c.elemSize, c.width = typeFLBA, col.Width, int32(col.Width)
		default:
			return nil, fmt.Errorf("parquet: column %q: type %q is not float32, float64, int32, int64 or bytes", col.Name, col.Type)
		}
		if col.Type != "bytes" && col.Width != 0 {
			return nil, fmt.Errorf("parquet: column %q: width is for bytes columns only", col.Name)
		}
		if col.Name == "" {
			return nil, fmt.Errorf("parquet: a column has no name")
		}
		if col.Elements < 0 || col.Repeat < 0 {
			return nil, fmt.Errorf("parquet: column %q: elements %d and repeat %d must not be negative", col.Name, col.Elements, col.Repeat)
		}
		if float64(c.elemSize)*float64(c.elems) > math.MaxInt32-64 || c.elems > math.MaxInt32 {
			// A page holds at least one row, and page sizes and value
			// counts are 32-bit.
			return nil, fmt.Errorf("parquet: column %q: a row of %d × %d bytes does not fit in a page", col.Name, c.elems, c.elemSize)
		}
		c.rowBytes = c.elemSize * c.elems
		c.pageRows = min(max(1, pageValues/c.rowBytes), l.groupRows)
		repeat := max(col.Repeat, 1)
		bound += float64(repeat) * (float64(s.Rows)*float64(c.rowBytes+14+64) +
			float64(l.groups)*float64(128+len(col.Name)+20))
		footer += float64(repeat) * float64(l.groups) * float64(128+len(col.Name)+20)
		if bound > 1<<62 {
			return nil, fmt.Errorf("parquet: the file would be over 2^62 bytes")
		}
		if footer > math.MaxUint32 {
			// The footer's length is written in 32 bits.
			return nil, fmt.Errorf("parquet: %d row groups of this many columns would need a footer of over 4 GiB", l.groups)
		}
		c.full = c.plan(l.groupRows) // the copies share the page headers
		c.last = c.plan(l.lastRows)
		for i := range repeat {
			c.name = col.Name
			if col.Repeat > 1 {
				c.name = col.Name + "_" + strconv.FormatInt(i, 10)
			}
			if seen[c.name] {
				return nil, fmt.Errorf("parquet: column name %q is used twice", c.name)
			}
			seen[c.name] = true
			if c.phys != typeFLBA {
				c.slot = l.numeric
				l.numeric++
			}
			l.leaves = append(l.leaves, c)
		}
	}

	l.data = int64(len(magic))
	for i := range l.leaves {
		c := &l.leaves[i]
		l.data += (l.groups-1)*c.full.size + c.last.size
	}
	return l, nil
}

// plan lays out a chunk of rows rows: pages of pageRows rows, the last one
// shorter.
func (c *leaf) plan(rows int64) chunk {
	var k chunk
	k.runs[0] = c.pages(c.pageRows, rows/c.pageRows)
	if r := rows % c.pageRows; r > 0 {
		k.runs[1] = c.pages(r, 1)
	}
	for _, r := range k.runs {
		k.size += r.count * r.size()
		k.values += r.count * r.rows * c.elems
	}
	return k
}

func (c *leaf) pages(rows, count int64) pageRun {
	r := pageRun{count: count, rows: rows, data: rows * c.rowBytes}
	if c.list() {
		r.levels = 4 + rows*int64(len(c.repRow(nil))) + 4 + int64(len(defRun(nil, rows*c.elems)))
	}
	r.header = pageHeader(nil, int32(rows*c.elems), int32(r.levels+r.data))
	return r
}

// repRow appends the repetition levels of one row of a list as RLE runs:
// one 0 (a new row), then elems-1 ones. Runs rather than bit-packing keep
// a row's levels a few bytes however long the list.
func (c *leaf) repRow(b []byte) []byte {
	b = append(b, 1<<1, 0)
	b = binary.AppendUvarint(b, uint64(c.elems-1)<<1)
	return append(b, 1)
}

// defRun appends the definition levels of n list elements: all 1 (present),
// one RLE run.
func defRun(b []byte, n int64) []byte {
	b = binary.AppendUvarint(b, uint64(n)<<1)
	return append(b, 1)
}

// Size returns the exact size in bytes of the file Write produces for s, or
// an error when s is invalid. The column chunks' sizes follow from the
// shape; the footer (one entry per column chunk) is encoded without being
// written, which for the dlrm file (576 row groups of 200 columns) takes
// under 10 ms.
func Size(s Spec) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	o := out{dry: true}
	l.footer(&o)
	return l.data + o.off + 8, nil
}

// Payload returns the file extents of the values, one per page, in file
// order: the bytes Write takes from fill at their own file offsets. Pages of
// a column follow each other in row order within a row group, so a column's
// values across the file are its extents in order. Everything outside them
// is format metadata.
func Payload(s Spec) (iter.Seq[Extent], error) {
	l, err := plan(s)
	if err != nil {
		return nil, err
	}
	return func(yield func(Extent) bool) {
		off := int64(len(magic))
		for g := range l.groups {
			for i := range l.leaves {
				for _, r := range l.chunk(&l.leaves[i], g).runs {
					for range r.count {
						e := Extent{off + int64(len(r.header)) + r.levels, r.data}
						if !yield(e) {
							return
						}
						off += r.size()
					}
				}
			}
		}
	}, nil
}

// Write streams the parquet file for s to w and returns the bytes written.
//
// fill(p, off) must set p to the content of the file at offsets
// [off, off+len(p)); it is called only for the values (see Payload), in
// order, with p no longer than buf (a page's values may come in several
// pieces, split where buf fills up). Bind content.Generator.Fill to the
// file's stream to get verifiable files.
//
// buf is scratch space the caller can reuse from file to file; its size sets
// the write size: page headers, levels and values are packed into it back
// to back, so every write but the last is len(buf) bytes. A buf shorter than
// 64 KiB is replaced by a 64 KiB one.
func Write(w io.Writer, s Spec, fill func(p []byte, off int64), buf []byte) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}
	o := out{w: w, buf: buf, fill: fill}
	// Planning bounded the footer, and so the chunks, to 4 GiB over at
	// least 128 bytes each.
	o.stats = make([]minMax, l.groups*int64(l.numeric))
	o.meta([]byte(magic))
	var rep []byte
	for g := range l.groups {
		for i := range l.leaves {
			c := &l.leaves[i]
			if c.list() {
				rep = c.repRow(rep[:0])
			}
			o.gather(c, g*int64(l.numeric))
			for _, r := range l.chunk(c, g).runs {
				for range r.count {
					o.meta(r.header)
					if c.list() {
						o.levels(rep, r.rows, r.rows*c.elems)
					}
					o.values(r.data)
				}
			}
		}
	}
	if o.err == nil && o.off != l.data {
		// Only a bug in plan or here gets us here; a corrupt file must not
		// pass as a good one.
		return o.written, fmt.Errorf("parquet: wrote %d bytes of column chunks, planned %d", o.off, l.data)
	}
	start := o.off
	l.footer(&o)
	o.meta(binary.LittleEndian.AppendUint32(o.scratch[:0], uint32(o.off-start)))
	o.meta([]byte(magic))
	o.flush()
	return o.written, o.err
}

// out packs a file into buf and writes buf when it is full. With dry set it
// only counts, which is how Size measures the footer.
type out struct {
	w       io.Writer
	buf     []byte
	n       int // bytes of buf in use
	fill    func(p []byte, off int64)
	dry     bool
	off     int64 // file offset of the next byte
	written int64
	err     error
	scratch []byte // thrift encodings, before they go to buf

	// stats holds the min and max of every numeric column chunk, row
	// group by row group, gathered from the values as they are filled;
	// Size's dry run has none and encodes zeros of the same length.
	stats []minMax
	// acc is the chunk whose values are being filled, nil for a column
	// without statistics; carry holds the start of a value that fill's
	// last piece cut.
	acc    *minMax
	phys   int32
	carry  [8]byte
	carryN int
	// statAt, when set, is told the file extent of every statistic's
	// value as the footer is encoded: the metadata that depends on the
	// values, for the tests.
	statAt func(Extent)
}

func (o *out) flush() {
	if o.n > 0 && o.err == nil {
		n, err := o.w.Write(o.buf[:o.n])
		o.written += int64(n)
		if err == nil && n < o.n {
			err = io.ErrShortWrite
		}
		o.err = err
	}
	o.n = 0
}

func (o *out) meta(p []byte) {
	o.off += int64(len(p))
	if o.dry || o.err != nil {
		return
	}
	for len(p) > 0 {
		c := copy(o.buf[o.n:], p)
		o.n += c
		p = p[c:]
		if o.n == len(o.buf) {
			o.flush()
		}
	}
}

// values fills n bytes of values at the current offset.
func (o *out) values(n int64) {
	for n > 0 && o.err == nil {
		p := o.buf[o.n : o.n+int(min(n, int64(len(o.buf)-o.n)))]
		o.fill(p, o.off)
		if o.acc != nil {
			o.gatherFrom(p)
		}
		o.off += int64(len(p))
		o.n += len(p)
		n -= int64(len(p))
		if o.n == len(o.buf) {
			o.flush()
		}
	}
	o.off += n // what an error left unwritten, so that offsets stay right
}

// levels writes a v1 data page's levels: each kind prefixed by its length
// in 4 bytes, repetition levels first.
func (o *out) levels(rep []byte, rows, values int64) {
	var b [16]byte
	o.meta(binary.LittleEndian.AppendUint32(b[:0], uint32(rows*int64(len(rep)))))
	for range rows {
		o.meta(rep)
	}
	def := defRun(b[4:4], values)
	o.meta(binary.LittleEndian.AppendUint32(b[:0], uint32(len(def))))
	o.meta(def)
}

// footer writes the FileMetaData, walking the chunks in file order to
// recompute their offsets, so that nothing of the size of the file is kept.
func (l *layout) footer(o *out) {
	b := o.scratch[:0]
	b = appendI32(b, 0, 1, 2) // version
	b = appendField(b, 1, 2, tList)
	b = appendList(b, tStruct, 1+len(l.leaves)+2*l.lists())
	b = appendString(b, 0, 4, "schema")
	b = appendI32(b, 4, 5, int32(len(l.leaves)))
	b = append(b, tStop)
	for i := range l.leaves {
		c := &l.leaves[i]
		name := c.name
		if c.list() {
			b = appendI32(b, 0, 3, required)
			b = appendString(b, 3, 4, c.name)
			b = appendI32(b, 4, 5, 1)
			b = appendI32(b, 5, 6, convertedList)
			b = appendField(b, 6, 10, tStruct)
			b = appendField(b, 0, logicalList, tStruct)
			b = append(b, tStop, tStop, tStop)
			b = appendI32(b, 0, 3, repeated)
			b = appendString(b, 3, 4, "list")
			b = appendI32(b, 4, 5, 1)
			b = append(b, tStop)
			name = "element"
		}
		b = appendI32(b, 0, 1, c.phys)
		prev := int16(1)
		if c.phys == typeFLBA {
			b = appendI32(b, 1, 2, c.width)
			prev = 2
		}
		b = appendI32(b, prev, 3, required)
		b = appendString(b, 3, 4, name)
		b = append(b, tStop)
		o.meta(b)
		b = b[:0]
	}
	b = appendI64(b, 2, 3, l.s.Rows)
	b = appendField(b, 3, 4, tList)
	b = appendList(b, tStruct, int(l.groups))
	o.meta(b)

	off := int64(len(magic))
	for g := range l.groups {
		b = appendField(b[:0], 0, 1, tList)
		b = appendList(b, tStruct, len(l.leaves))
		o.meta(b)
		start, total := off, int64(0)
		for i := range l.leaves {
			c := &l.leaves[i]
			k := l.chunk(c, g)
			b = appendI64(b[:0], 0, 2, off) // file_offset: the chunk, as parquet-mr has it
			b = appendField(b, 2, 3, tStruct)
			b = appendI32(b, 0, 1, c.phys)
			b = appendField(b, 1, 2, tList)
			if c.list() {
				b = appendList(b, tI32, 2)
				b = append(b, encPlain, encRLE<<1) // zigzag varints
			} else {
				b = appendList(b, tI32, 1)
				b = append(b, encPlain)
			}
			b = appendField(b, 2, 3, tList)
			if c.list() {
				b = appendList(b, tBinary, 3)
				b = appendBytes(b, c.name)
				b = appendBytes(b, "list")
				b = appendBytes(b, "element")
			} else {
				b = appendList(b, tBinary, 1)
				b = appendBytes(b, c.name)
			}
			b = appendI32(b, 3, 4, 0) // codec: uncompressed
			b = appendI64(b, 4, 5, k.values)
			b = appendI64(b, 5, 6, k.size)
			b = appendI64(b, 6, 7, k.size)
			b = appendI64(b, 7, 9, off)
			if c.slot >= 0 {
				b = o.appendStats(b, c, g*int64(l.numeric)+int64(c.slot))
			}
			b = append(b, tStop, tStop)
			o.meta(b)
			off += k.size
			total += k.size
		}
		b = appendI64(b[:0], 1, 2, total)
		b = appendI64(b, 2, 3, l.rows(g))
		b = appendI64(b, 3, 5, start)
		b = appendI64(b, 5, 6, total)
		b = append(b, tStop)
		o.meta(b)
	}
	b = appendString(b[:0], 4, 6, createdBy)
	// column_orders: every column in its type's order (signed for the
	// numeric types), which is what makes min_value and max_value valid
	// for a reader.
	b = appendField(b, 6, 7, tList)
	b = appendList(b, tStruct, len(l.leaves))
	o.meta(b)
	for range l.leaves {
		o.meta(typeOrder)
	}
	o.meta([]byte{tStop})
	o.scratch = b
}

// typeOrder is a ColumnOrder of TYPE_ORDER: a union whose field 1 is an
// empty TypeDefinedOrder.
var typeOrder = []byte{1<<4 | tStruct, tStop, tStop}

// appendStats appends the statistics field of the ColumnMetaData of
// column c's chunk k: min_value and max_value, PLAIN-encoded, 4 or 8
// bytes each whatever the values. A float chunk whose values are all NaN
// has no min or max; it gets NaN for both, which readers take as
// statistics to ignore, as the format says they must, so that the length
// still does not depend on the values.
func (o *out) appendStats(b []byte, c *leaf, k int64) []byte {
	var mm minMax
	if o.stats != nil {
		mm = o.stats[k]
	}
	lo, hi := mm.encoded(c.phys)
	size := int(c.elemSize)
	b = appendField(b, 9, 12, tStruct)
	b = appendField(b, 0, 5, tBinary) // max_value
	b = binary.AppendUvarint(b, uint64(size))
	if o.statAt != nil {
		o.statAt(Extent{o.off + int64(len(b)), int64(size)})
	}
	n := len(b)
	b = binary.LittleEndian.AppendUint64(b, hi)[:n+size]
	b = appendField(b, 5, 6, tBinary) // min_value
	b = binary.AppendUvarint(b, uint64(size))
	if o.statAt != nil {
		o.statAt(Extent{o.off + int64(len(b)), int64(size)})
	}
	n = len(b)
	b = binary.LittleEndian.AppendUint64(b, lo)[:n+size]
	return append(b, tStop)
}

// minMax is the least and the greatest value of a column chunk: int64s
// for the integer types, float64s (as bits) for the floating point ones,
// NaNs left out. A float chunk of NaNs only has lo > hi.
type minMax struct{ lo, hi uint64 }

// gather makes the chunk of column c in the row group whose statistics
// start at base the one the values fill goes into.
func (o *out) gather(c *leaf, base int64) {
	o.acc, o.carryN = nil, 0
	if c.slot < 0 || o.stats == nil {
		return
	}
	o.acc, o.phys = &o.stats[base+int64(c.slot)], c.phys
	switch c.phys {
	case typeFloat, typeDouble:
		*o.acc = minMax{math.Float64bits(math.Inf(1)), math.Float64bits(math.Inf(-1))}
	default:
		*o.acc = minMax{math.MaxInt64, 1 << 63} // MinInt64's bits
	}
}

// gatherFrom takes the values in p, the next bytes of the chunk's values,
// into its min and max. A page's values are whole values, but fill's
// pieces end where the buffer does, which may cut one.
func (o *out) gatherFrom(p []byte) {
	size := 4
	if o.phys == typeInt64 || o.phys == typeDouble {
		size = 8
	}
	if o.carryN > 0 {
		n := copy(o.carry[o.carryN:size], p)
		o.carryN += n
		p = p[n:]
		if o.carryN < size {
			return
		}
		o.carryN = 0
		o.gatherValues(o.carry[:size])
	}
	whole := len(p) / size * size
	o.gatherValues(p[:whole])
	o.carryN = copy(o.carry[:], p[whole:])
}

// gatherValues takes whole values into the chunk's min and max, in a
// plain loop per type. Measured in CPU time on the 2-core VM (a busy
// machine's wall time says little), the loops take int64s at 6.3 GB/s and
// float32s at 2.3 GB/s; four accumulator lanes, or comparing floats as
// integer keys, gained nothing. Writing a dlrm-shaped file (a third of its
// bytes numeric) takes 8-11 GB/s of CPU with the scan, 28 GB/s without:
// still well above what a core's storage writes take.
func (o *out) gatherValues(p []byte) {
	a := o.acc
	le := binary.LittleEndian
	switch o.phys {
	case typeInt32, typeInt64:
		lo, hi := int64(a.lo), int64(a.hi)
		if o.phys == typeInt32 {
			for i := 0; i+4 <= len(p); i += 4 {
				v := int64(int32(le.Uint32(p[i:])))
				lo, hi = min(lo, v), max(hi, v)
			}
		} else {
			for i := 0; i+8 <= len(p); i += 8 {
				v := int64(le.Uint64(p[i:]))
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		a.lo, a.hi = uint64(lo), uint64(hi)
	case typeFloat, typeDouble:
		// A NaN compares false both ways, and so is left out; Go's min
		// and max would keep it.
		lo, hi := math.Float64frombits(a.lo), math.Float64frombits(a.hi)
		if o.phys == typeFloat {
			for i := 0; i+4 <= len(p); i += 4 {
				v := float64(math.Float32frombits(le.Uint32(p[i:])))
				if v < lo {
					lo = v
				}
				if v > hi {
					hi = v
				}
			}
		} else {
			for i := 0; i+8 <= len(p); i += 8 {
				v := math.Float64frombits(le.Uint64(p[i:]))
				if v < lo {
					lo = v
				}
				if v > hi {
					hi = v
				}
			}
		}
		a.lo, a.hi = math.Float64bits(lo), math.Float64bits(hi)
	}
}

// encoded returns the min and max as PLAIN values of type phys, in the
// low 4 or 8 bytes. A zero min is written as -0 and a zero max as +0, as
// the format asks, so that a reader need not know which zeros the chunk
// holds.
func (m minMax) encoded(phys int32) (lo, hi uint64) {
	switch phys {
	case typeInt32:
		return uint64(uint32(int32(int64(m.lo)))), uint64(uint32(int32(int64(m.hi))))
	case typeInt64:
		return m.lo, m.hi
	}
	l, h := math.Float64frombits(m.lo), math.Float64frombits(m.hi)
	if l > h { // NaNs only
		l, h = math.NaN(), math.NaN()
	}
	if l == 0 {
		l = math.Copysign(0, -1)
	}
	if h == 0 {
		h = 0
	}
	if phys == typeFloat {
		return uint64(math.Float32bits(float32(l))), uint64(math.Float32bits(float32(h)))
	}
	return math.Float64bits(l), math.Float64bits(h)
}

func (l *layout) lists() int {
	n := 0
	for i := range l.leaves {
		if l.leaves[i].list() {
			n++
		}
	}
	return n
}

// pageHeader appends the thrift PageHeader of a v1 data page of n values
// and size bytes: no CRC and no statistics, whose lengths depend on the
// values.
func pageHeader(b []byte, n, size int32) []byte {
	b = appendI32(b, 0, 1, pageData)
	b = appendI32(b, 1, 2, size) // uncompressed
	b = appendI32(b, 2, 3, size) // compressed
	b = appendField(b, 3, 5, tStruct)
	b = appendI32(b, 0, 1, n)
	b = appendI32(b, 1, 2, encPlain)
	b = appendI32(b, 2, 3, encRLE) // definition levels
	b = appendI32(b, 3, 4, encRLE) // repetition levels
	return append(b, tStop, tStop)
}

// Thrift compact protocol, the encoding of parquet's metadata: fields are
// a type nibble and a field id delta from the previous field of the same
// struct, integers are zigzag varints.
const (
	tStop   = 0
	tI32    = 5
	tI64    = 6
	tBinary = 8
	tList   = 9
	tStruct = 12
)

func appendField(b []byte, prev, id int16, typ byte) []byte {
	if d := id - prev; d > 0 && d <= 15 {
		return append(b, byte(d)<<4|typ)
	}
	return binary.AppendVarint(append(b, typ), int64(id))
}

func appendI32(b []byte, prev, id int16, v int32) []byte {
	return binary.AppendVarint(appendField(b, prev, id, tI32), int64(v))
}

func appendI64(b []byte, prev, id int16, v int64) []byte {
	return binary.AppendVarint(appendField(b, prev, id, tI64), v)
}

func appendString(b []byte, prev, id int16, s string) []byte {
	return appendBytes(appendField(b, prev, id, tBinary), s)
}

func appendBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendList(b []byte, elem byte, n int) []byte {
	if n < 15 {
		return append(b, byte(n)<<4|elem)
	}
	return binary.AppendUvarint(append(b, 0xF0|elem), uint64(n))
}
