package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
)

// maxPoints bounds the points of a series drawn from a detail file: a
// steps.csv of millions of lines is drawn from at most this many
// buckets, kept while the file streams by.
const maxPoints = 2000

// stepSeries is one phase of a read-epoch stage's steps.csv, bucketed
// by step: bucket j holds the steps [j×width, (j+1)×width) of every
// rank. Ranks step together (a barrier ends each step), so a rank's
// n-th line of the phase is the phase's n-th step.
type stepSeries struct {
	Phase string
	// Cut is set when the file ends in a line that does not parse (a
	// run killed while writing it): what came before is drawn.
	Cut     bool
	width   int64
	buckets []stepBucket
	next    map[int]int64 // the rank's steps seen so far
}

type stepBucket struct {
	bytes   int64
	seconds float64 // every rank's step times, summed
}

func (s *stepSeries) add(rank int, bytes int64, seconds float64) {
	i := s.next[rank]
	s.next[rank] = i + 1
	j := i / s.width
	for j >= maxPoints {
		// Halve the resolution: pairs of buckets become one.
		for k := range len(s.buckets) / 2 {
			a, b := s.buckets[2*k], s.buckets[2*k+1]
			s.buckets[k] = stepBucket{a.bytes + b.bytes, a.seconds + b.seconds}
		}
		if len(s.buckets)%2 == 1 {
			s.buckets[len(s.buckets)/2] = s.buckets[len(s.buckets)-1]
		}
		s.buckets = s.buckets[:(len(s.buckets)+1)/2]
		s.width *= 2
		j = i / s.width
	}
	for int64(len(s.buckets)) <= j {
		s.buckets = append(s.buckets, stepBucket{})
	}
	s.buckets[j].bytes += bytes
	s.buckets[j].seconds += seconds
}

// points are the series to draw: at the end of each bucket's steps (the
// ranks' mean step time, summed from the phase's first step), the bytes
// all ranks read in them over that time, in MB/s.
func (s *stepSeries) points() (x, y []float64) {
	ranks := float64(len(s.next))
	var t float64
	for _, b := range s.buckets {
		d := b.seconds / ranks
		if d <= 0 {
			continue
		}
		t += d
		x = append(x, t)
		y = append(y, float64(b.bytes)/1e6/d)
	}
	return x, y
}

// readSteps streams a steps.csv into a series per phase, in the order
// the phases first appear; nil for a stage that wrote none.
func readSteps(path string) ([]*stepSeries, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	head, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range []string{"phase", "rank", "step_seconds", "bytes_read"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: no column %s", path, h)
		}
	}
	var out []*stepSeries
	byPhase := map[string]*stepSeries{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A run killed while writing leaves a last line cut short:
			// what came before it stands.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				for _, s := range out {
					s.Cut = true
				}
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rank, err1 := strconv.Atoi(rec[col["rank"]])
		secs, err2 := strconv.ParseFloat(rec[col["step_seconds"]], 64)
		bytes, err3 := strconv.ParseInt(rec[col["bytes_read"]], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		ph := rec[col["phase"]]
		s, ok := byPhase[ph]
		if !ok {
			s = &stepSeries{Phase: ph, width: 1, next: map[int]int64{}}
			byPhase[ph] = s
			out = append(out, s)
		}
		s.add(rank, bytes, secs)
	}
	return out, nil
}

// rankRates are a checkpoint stage's ranks.jsonl folded per phase and
// rank: each rank's bandwidth (its bytes over its own time) summed over
// the checkpoints, to be averaged. Memory is a figure per rank.
type rankRates struct {
	phases []string
	ranks  []int64
	sum    map[string]map[int64]float64
	n      map[string]map[int64]int
	// cut is set when the file ends in a line that does not parse (a
	// run killed while writing it): what came before is drawn.
	cut bool
}

func readRanks(path string) (*rankRates, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rr := &rankRates{sum: map[string]map[int64]float64{}, n: map[string]map[int64]int{}}
	seen := map[int64]bool{}
	dec := json.NewDecoder(f)
	for {
		var l struct {
			Phase   string  `json:"phase"`
			Rank    int64   `json:"rank"`
			Bytes   int64   `json:"bytes"`
			Seconds float64 `json:"seconds"`
		}
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			rr.cut = true
			break
		}
		if l.Seconds <= 0 || l.Phase == "" {
			continue
		}
		if rr.sum[l.Phase] == nil {
			rr.phases = append(rr.phases, l.Phase)
			rr.sum[l.Phase], rr.n[l.Phase] = map[int64]float64{}, map[int64]int{}
		}
		if !seen[l.Rank] {
			seen[l.Rank] = true
			rr.ranks = append(rr.ranks, l.Rank)
		}
		rr.sum[l.Phase][l.Rank] += float64(l.Bytes) / (1 << 30) / l.Seconds
		rr.n[l.Phase][l.Rank]++
	}
	slices.Sort(rr.ranks)
	return rr, nil
}
