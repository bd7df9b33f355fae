//go:build !amd64 || purego

package content

func xorWords(dst []byte, src []uint64, w uint64) { xorWordsGeneric(dst, src, w) }
