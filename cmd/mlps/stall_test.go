package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mlps.dev/mlps/backends/servers"
)

var someStalled = regexp.MustCompile(`; [1-9][0-9]* stalled`)

// A store that freezes in the middle of a training run ends the run with
// a stall error that says so, through each S3 client, instead of hanging
// it; the results are written, marked incomplete, and warn of the stall.
func TestS3FrozenMidRead(t *testing.T) {
	srv := servers.MinIO(t)
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
			if !strings.Contains(out, "stalled") {
				t.Errorf("the run's error does not name the stall:\n%s", out)
			}
			if sum["complete"] != false {
				t.Errorf("summary: complete %v", sum["complete"])
			}
			// A loaded machine may still be opening the target when the
			// freeze comes; the open then says the store stalled, and no
			// stage ran to warn of it.
			if strings.Contains(out, "stage train: read") {
				if !strings.Contains(out, "no progress for 2s") {
					t.Errorf("the stage's error does not name the stall_timeout:\n%s", out)
				}
				if w, _ := sum["warnings"].([]any); len(w) == 0 || !someStalled.MatchString(w[0].(string)) {
					t.Errorf("summary warnings %v, want the stall", sum["warnings"])
				}
			}
		})
	}
}
