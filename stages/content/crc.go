package content

import (
	"hash/crc32"
	"sync"
)

// The CRC-32 of content, with IEEE's polynomial (zip, png) or Castagnoli's
// (TFRecord), comes from tables instead of from the bytes. A CRC is linear
// over GF(2): for equal lengths crc(a^b) = crc(a)^crc(b)^crc(0…),
// so a whole block, pool run P XOR the word w repeated, has
// crc(P) ^ lin(w), where lin(w) = crc(w repeated) ^ crc(zeros) is itself
// linear in w and so a XOR of 8 byte-table lookups. Consecutive blocks join
// as zlib's crc32_combine does: crc(A||B) = crc(A)·x^(8|B|) mod P ^ crc(B),
// the multiplication by a constant being 4 more lookups. Partial blocks at
// the ends of a range are hashed word by word as they are generated
// (slicing-by-8), with no buffer: hash/crc32 would make one escape.

// crcShared holds the tables of one polynomial that do not depend on the
// seed.
type crcShared struct {
	kind  int // index of the generator's pool CRCs
	poly  uint32
	tab   *crc32.Table   // hash/crc32's own, which it hashes fastest
	slice [8][256]uint32 // slicing-by-8 tables
	word  [8][256]uint32 // lin of a block whose words are byte k = v, else 0
	shift [4][256]uint32 // c ↦ c·x^(8·BlockSize) mod P, by byte of c
}

const (
	kindIEEE = iota
	kindCastagnoli
	crcKinds
)

var (
	ieeeTables = sync.OnceValue(func() *crcShared {
		return newCRCShared(kindIEEE, crc32.IEEE, crc32.IEEETable)
	})
	castagnoliTables = sync.OnceValue(func() *crcShared {
		return newCRCShared(kindCastagnoli, crc32.Castagnoli, crc32.MakeTable(crc32.Castagnoli))
	})
)

func newCRCShared(kind int, poly uint32, tab *crc32.Table) *crcShared {
	t := &crcShared{kind: kind, poly: poly, tab: tab}
	t.slice[0] = *tab
	for k := 1; k < 8; k++ {
		for v := range 256 {
			c := t.slice[k-1][v]
			t.slice[k][v] = c>>8 ^ t.slice[0][byte(c)]
		}
	}
	var zero, rep [BlockSize]byte
	z := crc32.Checksum(zero[:], tab)
	for k := range 8 {
		for bit := range 8 {
			for i := k; i < BlockSize; i += 8 {
				rep[i] = 1 << bit
			}
			t.word[k][1<<bit] = crc32.Checksum(rep[:], tab) ^ z
			for i := k; i < BlockSize; i += 8 {
				rep[i] = 0
			}
		}
		linearTable(&t.word[k])
	}
	// x^(8·BlockSize) in zlib's reflected representation, where 1<<31 is
	// x^0 and one step right multiplies by x.
	xn := uint32(1 << 31)
	for range 8 * BlockSize {
		xn = t.mulx(xn)
	}
	for k := range 4 {
		for bit := range 8 {
			t.shift[k][1<<bit] = t.multModP(xn, uint32(1)<<(8*k+bit))
		}
		linearTable(&t.shift[k])
	}
	return t
}

// linearTable completes a table of a linear map from its values at the
// powers of two.
func linearTable(t *[256]uint32) {
	for v := 3; v < 256; v++ {
		if low := v & -v; low != v {
			t[v] = t[low] ^ t[v^low]
		}
	}
}

func (t *crcShared) mulx(a uint32) uint32 {
	if a&1 != 0 {
		return a>>1 ^ t.poly
	}
	return a >> 1
}

// multModP is a·b mod P in the reflected representation (zlib's multmodp).
func (t *crcShared) multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1 << 31); m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		b = t.mulx(b)
	}
	return p
}

// poolCRCs returns the CRC-32 of the BlockSize-byte pool run at every
// start, computed on first use (8 MiB of hashing, 0.4-0.55 ms here) so
// that New stays cheap for generators that never need a CRC.
func (g *Generator) poolCRCs(t *crcShared) *[starts]uint32 {
	g.crcOnce[t.kind].Do(func() {
		pc := new([starts]uint32)
		run := make([]byte, BlockSize)
		for s := range pc {
			// Fill's own bytes with a zero word are the raw pool run.
			fillBlock(run, g.pool[s:s+blockWords], 0, 0)
			pc[s] = crc32.Checksum(run, t.tab)
		}
		g.poolCRC[t.kind] = pc
	})
	return g.poolCRC[t.kind]
}

// UpdateCRC32 returns crc32.Update(crc, crc32.IEEETable, c) where c is the
// content of stream at offsets [off, off+n), without producing more than
// the partial blocks at its ends: a whole block costs a dozen table lookups
// instead of hashing 4 KiB. off and n must not be negative.
func (g *Generator) UpdateCRC32(crc uint32, stream uint64, off, n int64) uint32 {
	return g.updateCRC(ieeeTables(), crc, stream, off, n)
}

// UpdateCRC32C is UpdateCRC32 with Castagnoli's polynomial: it returns
// crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), c).
func (g *Generator) UpdateCRC32C(crc uint32, stream uint64, off, n int64) uint32 {
	return g.updateCRC(castagnoliTables(), crc, stream, off, n)
}

func (g *Generator) updateCRC(t *crcShared, crc uint32, stream uint64, off, n int64) uint32 {
	if off < 0 || n < 0 {
		panic("content: negative offset or length")
	}
	ks := g.streamKey(stream)
	blk := uint64(off) / BlockSize
	if in := int(uint64(off) % BlockSize); in != 0 && n > 0 {
		k := min(n, int64(BlockSize-in))
		w, start := ks.block(blk)
		crc = t.words(crc, g.pool[start+in/8:start+blockWords], w, in%8, int(k))
		n -= k
		blk++
	}
	if n >= BlockSize {
		pc := g.poolCRCs(t)
		for ; n >= BlockSize; n -= BlockSize {
			w, start := ks.block(blk)
			crc = t.shift[0][byte(crc)] ^ t.shift[1][byte(crc>>8)] ^
				t.shift[2][byte(crc>>16)] ^ t.shift[3][crc>>24] ^
				pc[start] ^
				t.word[0][byte(w)] ^ t.word[1][byte(w>>8)] ^
				t.word[2][byte(w>>16)] ^ t.word[3][byte(w>>24)] ^
				t.word[4][byte(w>>32)] ^ t.word[5][byte(w>>40)] ^
				t.word[6][byte(w>>48)] ^ t.word[7][w>>56]
			blk++
		}
	}
	if n > 0 {
		w, start := ks.block(blk)
		crc = t.words(crc, g.pool[start:start+blockWords], w, 0, int(n))
	}
	return crc
}

// words continues crc over the n content bytes that begin skip bytes into
// the word src[0]^w, each word being 8 little-endian bytes, as fillBlock
// lays them out.
func (t *crcShared) words(crc uint32, src []uint64, w uint64, skip, n int) uint32 {
	crc = ^crc
	if skip != 0 {
		v := (src[0] ^ w) >> (8 * skip)
		k := min(n, 8-skip)
		for range k {
			crc = t.slice[0][byte(crc)^byte(v)] ^ crc>>8
			v >>= 8
		}
		n -= k
		src = src[1:]
	}
	for ; n >= 8; n -= 8 {
		v := src[0] ^ w
		c := crc ^ uint32(v)
		crc = t.slice[0][v>>56] ^ t.slice[1][byte(v>>48)] ^
			t.slice[2][byte(v>>40)] ^ t.slice[3][byte(v>>32)] ^
			t.slice[4][c>>24] ^ t.slice[5][byte(c>>16)] ^
			t.slice[6][byte(c>>8)] ^ t.slice[7][byte(c)]
		src = src[1:]
	}
	if n > 0 {
		v := src[0] ^ w
		for range n {
			crc = t.slice[0][byte(crc)^byte(v)] ^ crc>>8
			v >>= 8
		}
	}
	return ^crc
}

// File is the content of one stream: a generator bound to it, for writers
// that take their data as a value with both the bytes and their CRC.
type File struct {
	g      *Generator
	stream uint64
}

// File binds g to stream.
func (g *Generator) File(stream uint64) File { return File{g, stream} }

// Fill is g.Fill of the file's stream.
func (f File) Fill(p []byte, off int64) { f.g.Fill(p, f.stream, off) }

// UpdateCRC32 is g.UpdateCRC32 of the file's stream.
func (f File) UpdateCRC32(crc uint32, off, n int64) uint32 {
	return f.g.UpdateCRC32(crc, f.stream, off, n)
}

// UpdateCRC32C is g.UpdateCRC32C of the file's stream.
func (f File) UpdateCRC32C(crc uint32, off, n int64) uint32 {
	return f.g.UpdateCRC32C(crc, f.stream, off, n)
}
