package content

import (
	"encoding/binary"
	"unsafe"
)

// xorWordsGeneric is the portable hot loop: dst[8i:8i+8] = LE(src[i]^w) for
// every whole word of dst. Unrolling to 128 bytes pays loop overhead once
// per 16 stores; the array views through unsafe.Add carry no bounds checks
// (the safe spellings cost as many instructions as the work); PutUint64 is
// a single unaligned store on little-endian machines and keeps the bytes the
// same on big-endian ones.
func xorWordsGeneric(dst []byte, src []uint64, w uint64) {
	n := min(len(dst)/8, len(src))
	dp, sp := unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(src))
	i := 0
	for ; i+16 <= n; i += 16 {
		d, s := (*[128]byte)(unsafe.Add(dp, i*8)), (*[16]uint64)(unsafe.Add(sp, i*8))
		binary.LittleEndian.PutUint64(d[0:], s[0]^w)
		binary.LittleEndian.PutUint64(d[8:], s[1]^w)
		binary.LittleEndian.PutUint64(d[16:], s[2]^w)
		binary.LittleEndian.PutUint64(d[24:], s[3]^w)
		binary.LittleEndian.PutUint64(d[32:], s[4]^w)
		binary.LittleEndian.PutUint64(d[40:], s[5]^w)
		binary.LittleEndian.PutUint64(d[48:], s[6]^w)
		binary.LittleEndian.PutUint64(d[56:], s[7]^w)
		binary.LittleEndian.PutUint64(d[64:], s[8]^w)
		binary.LittleEndian.PutUint64(d[72:], s[9]^w)
		binary.LittleEndian.PutUint64(d[80:], s[10]^w)
		binary.LittleEndian.PutUint64(d[88:], s[11]^w)
		binary.LittleEndian.PutUint64(d[96:], s[12]^w)
		binary.LittleEndian.PutUint64(d[104:], s[13]^w)
		binary.LittleEndian.PutUint64(d[112:], s[14]^w)
		binary.LittleEndian.PutUint64(d[120:], s[15]^w)
	}
	for ; i < n; i++ {
		binary.LittleEndian.PutUint64(dst[i*8:], src[i]^w)
	}
}
