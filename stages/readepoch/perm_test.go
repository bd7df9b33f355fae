package readepoch

import (
	"math"
	"testing"
	"time"
)

func TestPermutationIsBijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 7, 16, 17, 1000, 4097} {
		for _, key := range []uint64{0, 1, 42} {
			p := newPermutation(n, key, false)
			seen := make([]bool, n)
			moved := 0
			for i := range n {
				v := p.at(i)
				if v >= n || seen[v] {
					t.Fatalf("n=%d key=%d: position %d gives %d (repeat or out of range)", n, key, i, v)
				}
				seen[v] = true
				if v != i {
					moved++
				}
			}
			if n >= 16 && moved < int(n)/2 {
				t.Errorf("n=%d key=%d: only %d of %d positions moved", n, key, moved, n)
			}
		}
	}
	if a, b := newPermutation(100, 1, false), newPermutation(100, 2, false); a.at(5) == b.at(5) && a.at(6) == b.at(6) && a.at(7) == b.at(7) {
		t.Error("keys 1 and 2 give the same order")
	}
	if p := newPermutation(100, 1, true); p.at(42) != 42 {
		t.Error("an off permutation moved an element")
	}
}

// Each distribution's draws have the configured mean and stdev.
func TestComputeDistributions(t *testing.T) {
	tests := []struct {
		typ         string
		mean, stdev float64
		wantStdev   float64
	}{
		{"constant", 0.01, 0, 0},
		{"normal", 0.1, 0.02, 0.02},
		{"uniform", 0.1, 0.02, 0.02},
		{"gamma", 0.1, 0.05, 0.05},
		{"gamma", 0.1, 0.2, 0.2},
		{"exponential", 0.1, 0, 0.1},
		{"poisson", 0.1, 0.02, 0.02},
		{"poisson", 0.1, 0.001, 0.001},
	}
	for _, tt := range tests {
		s := Compute{Type: tt.typ, Mean: tt.mean, Stdev: tt.stdev}.sampler(7, 1, 2)
		const n = 200000
		var sum, sq float64
		for range n {
			v := s.next().Seconds()
			sum += v
			sq += v * v
		}
		mean := sum / n
		stdev := math.Sqrt(sq/n - mean*mean)
		if math.Abs(mean-tt.mean) > 0.01*tt.mean+3*tt.wantStdev/math.Sqrt(n) {
			t.Errorf("%s(%g, %g): mean %g", tt.typ, tt.mean, tt.stdev, mean)
		}
		if math.Abs(stdev-tt.wantStdev) > 0.02*tt.wantStdev+1e-6 {
			t.Errorf("%s(%g, %g): stdev %g, want %g", tt.typ, tt.mean, tt.stdev, stdev, tt.wantStdev)
		}
	}
	max := 0.05
	s := Compute{Type: "normal", Mean: 0.05, Stdev: 0.1, Min: 0.01, Max: &max}.sampler(1, 0, 0)
	for range 1000 {
		if v := s.next(); v < 10*time.Millisecond || v > 50*time.Millisecond {
			t.Fatalf("draw %v outside [min, max]", v)
		}
	}
}
