// Package imagesize chooses the dimensions of the images that the jpeg and
// png writers lay out to an exact file size: the image whose file comes
// closest to the size from below, among widths of one to two times the
// height, with padding making up the rest. The formats differ in how a
// file's length follows from the image's dimensions and in the least
// padding they can add; the search is the same, so it lives here once.
package imagesize

import "math"

// Sqrt returns the largest r with r*r <= n, and 0 for n <= 0. It is exact
// for every int64, where a float square root is not.
func Sqrt(n int64) int64 {
	if n <= 0 {
		return 0
	}
	// The float root is within one of the answer; the divisions correct
	// it without squaring, which could overflow near MaxInt64.
	r := int64(math.Sqrt(float64(n)))
	for r > n/r {
		r--
	}
	for r+1 <= n/(r+1) {
		r++
	}
	return r
}

// Format is how a format's file length follows from its image's
// dimensions. The units of width and height are the format's own: pixels
// for png, 8×8 blocks for jpeg.
type Format struct {
	// Len returns the length of the file of a w×h image before padding.
	// It must grow with w and with h, and be at least w*h, which bounds
	// the search.
	Len func(w, h int64) int64
	// MinPad is the least padding a file can carry besides none: a
	// padding segment's own overhead.
	MinPad int64
	// MaxSide is the largest width or height the format can record.
	MaxSide int64
}

// Fit returns the image for a file of size bytes: of all w×h with
// h <= w <= 2h, both at most MaxSide, whose length n = Len(w, h) is at
// most size and leaves padding of 0 or at least MinPad bytes, the one with
// the longest n, and of equally long ones the squarest. It returns
// 0, 0, 0 when no image fits.
//
// It tries heights from the tallest that fits down, and stops once even
// the widest image of a height cannot beat the best found: about 0.3·h
// heights, under a hundred for a 300 KB png. As the height falls the
// widest width that fits it only grows, so one width, moved only forward,
// finds it for every height: no search and no inverse of Len per height.
func (f Format) Fit(size int64) (w, h, n int64) {
	// The tallest square that fits, by bisection; Len >= w*h bounds it.
	lo, hi := int64(0), min(f.MaxSide, Sqrt(size))
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if f.Len(mid, mid) <= size {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	widest := lo // the widest width that fits height hh, at most its top
	for hh := lo; hh >= 1 && n < size; hh-- {
		top := min(2*hh, f.MaxSide)
		widest = min(widest, top)
		k := f.Len(widest, hh)
		for widest < top {
			next := f.Len(widest+1, hh)
			if next > size {
				break
			}
			widest, k = widest+1, next
		}
		if widest == top && k <= n {
			break // even this height's widest image cannot beat the best; nor can a shorter one
		}
		for ww := widest; ww >= hh; ww-- {
			if ww < widest {
				k = f.Len(ww, hh)
			}
			if pad := size - k; pad == 0 || pad >= f.MinPad {
				if k > n {
					w, h, n = ww, hh, k
				}
				break
			}
		}
	}
	return w, h, n
}
