package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"mlps.dev/mlps/backends/servers"
)

// A store that freezes in the middle of a training run ends the run with
// a stall error that says so, through each S3 client, instead of hanging
// it; the results are written, marked incomplete, and warn of the stall.
func TestS3FrozenMidRead(t *testing.T) {
	srv := servers.MinIO(t) // its own: the test freezes it
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			bucket := "frozen-" + client
			srv.Bucket(t, bucket)
			target := strings.Replace(s3Target(bucket, client, srv.Endpoint), "{", `{stall_timeout: "2s", `, 1)
			dataset := `
datasets: train: {target: "s3", path: "train", format: "npz", files: 8, record_bytes: 1048576}
`
			// The dataset first, in a run of its own, so that the freeze
			// below meets the training stage and nothing else.
			if _, out, code := execWorkload(t, `name: "frozen-gen"
targets: s3: `+target+dataset+`stages: datagen: {kind: "generate", dataset: "train", workers: 2}
`); code != exitOK {
				t.Fatalf("datagen: exit %d: %s", code, out)
			}
			done := make(chan struct{})
			go func() {
				// The delay only lets the run begin reading; wherever
				// the freeze meets it, the run must end with a stall.
				select {
				case <-time.After(3 * time.Second):
					syscall.Kill(-srv.PID(), syscall.SIGSTOP)
				case <-done:
				}
			}()
			t.Cleanup(func() { syscall.Kill(-srv.PID(), syscall.SIGCONT) })
			sum, out, code := execWorkload(t, `name: "frozen"
targets: s3: `+target+dataset+`stages: train: {kind: "read-epoch", dataset: "train", epochs: 100000, accelerators: 2, batch_size: 1, computation_time: 0.01}
`)
			close(done)
			syscall.Kill(-srv.PID(), syscall.SIGCONT)
			if testing.Verbose() {
				t.Logf("what the user sees:\n%s", out)
			}
			if code != exitFailed {
				t.Fatalf("exit %d, want %d: %s", code, exitFailed, out)
			}
			if !strings.Contains(out, "stalled") || !strings.Contains(out, "no progress for 2s") {
				t.Errorf("the run's error does not name the stall:\n%s", out)
			}
			if sum["complete"] != false {
				t.Errorf("summary: complete %v", sum["complete"])
			}
			if w, _ := sum["warnings"].([]any); len(w) == 0 || !strings.Contains(w[0].(string), "stalled") {
				t.Errorf("summary warnings %v, want the stall", sum["warnings"])
			}
		})
	}
}
