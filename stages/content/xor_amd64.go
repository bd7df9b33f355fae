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

func xorWords(dst []byte, src []uint64, w uint64) {
	if n := min(len(dst)/8, len(src)) / 16; useAVX2 && n > 0 {
		xorAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n, w)
		dst, src = dst[n*128:], src[n*16:]
	}
	xorWordsGeneric(dst, src, w)
}

// xorAVX2 stores LE(src[i]^w) at dst[8i:] for i < 16*chunks; chunks > 0.
//
//go:noescape
func xorAVX2(dst *byte, src *uint64, chunks int, w uint64)
