package pairbench

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// scripted is a side whose n-th run takes secs[n mod len] seconds for the
// same work, and which records the order in which sides ran.
func scripted(name string, bytes int64, secs []float64, order *[]string) Side {
	n := 0
	return Side{Name: name, Run: func(context.Context) (Run, error) {
		*order = append(*order, name)
		s := secs[n%len(secs)]
		n++
		return Run{Bytes: bytes, Files: 4, Seconds: s}, nil
	}}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name      string
		c         Config
		a, b      []float64 // seconds per run
		pairs     int
		ratio     float64
		min, max  float64
		wantError string
	}{
		{name: "steady", a: []float64{2}, b: []float64{1}, pairs: 7, ratio: 0.5, min: 0.5, max: 0.5},
		// mlps twice as fast in every other pair: the spread stays wide,
		// so pairs go on to the cap.
		{name: "wide spread runs to the cap", c: Config{MaxPairs: 11}, a: []float64{1, 2}, b: []float64{1},
			pairs: 11, ratio: 1, min: 0.5, max: 1},
		{name: "budget spent stops at the minimum", c: Config{Budget: time.Nanosecond}, a: []float64{1, 2}, b: []float64{1},
			pairs: 7, ratio: 1, min: 0.5, max: 1},
		{name: "more minimum pairs", c: Config{MinPairs: 9}, a: []float64{1}, b: []float64{1}, pairs: 9, ratio: 1, min: 1, max: 1},
		// One slow pair in seven: at 7 pairs the confidence interval is
		// the whole range, at 9 it leaves the slowest pair out and is
		// [1, 1], so the pairs stop there rather than at the cap.
		{name: "an outlier does not run to the cap", a: []float64{1, 1, 1, 1, 1, 1, 2}, b: []float64{1},
			pairs: 9, ratio: 1, min: 0.5, max: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var order []string
			if tc.c.Budget == 0 {
				tc.c.Budget = time.Hour
			}
			tc.c.Name = tc.name
			r, err := compare(context.Background(), tc.c,
				scripted("mlps", 1e9, tc.a, &order), scripted("fio", 1e9, tc.b, &order), func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			if r.Pairs != tc.pairs || r.Ratio != tc.ratio || r.RatioMin != tc.min || r.RatioMax != tc.max {
				t.Errorf("got %d pairs, ratio %g [%g, %g]; want %d, %g [%g, %g]",
					r.Pairs, r.Ratio, r.RatioMin, r.RatioMax, tc.pairs, tc.ratio, tc.min, tc.max)
			}
			if r.Bytes != 1e9 || r.Files != 4 || r.Unit != "MB/s" {
				t.Errorf("result %+v: want 1e9 bytes in 4 files per run, MB/s", r)
			}
			// Pairs alternate who goes first: mlps fio, fio mlps, ...
			for p := 0; p < len(order)/2; p++ {
				want := []string{"mlps", "fio"}
				if p%2 == 1 {
					want = []string{"fio", "mlps"}
				}
				if order[2*p] != want[0] || order[2*p+1] != want[1] {
					t.Fatalf("pair %d ran %v, want %v (all: %v)", p+1, order[2*p:2*p+2], want, order)
				}
			}
		})
	}
}

// MedianCI's ranks are those of the standard tables of distribution-free
// confidence intervals for a median at 95%.
func TestMedianCI(t *testing.T) {
	for _, tc := range []struct{ n, k int }{
		{1, 0}, {5, 0}, {6, 1}, {7, 1}, {8, 1}, {9, 2}, {10, 2}, {11, 2}, {12, 3},
		{20, 6}, {21, 6}, {30, 10}, {41, 14}, {100, 40},
	} {
		if got := ciRank(tc.n); got != tc.k {
			t.Errorf("ciRank(%d) = %d, want %d", tc.n, got, tc.k)
		}
		xs := make([]float64, tc.n)
		for i := range xs {
			xs[i] = float64(tc.n - i) // n..1
		}
		lo, hi := MedianCI(xs)
		if tc.k == 0 {
			if !math.IsNaN(lo) || !math.IsNaN(hi) {
				t.Errorf("MedianCI of %d values = %g–%g, want none", tc.n, lo, hi)
			}
			continue
		}
		if lo != float64(tc.k) || hi != float64(tc.n+1-tc.k) {
			t.Errorf("MedianCI of 1..%d = %g–%g, want %d–%d", tc.n, lo, hi, tc.k, tc.n+1-tc.k)
		}
	}
}

// A reference slowed by the run before it when that was mlps's (as fio
// on a virtual machine after a big write) shows as two order medians far
// apart, while the overall median mixes them.
func TestCompareSplitsByOrder(t *testing.T) {
	last := ""
	side := func(name string, secs func() float64) Side {
		return Side{Name: name, Run: func(context.Context) (Run, error) {
			s := secs()
			last = name
			return Run{Bytes: 1e9, Seconds: s}, nil
		}}
	}
	a := side("mlps", func() float64 { return 1 })
	b := side("fio", func() float64 {
		if last == "mlps" {
			return 2
		}
		return 1
	})
	r, err := compare(context.Background(), Config{Name: "order", MaxPairs: 7, Budget: time.Hour}, a, b, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	// Pairs 1, 3, 5, 7 run mlps then fio (fio follows mlps: ratio 2);
	// pairs 2, 4, 6 run fio after the previous pair's fio (ratio 1).
	if r.RatioAFirst != 2 || r.RatioBFirst != 1 || r.Ratio != 2 {
		t.Errorf("ratio %g, %g with mlps first, %g with fio first; want 2, 2, 1", r.Ratio, r.RatioAFirst, r.RatioBFirst)
	}
	if want := []float64{2, 1, 2, 1, 2, 1, 2}; !slices.Equal(r.Ratios, want) {
		t.Errorf("ratios %v, want %v", r.Ratios, want)
	}
	if line := r.Line(); !strings.Contains(line, "(2.00 with mlps first, 1.00 with fio first)") {
		t.Errorf("line %q does not give the order medians", line)
	}
}

func TestCompareRefusesUnequalWork(t *testing.T) {
	run := func(bytes, files int64) Side {
		return Side{Name: "x", Run: func(context.Context) (Run, error) { return Run{Bytes: bytes, Files: files, Seconds: 1}, nil }}
	}
	grows := func() Side {
		n := int64(0)
		return Side{Name: "grows", Run: func(context.Context) (Run, error) { n++; return Run{Bytes: n, Seconds: 1}, nil }}
	}
	for _, tc := range []struct {
		name string
		a, b Side
		want string
	}{
		{"fewer bytes", run(100, 2), run(96, 2), "unequal work"},
		{"fewer files", run(100, 2), run(100, 1), "unequal work"},
		{"work changes between runs", grows(), grows(), "its first run"},
		{"nothing moved", run(0, 0), run(0, 0), "nothing to rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compare(context.Background(), Config{Name: tc.name, Budget: time.Hour}, tc.a, tc.b, func(string) {})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestFilesPerSecond(t *testing.T) {
	a := Side{Name: "mlps", Run: func(context.Context) (Run, error) { return Run{Bytes: 3e8, Files: 1000, Seconds: 0.5}, nil }}
	b := Side{Name: "fio", Run: func(context.Context) (Run, error) { return Run{Bytes: 3e8, Files: 1000, Seconds: 0.25}, nil }}
	r, err := compare(context.Background(), Config{Name: "small", Files: true, Budget: time.Hour}, a, b, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if r.Unit != "files/s" || r.ARate != 2000 || r.BRate != 4000 || r.Ratio != 0.5 {
		t.Errorf("got %s %g vs %g, ratio %g; want files/s 2000 vs 4000, 0.5", r.Unit, r.ARate, r.BRate, r.Ratio)
	}
}

// TestItemsPerSecond: a benchmark of computation rates the items it
// names, and refuses sides that did different amounts of them.
func TestItemsPerSecond(t *testing.T) {
	side := func(items int64, secs float64) Side {
		return Side{Name: "x", Run: func(context.Context) (Run, error) { return Run{Bytes: 5e7, Items: items, Seconds: secs}, nil }}
	}
	r, err := compare(context.Background(), Config{Name: "ground truth", Items: "distances", Budget: time.Hour}, side(1e9, 0.5), side(1e9, 2), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if r.Unit != "distances/s" || r.ARate != 2e9 || r.BRate != 5e8 || r.Ratio != 4 || r.Items != 1e9 {
		t.Errorf("got %s %g vs %g, ratio %g, %d items; want distances/s 2e9 vs 5e8, 4, 1e9", r.Unit, r.ARate, r.BRate, r.Ratio, r.Items)
	}
	for _, tc := range []struct {
		name string
		a, b Side
	}{{"unequal items", side(1e9, 1), side(2e9, 1)}, {"no items", side(0, 1), side(0, 1)}} {
		if _, err := compare(context.Background(), Config{Name: tc.name, Items: "distances", Budget: time.Hour}, tc.a, tc.b, func(string) {}); err == nil {
			t.Errorf("%s: compared", tc.name)
		}
	}
}

func TestTable(t *testing.T) {
	rs := []Result{
		{Name: "generate unet3d npz", Flush: "fsync per file", A: "mlps", B: "fio", Unit: "MB/s", Pairs: 7,
			Ratio: 0.97, RatioMin: 0.91, RatioMax: 1.04, RatioLow: 0.91, RatioHigh: 1.04, RatioAFirst: 0.95, RatioBFirst: 0.99, ARate: 1210, BRate: 1250, ACPU: 0.61, BCPU: 0.35},
		{Name: "get 16 MiB", A: "aws", B: "plain", Unit: "MB/s", Pairs: 9, Ratio: 1.01, RatioMin: 0.95, RatioMax: 1.1, RatioLow: 0.98, RatioHigh: 1.05, RatioAFirst: 1, RatioBFirst: 1.02,
			ARate: 900, BRate: 890, ACPU: 0.4, BCPU: 0.41},
	}
	var sb strings.Builder
	for _, r := range rs {
		line, _ := jsonLine(r)
		sb.Write(line)
	}
	back, err := ReadTable([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := Table(back)
	want := `benchmark                          mlps/ref  95% CI     [min–max]    mlps first/ref first  pairs  mlps  ref   unit  mlps CPU s/GB  ref CPU s/GB  flush
generate unet3d npz (mlps vs fio)  0.97      0.91–1.04  [0.91–1.04]  0.95/0.99             7      1210  1250  MB/s  0.61           0.35          fsync per file
get 16 MiB (aws vs plain)          1.01      0.98–1.05  [0.95–1.10]  1.00/1.02             9      900   890   MB/s  0.40           0.41
`
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
