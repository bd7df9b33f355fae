package png

import "encoding/binary"

// The zlib stream's Adler-32 is most of Write's work: fill and CRC-32 run
// at tens of GB/s, hash/adler32 at about 2. adlerUpdate runs AVX2
// assembly (adler_amd64.s) on amd64 CPUs that have it, and the portable
// adlerGeneric elsewhere or when built with -tags purego.

const adlerMod = 65521

// adlerGeneric is hash/adler32's update without its interface (which would
// cost an allocation per file) and about three times as fast: eight bytes
// at a time, with byte sums kept in the 16-bit lanes of a word (SWAR) and
// weighted once per KiB.
//
// Over the bytes b0..b7 of a word, s1 grows by their sum and s2 by
// 8·s1 + 8·b0 + 7·b1 + … + 1·b7, s1 taken before the word. Over a run of
// words, the 8·s1 terms add up to 8·(words·s1 + the sum, over the words,
// of the bytes of the words before it in the run), and the weighted terms
// to the same weights applied to per-position sums of all the words.
func adlerGeneric(d uint32, p []byte) uint32 {
	const (
		lanes = 0x00ff00ff00ff00ff
		pairs = 0x0000ffff0000ffff
		// A lane of all gains at most 2·255 per word: 65280 after 128
		// words. A lane of local gains the lane of run, the sums of the
		// words before within 16: at most 510·(15·16/2) = 61200.
		block = 128 * 8
		inner = 16 * 8
	)
	// lanesum adds the four 16-bit lanes of x, whose total may need more.
	lanesum := func(x uint64) uint64 {
		x = x&pairs + x>>16&pairs
		return (x + x>>32) & 0xffffffff
	}
	s1, s2 := uint64(d&0xffff), uint64(d>>16)
	for len(p) >= block {
		q := p[:block:block]
		p = p[block:]
		// even: lanes of b0, b2, b4, b6 summed over the words; all: the
		// same with b1, b3, b5, b7 added; before: the sum of bytes before
		// each word, summed.
		var even, all, before uint64
		for ; len(q) >= inner; q = q[inner:] {
			r := q[:inner:inner]
			var run, local uint64
			for i := 0; i < inner; i += 32 {
				x0 := binary.LittleEndian.Uint64(r[i:])
				x1 := binary.LittleEndian.Uint64(r[i+8:])
				x2 := binary.LittleEndian.Uint64(r[i+16:])
				x3 := binary.LittleEndian.Uint64(r[i+24:])
				e0, e1, e2, e3 := x0&lanes, x1&lanes, x2&lanes, x3&lanes
				a0, a1, a2, a3 := e0+x0>>8&lanes, e1+x1>>8&lanes, e2+x2>>8&lanes, e3+x3>>8&lanes
				local += 4*run + 3*a0 + 2*a1 + a2
				run += a0 + a1 + a2 + a3
				even += e0 + e1 + e2 + e3
			}
			before += 16*lanesum(all) + lanesum(local)
			all += run
		}
		odd := all - even
		s2 += 8*(block/8*s1+before) +
			8*(even&0xffff) + 6*(even>>16&0xffff) + 4*(even>>32&0xffff) + 2*(even>>48) +
			7*(odd&0xffff) + 5*(odd>>16&0xffff) + 3*(odd>>32&0xffff) + 1*(odd>>48)
		s1 += lanesum(all)
		s1 %= adlerMod
		s2 %= adlerMod
	}
	for _, c := range p {
		s1 += uint64(c)
		s2 += s1
	}
	return uint32(s2%adlerMod<<16 | s1%adlerMod)
}
