package readepoch_test

import (
	"context"
	"encoding/csv"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
)

// slowmem:// is the mem backend behind a decorator that makes every read
// take a fixed time (?delay=100ms), standing in for storage of known
// latency so the test can compute the AU it must produce.
func init() {
	backends.Register(backends.Scheme{
		Name: "slowmem",
		Check: func(u *url.URL, _ *backends.Config) (string, error) {
			_, err := time.ParseDuration(u.Query().Get("delay"))
			return "", err
		},
		Open: func(ctx context.Context, u *url.URL, _ *backends.Config) (backends.Backend, error) {
			d, _ := time.ParseDuration(u.Query().Get("delay"))
			b, err := backends.Open(ctx, "mem://")
			if err != nil {
				return nil, err
			}
			return &slow{Backend: b, delay: d}, nil
		},
	})
}

type slow struct {
	backends.Backend
	delay time.Duration
}

// reads holds how long each read through slowmem took, from Open to
// Close, in order: the storage time the loader really saw, which a loaded
// machine stretches beyond the nominal delay.
var reads struct {
	sync.Mutex
	took []time.Duration
}

func (s *slow) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	start := time.Now()
	time.Sleep(s.delay)
	r, err := s.Backend.Open(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	return &timedReader{ReadCloser: r, start: start}, nil
}

type timedReader struct {
	io.ReadCloser
	start time.Time
}

func (r *timedReader) Close() error {
	err := r.ReadCloser.Close()
	reads.Lock()
	reads.took = append(reads.took, time.Since(r.start))
	reads.Unlock()
	return err
}

const auWorkload = `name: "au"
targets: m: uri: "URI"
datasets: d: {target: "m", format: "npz", files: FILES, record_bytes: 65536}
stages: {
	g: {kind: "generate", dataset: "d"}
	r: {kind: "read-epoch", dataset: "d", epochs: 1, accelerators: RANKS, batch_size: 1, read_threads: 1,
		computation_time: COMPUTE}
}
`

// The two AU figures the issue pins: storage far faster than compute keeps
// the accelerators busy (AU ≥ 99 %), and storage slower than compute gives
// AU = compute ÷ I/O time. One read thread, one file per batch: the loader
// delivers a batch every I/O time and the accelerator computes for part of
// it. A loaded machine oversleeps both the emulated compute and the
// emulated storage latency (a 50 ms / 100 ms pair came out as 55.5 %), so
// the I/O-bound case does not compare against the nominal ratio: it
// computes the ratio from the compute time each step really took
// (steps.csv) and the time each read really took (timed at the backend),
// which holds however the scheduler stretches either.
func TestAUAnalytic(t *testing.T) {
	tests := []struct {
		name, uri, compute, files, ranks string
		// want is the nominal AU; io-bound cases check the measured ratio
		// instead, within tol.
		want, tol float64
		ioBound   bool
	}{
		{"mem", "mem://", "0.01", "40", "1", 99.5, 0.5, false},
		// 200 ms reads against 100 ms of compute: at 100 ms / 50 ms a
		// CI run busy with other packages' I/O measured 52.22 % against
		// a ratio of 49.66 %, scheduling delays around each read being a
		// larger share of a shorter one.
		{"io-twice-compute", "slowmem://?delay=200ms", "0.1", "12", "1", 50, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("URI", tt.uri, "COMPUTE", tt.compute, "FILES", tt.files, "RANKS", tt.ranks).Replace(auWorkload)
			dir := filepath.Join(t.TempDir(), "results")
			reads.Lock()
			reads.took = nil
			reads.Unlock()
			_, rep := exectest.Try(t, src, exec.Options{Dir: dir})
			if !rep.Complete {
				t.Fatalf("run incomplete: %v", rep.Err)
			}
			au := rep.Stages[1].Metrics["train_au_mean_percentage"].(float64)
			want := tt.want
			if tt.ioBound {
				want = measuredAU(t, filepath.Join(dir, "stages", "r", "steps.csv"))
				t.Logf("AU %.2f%%, measured compute ÷ I/O time %.2f%% (nominal %.0f%%)", au, want, tt.want)
			}
			if math.Abs(au-want) > tt.tol {
				t.Errorf("AU %.2f%%, want %.2f ± %.1f", au, want, tt.tol)
			}
		})
	}
}

// step is one row of a read-epoch's steps.csv.
type step struct {
	phase             string
	epoch, rank       int
	measured          bool
	compute, duration float64 // seconds
	wait              float64 // seconds waiting for the batch
}

// steps reads a read-epoch's steps.csv, its record of what each step of
// each rank really took.
func steps(t *testing.T, path string) []step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(r []string, name string) float64 {
		v, err := strconv.ParseFloat(r[col[name]], 64)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		return v
	}
	var out []step
	for _, r := range rows[1:] {
		out = append(out, step{phase: r[col["phase"]], epoch: int(num(r, "epoch")), rank: int(num(r, "rank")),
			measured: r[col["measured"]] == "true", compute: num(r, "compute_seconds"), duration: num(r, "step_seconds"),
			wait: num(r, "load_wait_seconds")})
	}
	return out
}

// measuredAU is 100 × the mean compute time of the measured steps in
// steps.csv ÷ the mean time of their reads: the AU an I/O-bound pipeline
// gives. The first step waits for its batch with nothing to overlap, so it
// is excluded from the AU (exclude_start_steps 1) and here.
func measuredAU(t *testing.T, stepsCSV string) float64 {
	t.Helper()
	var compute float64
	var measured, n int
	for _, s := range steps(t, stepsCSV) {
		if s.phase != "train" {
			continue
		}
		n++
		if s.measured {
			compute += s.compute
			measured++
		}
	}
	reads.Lock()
	took := reads.took
	reads.Unlock()
	// One read per step, after generate's reads if it made any.
	if measured == 0 || len(took) < n {
		t.Fatalf("%d measured steps of %d, %d reads: want one read per step", measured, n, len(took))
	}
	var io time.Duration
	for _, d := range took[len(took)-measured:] {
		io += d
	}
	return 100 * (compute / float64(measured)) / (io.Seconds() / float64(measured))
}

// measuredThroughput is the mean over epochs of the samples per second the
// ranks together read in their measured steps, from the steps' own times
// in steps.csv.
func measuredThroughput(t *testing.T, stepsCSV string, batch int) float64 {
	t.Helper()
	type key struct{ epoch, rank int }
	n, secs := map[key]int{}, map[key]float64{}
	epochs := map[int]bool{}
	for _, s := range steps(t, stepsCSV) {
		if s.phase == "train" && s.measured {
			k := key{s.epoch, s.rank}
			n[k]++
			secs[k] += s.duration
			epochs[s.epoch] = true
		}
	}
	var sum float64
	for k := range n {
		sum += float64(n[k]*batch) / secs[k]
	}
	return sum / float64(len(epochs))
}

// stepsAU is the AU the steps' own times in steps.csv give (mean over
// ranks and epochs of 100 × compute ÷ step time of the measured steps), and
// the share of that compute time the ranks spent waiting for batches.
func stepsAU(t *testing.T, stepsCSV string) (au, waitShare float64) {
	t.Helper()
	type key struct{ epoch, rank int }
	compute, secs := map[key]float64{}, map[key]float64{}
	var wait, computed float64
	for _, s := range steps(t, stepsCSV) {
		if s.phase == "train" && s.measured {
			k := key{s.epoch, s.rank}
			compute[k] += s.compute
			secs[k] += s.duration
			wait += s.wait
			computed += s.compute
		}
	}
	for k := range compute {
		au += 100 * compute[k] / secs[k]
	}
	return au / float64(len(compute)), wait / computed
}
