package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/backends/servers"
)

// A dataset is generated into MinIO over HTTPS and read back, through one
// client trusting the test's CA by ca_file and the other skipping
// verification; the results record which target skipped it. Without
// either, the run fails before any stage, saying the certificate is not
// trusted and naming ca_file.
func TestS3OverTLS(t *testing.T) {
	ca := servers.NewCA(t)
	srv := servers.MinIOTLS(t, ca)
	srv.Bucket(t, "tls")
	// The SDKs' variable for a private CA must not make the untrusted run
	// pass.
	t.Setenv("AWS_CA_BUNDLE", "")
	src := fmt.Sprintf(`name: "s3-tls"
targets: verified: %s
targets: verified: ca_file: %q
targets: unverified: %s
targets: unverified: insecure_skip_verify: true
datasets: train: {target: "verified", path: "train", format: "npz", files: 4, record_bytes: 1048576}
stages: datagen: {kind: "generate", dataset: "train", workers: 2}
stages: train: {kind: "read-epoch", dataset: "train", via: "unverified", epochs: 1, accelerators: 1, batch_size: 1, computation_time: 0.001, verify: true}
`, s3Target("tls", "minio", srv.Endpoint), ca.File, s3Target("tls", "aws", srv.Endpoint))
	sum, out, code := execWorkload(t, src)
	if code != exitOK || sum["complete"] != true {
		t.Fatalf("run failed: %s", out)
	}
	if gen, train := stage(sum, "datagen")["bytes"], stage(sum, "train")["bytes"]; gen != train || train == 0.0 {
		t.Errorf("train read %v bytes of the %v generated", train, gen)
	}
	targets, _ := sum["targets"].(map[string]any)
	v, _ := targets["verified"].(map[string]any)
	u, _ := targets["unverified"].(map[string]any)
	if v == nil || u == nil {
		t.Fatalf("summary targets %v, want verified and unverified", sum["targets"])
	}
	if u["insecure_skip_verify"] != true || u["client"] != "aws" {
		t.Errorf("unverified target in the summary: %v, want insecure_skip_verify true", u)
	}
	if v["insecure_skip_verify"] != nil || v["ca_file"] != ca.File || v["client"] != "minio" {
		t.Errorf("verified target in the summary: %v, want ca_file %s and no insecure_skip_verify", v, ca.File)
	}

	// The same workload trusting nothing fails when it opens its targets,
	// which it does before any stage runs.
	src = strings.NewReplacer(fmt.Sprintf("targets: verified: ca_file: %q\n", ca.File), "",
		"targets: unverified: insecure_skip_verify: true\n", "").Replace(src)
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code = run([]string{"exec", wl, "--results", filepath.Join(dir, "results"), "--progress", "none"}, &stdout, &stderr)
	if code == exitOK {
		t.Fatalf("a run trusting no CA passed:\n%s", stdout.String())
	}
	msg := stderr.String()
	if testing.Verbose() {
		t.Logf("what the user sees:\n%s", msg)
	}
	for _, w := range []string{srv.Endpoint, "not trusted", "ca_file"} {
		if !strings.Contains(msg, w) {
			t.Errorf("stderr does not say %q:\n%s", w, msg)
		}
	}
}
