//go:build !purego

#include "textflag.h"

// func xorAVX2(dst *byte, src *uint64, chunks int, w uint64)
TEXT ·xorAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         chunks+16(FP), CX
	VPBROADCASTQ w+24(FP), Y0

loop:
	VPXOR   0(SI), Y0, Y1
	VPXOR   32(SI), Y0, Y2
	VPXOR   64(SI), Y0, Y3
	VPXOR   96(SI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func xorBlocksAVX2(dst *byte, pool *uint64, keys *blockKey, n int, head int)
TEXT ·xorBlocksAVX2(SB), NOSPLIT, $0-40
	MOVQ  dst+0(FP), DI
	MOVQ  pool+8(FP), R8
	MOVQ  keys+16(FP), R9
	MOVQ  n+24(FP), R10
	MOVQ  head+32(FP), R11
	TESTQ R11, R11
	JNZ   unaligned

block:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	MOVQ         $16, CX

blockloop:
	VPXOR   0(SI), Y0, Y1
	VPXOR   32(SI), Y0, Y2
	VPXOR   64(SI), Y0, Y3
	VPXOR   96(SI), Y0, Y4
	VPXOR   128(SI), Y0, Y5
	VPXOR   160(SI), Y0, Y6
	VPXOR   192(SI), Y0, Y7
	VPXOR   224(SI), Y0, Y8
	VMOVDQA Y1, 0(DI)
	VMOVDQA Y2, 32(DI)
	VMOVDQA Y3, 64(DI)
	VMOVDQA Y4, 96(DI)
	VMOVDQA Y5, 128(DI)
	VMOVDQA Y6, 160(DI)
	VMOVDQA Y7, 192(DI)
	VMOVDQA Y8, 224(DI)
	ADDQ    $256, SI
	ADDQ    $256, DI
	DECQ    CX
	JNZ     blockloop
	ADDQ    $16, R9
	DECQ    R10
	JNZ     block
	VZEROUPPER
	RET

unaligned:
	// As in xorBlocksNT: stores that straddle cache lines cost two, so
	// the middle of each block is stored aligned, from loads and an XOR
	// word shifted by head bytes, and the block's ends unaligned.
	MOVQ R11, CX
	ANDQ $7, CX
	SHLQ $3, CX

ublock:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         0(R9), AX
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	VPXOR        0(SI), Y0, Y1
	VMOVDQU      Y1, 0(DI)
	VPXOR        4064(SI), Y0, Y1
	VMOVDQU      Y1, 4064(DI)
	RORQ         CX, AX
	MOVQ         AX, X2
	VPBROADCASTQ X2, Y2
	ADDQ         R11, SI
	LEAQ         (DI)(R11*1), DX

	// 127 aligned chunks: 31 rounds of 4, then 3.
	MOVQ $31, BX

uloop:
	VPXOR   0(SI), Y2, Y1
	VPXOR   32(SI), Y2, Y3
	VPXOR   64(SI), Y2, Y4
	VPXOR   96(SI), Y2, Y5
	VMOVDQA Y1, 0(DX)
	VMOVDQA Y3, 32(DX)
	VMOVDQA Y4, 64(DX)
	VMOVDQA Y5, 96(DX)
	ADDQ    $128, SI
	ADDQ    $128, DX
	DECQ    BX
	JNZ     uloop
	VPXOR   0(SI), Y2, Y1
	VPXOR   32(SI), Y2, Y3
	VPXOR   64(SI), Y2, Y4
	VMOVDQA Y1, 0(DX)
	VMOVDQA Y3, 32(DX)
	VMOVDQA Y4, 64(DX)
	ADDQ    $4096, DI
	ADDQ    $16, R9
	DECQ    R10
	JNZ     ublock
	VZEROUPPER
	RET

// func xorBlocksNT(dst *byte, pool *uint64, keys *blockKey, n int, head int)
TEXT ·xorBlocksNT(SB), NOSPLIT, $0-40
	MOVQ  dst+0(FP), DI
	MOVQ  pool+8(FP), R8
	MOVQ  keys+16(FP), R9
	MOVQ  n+24(FP), R10
	MOVQ  head+32(FP), R11
	TESTQ R11, R11
	JNZ   unaligned

aligned:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	MOVQ         $32, CX

alignedloop:
	VPXOR    0(SI), Y0, Y1
	VPXOR    32(SI), Y0, Y2
	VPXOR    64(SI), Y0, Y3
	VPXOR    96(SI), Y0, Y4
	VMOVNTDQ Y1, 0(DI)
	VMOVNTDQ Y2, 32(DI)
	VMOVNTDQ Y3, 64(DI)
	VMOVNTDQ Y4, 96(DI)
	ADDQ     $128, SI
	ADDQ     $128, DI
	DECQ     CX
	JNZ      alignedloop
	ADDQ     $16, R9
	DECQ     R10
	JNZ      aligned
	SFENCE
	VZEROUPPER
	RET

unaligned:
	// The aligned middle of a block starts head bytes into it, so its
	// loads start head bytes into the block's pool run and the XOR word,
	// which repeats every 8 bytes, is rotated right by head%8 bytes.
	MOVQ R11, CX
	ANDQ $7, CX
	SHLQ $3, CX

ublock:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         0(R9), AX
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	VPXOR        0(SI), Y0, Y1
	VMOVDQU      Y1, 0(DI)
	VPXOR        4064(SI), Y0, Y1
	VMOVDQU      Y1, 4064(DI)
	RORQ         CX, AX
	MOVQ         AX, X2
	VPBROADCASTQ X2, Y2
	ADDQ         R11, SI
	LEAQ         (DI)(R11*1), DX

	// 127 aligned chunks cover [head, head+4064); the tail store above
	// covers the rest of the block, since head < 32.
	MOVQ $127, BX

uloop:
	VPXOR    0(SI), Y2, Y1
	VMOVNTDQ Y1, 0(DX)
	ADDQ     $32, SI
	ADDQ     $32, DX
	DECQ     BX
	JNZ      uloop
	ADDQ     $4096, DI
	ADDQ     $16, R9
	DECQ     R10
	JNZ      ublock
	SFENCE
	VZEROUPPER
	RET
