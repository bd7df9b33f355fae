//go:build !purego

#include "textflag.h"

// The fillers below differ mostly in their store instruction: the macros
// hold what they share. SI walks the pool, DI (DX in the unaligned middle
// of a block) the destination.

// XOR4 stores 128 bytes: LE(words at SI) XOR the word in Y, at D.
#define XOR4(STORE, Y, D) \
	VPXOR 0(SI), Y, Y1; \
	VPXOR 32(SI), Y, Y3; \
	VPXOR 64(SI), Y, Y4; \
	VPXOR 96(SI), Y, Y5; \
	STORE Y1, 0(D); \
	STORE Y3, 32(D); \
	STORE Y4, 64(D); \
	STORE Y5, 96(D); \
	ADDQ  $128, SI; \
	ADDQ  $128, D

// UNALIGNED_START begins a block whose destination DI is head = R11 bytes
// short of a 32-byte boundary. Stores that straddle cache lines cost two
// (and VMOVNTDQ needs aligned addresses), so the block's first and last 32
// bytes take unaligned cached stores and its middle, from DI+head, is
// stored aligned: its loads start head bytes into the pool run, and the
// XOR word, which repeats every 8 bytes, is rotated right by head%8 bytes
// (CX = 8*(head%8)) into Y2. It leaves SI and DX at the middle's start.
#define UNALIGNED_START \
	VPBROADCASTQ 0(R9), Y0; \
	MOVQ         0(R9), AX; \
	MOVQ         8(R9), SI; \
	ADDQ         R8, SI; \
	VPXOR        0(SI), Y0, Y1; \
	VMOVDQU      Y1, 0(DI); \
	VPXOR        4064(SI), Y0, Y1; \
	VMOVDQU      Y1, 4064(DI); \
	RORQ         CX, AX; \
	MOVQ         AX, X2; \
	VPBROADCASTQ X2, Y2; \
	ADDQ         R11, SI; \
	LEAQ         (DI)(R11*1), DX

// UNALIGNED_END stores the middle's last 3 of 127 aligned chunks, which
// with 31 rounds of XOR4 cover [head, head+4064); the tail store of
// UNALIGNED_START covers the rest, since head < 32. It moves on to the next
// block.
#define UNALIGNED_END(STORE) \
	VPXOR 0(SI), Y2, Y1; \
	VPXOR 32(SI), Y2, Y3; \
	VPXOR 64(SI), Y2, Y4; \
	STORE Y1, 0(DX); \
	STORE Y3, 32(DX); \
	STORE Y4, 64(DX); \
	ADDQ  $4096, DI; \
	ADDQ  $16, R9

#define ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ pool+8(FP), R8; \
	MOVQ keys+16(FP), R9; \
	MOVQ n+24(FP), R10; \
	MOVQ head+32(FP), R11; \
	MOVQ R11, CX; \
	ANDQ $7, CX; \
	SHLQ $3, CX

// func xorAVX2(dst *byte, src *uint64, chunks int, w uint64)
TEXT ·xorAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         chunks+16(FP), CX
	VPBROADCASTQ w+24(FP), Y0

loop:
	XOR4(VMOVDQU, Y0, DI)
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func xorBlocksAVX2(dst *byte, pool *uint64, keys *blockKey, n int, head int)
TEXT ·xorBlocksAVX2(SB), NOSPLIT, $0-40
	ARGS
	TESTQ R11, R11
	JNZ   unaligned

block:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	MOVQ         $16, BX

blockloop:
	XOR4(VMOVDQA, Y0, DI)
	XOR4(VMOVDQA, Y0, DI)
	DECQ BX
	JNZ  blockloop
	ADDQ $16, R9
	DECQ R10
	JNZ  block
	VZEROUPPER
	RET

unaligned:
	UNALIGNED_START
	MOVQ $31, BX

uloop:
	XOR4(VMOVDQA, Y2, DX)
	DECQ BX
	JNZ  uloop
	UNALIGNED_END(VMOVDQA)
	DECQ R10
	JNZ  unaligned
	VZEROUPPER
	RET

// func xorBlocksNT(dst *byte, pool *uint64, keys *blockKey, n int, head int)
TEXT ·xorBlocksNT(SB), NOSPLIT, $0-40
	ARGS
	TESTQ R11, R11
	JNZ   unaligned

block:
	VPBROADCASTQ 0(R9), Y0
	MOVQ         8(R9), SI
	ADDQ         R8, SI
	MOVQ         $32, BX

blockloop:
	XOR4(VMOVNTDQ, Y0, DI)
	DECQ BX
	JNZ  blockloop
	ADDQ $16, R9
	DECQ R10
	JNZ  block
	SFENCE
	VZEROUPPER
	RET

unaligned:
	UNALIGNED_START
	MOVQ $31, BX

uloop:
	XOR4(VMOVNTDQ, Y2, DX)
	DECQ BX
	JNZ  uloop
	UNALIGNED_END(VMOVNTDQ)
	DECQ R10
	JNZ  unaligned
	SFENCE
	VZEROUPPER
	RET
