//go:build !purego

#include "textflag.h"

// func clearTopAVX2(p *byte, chunks int)
TEXT ·clearTopAVX2(SB), NOSPLIT, $0-16
	MOVQ         p+0(FP), DI
	MOVQ         chunks+8(FP), CX
	MOVQ         $0x7f7f7f7f7f7f7f7f, AX
	MOVQ         AX, X0
	VPBROADCASTQ X0, Y0

loop:
	VPAND   0(DI), Y0, Y1
	VPAND   32(DI), Y0, Y2
	VPAND   64(DI), Y0, Y3
	VPAND   96(DI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, DI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func hasAVX2() bool
TEXT ·hasAVX2(SB), NOSPLIT, $0-1
	XORL  AX, AX
	XORL  CX, CX
	CPUID
	CMPL  AX, $7
	JB    no

	// CPUID.1:ECX: OSXSAVE (bit 27) and AVX (bit 28).
	MOVL  $1, AX
	XORL  CX, CX
	CPUID
	ANDL  $0x18000000, CX
	CMPL  CX, $0x18000000
	JNE   no

	// XCR0: the OS saves the XMM (bit 1) and YMM (bit 2) state.
	XORL  CX, CX
	XGETBV
	ANDL  $6, AX
	CMPL  AX, $6
	JNE   no

	// CPUID.(7,0):EBX: AVX2 (bit 5).
	MOVL  $7, AX
	XORL  CX, CX
	CPUID
	ANDL  $0x20, BX
	JZ    no
	MOVB  $1, ret+0(FP)
	RET

no:
	MOVB  $0, ret+0(FP)
	RET
