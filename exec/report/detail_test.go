package report

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// A steps.csv far longer than what is drawn streams into at most
// maxPoints buckets, held in a slice that never grows past them, and the
// buckets keep every byte and second of the file.
func TestReportStepsAreBucketedWhileStreaming(t *testing.T) {
	for _, tc := range []struct {
		ranks, steps int
	}{
		{1, 10},
		{2, maxPoints},
		{2, maxPoints + 1},
		{4, 25 * maxPoints},
	} {
		t.Run(fmt.Sprintf("%d ranks × %d steps", tc.ranks, tc.steps), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "steps.csv")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(f)
			fmt.Fprintln(w, "phase,epoch,rank,step,load_wait_seconds,compute_seconds,step_seconds,bytes_read,measured")
			var bytes int64
			var secs float64
			for s := range tc.steps {
				for r := range tc.ranks {
					b := int64(1000 + s%7)
					sec := 0.001 * float64(1+s%3)
					bytes += b
					secs += sec
					fmt.Fprintf(w, "train,1,%d,%d,0.000100000,0.000500000,%.9f,%d,true\n", r, s, sec, b)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			series, err := readSteps(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(series) != 1 || series[0].Phase != "train" {
				t.Fatalf("series %v", series)
			}
			s := series[0]
			if len(s.buckets) > maxPoints || cap(s.buckets) > 2*maxPoints {
				t.Errorf("%d buckets (capacity %d), want at most %d", len(s.buckets), cap(s.buckets), maxPoints)
			}
			if want := (tc.steps + int(s.width) - 1) / int(s.width); len(s.buckets) != want {
				t.Errorf("%d buckets of %d steps for %d steps, want %d", len(s.buckets), s.width, tc.steps, want)
			}
			var gotBytes int64
			var gotSecs float64
			for _, b := range s.buckets {
				gotBytes += b.bytes
				gotSecs += b.seconds
			}
			if gotBytes != bytes || math.Abs(gotSecs-secs) > 1e-9*secs {
				t.Errorf("buckets hold %d bytes and %v s, the file %d and %v", gotBytes, gotSecs, bytes, secs)
			}
			x, y := s.points()
			if len(x) != len(s.buckets) || len(y) != len(x) {
				t.Errorf("%d points of %d buckets", len(x), len(s.buckets))
			}
			// The last point is at the ranks' mean total step time.
			if end := secs / float64(tc.ranks); math.Abs(x[len(x)-1]-end) > 1e-9*end {
				t.Errorf("the last point at %v s, the steps took %v s per rank", x[len(x)-1], end)
			}
		})
	}
}

// A steps.csv cut short in its last line (a run killed while writing
// it) is drawn up to that line, and says so.
func TestReportStepsCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.csv")
	src := "phase,epoch,rank,step,load_wait_seconds,compute_seconds,step_seconds,bytes_read,measured\n" +
		"train,1,0,0,0.1,0.2,0.5,1000000,true\n" +
		"train,1,0,1,0.1,0.2,0.5,1000000,true\n" +
		"train,1,0,2,0.1"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	series, err := readSteps(path)
	if err != nil {
		t.Fatal(err)
	}
	x, y := series[0].points()
	if len(x) != 2 || y[0] != 2 || !series[0].Cut {
		t.Errorf("points %v %v, cut %t: want 2 points of 2 MB/s, cut", x, y, series[0].Cut)
	}
}
