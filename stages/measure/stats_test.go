package measure

import "testing"

func TestMeanStdev(t *testing.T) {
	for _, tc := range []struct {
		xs          []float64
		mean, stdev float64
	}{
		{nil, 0, 0},
		{[]float64{3}, 3, 0},
		// The population stdev (numpy.std), not the sample one (2.138...).
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, 2},
	} {
		if m, s := MeanStdev(tc.xs); m != tc.mean || s != tc.stdev {
			t.Errorf("MeanStdev(%v) = %v, %v; want %v, %v", tc.xs, m, s, tc.mean, tc.stdev)
		}
	}
}
