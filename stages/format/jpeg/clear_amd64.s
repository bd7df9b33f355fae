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
