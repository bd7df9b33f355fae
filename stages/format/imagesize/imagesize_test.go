package imagesize

import (
	"fmt"
	"math"
	"testing"
)

func TestSqrt(t *testing.T) {
	for _, tt := range []struct{ n, want int64 }{
		{math.MinInt64, 0},
		{-1, 0},
		{0, 0},
		{1, 1},
		{2, 1},
		{3, 1},
		{4, 2},
		{99, 9},
		{100, 10},
		{1<<62 - 1, 1<<31 - 1},
		{1 << 62, 1 << 31},
		// Near the top, where squaring the answer plus one overflows and a
		// float root rounds.
		{3037000499 * 3037000499, 3037000499},
		{3037000499*3037000499 - 1, 3037000498},
		{math.MaxInt64, 3037000499},
		{(1<<53 + 1) * 1, 94906265},
		{94906267 * 94906267, 94906267},
		{94906267*94906267 - 1, 94906266},
	} {
		if got := Sqrt(tt.n); got != tt.want {
			t.Errorf("Sqrt(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	// The definition, for every n up to a few hundred thousand.
	r := int64(0)
	for n := int64(0); n <= 300000; n++ {
		if (r+1)*(r+1) <= n {
			r++
		}
		if got := Sqrt(n); got != r {
			t.Fatalf("Sqrt(%d) = %d, want %d", n, got, r)
		}
	}
}

// formats are Len functions shaped like the real ones, scaled down so that
// their edge cases (the side limit, stored-block boundaries, padding that
// cannot be shorter than its overhead) show at sizes a brute-force search
// can cover.
var formats = []struct {
	name string
	f    Format
}{
	// jpeg: a fixed header and 64 bytes a block; the side limit binds
	// from 18×18 blocks on.
	{"jpeg-like", Format{Len: func(w, h int64) int64 { return 218 - 64 + 64*w*h }, MinPad: 4, MaxSide: 18}},
	// png: 3 bytes a pixel and a filter byte a row, in stored blocks of at
	// most 50 bytes with 17 bytes of overhead each.
	{"png-like", Format{Len: func(w, h int64) int64 {
		raw := h * (1 + 3*w)
		return 57 + 17*((raw+49)/50) + raw
	}, MinPad: 12, MaxSide: 1<<31 - 1}},
	{"one byte a pixel", Format{Len: func(w, h int64) int64 { return w * h }, MinPad: 1, MaxSide: 1 << 20}},
	{"no padding", Format{Len: func(w, h int64) int64 { return w * h }, MinPad: 1 << 40, MaxSide: 1 << 20}},
}

// bruteFit is Fit by its definition: every w×h in range, the longest file,
// then the tallest image.
func bruteFit(f Format, size int64) (w, h, n int64) {
	for hh := int64(1); hh <= f.MaxSide && f.Len(hh, hh) <= size; hh++ {
		for ww := hh; ww <= min(2*hh, f.MaxSide); ww++ {
			k := f.Len(ww, hh)
			if k > size {
				break
			}
			if pad := size - k; (pad == 0 || pad >= f.MinPad) && (k > n || k == n && hh > h) {
				w, h, n = ww, hh, k
			}
		}
	}
	return w, h, n
}

func TestFitIsTheBest(t *testing.T) {
	for _, tt := range formats {
		t.Run(tt.name, func(t *testing.T) {
			fits := 0
			for size := int64(0); size <= 30000; size++ {
				w, h, n := tt.f.Fit(size)
				bw, bh, bn := bruteFit(tt.f, size)
				if w != bw || h != bh || n != bn {
					t.Fatalf("Fit(%d) = %d×%d of %d bytes, want %d×%d of %d", size, w, h, n, bw, bh, bn)
				}
				if n > 0 {
					fits++
				}
			}
			if fits < 5000 {
				t.Errorf("only %d sizes fit an image: the table tests too little", fits)
			}
		})
	}
}

// TestFitLarge checks the constraints at sizes too large for the brute
// force: the image is in range, its file fits with legal padding, and no
// image one block wider, or one taller, fits as well.
func TestFitLarge(t *testing.T) {
	for _, tt := range formats[:3] { // every size has a padded image
		for _, size := range []int64{150528, 322957, 1000003, 1 << 30, 1 << 40} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				f := tt.f
				w, h, n := f.Fit(size)
				if h < 1 || w < h || w > 2*h || w > f.MaxSide || n != f.Len(w, h) || n > size {
					t.Fatalf("Fit(%d) = %d×%d of %d bytes: out of range", size, w, h, n)
				}
				if pad := size - n; pad != 0 && pad < f.MinPad {
					t.Fatalf("Fit(%d) = %d×%d leaves %d bytes of padding, less than %d", size, w, h, pad, f.MinPad)
				}
				if w < min(2*h, f.MaxSide) && f.Len(w+1, h) <= size-f.MinPad {
					t.Errorf("Fit(%d) = %d×%d, but %d×%d fits too", size, w, h, w+1, h)
				}
			})
		}
	}
}
