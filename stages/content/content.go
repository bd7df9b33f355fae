// Package content is the seeded generator behind every byte mlps writes and
// every byte it checks on read-back.
//
// The byte at offset off of stream s is a pure function of (seed, s, off).
// Writers and verifiers share one Generator, so a reader can check any range
// of any file without stored checksums and without having read what came
// before it.
//
// The content is built for storage benchmarks: it does not compress, no two
// BlockSize-aligned blocks of a dataset are equal (so deduplicating storage
// cannot shrink it), and it is produced faster than copy() moves the same
// bytes at every buffer size from 256 KiB to 64 MiB, so generating it does
// not become the bottleneck being measured (BenchmarkFillVsCopy keeps that
// true). Its CRC-32s (IEEE and Castagnoli, the checksums of zip and
// TFRecord) come from tables at a dozen lookups a block, without the bytes
// (UpdateCRC32, UpdateCRC32C).
//
// How: New expands the seed into a small pool of random 64-bit words that
// stays in the L1 cache. Each block of a stream is a run of pool words,
// starting at a pool position chosen by the block's key, each XORed with a
// word derived from the same key; the XOR is what keeps a compressor from
// matching one block against another made from the same pool words. The
// words of a stream's blocks come from a bijection of the block index, so
// blocks of one stream never repeat; a repeat across streams needs their
// 64-bit word sequences to overlap and, independently, their start
// positions to agree.
package content

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// BlockSize is the unit of uniqueness: blocks that start at stream offsets
// divisible by BlockSize are pairwise distinct across a dataset. It matches
// the page and filesystem block size that deduplicating storage compares.
const BlockSize = 4096

const (
	blockWords = BlockSize / 8
	// starts is the number of distinct pool positions a block may start at.
	// 2048 starts keep the pool at 20 KiB, well inside L1d next to the
	// destination's store stream, while making the start carry 11 bits of
	// key on top of the 64-bit XOR word.
	starts    = 2048
	startBits = 11
	poolWords = starts + blockWords

	// golden is the splitmix64 increment: odd, so i*golden is a bijection
	// and the keys of one stream's blocks never repeat.
	golden = 0x9e3779b97f4a7c15
)

// Generator produces the content of every stream for one seed. It is
// read-only after New, so one Generator may be shared by any number of
// goroutines.
type Generator struct {
	seed uint64
	pool [poolWords]uint64

	crcOnce [crcKinds]sync.Once
	poolCRC [crcKinds]*[starts]uint32 // see poolCRCs
}

// New returns the generator for seed. It costs about 20 KiB and a few
// microseconds, so making one per run (or per worker) is cheap.
func New(seed uint64) *Generator {
	g := &Generator{seed: seed}
	s := mix(seed ^ 0x6a09e667f3bcc908)
	for i := range g.pool {
		s += golden
		g.pool[i] = mix(s)
	}
	return g
}

// Seed returns the seed the generator was made from.
func (g *Generator) Seed() uint64 { return g.seed }

// Stream returns the identity of file (or object) index of a dataset. Within
// one dataset distinct indexes always give distinct streams; the dataset
// name keeps equal indexes of different datasets apart.
func Stream(dataset string, index int64) uint64 {
	// FNV-1a, inlined so that naming a stream does not allocate.
	h := uint64(14695981039346656037)
	for i := range len(dataset) {
		h = (h ^ uint64(dataset[i])) * 1099511628211
	}
	return mix(h + uint64(index)*golden)
}

// Fill sets p to the content of stream at offsets [off, off+len(p)). Any
// offset and length are allowed; the result does not depend on how a range
// is split across calls. off must not be negative.
//
// Fills of at least ntMin bytes bypass the cache (see ntMin); smaller ones
// leave p in the cache for whoever reads it next.
func (g *Generator) Fill(p []byte, stream uint64, off int64) {
	m := storeCached
	if len(p) >= ntMin {
		m = storeNT
	}
	g.fill(p, stream, off, m)
}

// storeMode chooses how fill writes whole blocks. Every mode produces the
// same bytes; tests compare them.
type storeMode int

const (
	storeCached  storeMode = iota // the architecture's fastest cached stores
	storeNT                       // non-temporal stores where the CPU has them
	storeGeneric                  // the portable Go loop, the reference
)

func (g *Generator) fill(p []byte, stream uint64, off int64, m storeMode) {
	if off < 0 {
		panic("content: negative offset")
	}
	ks := g.streamKey(stream)
	blk := uint64(off) / BlockSize
	if in := int(uint64(off) % BlockSize); in != 0 && len(p) > 0 {
		n := min(len(p), BlockSize-in)
		w, start := ks.block(blk)
		fillBlock(p[:n], g.pool[start+in/8:start+blockWords], w, in%8)
		p = p[n:]
		blk++
	}
	whole := len(p) / BlockSize * BlockSize
	g.fillBlocks(p[:whole], ks, blk, m)
	if p = p[whole:]; len(p) > 0 {
		w, start := ks.block(blk + uint64(whole/BlockSize))
		fillBlock(p, g.pool[start:start+blockWords], w, 0)
	}
}

// fillBlocksGeneric fills p, a whole number of blocks starting at block
// blk, one block at a time in portable Go.
func (g *Generator) fillBlocksGeneric(p []byte, ks streamKey, blk uint64) {
	for ; len(p) > 0; p = p[BlockSize:] {
		w, start := ks.block(blk)
		xorWordsGeneric(p[:BlockSize], g.pool[start:start+blockWords], w)
		blk++
	}
}

// Verify reports whether p holds the content of stream at [off, off+len(p)).
// When it does not, bad is the absolute stream offset of the first wrong
// byte; when it does, bad is -1.
func (g *Generator) Verify(p []byte, stream uint64, off int64) (bad int64, ok bool) {
	if off < 0 {
		panic("content: negative offset")
	}
	ks := g.streamKey(stream)
	blk := uint64(off) / BlockSize
	in := int(uint64(off) % BlockSize)
	done := int64(0)
	for len(p) > 0 {
		n := min(len(p), BlockSize-in)
		w, start := ks.block(blk)
		if i := verifyBlock(p[:n], g.pool[start+in/8:start+blockWords], w, in%8); i >= 0 {
			return off + done + int64(i), false
		}
		p = p[n:]
		done += int64(n)
		blk++
		in = 0
	}
	return -1, true
}

// streamKey holds the two per-stream bases from which every block key of
// the stream follows by one addition and one mix.
type streamKey struct{ word, start uint64 }

func (g *Generator) streamKey(stream uint64) streamKey {
	w := mix(g.seed ^ mix(stream^0xbb67ae8584caa73b))
	return streamKey{word: w, start: mix(w ^ 0x3c6ef372fe94f82b)}
}

// block returns the XOR word and the starting pool word of block blk. The
// two come from independent sequences so that streams whose word sequences
// happen to overlap still start their blocks at different pool positions.
func (k streamKey) block(blk uint64) (w uint64, start int) {
	w = mix(k.word + blk*golden)
	start = int(mix(k.start+blk*golden) >> (64 - startBits))
	return w, start
}

// fillBlock writes the block bytes that begin skip bytes into the word
// src[0]; src runs to the end of the block, so it always covers p.
func fillBlock(p []byte, src []uint64, w uint64, skip int) {
	if skip != 0 {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], src[0]^w)
		n := copy(p, t[skip:])
		p = p[n:]
		src = src[1:]
	}
	nw := len(p) / 8
	xorWords(p[:nw*8], src[:nw], w)
	if rest := p[nw*8:]; len(rest) > 0 {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], src[nw]^w)
		copy(rest, t[:])
	}
}

// verifyBlock is fillBlock's mirror: it returns the index in p of the first
// byte that differs from the content, or -1.
func verifyBlock(p []byte, src []uint64, w uint64, skip int) int {
	pos := 0
	if skip != 0 {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], src[0]^w)
		n := min(len(p), 8-skip)
		for i := range n {
			if p[i] != t[skip+i] {
				return i
			}
		}
		pos = n
		src = src[1:]
	}
	nw := (len(p) - pos) / 8
	for i := range nw {
		if x := binary.LittleEndian.Uint64(p[pos:]) ^ src[i] ^ w; x != 0 {
			return pos + bits.TrailingZeros64(x)/8
		}
		pos += 8
	}
	if pos < len(p) {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], src[nw]^w)
		for i := range len(p) - pos {
			if p[pos+i] != t[i] {
				return pos + i
			}
		}
	}
	return -1
}

// mix is the splitmix64 finaliser: a bijection on 64 bits with full
// avalanche, so distinct inputs give distinct, unrelated outputs.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
