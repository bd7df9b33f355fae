package parquet

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// File is an open parquet file, as a training loader sees it: the row
// groups and where each column chunk lies, from the footer. It reads any
// parquet file whose footer is not encrypted, not just Write's. A File is
// safe for concurrent use.
//
// The footer is decoded here rather than by parquet-go: a loader only needs
// the chunks' extents (and a query the min and max statistics of numeric
// columns), and decoding parquet-go's full FileMetaData of the dlrm file
// (576 row groups of 200 columns, 5 MB of footer) allocates 73 MB and
// takes 140 ms, against 9 MB and 20-30 ms here (BenchmarkOpen): enough to
// show in the read rate being measured. The tests check this decoder
// against parquet-go's.
type File struct {
	ra     io.ReaderAt
	footer int64 // bytes Open fetched

	fields []field   // top-level columns, in schema order
	leaves int       // column chunks per row group
	rows   []int64   // per row group
	chunks []extents // row group g's at [g*leaves, (g+1)*leaves)

	// The statistics of the leaves whose values have an order a reader
	// can use (signed integers, floats): slots maps a leaf to its place
	// among them, or -1, and row group g's are at [g*numeric,
	// (g+1)*numeric) of stats.
	slots   []int32
	float   []bool // per leaf: FLOAT or DOUBLE
	numeric int
	stats   []stat
}

// stat is a column chunk's min and max: int64s, or float64s as bits.
type stat struct {
	lo, hi uint64
	ok     bool
}

// field is a top-level column and its leaf columns (one for a scalar or a
// list).
type field struct {
	name     string
	first, n int // leaves first .. first+n-1
}

type extents struct {
	off, len int64 // the chunk's pages, from the first (dictionary or data) page
	values   int64 // num_values, to check the pages against
}

// footerRead is what Open fetches first, like Arrow's default: enough for
// the footer of most files in one read.
const footerRead = 64 << 10

// Open reads the footer of the file of size bytes behind ra. Page indexes
// and bloom filters are not read.
func Open(ra io.ReaderAt, size int64) (*File, error) {
	if size < int64(2*len(magic)+4) {
		return nil, fmt.Errorf("parquet: %d bytes are too short for a parquet file", size)
	}
	f := &File{ra: ra}
	tail := make([]byte, min(size, footerRead))
	if err := f.readAt(tail, size-int64(len(tail))); err != nil {
		return nil, err
	}
	if string(tail[len(tail)-len(magic):]) != magic {
		return nil, fmt.Errorf("parquet: no %q at the end of the file", magic)
	}
	n := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if n > size-int64(2*len(magic)+4) {
		return nil, fmt.Errorf("parquet: the footer length %d does not fit in a file of %d bytes", n, size)
	}
	var meta []byte
	if have := int64(len(tail)) - 8; n <= have {
		meta = tail[have-n : have]
	} else {
		meta = make([]byte, n)
		copy(meta[n-have:], tail[:have])
		if err := f.readAt(meta[:n-have], size-8-n); err != nil {
			return nil, err
		}
	}
	if err := f.decode(meta, size-8-n); err != nil {
		return nil, fmt.Errorf("parquet: footer: %w", err)
	}
	return f, nil
}

func (f *File) readAt(p []byte, off int64) error {
	n, err := f.ra.ReadAt(p, off)
	f.footer += int64(n)
	if n == len(p) {
		return nil // io.ReaderAt may report EOF with the last byte
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("parquet: reading %d bytes at %d: %w", len(p), off, err)
}

// FooterBytes returns the bytes Open fetched from storage.
func (f *File) FooterBytes() int64 { return f.footer }

// NumRowGroups returns the number of row groups.
func (f *File) NumRowGroups() int { return len(f.rows) }

// RowGroupRows returns the number of rows of row group g.
func (f *File) RowGroupRows(g int) int64 { return f.rows[g] }

// Columns returns the names of the top-level columns, in file order.
func (f *File) Columns() []string {
	names := make([]string, len(f.fields))
	for i, c := range f.fields {
		names[i] = c.name
	}
	return names
}

// Select returns the column chunk indexes (leaf columns, in file order) of
// the named columns, in the order named, each once. A name that is no
// column's but is the base of columns name_0, name_1, ... (a repeated
// column) selects all of them. An unknown name is an error that lists the
// valid ones.
func (f *File) Select(names []string) ([]int, error) { return selectFields(f.fields, names) }

func selectFields(fields []field, names []string) ([]int, error) {
	var idx []int
	seen := make(map[int]bool)
	add := func(c field) {
		for i := c.first; i < c.first+c.n; i++ {
			if !seen[i] {
				seen[i] = true
				idx = append(idx, i)
			}
		}
	}
	for _, name := range names {
		if i := slices.IndexFunc(fields, func(c field) bool { return c.name == name }); i >= 0 {
			add(fields[i])
			continue
		}
		found := false
		for _, c := range fields {
			if _, ok := copyOf(c.name, name); ok {
				add(c)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("parquet: no column %q; the columns are %s", name, describe(fields))
		}
	}
	return idx, nil
}

// ColumnBytes returns the bytes of the column chunks of the named columns
// (as Select takes them; nil names every column) over all row groups of
// the file Write makes for s: their page headers, levels and values, what
// fetching them reads. An unknown name is Select's error.
func ColumnBytes(s Spec, names []string) (int64, error) {
	l, err := plan(s)
	if err != nil {
		return 0, err
	}
	// Write's top-level columns have one leaf each, lists too.
	fields := make([]field, len(l.leaves))
	for i := range l.leaves {
		fields[i] = field{name: l.leaves[i].name, first: i, n: 1}
	}
	idx := make([]int, len(fields))
	for i := range idx {
		idx[i] = i
	}
	if names != nil {
		if idx, err = selectFields(fields, names); err != nil {
			return 0, err
		}
	}
	var n int64
	for _, i := range idx {
		c := &l.leaves[i]
		n += (l.groups-1)*c.full.size + c.last.size
	}
	return n, nil
}

// OpenBytes returns the bytes Open reads from a file of s: the footer,
// or the last 64 KiB of the file when the footer is shorter, as Open
// fetches them in one read in case the footer is that long.
func OpenBytes(s Spec) (int64, error) {
	size, err := Size(s)
	if err != nil {
		return 0, err
	}
	data, err := ColumnBytes(s, nil)
	if err != nil {
		return 0, err
	}
	footer := size - int64(len(magic)) - data // the FileMetaData, its length and the magic
	return max(footer, min(size, footerRead)), nil
}

// copyOf reports whether name is base_<index>, a copy of a repeated column.
func copyOf(name, base string) (int, bool) {
	rest, ok := strings.CutPrefix(name, base+"_")
	if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil
}

// describe lists the column names, with runs of copies of a repeated
// column (base_0, base_1, ...) shortened to "base (base_0..base_k)".
func describe(fields []field) string {
	var parts []string
	for i := 0; i < len(fields); {
		name := fields[i].name
		j := i + 1
		if k := strings.LastIndexByte(name, '_'); k > 0 {
			base := name[:k]
			if n, ok := copyOf(name, base); ok && n == 0 {
				for j < len(fields) {
					if n, ok := copyOf(fields[j].name, base); !ok || n != j-i {
						break
					}
					j++
				}
				if j-i > 1 {
					parts = append(parts, fmt.Sprintf("%s (%s..%s)", base, name, fields[j-1].name))
					i = j
					continue
				}
			}
		}
		parts = append(parts, name)
		i++
	}
	return strings.Join(parts, ", ")
}

// ReadRowGroup fetches the pages of row group g's column chunks cols (as
// Select returns them) and returns the bytes it read from storage: exactly
// those chunks' byte ranges, nothing else. Chunks adjacent in the file are
// read as one range; a range goes in reads of up to len(buf) bytes (a buf
// shorter than 64 KiB is replaced by a 64 KiB one), so a whole chunk is one
// read when buf holds it, as a loader that buffers column chunks does it.
//
// The pages are checked on the way: every page header must decode, the
// pages must end exactly at the end of their chunk, and their value counts
// must add up to the chunk's. The values are not decoded: Write's are
// PLAIN, with nothing to decode but their length.
func (f *File) ReadRowGroup(g int, cols []int, buf []byte) (int64, error) {
	return f.readRuns(g, cols, buf, func(off, end int64, buf []byte, w *walker) (int64, error) {
		var read int64
		for off < end {
			p := buf[:min(int64(len(buf)), end-off)]
			n, err := f.ra.ReadAt(p, off)
			read += int64(n)
			if n < len(p) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return read, fmt.Errorf("reading %d bytes at %d: %w", len(p), off, err)
			}
			if err := w.pages(p); err != nil {
				return read, err
			}
			off += int64(len(p))
		}
		return read, nil
	})
}

// ReadRowGroupFrom is ReadRowGroup for a caller that fetches each range
// itself, as one request however long: open(off, n) returns the n bytes
// of the file at off as a stream, which is read through buf (as it comes:
// each read is at most len(buf)), its pages checked as ReadRowGroup
// checks them, and closed. Memory is buf's, however long the range. It
// returns the bytes the streams gave.
func (f *File) ReadRowGroupFrom(g int, cols []int, buf []byte, open func(off, n int64) (io.ReadCloser, error)) (int64, error) {
	return f.readRuns(g, cols, buf, func(off, end int64, buf []byte, w *walker) (int64, error) {
		rc, err := open(off, end-off)
		if err != nil {
			return 0, fmt.Errorf("reading %d bytes at %d: %w", end-off, off, err)
		}
		var read int64
		for err == nil && read < end-off {
			var n int
			n, err = rc.Read(buf[:min(int64(len(buf)), end-off-read)])
			read += int64(n)
			if n > 0 {
				if werr := w.pages(buf[:n]); werr != nil {
					rc.Close()
					return read, werr
				}
			}
		}
		if err == io.EOF {
			err = nil
		}
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err == nil && read < end-off {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return read, fmt.Errorf("reading %d bytes at %d: %w", end-off, off, err)
		}
		return read, nil
	})
}

// readRuns reads row group g's chunks cols, a run of adjacent chunks at a
// time, with fetch, which reads [off, end) through buf into the walker.
func (f *File) readRuns(g int, cols []int, buf []byte, fetch func(off, end int64, buf []byte, w *walker) (int64, error)) (int64, error) {
	if g < 0 || g >= len(f.rows) {
		return 0, fmt.Errorf("parquet: row group %d of %d", g, len(f.rows))
	}
	sel := slices.Clone(cols)
	for _, c := range sel {
		if c < 0 || c >= f.leaves {
			return 0, fmt.Errorf("parquet: column chunk %d of %d", c, f.leaves)
		}
	}
	chunks := f.chunks[g*f.leaves : (g+1)*f.leaves]
	slices.SortFunc(sel, func(a, b int) int { return cmp.Compare(chunks[a].off, chunks[b].off) })
	sel = slices.Compact(sel)
	if len(buf) < minBuf {
		buf = make([]byte, minBuf)
	}

	var read int64
	var w walker
	for i := 0; i < len(sel); {
		// A range of chunks that follow each other in the file.
		j, end := i+1, chunks[sel[i]].off+chunks[sel[i]].len
		for j < len(sel) && chunks[sel[j]].off == end {
			end += chunks[sel[j]].len
			j++
		}
		if err := w.start(chunks, sel[i:j]); err != nil {
			return read, fmt.Errorf("parquet: row group %d: %w", g, err)
		}
		n, err := fetch(chunks[sel[i]].off, end, buf, &w)
		read += n
		if err != nil {
			return read, fmt.Errorf("parquet: row group %d: %w", g, err)
		}
		if err := w.finish(); err != nil {
			return read, fmt.Errorf("parquet: row group %d: %w", g, err)
		}
		i = j
	}
	return read, nil
}

// walker follows the pages of a run of adjacent column chunks through the
// reads that fetch them, which may split a page header.
type walker struct {
	chunks []extents
	run    []int  // indexes into chunks, in file order
	k      int    // the chunk being walked, an index into run
	pos    int64  // file offset of the next byte
	values int64  // counted so far in chunk k
	body   int64  // bytes of the current page still to come
	hdr    []byte // the start of a page header split across two reads
}

// maxHeader bounds a page header: ours are under 40 bytes, but statistics
// of long values make other writers' long.
const maxHeader = 1 << 20

func (w *walker) start(chunks []extents, run []int) error {
	*w = walker{chunks: chunks, run: run, pos: chunks[run[0]].off, hdr: w.hdr[:0]}
	return w.next()
}

// next moves past the chunks that end at pos, checking their value counts.
func (w *walker) next() error {
	for w.k < len(w.run) && w.body == 0 && len(w.hdr) == 0 {
		c := w.chunks[w.run[w.k]]
		if w.pos != c.off+c.len {
			return nil
		}
		if w.values != c.values {
			return fmt.Errorf("column chunk at %d: the pages hold %d values, the footer says %d", c.off, w.values, c.values)
		}
		w.k++
		w.values = 0
	}
	return nil
}

// pages walks p, the next bytes of the run.
func (w *walker) pages(p []byte) error {
	for len(p) > 0 {
		if w.k == len(w.run) {
			return fmt.Errorf("%d bytes at %d past the column chunks", len(p), w.pos)
		}
		c := w.chunks[w.run[w.k]]
		if w.body > 0 {
			n := min(w.body, int64(len(p)))
			w.body -= n
			w.pos += n
			p = p[n:]
		} else {
			carried := len(w.hdr)
			start := w.pos - int64(carried)
			b := p
			if carried > 0 {
				w.hdr = append(w.hdr, p[:min(len(p), maxHeader-carried)]...)
				b = w.hdr
			}
			h, n, err := pageHeaderOf(b)
			if err == errShort && len(b) < maxHeader && start+int64(len(b)) < c.off+c.len {
				if carried == 0 {
					w.hdr = append(w.hdr, p...)
				}
				w.pos += int64(len(p))
				return nil // the rest comes with the next read
			}
			if err != nil {
				return fmt.Errorf("page header at %d: %w", start, err)
			}
			if end := start + int64(n) + h.size; end > c.off+c.len {
				return fmt.Errorf("the page at %d runs %d bytes past its column chunk", start, end-c.off-c.len)
			}
			w.values += h.values
			w.body = h.size
			w.hdr = w.hdr[:0]
			w.pos = start + int64(n)
			p = p[n-carried:]
		}
		if err := w.next(); err != nil {
			return err
		}
	}
	return nil
}

// finish checks that the run ended where its last chunk does.
func (w *walker) finish() error {
	if w.k < len(w.run) {
		c := w.chunks[w.run[w.k]]
		return fmt.Errorf("column chunk at %d: its last page is cut off", c.off)
	}
	return nil
}

// page is what ReadRowGroup needs of a page header.
type page struct{ size, values int64 }

// pageHeaderOf decodes the page header at the start of b and returns its
// length; errShort means b ends inside it.
func pageHeaderOf(b []byte) (page, int, error) {
	r := thriftReader{b: b}
	var h page
	size := false
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		switch {
		case id == 3 && typ == tI32: // compressed_page_size
			h.size, size = int64(r.int32()), true
		case (id == 5 || id == 8) && typ == tStruct: // data_page_header(_v2)
			var id int16
			for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
				if id == 1 && typ == tI32 {
					h.values = int64(r.int32())
				} else {
					r.skip(typ)
				}
			}
		default: // a dictionary page's values are not the column's
			r.skip(typ)
		}
	}
	if r.err != nil {
		return h, r.i, r.err
	}
	if !size || h.size < 0 || h.values < 0 {
		return h, r.i, fmt.Errorf("no page size, or a negative size or value count")
	}
	return h, r.i, nil
}

// decode reads the FileMetaData b, whose file offset is end: the column
// chunks must lie before it.
func (f *File) decode(b []byte, end int64) error {
	type element struct {
		name     string
		children int32
		phys     int32 // -1 for none (a group)
		unsigned bool  // an integer of unsigned order, by its converted or logical type
	}
	var schema []element
	groups := false
	r := &thriftReader{b: b}
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		switch {
		case id == 2 && typ == tList: // schema
			n := r.listOf(tStruct)
			schema = make([]element, 0, n)
			for range n {
				e := element{phys: -1}
				var id int16
				for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
					switch {
					case id == 1 && typ == tI32:
						e.phys = r.int32()
					case id == 4 && typ == tBinary:
						e.name = string(r.bytes())
					case id == 5 && typ == tI32:
						e.children = r.int32()
					case id == 6 && typ == tI32: // converted_type: UINT_8 to UINT_64
						c := r.int32()
						e.unsigned = e.unsigned || c >= 11 && c <= 14
					case id == 10 && typ == tStruct: // logicalType
						u := r.unsignedInt() // read whatever converted_type said
						e.unsigned = e.unsigned || u
					default:
						r.skip(typ)
					}
				}
				schema = append(schema, e)
			}
		case id == 4 && typ == tList: // row_groups
			groups = true
			n := r.listOf(tStruct)
			f.rows = make([]int64, 0, n)
			leaves := 0
			f.slots, f.float, f.numeric = f.slots[:0], f.float[:0], 0
			for _, e := range schema[min(1, len(schema)):] {
				if e.children <= 0 {
					leaves++
					slot := int32(-1)
					if !e.unsigned && (e.phys == typeInt32 || e.phys == typeInt64 || e.phys == typeFloat || e.phys == typeDouble) {
						slot = int32(f.numeric)
						f.numeric++
					}
					f.slots = append(f.slots, slot)
					f.float = append(f.float, e.phys == typeFloat || e.phys == typeDouble)
				}
			}
			// A chunk's statistics take bytes of footer too.
			f.stats = make([]stat, 0, min(n*f.numeric, len(r.b)-r.i))
			// Every chunk takes a few bytes of footer, which bounds a corrupt count.
			f.chunks = make([]extents, 0, min(n*leaves, len(r.b)-r.i))
			for range n {
				if r.err != nil {
					break
				}
				f.rows = append(f.rows, r.rowGroup(f))
			}
		default:
			r.skip(typ)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(schema) == 0 || !groups {
		return errors.New("no schema or no row groups")
	}

	// The leaves of the schema tree, listed depth first, and which
	// top-level column each belongs to.
	pos := 1
	var subtree func(depth int) error
	subtree = func(depth int) error {
		if pos >= len(schema) || depth > 64 {
			return errors.New("the schema tree is cut off or too deep")
		}
		e := schema[pos]
		pos++
		if e.children <= 0 {
			f.leaves++
			return nil
		}
		for range e.children {
			if err := subtree(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	for range schema[0].children {
		c := field{name: schema[min(pos, len(schema)-1)].name, first: f.leaves}
		if err := subtree(0); err != nil {
			return err
		}
		c.n = f.leaves - c.first
		f.fields = append(f.fields, c)
	}
	if pos != len(schema) {
		return fmt.Errorf("%d schema elements after the tree", len(schema)-pos)
	}
	if len(f.chunks) != len(f.rows)*f.leaves {
		return fmt.Errorf("%d column chunks in %d row groups of %d columns", len(f.chunks), len(f.rows), f.leaves)
	}
	for _, c := range f.chunks {
		if c.off < int64(len(magic)) || c.len < 0 || c.off+c.len > end || c.values < 0 {
			return fmt.Errorf("a column chunk of %d bytes at %d is not in the data part [%d, %d)", c.len, c.off, len(magic), end)
		}
	}
	return nil
}

// rowGroup decodes a RowGroup, appending its column chunks to f.chunks,
// and returns its number of rows.
func (r *thriftReader) rowGroup(f *File) int64 {
	rows := int64(-1)
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		switch {
		case id == 1 && typ == tList: // columns
			base := len(f.stats)
			for range f.numeric {
				f.stats = append(f.stats, stat{})
			}
			for i := range r.listOf(tStruct) {
				var st *stat
				if i < len(f.slots) && f.slots[i] >= 0 {
					st = &f.stats[base+int(f.slots[i])]
				}
				f.chunks = append(f.chunks, r.columnChunk(st, i < len(f.float) && f.float[i]))
			}
		case id == 3 && typ == tI64:
			rows = r.varint()
		default:
			r.skip(typ)
		}
	}
	if rows < 0 {
		r.fail(errors.New("a row group without rows"))
	}
	return rows
}

// columnChunk decodes a ColumnChunk; with st set, the chunk's statistics
// go into it, read as floats when float is set.
func (r *thriftReader) columnChunk(st *stat, float bool) extents {
	var e extents
	var data, dict int64
	meta := false
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		if id != 3 || typ != tStruct { // meta_data
			r.skip(typ)
			continue
		}
		meta = true
		var id int16
		for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
			switch {
			case id == 5 && typ == tI64:
				e.values = r.varint()
			case id == 7 && typ == tI64: // total_compressed_size: headers included
				e.len = r.varint()
			case id == 9 && typ == tI64:
				data = r.varint()
			case id == 11 && typ == tI64:
				dict = r.varint()
			case id == 12 && typ == tStruct && st != nil:
				*st = r.statistics(float)
			default:
				r.skip(typ)
			}
		}
	}
	if !meta {
		r.fail(errors.New("a column chunk without metadata (encrypted?)"))
	}
	// The chunk starts at its dictionary page if it has one; some writers
	// set dictionary_page_offset to 0 for none.
	e.off = data
	if dict > 0 && dict < data {
		e.off = dict
	}
	return e
}

// statistics decodes a Statistics struct: min_value and max_value, or
// else the deprecated min and max, which writers of signed orders filled
// the same way. Values of other than 4 or 8 bytes, a NaN, or a min above
// the max leave the chunk without statistics, as the format asks readers
// to treat them.
func (r *thriftReader) statistics(float bool) stat {
	var lo, hi, oldLo, oldHi []byte
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		switch {
		case id == 1 && typ == tBinary:
			oldHi = r.bytes()
		case id == 2 && typ == tBinary:
			oldLo = r.bytes()
		case id == 5 && typ == tBinary:
			hi = r.bytes()
		case id == 6 && typ == tBinary:
			lo = r.bytes()
		default:
			r.skip(typ)
		}
	}
	if lo == nil && hi == nil {
		lo, hi = oldLo, oldHi
	}
	if len(lo) != len(hi) || len(lo) != 4 && len(lo) != 8 {
		return stat{}
	}
	var st stat
	if float {
		l, h := plainFloat(lo), plainFloat(hi)
		if l != l || h != h || l > h {
			return stat{}
		}
		st = stat{math.Float64bits(l), math.Float64bits(h), true}
	} else {
		l, h := plainInt(lo), plainInt(hi)
		if l > h {
			return stat{}
		}
		st = stat{uint64(l), uint64(h), true}
	}
	return st
}

// plainInt and plainFloat decode a PLAIN INT32 or INT64, FLOAT or DOUBLE.
func plainInt(b []byte) int64 {
	if len(b) == 4 {
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func plainFloat(b []byte) float64 {
	if len(b) == 4 {
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// unsignedInt decodes a LogicalType union and reports whether it is an
// INTEGER that is not signed.
func (r *thriftReader) unsignedInt() bool {
	unsigned := false
	var id int16
	for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
		if id != 10 || typ != tStruct {
			r.skip(typ)
			continue
		}
		var id int16
		for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
			if id == 2 && (typ == tTrue || typ == tFalse) { // isSigned
				unsigned = typ == tFalse
			} else {
				r.skip(typ)
			}
		}
	}
	return unsigned
}

// Stats are a column chunk's min and max statistics: MinInt and MaxInt
// for a signed integer column, MinFloat and MaxFloat (Float set) for a
// floating point one.
type Stats struct {
	Float              bool
	MinInt, MaxInt     int64
	MinFloat, MaxFloat float64
}

// Stats returns the statistics of row group g's column chunk c (as
// Select returns it). ok is false when the chunk has none that a reader
// may use: a column of other than a signed integer or a floating point
// type, statistics missing or of the wrong length, a NaN for a bound, or
// a min above the max. A reader then cannot skip the row group by them.
func (f *File) Stats(g, c int) (Stats, bool) {
	if g < 0 || g >= len(f.rows) || c < 0 || c >= len(f.slots) || f.slots[c] < 0 {
		return Stats{}, false
	}
	st := f.stats[g*f.numeric+int(f.slots[c])]
	if !st.ok {
		return Stats{}, false
	}
	if f.float[c] {
		return Stats{Float: true, MinFloat: math.Float64frombits(st.lo), MaxFloat: math.Float64frombits(st.hi)}, true
	}
	return Stats{MinInt: int64(st.lo), MaxInt: int64(st.hi)}, true
}

// MemoryBytes is about what the File holds in memory, its decoded
// footer: what a cache of open files counts against its bound.
func (f *File) MemoryBytes() int64 {
	n := int64(unsafe.Sizeof(*f)) +
		int64(cap(f.chunks))*int64(unsafe.Sizeof(extents{})) +
		int64(cap(f.rows))*8 +
		int64(cap(f.stats))*int64(unsafe.Sizeof(stat{})) +
		int64(cap(f.slots))*4 + int64(cap(f.float))
	for _, c := range f.fields {
		n += int64(unsafe.Sizeof(c)) + int64(len(c.name))
	}
	return n
}

// thriftReader decodes the thrift compact protocol. The first error sticks
// and makes every later read return zero, so decoders read straight
// through and check err at the end.
type thriftReader struct {
	b     []byte
	i     int
	err   error
	depth int
}

// errShort is the error of a read past the end of the input.
var errShort = errors.New("input ends inside a thrift value")

const (
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tDouble = 7
	tSet    = 10
	tMap    = 11
	tUUID   = 13
)

func (r *thriftReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *thriftReader) advance(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.i) {
		r.fail(errShort)
		return nil
	}
	p := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return p
}

func (r *thriftReader) byte() byte {
	if p := r.advance(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *thriftReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.i:])
	switch {
	case n == 0:
		r.fail(errShort)
	case n < 0:
		r.fail(errors.New("a varint over 64 bits"))
	}
	r.i += max(n, 0)
	return v
}

func (r *thriftReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *thriftReader) int32() int32 {
	v := r.varint()
	if v != int64(int32(v)) {
		r.fail(fmt.Errorf("i32 %d out of range", v))
		return 0
	}
	return int32(v)
}

func (r *thriftReader) bytes() []byte { return r.advance(r.uvarint()) }

// field reads the next field header of a struct whose previous field id is
// *id; ok is false at the struct's end (or on an error).
func (r *thriftReader) field(id *int16) (typ byte, ok bool) {
	h := r.byte()
	if r.err != nil || h == tStop {
		return 0, false
	}
	if d := int16(h >> 4); d != 0 {
		*id += d
	} else {
		*id = int16(r.varint())
	}
	return h & 0x0F, true
}

// list reads a list header. Every element takes at least a byte, which
// bounds a corrupt size.
func (r *thriftReader) list() (n int, elem byte) {
	h := r.byte()
	size := uint64(h >> 4)
	if size == 15 {
		size = r.uvarint()
	}
	if size > uint64(len(r.b)-r.i) {
		r.fail(errShort)
		return 0, 0
	}
	return int(size), h & 0x0F
}

// listOf reads the header of a list of elem and returns its size.
func (r *thriftReader) listOf(elem byte) int {
	n, t := r.list()
	if n > 0 && t != elem {
		r.fail(fmt.Errorf("a list of thrift type %d, not %d", t, elem))
		return 0
	}
	return n
}

// skip skips a field's value of type typ.
func (r *thriftReader) skip(typ byte) {
	switch typ {
	case tTrue, tFalse: // the type is the value
	case tByte:
		r.byte()
	case tI16, tI32, tI64:
		r.uvarint()
	case tDouble:
		r.advance(8)
	case tUUID:
		r.advance(16)
	case tBinary:
		r.bytes()
	case tList, tSet:
		n, elem := r.list()
		for i := 0; i < n && r.err == nil; i++ {
			r.skipElem(elem)
		}
	case tMap:
		n := r.uvarint()
		if n > uint64(len(r.b)-r.i) {
			r.fail(errShort)
			return
		}
		if n > 0 {
			kv := r.byte()
			for i := uint64(0); i < n && r.err == nil; i++ {
				r.skipElem(kv >> 4)
				r.skipElem(kv & 0x0F)
			}
		}
	case tStruct:
		if r.depth++; r.depth > 64 {
			r.fail(errors.New("thrift structs nested too deep"))
			return
		}
		var id int16
		for typ, ok := r.field(&id); ok; typ, ok = r.field(&id) {
			r.skip(typ)
		}
		r.depth--
	default:
		r.fail(fmt.Errorf("unknown thrift type %d", typ))
	}
}

// skipElem skips a list, set or map element, where a bool is a byte.
func (r *thriftReader) skipElem(typ byte) {
	if typ == tTrue || typ == tFalse {
		r.byte()
		return
	}
	r.skip(typ)
}
