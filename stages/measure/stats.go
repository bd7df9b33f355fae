package measure

import "math"

// MeanStdev returns the mean and the population standard deviation of xs,
// as NumPy's mean and std compute them for DLIO; 0, 0 for none.
func MeanStdev(xs []float64) (mean, stdev float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		stdev += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(stdev / float64(len(xs)))
}
