package kvcache_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"testing"

	"mlps.dev/mlps/backends/servers"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
)

// option1 is CLOSED option 1 shrunk to 20 users for 20 s and one trial,
// its cache on target, the storage tier limited to storage bytes.
func option1(target string, storage int64) string {
	return fmt.Sprintf(`
import "mlps.dev/workloads/kvcache:option1"

option1
targets: cache: %s
stages: kvcache: {users: 20, duration: 20, trials: 1, storage_bytes: %d, verify: true}
`, target, storage)
}

// summaryKeys are the figures summary.json must carry for a kvcache stage,
// at its top level.
var summaryKeys = []string{"tokens_per_second", "storage_tokens_per_second", "requests_per_second",
	"end_to_end_latency_ms", "storage_latency_ms", "generation_latency_ms", "classes",
	"cache_hit_rate", "read_iops", "write_iops", "tiers", "verdict"}

// TestOption1 runs option 1 shrunk to 20 users for 20 s end to end on
// mem, on local files and on MinIO through both S3 clients, every byte
// read verified, and checks that summary.json holds every figure and the
// verdict, with each latency check's value and limit.
func TestOption1(t *testing.T) {
	const gib = 1 << 30
	for _, tt := range []struct {
		name    string
		target  func(t *testing.T) string
		storage int64
		fast    bool
	}{
		{"mem", func(t *testing.T) string {
			// mem:// holds the storage tier in this process: up to 3.5 GiB
			// of entries of up to 3.1 GiB each (coding's 25,000 tokens),
			// and, while the mem backend grows an object as it is
			// written, their garbage; the collector is kept close to
			// them.
			old := debug.SetMemoryLimit(6 * gib)
			t.Cleanup(func() { debug.SetMemoryLimit(old) })
			return `{uri: "mem://"}`
		}, 3.5 * gib, true},
		{"file", func(t *testing.T) string { return fmt.Sprintf(`{uri: "file://%s"}`, t.TempDir()) }, 16 * gib, false},
		{"minio-aws", minio("aws"), 16 * gib, false},
		{"minio-minio", minio("minio"), 16 * gib, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, rep := exectest.Run(t, option1(tt.target(t), tt.storage))
			b, err := json.Marshal(results.Summarize(rep))
			if err != nil {
				t.Fatal(err)
			}
			var sum map[string]any
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Fatal(err)
			}
			for _, k := range summaryKeys {
				if _, ok := sum[k]; !ok {
					t.Errorf("summary.json has no %s", k)
				}
			}
			m := rep.Stages[0].Metrics
			if rep.Stages[0].Measured.Bytes <= 0 || m["requests_completed"].(int64)+m["requests_abandoned"].(int64) == 0 {
				t.Errorf("nothing served: %d bytes measured, %v", rep.Stages[0].Measured.Bytes, m)
			}
			st, _ := sum["tiers"].(map[string]any)["storage"].(map[string]any)
			for _, k := range []string{"read_bytes", "write_bytes", "read_latency_ms", "write_latency_ms", "read_device_latency_ms", "write_device_latency_ms", "fsync_latency_ms", "writes_cut"} {
				if _, ok := st[k]; !ok {
					t.Errorf("tiers.storage has no %s: %v", k, st)
				}
			}
			// On disk and on MinIO a request of llama3.1-8b's entries (up
			// to 3.1 GiB, read back up to 26 times) may outlast the run on
			// a loaded machine (file here: 0.2 to 9 requests/s); mem://
			// serves about 12 a second, far from none.
			if tt.fast {
				if n, _ := sum["requests_per_second"].(float64); n <= 0 {
					t.Errorf("requests_per_second %v", sum["requests_per_second"])
				}
				if rb, _ := st["read_bytes"].(float64); rb <= 0 {
					t.Errorf("the storage tier read %v bytes", st["read_bytes"])
				}
			}
			v, _ := sum["verdict"].(map[string]any)
			checks, _ := v["checks"].([]any)
			names := map[string]bool{}
			for _, c := range checks {
				c := c.(map[string]any)
				names[c["name"].(string)] = true
				if _, ok := c["limit"]; !ok {
					t.Errorf("check %v has no limit", c)
				}
			}
			for _, n := range []string{"storage_write_latency_p95_ms", "storage_read_latency_p95_ms", "cpu_tier_latency_p95_ms", "cache_hit_rate"} {
				if !names[n] {
					t.Errorf("the verdict has no check %s: %v", n, v)
				}
			}
			if _, ok := v["pass"].(bool); !ok {
				t.Errorf("the verdict has no pass: %v", v)
			}
			t.Log(rep.Stages[0].Headline)
		})
	}
}

// minio is a MinIO target through client.
func minio(client string) func(t *testing.T) string {
	return func(t *testing.T) string {
		srv := servers.MinIO(t)
		srv.Bucket(t, "kvcache")
		t.Setenv("MLPS_KV_KEY", servers.MinIOUser)
		t.Setenv("MLPS_KV_SECRET", servers.MinIOPassword)
		return fmt.Sprintf(`{uri: "s3://kvcache/c", client: %q, endpoints: [%q], access_key_env: "MLPS_KV_KEY", secret_key_env: "MLPS_KV_SECRET"}`, client, srv.Endpoint)
	}
}

// stageMetrics runs src and returns its one stage's metrics.
func stageMetrics(t *testing.T, src string) map[string]any {
	t.Helper()
	_, rep := exectest.Run(t, src)
	return rep.Stages[0].Metrics
}

// TestRanks: three client ranks in one process, each with its own
// directory and tiers. When every entry fits the gpu tier, no rank
// reaches storage and each is named; otherwise the storage tier's bytes
// are the ranks' sum, and the requests are each rank's count.
func TestRanks(t *testing.T) {
	const src = `name: "ranks"
targets: t: uri: "mem://"
stages: kv: {kind: "kvcache", target: "t", bytes_per_token: 64, ranks: 3, users: 4, requests: 8,
	storage_bytes: 8000000, gpu_bytes: %d, verify: true}
`
	m := stageMetrics(t, fmt.Sprintf(src, 1<<30))
	if got := fmt.Sprint(m["ranks_without_storage"]); got != "[rank 0 rank 1 rank 2]" {
		t.Errorf("ranks_without_storage %s", got)
	}
	// Nothing measured the storage tier's latency: its checks fail, the
	// verdict with them.
	b, err := json.Marshal(m["verdict"])
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Pass   bool `json:"pass"`
		Checks []struct {
			Name, Unmeasured string
			Pass             bool
		} `json:"checks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	unmeasured := 0
	for _, c := range v.Checks {
		if c.Unmeasured != "" {
			unmeasured++
			if c.Pass {
				t.Errorf("check %s passes unmeasured", c.Name)
			}
		}
	}
	if v.Pass || unmeasured != 2 {
		t.Errorf("verdict %s: want a failure, the storage checks unmeasured", b)
	}
	m = stageMetrics(t, fmt.Sprintf(src, 0))
	if _, ok := m["ranks_without_storage"]; ok {
		t.Errorf("ranks_without_storage %v with no gpu tier", m["ranks_without_storage"])
	}
	if n := m["requests_completed"]; n != int64(24) {
		t.Errorf("%v requests, want 3 ranks × 8", n)
	}
	st := m["tiers"].(map[string]any)["storage"].(map[string]any)
	if w, ok := st["write_bytes"].(int64); !ok || w <= 0 || st["reads"].(int64) < 2*st["writes"].(int64) {
		t.Errorf("storage tier: %v", st)
	}
}

// TestTraces replays the sample ShareGPT conversations with the sample
// BurstGPT arrivals, sped up 100×: every arrival is a request, its
// tokens the conversations' turns.
func TestTraces(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join("../../testdata/kvcache", p))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	src := fmt.Sprintf(`name: "traces"
targets: t: uri: "mem://"
stages: kv: {kind: "kvcache", target: "t", bytes_per_token: 64, users: 2, storage_bytes: 8000000, verify: true,
	trace: {conversations: %q, arrivals: %q, speedup: 100}}
`, abs("sharegpt.json"), abs("burstgpt.csv"))
	m := stageMetrics(t, src)
	// Four requests of the trace (a failed one skipped).
	if n := m["requests_completed"]; n != int64(4) {
		t.Errorf("%v requests, want 4", n)
	}
	// Rows 0 and 2 go to user 0, which plays conversation 0 (5+12, then
	// 3+1 tokens); rows 1 and 3 to user 1, which plays conversation 1
	// (1+6), then the next it has not played, 1 + 2 users mod 3: 0.
	if n := m["tokens"]; n != int64(5+12+3+1+1+6+5+12) {
		t.Errorf("%v tokens", n)
	}
}
