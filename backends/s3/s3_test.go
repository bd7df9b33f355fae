package s3_test

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/backendtest"
	_ "mlps.dev/mlps/backends/s3"
	"mlps.dev/mlps/backends/servers"
)

var buckets atomic.Int64

// config names the test server's credentials by variable, as a workload
// would, so no test depends on the process's AWS_* environment.
func config(endpoint, bucket, client string) backends.Config {
	os.Setenv("MLPS_TEST_S3_KEY", servers.MinIOUser)
	os.Setenv("MLPS_TEST_S3_SECRET", servers.MinIOPassword)
	return backends.Config{URI: "s3://" + bucket + "/pre/fix", Client: client, Endpoints: []string{endpoint},
		AccessKeyEnv: "MLPS_TEST_S3_KEY", SecretKeyEnv: "MLPS_TEST_S3_SECRET",
		// Small parts and splits so the suite's 20 MiB object is both a
		// multipart upload and a split read.
		PartBytes: 5 << 20, SplitBytes: 6 << 20}
}

func TestConformance(t *testing.T) {
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				bucket := fmt.Sprintf("conf-%s-%d", client, buckets.Add(1))
				srv.Bucket(t, bucket)
				b, err := backends.OpenConfig(t.Context(), config(srv.Endpoint, bucket, client))
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
		})
	}
}

// Each error case must produce one clear error quickly, never a hang.
func TestOpenErrors(t *testing.T) {
	srv := servers.MinIO(t)
	srv.Bucket(t, "present")
	closed := fmt.Sprintf("http://127.0.0.1:%d", servers.FreePort(t))
	notS3 := servers.NotS3(t)
	os.Setenv("MLPS_TEST_WRONG_SECRET", "not-the-secret")
	for _, client := range []string{"aws", "minio"} {
		for _, tc := range []struct {
			name string
			edit func(*backends.Config)
			want []string
		}{
			{"missing bucket", func(c *backends.Config) { c.URI = "s3://absent" },
				[]string{`bucket "absent" does not exist`, srv.Endpoint, "create it first"}},
			{"wrong credentials", func(c *backends.Config) { c.SecretKeyEnv = "MLPS_TEST_WRONG_SECRET" },
				[]string{"refused the credentials", "access_key_env"}},
			{"unreachable port", func(c *backends.Config) { c.Endpoints = []string{closed} },
				[]string{"cannot reach endpoint " + closed, "connection refused"}},
			{"not an S3 endpoint", func(c *backends.Config) { c.Endpoints = []string{notS3} },
				[]string{"endpoint " + notS3 + " answered, but not as an S3 service"}},
			{"bad client", func(c *backends.Config) { c.Client = "boto3" },
				[]string{`s3 client "boto3": want aws or minio`}},
			{"one credential variable", func(c *backends.Config) { c.SecretKeyEnv = "" },
				[]string{"name both access_key_env and secret_key_env"}},
		} {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				c := config(srv.Endpoint, "present", client)
				tc.edit(&c)
				start := time.Now()
				b, err := backends.OpenConfig(t.Context(), c)
				took := time.Since(start)
				if err == nil {
					b.Close()
					t.Fatal("open succeeded")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), servers.MinIOPassword) || strings.Contains(err.Error(), "not-the-secret") {
					t.Errorf("error %q holds a secret", err)
				}
				if took > 10*time.Second {
					t.Errorf("took %v, want an answer within 10s", took)
				}
			})
		}
	}
}
