//go:build !amd64 || purego

package vector

// useFMA is false here: only the portable loops are built.
const useFMA = false

func dot(a, b []float32) float32        { return dotGeneric(a, b) }
func l2Sq(a, b []float32) float32       { return l2SqGeneric(a, b) }
func dotBlock(q, block, out []float32)  { dotBlockGeneric(q, block, out) }
func l2SqBlock(q, block, out []float32) { l2SqBlockGeneric(q, block, out) }
