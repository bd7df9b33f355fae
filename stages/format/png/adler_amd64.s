//go:build !purego

#include "textflag.h"

// taps weights the bytes of a chunk 32, 31, …, 1 for VPMADDUBSW.
DATA taps<>+0(SB)/8, $0x191a1b1c1d1e1f20
DATA taps<>+8(SB)/8, $0x1112131415161718
DATA taps<>+16(SB)/8, $0x090a0b0c0d0e0f10
DATA taps<>+24(SB)/8, $0x0102030405060708
GLOBL taps<>(SB), RODATA|NOPTR, $32

// func adlerAVX2(p *byte, chunks int) (sum, prefix, weighted uint32)
TEXT ·adlerAVX2(SB), NOSPLIT, $0-28
	MOVQ      p+0(FP), SI
	MOVQ      chunks+8(FP), CX
	VPXOR     Y0, Y0, Y0       // zero
	VPXOR     Y1, Y1, Y1       // byte sums, in the low half of 64-bit lanes
	VPXOR     Y2, Y2, Y2       // weighted sums, 32-bit lanes
	VPXOR     Y3, Y3, Y3       // Y1 before each chunk, summed
	VMOVDQU   taps<>(SB), Y4
	VPCMPEQW  Y5, Y5, Y5
	VPSRLW    $15, Y5, Y5      // 16-bit ones, for VPMADDWD

loop:
	VMOVDQU    (SI), Y6
	VPADDD     Y1, Y3, Y3
	VPSADBW    Y0, Y6, Y7      // sums of each 8 bytes
	VPADDD     Y7, Y1, Y1
	VPMADDUBSW Y4, Y6, Y8      // bytes × taps, adjacent pairs added: at most 16065
	VPMADDWD   Y5, Y8, Y8      // adjacent pairs again, to 32 bits
	VPADDD     Y8, Y2, Y2
	ADDQ       $32, SI
	DECQ       CX
	JNZ        loop

	// Add the eight 32-bit lanes of each.
	VEXTRACTI128 $1, Y1, X9
	VPADDD       X9, X1, X1
	VPSHUFD      $0x4e, X1, X9
	VPADDD       X9, X1, X1
	VPSHUFD      $0xb1, X1, X9
	VPADDD       X9, X1, X1
	VMOVD        X1, AX
	MOVL         AX, sum+16(FP)

	VEXTRACTI128 $1, Y3, X9
	VPADDD       X9, X3, X3
	VPSHUFD      $0x4e, X3, X9
	VPADDD       X9, X3, X3
	VPSHUFD      $0xb1, X3, X9
	VPADDD       X9, X3, X3
	VMOVD        X3, AX
	MOVL         AX, prefix+20(FP)

	VEXTRACTI128 $1, Y2, X9
	VPADDD       X9, X2, X2
	VPSHUFD      $0x4e, X2, X9
	VPADDD       X9, X2, X2
	VPSHUFD      $0xb1, X2, X9
	VPADDD       X9, X2, X2
	VMOVD        X2, AX
	MOVL         AX, weighted+24(FP)

	VZEROUPPER
	RET
