package vector

// Dot is the inner product of a and b, which have the same length.
func Dot(a, b []float32) float32 {
	return dot(a, b[:len(a)])
}

// L2Sq is the squared Euclidean distance between a and b, which have the
// same length.
func L2Sq(a, b []float32) float32 {
	return l2Sq(a, b[:len(a)])
}

// DotBlock writes into out[i] the inner product of q with the i-th vector
// of block, where block holds len(out) vectors of len(q) floats one after
// the other (row-major), as a shard or a posting list stores them. One
// call per block amortises the call and lets the kernel load each part of
// q once for several vectors. out[i] is exactly Dot(q, vector i): every
// kernel sums in the same order.
func DotBlock(q, block, out []float32) {
	dotBlock(q, block[:len(out)*len(q)], out)
}

// L2SqBlock is DotBlock for the squared Euclidean distance: out[i] is
// exactly L2Sq(q, vector i).
func L2SqBlock(q, block, out []float32) {
	l2SqBlock(q, block[:len(out)*len(q)], out)
}

// BlockDistance writes into out[i] the distance under m between q and the
// i-th vector of block, laid out as DotBlock takes it. Under Cosine, q and
// the vectors must be unit vectors (Normalize them once, as indexes store
// them and as GroundTruth does), and the distance is 1 − q·x: what
// Distance gives up to rounding, without two norms per pair.
func (m Metric) BlockDistance(q, block, out []float32) {
	switch m {
	case L2:
		L2SqBlock(q, block, out)
	case IP:
		DotBlock(q, block, out)
		for i, v := range out {
			out[i] = -v
		}
	case Cosine:
		DotBlock(q, block, out)
		for i, v := range out {
			out[i] = 1 - v
		}
	default:
		panic("vector: distance of an unknown metric")
	}
}

// dotGeneric is the reference: the plain loop, one product after another.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func l2SqGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

func dotBlockGeneric(q, block, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = dotGeneric(q, block[i*d:(i+1)*d])
	}
}

func l2SqBlockGeneric(q, block, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = l2SqGeneric(q, block[i*d:(i+1)*d])
	}
}
