package readepoch_test

import (
	"context"
	"io"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
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

func (s *slow) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	time.Sleep(s.delay)
	return s.Backend.Open(ctx, name, off, n)
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
// the accelerators busy (AU ≥ 99 %), and storage that takes twice the
// compute time per batch gives AU = compute ÷ I/O time = 50 % within two
// points. One read thread, one file per batch: the loader delivers a batch
// every I/O time and the accelerator computes for half of it.
func TestAUAnalytic(t *testing.T) {
	tests := []struct {
		name, uri, compute, files, ranks string
		want, tol                        float64
	}{
		{"mem", "mem://", "0.01", "40", "1", 99.5, 0.5},
		{"io-twice-compute", "slowmem://?delay=100ms", "0.05", "12", "1", 50, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("URI", tt.uri, "COMPUTE", tt.compute, "FILES", tt.files, "RANKS", tt.ranks).Replace(auWorkload)
			_, rep := exectest.Run(t, src)
			au := rep.Stages[1].Metrics["train_au_mean_percentage"].(float64)
			if math.Abs(au-tt.want) > tt.tol {
				t.Errorf("AU %.2f%%, want %.1f ± %.1f", au, tt.want, tt.tol)
			}
		})
	}
}
