//go:build !purego

package content

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The portable loop is bound by one 8-byte store per cycle, which is slower
// than the runtime's AVX copy while the data is in cache; 32-byte AVX2
// stores lift that ceiling so that generation stays faster than copying.
// Build with -tags purego to measure or test without the assembly.

// cpu.X86.HasAVX2 also checks that the OS saves the YMM registers.
var useAVX2 = cpu.X86.HasAVX2

// ntMin is the smallest fill that bypasses the cache. A cached store to a
// line that is not in the cache first reads the line from memory, so once
// a fill spills out of the caches it moves every byte twice; non-temporal
// stores move it once, which is how copy() (non-temporal from 1 MiB, see
// runtime/memmove_amd64.s) outruns a cached fill at 64 MiB. mlps's callers
// hand the bytes to a write right after filling them, though (generate
// fills 1 MiB, checkpoint 32 MiB chunks by default), and the kernel's copy
// into the page cache reads them back: a cache-bypassing fill sends that
// read to memory too. BenchmarkFillThenWrite measured fill-and-write with
// cached over non-temporal stores (median of pairs, EPYC with 1 MiB L2 and
// 32 MiB L3): 0.47-0.51x at 1 MiB, 0.53x at 4 MiB, 0.80-0.89x at 8 MiB,
// 1.23x at 16 MiB and 1.21-1.22x at 32 MiB. So the cache is bypassed from
// 16 MiB, not from copy()'s 1 MiB.
const ntMin = 16 << 20

func xorWords(dst []byte, src []uint64, w uint64) {
	if n := min(len(dst)/8, len(src)) / 16; useAVX2 && n > 0 {
		xorAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n, w)
		dst, src = dst[n*128:], src[n*16:]
	}
	xorWordsGeneric(dst, src, w)
}

// blockKey is what the assembly needs of one block: its XOR word and the
// byte offset in the pool of its first word.
type blockKey struct{ w, src uint64 }

// keyBatch blocks (256 KiB) are keyed before each assembly call: the keys
// of a batch are independent, so their multiplications overlap instead of
// stalling the store stream once per block, and the call's fixed cost is
// paid once per batch.
const keyBatch = 64

// fillBlocks fills p, a whole number of blocks starting at block blk.
func (g *Generator) fillBlocks(p []byte, ks streamKey, blk uint64, m storeMode) {
	if !useAVX2 || m == storeGeneric {
		g.fillBlocksGeneric(p, ks, blk)
		return
	}
	var keys [keyBatch]blockKey
	for len(p) > 0 {
		n := min(len(p)/BlockSize, keyBatch)
		for i := range keys[:n] {
			w, start := ks.block(blk + uint64(i))
			keys[i] = blockKey{w, uint64(start) * 8}
		}
		dst := unsafe.SliceData(p)
		head := int(-uintptr(unsafe.Pointer(dst)) & 31)
		if m == storeNT {
			xorBlocksNT(dst, &g.pool[0], &keys[0], n, head)
		} else {
			xorBlocksAVX2(dst, &g.pool[0], &keys[0], n, head)
		}
		p = p[n*BlockSize:]
		blk += uint64(n)
	}
}

// xorAVX2 stores LE(src[i]^w) at dst[8i:] for i < 16*chunks; chunks > 0.
//
//go:noescape
func xorAVX2(dst *byte, src *uint64, chunks int, w uint64)

// xorBlocksAVX2 fills n > 0 consecutive blocks at dst, block i from keys[i].
// head is the distance from dst to the next 32-byte boundary: with head > 0
// each block's first and last 32 bytes take unaligned stores and the rest
// aligned ones.
//
//go:noescape
func xorBlocksAVX2(dst *byte, pool *uint64, keys *blockKey, n int, head int)

// xorBlocksNT is xorBlocksAVX2 with non-temporal stores (VMOVNTDQ, which
// needs the aligned addresses) for all but the unaligned ends of blocks,
// followed by an SFENCE so that the bytes are visible to other cores once
// it returns.
//
//go:noescape
func xorBlocksNT(dst *byte, pool *uint64, keys *blockKey, n int, head int)
