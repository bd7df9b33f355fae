//go:build !purego

#include "textflag.h"

// Every kernel sums in one order, so that a distance is the same bits
// whichever kernel computed it (Dot or DotBlock, a block's first row or
// its last): the floats of a vector are taken in chunks of 8, chunk c is
// added into accumulator c mod 4 (a masked load supplies the last, short
// chunk), and the four accumulators are folded as REDUCE does. Four
// accumulators keep four FMAs in flight, which covers the FMA's latency.

// tail<> is eight all-ones dwords then eight zeros: the 8 dwords from
// byte 4*(8-r) are the VMASKMOVPS mask of a chunk's first r floats. A
// masked load reads nothing outside the mask, so no kernel touches memory
// past the end of its slices.
DATA tail<>+0(SB)/4, $0xffffffff
DATA tail<>+4(SB)/4, $0xffffffff
DATA tail<>+8(SB)/4, $0xffffffff
DATA tail<>+12(SB)/4, $0xffffffff
DATA tail<>+16(SB)/4, $0xffffffff
DATA tail<>+20(SB)/4, $0xffffffff
DATA tail<>+24(SB)/4, $0xffffffff
DATA tail<>+28(SB)/4, $0xffffffff
DATA tail<>+32(SB)/4, $0
DATA tail<>+36(SB)/4, $0
DATA tail<>+40(SB)/4, $0
DATA tail<>+44(SB)/4, $0
DATA tail<>+48(SB)/4, $0
DATA tail<>+52(SB)/4, $0
DATA tail<>+56(SB)/4, $0
DATA tail<>+60(SB)/4, $0
GLOBL tail<>(SB), RODATA|NOPTR, $64

// MASK loads into M the mask of the first CX (1..7) floats of a chunk.
#define MASK(M) \
	LEAQ    tail<>(SB), R8; \
	MOVQ    $8, R9; \
	SUBQ    CX, R9; \
	VMOVDQU (R8)(R9*4), M

// REDUCE folds accumulators A0..A3 into the low float of XA0 (the low
// half of A0), using XT: (A0+A1)+(A2+A3), then the upper 4 lanes onto the
// lower 4, then lanes 2,3 onto 0,1, then lane 1 onto lane 0.
#define REDUCE(A0, A1, A2, A3, XA0, XT) \
	VADDPS       A1, A0, A0; \
	VADDPS       A3, A2, A2; \
	VADDPS       A2, A0, A0; \
	VEXTRACTF128 $1, A0, XT; \
	VADDPS       XT, XA0, XA0; \
	VPERMILPS    $0x0e, XA0, XT; \
	VADDPS       XT, XA0, XA0; \
	VPERMILPS    $0x01, XA0, XT; \
	VADDSS       XT, XA0, XA0

// One chunk of a pair of vectors at SI and DI, into accumulator A.
#define DOT1(OFF, A) \
	VMOVUPS     OFF(SI), Y4; \
	VFMADD231PS OFF(DI), Y4, A

#define L21(OFF, A) \
	VMOVUPS     OFF(SI), Y4; \
	VSUBPS      OFF(DI), Y4, Y4; \
	VFMADD231PS Y4, Y4, A

// The short last chunk, under the mask in Y8.
#define DOT1MASKED(A) \
	VMASKMOVPS  (SI), Y8, Y4; \
	VMASKMOVPS  (DI), Y8, Y5; \
	VFMADD231PS Y5, Y4, A

#define L21MASKED(A) \
	VMASKMOVPS  (SI), Y8, Y4; \
	VMASKMOVPS  (DI), Y8, Y5; \
	VSUBPS      Y5, Y4, Y4; \
	VFMADD231PS Y4, Y4, A

#define ADVANCE1(N) \
	ADDQ $N, SI; \
	ADDQ $N, DI

// PAIR is the body of dotAVX2 and l2AVX2: CHUNK and MASKED are the
// per-chunk macros, P a label prefix.
#define PAIR(CHUNK, MASKED, LOOP, REST, T0, T1, T2, RED) \
	MOVQ   a+0(FP), SI; \
	MOVQ   b+8(FP), DI; \
	MOVQ   n+16(FP), CX; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	MOVQ   CX, BX; \
	SHRQ   $5, BX; \
	JZ     REST; \
LOOP: \
	CHUNK(0, Y0); \
	CHUNK(32, Y1); \
	CHUNK(64, Y2); \
	CHUNK(96, Y3); \
	ADVANCE1(128); \
	DECQ   BX; \
	JNZ    LOOP; \
REST: \
	ANDQ   $31, CX; \
	CMPQ   CX, $8; \
	JB     T0; \
	CHUNK(0, Y0); \
	ADVANCE1(32); \
	SUBQ   $8, CX; \
	CMPQ   CX, $8; \
	JB     T1; \
	CHUNK(0, Y1); \
	ADVANCE1(32); \
	SUBQ   $8, CX; \
	CMPQ   CX, $8; \
	JB     T2; \
	CHUNK(0, Y2); \
	ADVANCE1(32); \
	SUBQ   $8, CX; \
	TESTQ  CX, CX; \
	JZ     RED; \
	MASK(Y8); \
	MASKED(Y3); \
	JMP    RED; \
T0: \
	TESTQ  CX, CX; \
	JZ     RED; \
	MASK(Y8); \
	MASKED(Y0); \
	JMP    RED; \
T1: \
	TESTQ  CX, CX; \
	JZ     RED; \
	MASK(Y8); \
	MASKED(Y1); \
	JMP    RED; \
T2: \
	TESTQ  CX, CX; \
	JZ     RED; \
	MASK(Y8); \
	MASKED(Y2); \
RED: \
	REDUCE(Y0, Y1, Y2, Y3, X0, X4); \
	VMOVSS X0, ret+24(FP); \
	VZEROUPPER; \
	RET

// The block kernels take two rows at a time, at SI and SI+DX, against the
// query at DI: each of the query's chunks is loaded once for both rows.
// Row 0 sums into Y0..Y3, row 1 into Y4..Y7, in the order above.
#define DOT2(OFF, A, B) \
	VMOVUPS     OFF(DI), Y8; \
	VFMADD231PS OFF(SI), Y8, A; \
	VFMADD231PS OFF(SI)(DX*1), Y8, B

#define L22(OFF, A, B) \
	VMOVUPS     OFF(DI), Y8; \
	VSUBPS      OFF(SI), Y8, Y9; \
	VFMADD231PS Y9, Y9, A; \
	VSUBPS      OFF(SI)(DX*1), Y8, Y10; \
	VFMADD231PS Y10, Y10, B

// The short last chunk, under the mask in Y11.
#define DOT2MASKED(A, B) \
	VMASKMOVPS  (DI), Y11, Y8; \
	VMASKMOVPS  (SI), Y11, Y9; \
	VFMADD231PS Y9, Y8, A; \
	VMASKMOVPS  (SI)(DX*1), Y11, Y10; \
	VFMADD231PS Y10, Y8, B

#define L22MASKED(A, B) \
	VMASKMOVPS  (DI), Y11, Y8; \
	VMASKMOVPS  (SI), Y11, Y9; \
	VSUBPS      Y9, Y8, Y9; \
	VFMADD231PS Y9, Y9, A; \
	VMASKMOVPS  (SI)(DX*1), Y11, Y10; \
	VSUBPS      Y10, Y8, Y10; \
	VFMADD231PS Y10, Y10, B

// BLOCK is the body of dotBlockAVX2 and l2BlockAVX2. Registers: R13 the
// query, R11 the dimension, DX a row's bytes, AX the pairs left, R12 the
// next output, R10 the pair's first row, SI and DI the walk through a
// row and the query, BX and CX the chunks left.
#define BLOCK(CHUNK, MASKED, NEXT, LOOP, REST, T0, T1, T2, RED) \
	MOVQ    q+0(FP), R13; \
	MOVQ    x+8(FP), SI; \
	MOVQ    dim+16(FP), R11; \
	MOVQ    pairs+24(FP), AX; \
	MOVQ    out+32(FP), R12; \
	MOVQ    R11, DX; \
	SHLQ    $2, DX; \
	MOVQ    R11, CX; \
	ANDQ    $7, CX; \
	LEAQ    tail<>(SB), R8; \
	MOVQ    $8, R9; \
	SUBQ    CX, R9; \
	VMOVDQU (R8)(R9*4), Y11; \
NEXT: \
	MOVQ    R13, DI; \
	MOVQ    SI, R10; \
	VXORPS  Y0, Y0, Y0; \
	VXORPS  Y1, Y1, Y1; \
	VXORPS  Y2, Y2, Y2; \
	VXORPS  Y3, Y3, Y3; \
	VXORPS  Y4, Y4, Y4; \
	VXORPS  Y5, Y5, Y5; \
	VXORPS  Y6, Y6, Y6; \
	VXORPS  Y7, Y7, Y7; \
	MOVQ    R11, BX; \
	SHRQ    $5, BX; \
	JZ      REST; \
LOOP: \
	CHUNK(0, Y0, Y4); \
	CHUNK(32, Y1, Y5); \
	CHUNK(64, Y2, Y6); \
	CHUNK(96, Y3, Y7); \
	ADVANCE1(128); \
	DECQ    BX; \
	JNZ     LOOP; \
REST: \
	MOVQ    R11, CX; \
	ANDQ    $31, CX; \
	CMPQ    CX, $8; \
	JB      T0; \
	CHUNK(0, Y0, Y4); \
	ADVANCE1(32); \
	SUBQ    $8, CX; \
	CMPQ    CX, $8; \
	JB      T1; \
	CHUNK(0, Y1, Y5); \
	ADVANCE1(32); \
	SUBQ    $8, CX; \
	CMPQ    CX, $8; \
	JB      T2; \
	CHUNK(0, Y2, Y6); \
	ADVANCE1(32); \
	SUBQ    $8, CX; \
	TESTQ   CX, CX; \
	JZ      RED; \
	MASKED(Y3, Y7); \
	JMP     RED; \
T0: \
	TESTQ   CX, CX; \
	JZ      RED; \
	MASKED(Y0, Y4); \
	JMP     RED; \
T1: \
	TESTQ   CX, CX; \
	JZ      RED; \
	MASKED(Y1, Y5); \
	JMP     RED; \
T2: \
	TESTQ   CX, CX; \
	JZ      RED; \
	MASKED(Y2, Y6); \
RED: \
	REDUCE(Y0, Y1, Y2, Y3, X0, X8); \
	VMOVSS  X0, 0(R12); \
	REDUCE(Y4, Y5, Y6, Y7, X4, X8); \
	VMOVSS  X4, 4(R12); \
	ADDQ    $8, R12; \
	LEAQ    (R10)(DX*2), SI; \
	DECQ    AX; \
	JNZ     NEXT; \
	VZEROUPPER; \
	RET

// The kernels. vet checks their arguments against these names, so the
// macros that use them are all defined above the first TEXT.

// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	PAIR(DOT1, DOT1MASKED, dloop, drest, dt0, dt1, dt2, dred)

// func l2AVX2(a, b *float32, n int) float32
TEXT ·l2AVX2(SB), NOSPLIT, $0-28
	PAIR(L21, L21MASKED, lloop, lrest, lt0, lt1, lt2, lred)

// func dotBlockAVX2(q, x *float32, dim, pairs int, out *float32)
TEXT ·dotBlockAVX2(SB), NOSPLIT, $0-40
	BLOCK(DOT2, DOT2MASKED, dbnext, dbloop, dbrest, dbt0, dbt1, dbt2, dbred)

// func l2BlockAVX2(q, x *float32, dim, pairs int, out *float32)
TEXT ·l2BlockAVX2(SB), NOSPLIT, $0-40
	BLOCK(L22, L22MASKED, lbnext, lbloop, lbrest, lbt0, lbt1, lbt2, lbred)
