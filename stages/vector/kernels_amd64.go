//go:build !purego

package vector

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The portable loops add one product at a time, each addition waiting for
// the one before: about one float per cycle. The AVX2 kernels keep four
// 8-float FMAs in flight, and the block kernels load each chunk of the
// query once for two rows. Build with -tags purego to measure or test
// without the assembly.

// useFMA says the CPU has AVX2 and FMA; cpu.X86.HasAVX2 also checks that
// the OS saves the YMM registers.
var useFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func dot(a, b []float32) float32 {
	if !useFMA || len(a) == 0 {
		return dotGeneric(a, b)
	}
	return dotAVX2(unsafe.SliceData(a), unsafe.SliceData(b), len(a))
}

func l2Sq(a, b []float32) float32 {
	if !useFMA || len(a) == 0 {
		return l2SqGeneric(a, b)
	}
	return l2AVX2(unsafe.SliceData(a), unsafe.SliceData(b), len(a))
}

// dotBlock and l2SqBlock take rows in pairs and the odd last row alone;
// both paths sum in the same order, so every row gets the bits Dot or
// L2Sq would give it.
func dotBlock(q, block, out []float32) {
	d := len(q)
	if !useFMA || d == 0 || len(out) == 0 {
		dotBlockGeneric(q, block, out)
		return
	}
	if pairs := len(out) / 2; pairs > 0 {
		dotBlockAVX2(&q[0], &block[0], d, pairs, &out[0])
	}
	if i := len(out) - 1; i%2 == 0 {
		out[i] = dotAVX2(&q[0], &block[i*d], d)
	}
}

func l2SqBlock(q, block, out []float32) {
	d := len(q)
	if !useFMA || d == 0 || len(out) == 0 {
		l2SqBlockGeneric(q, block, out)
		return
	}
	if pairs := len(out) / 2; pairs > 0 {
		l2BlockAVX2(&q[0], &block[0], d, pairs, &out[0])
	}
	if i := len(out) - 1; i%2 == 0 {
		out[i] = l2AVX2(&q[0], &block[i*d], d)
	}
}

// dotAVX2 is the inner product of the n > 0 floats at a and b.
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// l2AVX2 is the squared distance between the n > 0 floats at a and b.
//
//go:noescape
func l2AVX2(a, b *float32, n int) float32

// dotBlockAVX2 writes to out[0:2*pairs] the inner products of the dim > 0
// floats at q with the 2*pairs rows of dim floats at x.
//
//go:noescape
func dotBlockAVX2(q, x *float32, dim, pairs int, out *float32)

// l2BlockAVX2 is dotBlockAVX2 for the squared distance.
//
//go:noescape
func l2BlockAVX2(q, x *float32, dim, pairs int, out *float32)
