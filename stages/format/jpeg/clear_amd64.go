//go:build !purego

package jpeg

import "unsafe"

// useAVX2 reports AVX2 and the operating system's saving of the YMM
// registers, as the CPU and XCR0 tell them.
var useAVX2 = hasAVX2()

// clearTopBits clears bit 7 of every byte of p. AVX2 does it 32 bytes a
// store, three times as fast as clearTopBitsGeneric's words.
func clearTopBits(p []byte) {
	if n := len(p) / 128; useAVX2 && n > 0 {
		clearTopAVX2(unsafe.SliceData(p), n)
		p = p[n*128:]
	}
	clearTopBitsGeneric(p)
}

// clearTopAVX2 clears bit 7 of the bytes of chunks of 128 bytes at p;
// chunks > 0.
//
//go:noescape
func clearTopAVX2(p *byte, chunks int)

func hasAVX2() bool
