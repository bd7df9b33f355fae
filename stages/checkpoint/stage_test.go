package checkpoint_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
)

// small is a model of a few MiB per checkpoint: 4 ranks, ZeRO-3.
func small(uri, extra string) string {
	return fmt.Sprintf(`name: "ckpt"
targets: t: uri: %q
stages: c: {
	kind: "checkpoint", target: "t", path: "ck"
	model: {name: "tiny", layers: 4, hidden: 200, ffn: 700, heads: 8, kv_heads: 2, vocab: 3000}
	parallelism: {tensor: 2, data: 2, zero: 3}
	chunk_bytes: 65536
	%s
}
`, uri, extra)
}

type rankLine struct {
	Phase      string  `json:"phase"`
	Checkpoint int     `json:"checkpoint"`
	Rank       int64   `json:"rank"`
	Files      int     `json:"files"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

func ranksFile(t *testing.T, dir string) []rankLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "stages", "c", "ranks.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []rankLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l rankLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// Each save's and load's duration is its slowest rank's, its throughput
// all ranks' bytes over that; the per-rank figures are in ranks.jsonl,
// and the means and stdevs summarise the checkpoints.
func TestMetricsFollowTheSlowestRank(t *testing.T) {
	p := exectest.Plan(t, small("mem://", "writes: 3, reads: 2, verify: true"))
	dir := t.TempDir()
	rep := exec.Run(t.Context(), p, exec.Options{Dir: dir})
	if !rep.Complete {
		t.Fatalf("run incomplete: %v", rep.Err)
	}
	m := rep.Stages[0].Metrics
	size := m["checkpoint_bytes"].(int64)
	lines := ranksFile(t, dir)
	if len(lines) != 4*5 {
		t.Fatalf("%d per-rank lines, want 4 ranks × 5 phases", len(lines))
	}
	for _, ph := range []struct {
		name string
		n    int
	}{{"save", 3}, {"load", 2}} {
		durs := m[ph.name+"_checkpoint_durations_seconds"].([]float64)
		rates := m[ph.name+"_checkpoint_io_GB_per_second"].([]float64)
		if len(durs) != ph.n || len(rates) != ph.n {
			t.Fatalf("%s: %d durations, %d rates, want %d", ph.name, len(durs), len(rates), ph.n)
		}
		var sum float64
		for k := range ph.n {
			var slowest float64
			var bytes int64
			for _, l := range lines {
				if l.Phase == ph.name && l.Checkpoint == k+1 {
					slowest = max(slowest, l.Seconds)
					bytes += l.Bytes
				}
			}
			if bytes != size || durs[k] != slowest {
				t.Errorf("%s %d: %d bytes over %v s, ranks say %d over %v (slowest)", ph.name, k+1, size, durs[k], bytes, slowest)
			}
			if want := float64(size) / (1 << 30) / slowest; math.Abs(rates[k]-want) > 1e-9*want {
				t.Errorf("%s %d: %v GB/s, want %v", ph.name, k+1, rates[k], want)
			}
			sum += durs[k]
		}
		if got := m[ph.name+"_checkpoint_duration_mean_seconds"].(float64); math.Abs(got-sum/float64(ph.n)) > 1e-12 {
			t.Errorf("%s mean duration %v, want %v", ph.name, got, sum/float64(ph.n))
		}
	}
	if rep.Stages[0].Measured.Bytes != 5*size {
		t.Errorf("measured %d bytes, want 5 × %d", rep.Stages[0].Measured.Bytes, size)
	}
}

// A byte changed on storage is found when loading with verify, and the
// error names the rank, the file and the offset; a short or a long file
// says so.
func TestVerifyFindsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(string) error
		want   string
	}{
		{"flipped byte", func(p string) error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			b := make([]byte, 1)
			f.ReadAt(b, 100_003)
			b[0] ^= 0x10
			_, err = f.WriteAt(b, 100_003)
			return err
		}, "rank 3, file ck/global_step1/zero_pp_rank_1_mp_rank_1_optim_states.pt: byte 100003 differs"},
		{"longer", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("tail"))
			return f.Close()
		}, "ck/global_step1/zero_pp_rank_1_mp_rank_1_optim_states.pt goes on past the"},
		{"truncated", func(p string) error { return os.Truncate(p, 70_000) },
			"ck/global_step1/zero_pp_rank_1_mp_rank_1_optim_states.pt is 70000 bytes, but rank 3 saved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			exectest.Run(t, small("file://"+dir, "writes: 1, reads: 0"))
			if err := tc.damage(filepath.Join(dir, "ck/global_step1/zero_pp_rank_1_mp_rank_1_optim_states.pt")); err != nil {
				t.Fatal(err)
			}
			_, rep := exectest.Try(t, small("file://"+dir, "writes: 0, reads: 1, verify: true"), exec.Options{})
			if rep.Complete || rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", rep.Err, tc.want)
			}
			// The failed load's figures say they are partial and hold
			// no load.
			m := rep.Stages[0].Metrics
			if _, ok := m["load_checkpoint_io_mean_GB_per_second"]; ok || m["partial"] != true || m["checkpoints_planned_loads"] != 1 {
				t.Errorf("metrics of a failed load: %v", m)
			}
		})
	}
}

// With O_DIRECT, files whose sizes are not whole blocks are written and
// read back intact.
func TestODirect(t *testing.T) {
	dir := t.TempDir()
	_, rep := exectest.Try(t, small("file://"+dir, "writes: 1, reads: 1, verify: true, odirect: true"), exec.Options{})
	if !rep.Complete {
		if strings.Contains(fmt.Sprint(rep.Err), "invalid argument") {
			t.Skipf("O_DIRECT not supported under %s: %v", dir, rep.Err)
		}
		t.Fatalf("run incomplete: %v", rep.Err)
	}
	m := rep.Stages[0].Metrics
	if m["save_bytes"] != m["checkpoint_bytes"] || m["load_bytes"] != m["checkpoint_bytes"] {
		t.Errorf("saved %v, loaded %v, checkpoint %v", m["save_bytes"], m["load_bytes"], m["checkpoint_bytes"])
	}
	if m["checkpoint_bytes"].(int64)%4096 == 0 {
		t.Error("the test model's files are whole blocks: it does not test the short tail")
	}
	if _, ok := m["page_cache"]; !ok {
		t.Error("no page cache note: the files were not evicted between save and load")
	}
}

// A subset run saves what its ranks of the full-size model save, and says
// what the full run would.
func TestSubset(t *testing.T) {
	_, rep := exectest.Run(t, small("mem://", "writes: 1, reads: 1, ranks: 2"))
	m := rep.Stages[0].Metrics
	if m["subset"] != true || m["ranks"] != int64(2) || m["full_run_ranks"] != int64(4) {
		t.Errorf("subset %v, ranks %v of %v", m["subset"], m["ranks"], m["full_run_ranks"])
	}
	// ZeRO-3 shards evenly: two of four ranks save half.
	if 2*m["checkpoint_bytes"].(int64) != m["full_run_checkpoint_bytes"].(int64) {
		t.Errorf("subset %v bytes, full run %v", m["checkpoint_bytes"], m["full_run_checkpoint_bytes"])
	}
}
