package generate_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
)

const nullWorkload = `name: "null-flat"
targets: n: uri: "null://"
datasets: d: {target: "n", path: "tiny", format: "%s", files: %d, samples_per_file: 1,
	record_bytes: 512, subfolders: 16}
stages: g: {kind: "generate", dataset: "d", workers: 4, write_bytes: 4096}
`

// Memory is bounded by configuration, never by dataset size: generating
// ten times the files into null://, which keeps nothing, leaves the live
// heap where it was. The figure compared is the largest live heap any
// garbage collection found during the run, and the heap in use once the
// run is over and collected, each against the same figure for a tenth of
// the files. The bound after the run, 512 KiB more, fails on 30 bytes kept
// per file (a map of the names would keep some 100); the live heap during
// the run also holds whatever garbage a collection met, so its bound is
// looser, a quarter more and 1 MiB.
func TestGenerateIntoNullMemoryFlat(t *testing.T) {
	// The run keeps the processors the test runs on (exec raises them to
	// the stage's workers unless GOMAXPROCS is set): with more, each
	// collection meets more garbage in flight, and the live-heap bound
	// was set for these.
	t.Setenv("GOMAXPROCS", fmt.Sprint(runtime.GOMAXPROCS(0)))
	for _, format := range []string{"jpeg", "npz"} {
		t.Run(format, func(t *testing.T) {
			small, smallAfter := generateHeap(t, format, 2_000)
			large, largeAfter := generateHeap(t, format, 20_000)
			t.Logf("median live heap: %d bytes for 2,000 files, %d for 20,000; in use after: %d and %d", small, large, smallAfter, largeAfter)
			if float64(large) > 1.25*float64(small)+1<<20 {
				t.Errorf("median live heap %d bytes for 20,000 files, %d for 2,000: memory grows with the files", large, small)
			}
			if largeAfter > smallAfter+512<<10 {
				t.Errorf("heap in use after the run %d bytes for 20,000 files, %d for 2,000: something is kept per file", largeAfter, smallAfter)
			}
		})
	}
}

// generateHeap generates files files into null:// and returns the median
// of the live heap the garbage collections found during the run, and the
// heap in use after it, collected, with the run's report still held.
func generateHeap(t *testing.T, format string, files int) (live, after uint64) {
	// Loading and planning (CUE) is outside: its garbage is no run's.
	p := exectest.Plan(t, fmt.Sprintf(nullWorkload, format, files))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var mu sync.Mutex
	var seen []uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			seen = append(seen, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	rep := exec.Run(t.Context(), p, exec.Options{})
	close(stop)
	<-done
	if !rep.Complete {
		t.Fatalf("run incomplete: %v", rep.Err)
	}
	if got := rep.Stages[0].Measured.Count; got != uint64(files) {
		t.Fatalf("%d files written, want %d", got, files)
	}
	slices.Sort(seen)
	live = seen[len(seen)/2]
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(rep)
	return live, ms.HeapInuse
}
