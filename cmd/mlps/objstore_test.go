package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/backends/servers"
)

// s3Target is a target on MinIO test servers; the credentials are named
// by variable, as a workload must.
func s3Target(bucket, client string, endpoints ...string) string {
	os.Setenv("MLPS_E2E_KEY", servers.MinIOUser)
	os.Setenv("MLPS_E2E_SECRET", servers.MinIOPassword)
	return fmt.Sprintf(`{uri: "s3://%s/unet3d", client: %q, endpoints: [%s], access_key_env: "MLPS_E2E_KEY", secret_key_env: "MLPS_E2E_SECRET", part_bytes: 5242880, split_bytes: 8388608}`,
		bucket, client, `"`+strings.Join(endpoints, `", "`)+`"`)
}

// unet3dShaped is a small unet3d: npz files of one record of 12 MiB ±4 MiB,
// two accelerators, two epochs, every byte verified.
const unet3dShaped = `
datasets: train: {target: "s3", path: "train", format: "npz", files: 6, record_bytes: 12582912, record_bytes_stdev: 4194304}
stages: datagen: {kind: "generate", dataset: "train", workers: 4}
stages: train: {kind: "read-epoch", dataset: "train", epochs: 2, accelerators: 2, batch_size: 1, read_threads: 2, computation_time: 0.001, verify: true}
`

func execWorkload(t *testing.T, src string, extra ...string) (map[string]any, string, int) {
	t.Helper()
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"exec", wl, "--results", results, "--progress", "none"}, extra...), &stdout, &stderr)
	if code != exitOK {
		t.Logf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	sum := readJSON(t, filepath.Join(results, "summary.json"))
	return sum, stdout.String() + stderr.String(), code
}

func stage(sum map[string]any, id string) map[string]any {
	return sum["stages"].(map[string]any)[id].(map[string]any)
}

// endpointBytes maps each endpoint of a stage to the bytes it served.
func endpointBytes(t *testing.T, st map[string]any) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	eps, _ := st["endpoints"].([]any)
	for _, e := range eps {
		e := e.(map[string]any)
		out[e["endpoint"].(string)] += e["bytes"].(float64)
	}
	return out
}

// A unet3d-shaped dataset is generated straight into MinIO and trained on
// for two epochs, through each S3 client; the results have figures per
// endpoint and count the HTTP requests.
func TestS3EndToEnd(t *testing.T) {
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			srv.Bucket(t, "e2e-"+client)
			src := `name: "s3-e2e"
targets: s3: ` + s3Target("e2e-"+client, client, srv.Endpoint) + unet3dShaped
			sum, out, code := execWorkload(t, src)
			if code != exitOK || sum["complete"] != true {
				t.Fatalf("run failed: %s", out)
			}
			gen, train := stage(sum, "datagen"), stage(sum, "train")
			if eb := endpointBytes(t, gen); eb[srv.Endpoint] != gen["bytes"] || len(eb) != 1 {
				t.Errorf("datagen endpoints %v, stage bytes %v", gen["endpoints"], gen["bytes"])
			}
			if eb := endpointBytes(t, train); eb[srv.Endpoint] != train["bytes"] || eb[srv.Endpoint] == 0 {
				t.Errorf("train endpoints %v, stage bytes %v", train["endpoints"], train["bytes"])
			}
			if sum["train_bytes_read"] != train["bytes"] || sum["epochs"] != 2.0 {
				t.Errorf("train_bytes_read %v, stage bytes %v, epochs %v", sum["train_bytes_read"], train["bytes"], sum["epochs"])
			}
			req := train["requests"].(map[string]any)
			// Records above 8 MiB are split into 5 MiB ranges: more requests than reads.
			if req["http_requests"].(float64) <= train["ops"].(float64) || req["transient_failures"] != 0.0 {
				t.Errorf("train requests %v for %v reads", req, train["ops"])
			}
			if !strings.Contains(out, srv.Endpoint) {
				t.Errorf("the summary table shows no endpoint:\n%s", out)
			}
		})
	}
}

// Two MinIO servers hold the same dataset (generated on one, uploaded to
// the other) and serve one training run as two endpoints of one target,
// round robin; then the same store is read through each client in one run
// and the summary sets them side by side.
func TestS3TwoEndpointsAndClientAB(t *testing.T) {
	a, b := servers.MinIO(t), servers.MinIO(t)
	a.Bucket(t, "data")
	b.Bucket(t, "data")
	src := `name: "two-endpoints"
targets: s3:   ` + s3Target("data", "minio", a.Endpoint) + `
targets: s3b:  ` + s3Target("data", "minio", b.Endpoint) + `
targets: both: ` + s3Target("data", "aws", a.Endpoint, b.Endpoint) + `
targets: both_minio: ` + s3Target("data", "minio", a.Endpoint, b.Endpoint) + `
datasets: copy: {target: "s3b", path: "train", format: "npz", files: 6, record_bytes: 12582912, record_bytes_stdev: 4194304}
stages: upload: {kind: "upload", from: "train", to: "copy", workers: 4}
stages: train: {via: "both", after: ["upload"]}
stages: train_minio: {kind: "read-epoch", dataset: "train", via: "both_minio", after: ["train"], epochs: 2, accelerators: 2, batch_size: 1, read_threads: 2, computation_time: 0.001, verify: true}
` + unet3dShaped
	sum, out, code := execWorkload(t, src)
	if code != exitOK || sum["complete"] != true {
		t.Fatalf("run failed: %s", out)
	}
	for _, id := range []string{"train", "train_minio"} {
		eb := endpointBytes(t, stage(sum, id))
		if len(eb) != 2 || eb[a.Endpoint] == 0 || eb[b.Endpoint] == 0 || eb[a.Endpoint]+eb[b.Endpoint] != stage(sum, id)["bytes"] {
			t.Errorf("%s: bytes per endpoint %v, want both endpoints adding up to %v", id, eb, stage(sum, id)["bytes"])
		}
	}
	ab, _ := sum["client_ab"].([]any)
	if len(ab) != 1 {
		t.Fatalf("client_ab %v, want one comparison", sum["client_ab"])
	}
	c := ab[0].(map[string]any)
	if c["client_a"] != "aws" || c["client_b"] != "minio" || c["ratio_b_over_a"].(float64) <= 0 {
		t.Errorf("client_ab %v", c)
	}
	if !strings.Contains(out, "client A/B (read-epoch): train via aws") {
		t.Errorf("the summary table has no A/B line:\n%s", out)
	}
}

// The server killed in the middle of a stage ends the run with an error,
// promptly, and the results are written marked incomplete.
func TestS3ServerKilledMidStage(t *testing.T) {
	srv := servers.MinIO(t)
	srv.Bucket(t, "doomed")
	src := `name: "killed"
targets: s3: ` + s3Target("doomed", "aws", srv.Endpoint) + `
datasets: train: {target: "s3", path: "train", format: "npz", files: 8, record_bytes: 1048576}
stages: datagen: {kind: "generate", dataset: "train", workers: 2}
stages: train: {kind: "read-epoch", dataset: "train", epochs: 1000, accelerators: 2, batch_size: 1, computation_time: 0.01}
`
	go func() {
		time.Sleep(3 * time.Second)
		srv.Stop()
	}()
	start := time.Now()
	sum, out, code := execWorkload(t, src)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitFailed, out)
	}
	if testing.Verbose() {
		t.Logf("what the user sees:\n%s", out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %v to notice the server was gone", took)
	}
	if sum["complete"] != false || stage(sum, "train")["status"] != "failed" {
		t.Errorf("summary: complete %v, train %v", sum["complete"], stage(sum, "train")["status"])
	}
	if !strings.Contains(out, srv.Endpoint) && !strings.Contains(out, "connection refused") {
		t.Errorf("the error does not say what failed:\n%s", out)
	}
}

// llama3-8b, scaled down with --set (a quarter of the layers, small hidden
// size and vocabulary, 8 ranks), saves two checkpoints to MinIO and loads
// them back, every byte verified, through each S3 client in one run; the
// summary holds the checkpoint keys and sets the clients side by side.
func TestCheckpointS3(t *testing.T) {
	srv := servers.MinIO(t)
	srv.Bucket(t, "ckpt")
	src := `import "mlps.dev/workloads/llama3:llama3_8b"

llama3_8b
targets: ckpt: ` + s3Target("ckpt", "aws", srv.Endpoint) + `
targets: ckpt_minio: ` + s3Target("ckpt", "minio", srv.Endpoint) + `
_c: stages.checkpoint
stages: checkpoint_minio: {
	kind: "checkpoint", target: "ckpt_minio", path: "minio", after: ["checkpoint"]
	model: _c.model, parallelism: _c.parallelism, writes: _c.writes, reads: _c.reads
	verify: _c.verify, chunk_bytes: _c.chunk_bytes
}
`
	var sets []string
	for _, s := range []string{"model.layers=8", "model.hidden=256", "model.ffn=896", "model.vocab=8000",
		"writes=2", "reads=2", "verify=true", "chunk_bytes=4194304"} {
		sets = append(sets, "--set", "stages.checkpoint."+s)
	}
	sum, out, code := execWorkload(t, src, sets...)
	if code != exitOK || sum["complete"] != true {
		t.Fatalf("run failed: %s", out)
	}
	for _, id := range []string{"checkpoint", "checkpoint_minio"} {
		st := stage(sum, id)
		if eb := endpointBytes(t, st); eb[srv.Endpoint] != st["bytes"] || st["bytes"].(float64) == 0 {
			t.Errorf("%s: endpoints %v, stage bytes %v", id, st["endpoints"], st["bytes"])
		}
		req := st["requests"].(map[string]any)
		if req["http_requests"].(float64) < st["ops"].(float64) {
			t.Errorf("%s: %v requests for %v operations", id, req, st["ops"])
		}
	}
	// Two stages define the checkpoint keys, so they stay under each
	// stage; the stage results hold them.
	for _, k := range []string{"checkpoint_size_GB", "save_checkpoint_io_mean_GB_per_second"} {
		if _, ok := sum[k]; ok {
			t.Errorf("%s is at the top of the summary though two stages define it", k)
		}
	}
	ab, _ := sum["client_ab"].([]any)
	if len(ab) != 1 {
		t.Errorf("client_ab = %v, want the two checkpoint stages side by side", sum["client_ab"])
	}
	if !strings.Contains(out, "save") || !strings.Contains(out, "load") {
		t.Errorf("no checkpoint headline:\n%s", out)
	}
}
