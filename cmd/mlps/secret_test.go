package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/backends/servers"
)

// TestSecretsNeverShown plants a known secret in each place a user could
// put one (the environment, --set, an endpoint, the URI, a query string),
// runs the real binary, and looks for it in stdout, stderr and every file
// of the results directory. Credentials in a URI or endpoint are refused
// at plan time, saying where they go; credentials from the environment
// serve a real run against MinIO and appear nowhere.
func TestSecretsNeverShown(t *testing.T) {
	srv := servers.MinIO(t)
	srv.Bucket(t, "secrets")
	const planted = "PLANTED-s3cr3t-4f1e"
	const plantedID = "AKIAPLANTEDID0001"
	body := `
datasets: d: {target: "s3", path: "d", format: "npz", files: 2, record_bytes: 65536}
stages: gen: {kind: "generate", dataset: "d"}
stages: read: {kind: "read-epoch", dataset: "d", epochs: 1, accelerators: 1, batch_size: 1, computation_time: 0, verify: true}
`
	target := func(uri string, endpoint string) string {
		return fmt.Sprintf("name: \"secrets\"\ntargets: s3: {uri: %q, client: \"aws\", endpoints: [%q]}\n", uri, endpoint) + body
	}
	ok := target("s3://secrets/run", srv.Endpoint)
	userEndpoint := strings.Replace(srv.Endpoint, "://", "://"+plantedID+":"+planted+"@", 1)
	for _, tc := range []struct {
		name     string
		workload string
		args     []string
		env      []string
		code     int
		want     string // in stderr
	}{{
		// The real credentials, from variables the workload names: the
		// run completes and its secret is nowhere.
		name:     "environment",
		workload: ok,
		args:     []string{"--set", "targets.s3.access_key_env=MLPS_PLANT_ID", "--set", "targets.s3.secret_key_env=MLPS_PLANT_SK"},
		env:      []string{"MLPS_PLANT_ID=" + servers.MinIOUser, "MLPS_PLANT_SK=" + servers.MinIOPassword},
		code:     exitOK,
	}, {
		// Wrong credentials in the standard variables: the store refuses
		// them, and the message does not repeat them.
		name:     "environment refused",
		workload: ok,
		env:      []string{"AWS_ACCESS_KEY_ID=" + plantedID, "AWS_SECRET_ACCESS_KEY=" + planted},
		code:     exitFailed,
	}, {
		name:     "--set",
		workload: ok,
		args:     []string{"--set", "targets.s3.uri=s3://" + plantedID + ":" + planted + "@secrets/run"},
		code:     exitUsage,
		want:     `"s3://REDACTED@secrets/run"`,
	}, {
		name:     "--set type error",
		workload: ok,
		args:     []string{"--set", "datasets.d.files=password=" + planted},
		code:     exitUsage,
		want:     "datasets.d.files",
	}, {
		name:     "endpoint",
		workload: target("s3://secrets/run", userEndpoint),
		code:     exitUsage,
		want:     "s3 credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
	}, {
		name:     "uri",
		workload: target("s3://"+plantedID+":"+planted+"@secrets/run", srv.Endpoint),
		code:     exitUsage,
		want:     "carries a user name or password: s3 credentials go in",
	}, {
		name:     "query string",
		workload: target("s3://secrets/run?X-Amz-Signature="+planted, srv.Endpoint),
		code:     exitUsage,
		want:     "carries a credential in its query (X-Amz-Signature): s3 credentials go in",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			wl := filepath.Join(dir, "w.cue")
			if err := os.WriteFile(wl, []byte(tc.workload), 0o644); err != nil {
				t.Fatal(err)
			}
			res := filepath.Join(dir, "results")
			cmd := mlps(append([]string{"exec", wl, "--results", res, "--progress", "plain"}, tc.args...)...)
			cmd.Env = append(cmd.Env, tc.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			secrets := []string{planted, servers.MinIOPassword}
			look := func(where, s string) {
				for _, sec := range secrets {
					if strings.Contains(s, sec) {
						t.Errorf("%s shows the secret %q:\n%s", where, sec, s)
					}
				}
			}
			look("stdout", stdout.String())
			look("stderr", stderr.String())
			files := 0
			filepath.WalkDir(res, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Error(err)
					return nil
				}
				files++
				look(path, string(b))
				return nil
			})
			if tc.code == exitUsage && files > 0 {
				t.Errorf("a refused workload left %d files in %s", files, res)
			}
			if tc.code == exitOK && files == 0 {
				t.Errorf("the run wrote no results in %s", res)
			}
		})
	}
}
