//go:build !purego

package png

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 reports AVX2 with the operating system saving the YMM
// registers, as x/sys/cpu detects it for stages/content too.
var useAVX2 = cpu.X86.HasAVX2

// adlerChunks bounds one adlerAVX2 call so that its 32-bit lanes, and their
// sums, cannot overflow: the prefix lanes reach 4·1020·512² < 2³².
const adlerChunks = 512

func adlerUpdate(d uint32, p []byte) uint32 {
	if !useAVX2 || len(p) < 32 {
		return adlerGeneric(d, p)
	}
	s1, s2 := uint64(d&0xffff), uint64(d>>16)
	for len(p) >= 32 {
		n := min(len(p)/32, adlerChunks)
		sum, prefix, weighted := adlerAVX2(unsafe.SliceData(p), n)
		// Chunk k of 32 bytes adds 32·(s1 + the sums of chunks before
		// k) and its bytes weighted 32..1 to s2.
		s2 += 32*(uint64(n)*s1+uint64(prefix)) + uint64(weighted)
		s1 += uint64(sum)
		s1 %= adlerMod
		s2 %= adlerMod
		p = p[n*32:]
	}
	return adlerGeneric(uint32(s2<<16|s1), p)
}

// adlerAVX2 returns, over chunks of 32 bytes at p (0 < chunks <=
// adlerChunks): the sum of the bytes, the sum over the chunks of the bytes
// of the chunks before, and the sum of every byte weighted by 32 minus its
// place in its chunk.
//
//go:noescape
func adlerAVX2(p *byte, chunks int) (sum, prefix, weighted uint32)
