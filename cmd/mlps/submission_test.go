package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A filled-in system description, as a submitter writes it from the
// template init leaves.
const sutCUE = `name:      "sut"
submitter: "acme"
division:  "closed"
status:    "available"
storage: {
	vendor: "Acme", product: "FastFS 9", type: "file", protocol: "NFSv4.2"
	capacity_TB: 512, nodes: 4, media: "NVMe SSD"
}
clients: {count: 1, cpu: "2 × EPYC 9654", memory_GB: 768, network: "2 × 400 GbE", os: "Debian 13"}
`

// TestSubmission lays out a submission, refuses to file a result for a
// system whose description is the unfilled template, files a CLOSED
// training result and an OPEN KV-cache one each in its division once the
// description is filled, refuses to file them twice, and validates the
// submission: CLOSED divisions hold CLOSED results, and an OPEN result
// moved into closed/ makes the submission INVALID.
func TestSubmission(t *testing.T) {
	sub := filepath.Join(t.TempDir(), "sub")
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errb := cmd("submission", "init", "acme", sub, "--system", "sut"); code != exitOK || !strings.Contains(out, filepath.Join(sub, "closed", "acme", "systems", "sut.cue")) {
		t.Fatalf("init: exit %d\n%s%s", code, out, errb)
	}
	for _, d := range []string{"closed/acme/results", "closed/acme/systems", "open/acme/results", "open/acme/systems"} {
		if fi, err := os.Stat(filepath.Join(sub, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if code, _, errb := cmd("submission", "init", "acme", sub); code != exitUsage || !strings.Contains(errb, "already exists") {
		t.Errorf("init twice: exit %d: %s", code, errb)
	}

	training := filepath.Join(unpack(t, "closed-training"), "sut", "training", "unet3d")
	code, _, errb := cmd("submission", "add", training, "--to", sub, "--org", "acme")
	if code != exitFailed || !strings.Contains(errb, "system sut has no valid description") || !strings.Contains(errb, "sut.cue:") {
		t.Errorf("add with the template unfilled: exit %d: %s", code, errb)
	}
	closed := filepath.Join(sub, "closed", "acme", "systems", "sut.cue")
	if err := os.WriteFile(closed, []byte(sutCUE), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "open", "acme", "systems", "sut.cue"), []byte(strings.Replace(sutCUE, `"closed"`, `"open"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errb := cmd("submission", "add", training, "--to", sub, "--org", "acme")
	if code != exitOK || strings.Count(out, filepath.Join(sub, "closed", "acme", "results", "sut", "training", "unet3d")) != 7 {
		t.Fatalf("add a CLOSED series: exit %d\n%s%s", code, out, errb)
	}
	kv := filepath.Join(unpack(t, "open-kvcache"), "sut")
	if code, out, errb := cmd("submission", "add", kv, "--to", sub, "--org", "acme"); code != exitOK || !strings.Contains(out, filepath.Join(sub, "open", "acme", "results", "sut", "kv_cache", "option1")) {
		t.Fatalf("add an OPEN run: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := cmd("submission", "add", training, "--to", sub, "--org", "acme"); code != exitFailed || !strings.Contains(errb, "is already filed") {
		t.Errorf("add twice: exit %d: %s", code, errb)
	}
	invalid := filepath.Join(unpack(t, "invalid-au"), "sut")
	if code, _, errb := cmd("submission", "add", invalid, "--to", sub, "--org", "acme", "--system", "other"); code != exitFailed || !strings.Contains(errb, "is INVALID") {
		t.Errorf("add an INVALID series: exit %d: %s", code, errb)
	}
	if code, out, errb := cmd("validate", sub); code != exitOpen || !strings.Contains(out, "sut/training/unet3d@b200: CLOSED") {
		t.Errorf("validate the submission: exit %d, want %d (an OPEN KV-cache result)\n%s%s", code, exitOpen, out, errb)
	}
	// The OPEN result moved into the closed division.
	if err := os.Rename(filepath.Join(sub, "open", "acme", "results", "sut", "kv_cache"), filepath.Join(sub, "closed", "acme", "results", "sut", "kv_cache")); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := cmd("validate", sub); code != exitInvalid || !strings.Contains(out, "submission.division") || !strings.Contains(out, "an OPEN result filed in the closed division") {
		t.Errorf("an OPEN result in closed/: exit %d\n%s", code, out)
	}
}
