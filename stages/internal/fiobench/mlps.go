package fiobench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mlps.dev/mlps/exec/results"
)

// build is the mlps binary the benchmarks of this process share, and
// how many of them are using it.
var build struct {
	mu    sync.Mutex
	users int
	dir   string
	path  string
}

// Binary builds the mlps command for the benchmark tb and returns its
// path. The benchmarks run mlps as a user does, a fresh process per run
// like fio's, so that both sides' CPU comes from the rusage of their
// processes and no run inherits another's heap. Benchmarks running at
// once share one build; the directory holding it is removed when the last
// of them ends, so no run leaves a binary behind in the host's temporary
// directory.
func Binary(tb testing.TB) string {
	tb.Helper()
	build.mu.Lock()
	defer build.mu.Unlock()
	if build.users == 0 {
		dir, err := os.MkdirTemp("", "mlps-bench-bin")
		if err != nil {
			tb.Fatal(err)
		}
		path := filepath.Join(dir, "mlps")
		var stderr bytes.Buffer
		cmd := exec.Command("go", "build", "-o", path, "mlps.dev/mlps/cmd/mlps")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			tb.Fatalf("go build mlps: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
		build.dir, build.path = dir, path
	}
	build.users++
	tb.Cleanup(func() {
		build.mu.Lock()
		defer build.mu.Unlock()
		if build.users--; build.users == 0 {
			os.RemoveAll(build.dir)
			build.dir, build.path = "", ""
		}
	})
	return build.path
}

// Exec runs `mlps exec` on the workload src in a fresh process, its
// results in a new directory under dir, and returns the report it wrote.
func Exec(ctx context.Context, bin, src, dir string) (*results.Report, error) {
	tmp, err := os.MkdirTemp(dir, "mlps-run")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	wl := filepath.Join(tmp, "workload.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		return nil, err
	}
	res := filepath.Join(tmp, "results")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "exec", wl, "--results", res, "--progress", "none")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("mlps exec: %v: %s", err, strings.TrimSpace(out.String()))
	}
	rep, err := results.Load(res)
	if err != nil {
		return nil, err
	}
	if !rep.Complete {
		return nil, fmt.Errorf("mlps exec: the run did not complete: %s", strings.TrimSpace(out.String()))
	}
	return rep, nil
}

// Number is a metric as a float64, whether the report was made in this
// process (int64) or read back from JSON (float64).
func Number(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	}
	return -1
}
