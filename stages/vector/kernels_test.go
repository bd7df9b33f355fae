package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refDot and refL2Sq are the float64 references the kernels are held to.
func refDot(a, b []float32) (sum, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		sum += p
		abs += math.Abs(p)
	}
	return sum, abs
}

func refL2Sq(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

// tolerance is the error bound of a float32 sum of n terms whose absolute
// values add up to abs, in any order and with or without fused
// multiply-adds: n roundings of at most half an ulp of the running sum,
// plus one for each product, doubled for margin.
func tolerance(n int, abs float64) float64 {
	const u = 1.0 / (1 << 24)
	return 2 * float64(n+2) * u * abs
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestKernelsAgainstFloat64 holds Dot, L2Sq and the portable loops to a
// float64 reference at every length from 0 to 300 and at odd offsets into
// their slices, so that every tail and every misalignment is covered.
func TestKernelsAgainstFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kernels := []struct {
		name string
		dot  func(a, b []float32) float32
		l2   func(a, b []float32) float32
	}{
		{"dispatched", Dot, L2Sq},
		{"portable", dotGeneric, l2SqGeneric},
	}
	backA, backB := randVec(r, 320), randVec(r, 320)
	for n := 0; n <= 300; n++ {
		for _, off := range []int{0, 1, 3, 7} {
			a, b := backA[off:off+n], backB[7-off:7-off+n]
			sum, abs := refDot(a, b)
			l2 := refL2Sq(a, b)
			for _, k := range kernels {
				if got := float64(k.dot(a, b)); math.Abs(got-sum) > tolerance(n, abs) {
					t.Errorf("%s Dot, n=%d off=%d: %g, want %g ± %g", k.name, n, off, got, sum, tolerance(n, abs))
				}
				if got := float64(k.l2(a, b)); math.Abs(got-l2) > tolerance(n, l2) {
					t.Errorf("%s L2Sq, n=%d off=%d: %g, want %g ± %g", k.name, n, off, got, l2, tolerance(n, l2))
				}
			}
		}
	}
}

// TestAssemblyAgainstPortable compares the two builds' kernels in one:
// the assembly against the loop that -tags purego and other
// architectures use, on long vectors of large and mixed magnitudes.
func TestAssemblyAgainstPortable(t *testing.T) {
	if !useFMA {
		t.Skip("no AVX2 and FMA here: the portable loop is the only kernel")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 8, 31, 33, 128, 129, 768, 1536, 1543, 4099} {
		a, b := randVec(r, n), randVec(r, n)
		for i := range a {
			a[i] *= float32(math.Exp(4 * r.NormFloat64()))
		}
		_, abs := refDot(a, b)
		if d := math.Abs(float64(Dot(a, b)) - float64(dotGeneric(a, b))); d > 2*tolerance(n, abs) {
			t.Errorf("Dot n=%d: assembly and portable differ by %g", n, d)
		}
		l2 := refL2Sq(a, b)
		if d := math.Abs(float64(L2Sq(a, b)) - float64(l2SqGeneric(a, b))); d > 2*tolerance(n, l2) {
			t.Errorf("L2Sq n=%d: assembly and portable differ by %g", n, d)
		}
	}
}

// TestBlockKernelsMatchSingle checks that a block kernel gives every row
// the same bits as the single kernel, whatever the row's place in the
// block (a pair's first or second, or the odd last), at every tail
// length, and that it writes no output beyond len(out).
func TestBlockKernelsMatchSingle(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{0, 1, 5, 8, 13, 32, 37, 64, 100, 128, 131} {
		for _, rows := range []int{0, 1, 2, 3, 4, 7, 10} {
			q := randVec(r, dim)
			block := randVec(r, rows*dim+3) // longer than needed, as a slice of a shard
			out := make([]float32, rows+1)
			const sentinel = float32(-12345)
			for _, k := range []struct {
				name   string
				block  func(q, block, out []float32)
				single func(a, b []float32) float32
			}{{"Dot", DotBlock, Dot}, {"L2Sq", L2SqBlock, L2Sq}} {
				out[rows] = sentinel
				k.block(q, block, out[:rows])
				for i := range rows {
					if want := k.single(q, block[i*dim:(i+1)*dim]); math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Errorf("%sBlock dim=%d rows=%d row %d: %g, single kernel %g", k.name, dim, rows, i, out[i], want)
					}
				}
				if out[rows] != sentinel {
					t.Errorf("%sBlock dim=%d rows=%d wrote past len(out)", k.name, dim, rows)
				}
			}
		}
	}
}

// TestBlockKernelsPanicOnShortBlock: the assembly must never read past
// the block, so a block too short for len(out) rows is refused first.
func TestBlockKernelsPanicOnShortBlock(t *testing.T) {
	for _, f := range []func(q, block, out []float32){DotBlock, L2SqBlock} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a block of 3 vectors served 4 outputs")
				}
			}()
			f(make([]float32, 8), make([]float32, 3*8), make([]float32, 4))
		}()
	}
}

// TestBlockDistance checks each metric's block distances against
// Distance, giving Cosine unit vectors as its contract asks.
func TestBlockDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const dim, rows = 67, 9
	q, block := randVec(r, dim), randVec(r, rows*dim)
	uq := append([]float32(nil), q...)
	Normalize(uq)
	ublock := append([]float32(nil), block...)
	for i := range rows {
		Normalize(ublock[i*dim : (i+1)*dim])
	}
	out := make([]float32, rows)
	for _, tc := range []struct {
		m        Metric
		q, block []float32
	}{{L2, q, block}, {IP, q, block}, {Cosine, uq, ublock}} {
		tc.m.BlockDistance(tc.q, tc.block, out)
		for i := range rows {
			want := tc.m.Distance(q, block[i*dim:(i+1)*dim])
			if d := math.Abs(float64(out[i] - want)); d > 1e-4*math.Max(1, math.Abs(float64(want))) {
				t.Errorf("%v row %d: %g, Distance %g", tc.m, i, out[i], want)
			}
		}
	}
}
