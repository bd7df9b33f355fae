package vector

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// TestKernelsStayInBounds puts vectors at the very end of a readable page
// followed by an unreadable one: a kernel that loaded a whole chunk past
// the end of its slice, instead of a masked one, would fault.
func TestKernelsStayInBounds(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	floats := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), page/4)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range floats {
		floats[i] = float32(r.NormFloat64())
	}
	q := randVec(r, 64)
	for _, dim := range []int{1, 7, 9, 15, 33, 63} {
		end := len(floats)
		a := floats[end-dim:]
		b := floats[end-2*dim : end-dim]
		Dot(a, b)
		L2Sq(b, a)
		out := make([]float32, 3)
		DotBlock(q[:dim], floats[end-3*dim:], out)
		L2SqBlock(q[:dim], floats[end-3*dim:], out)
	}
}
