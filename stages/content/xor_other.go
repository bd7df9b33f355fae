//go:build !amd64 || purego

package content

// ntMin is unreachable here: the portable loop has no non-temporal store.
const ntMin = int(^uint(0) >> 1)

func xorWords(dst []byte, src []uint64, w uint64) { xorWordsGeneric(dst, src, w) }

func (g *Generator) fillBlocks(p []byte, ks streamKey, blk uint64, _ storeMode) {
	g.fillBlocksGeneric(p, ks, blk)
}
