package s3_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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
			}, backendtest.Endpoints(srv.Endpoint))
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
			{"https to a plain HTTP endpoint", func(c *backends.Config) { c.Endpoints = []string{"https://" + srv.Addr} },
				[]string{"endpoint https://" + srv.Addr + " answers in plain HTTP, not HTTPS", "http://" + srv.Addr}},
			{"stall_timeout not a duration", func(c *backends.Config) { c.StallTimeout = "forever" },
				[]string{"stall_timeout", `"forever": want a duration from 100ms to 1h0m0s`}},
			{"bad client", func(c *backends.Config) { c.Client = "boto3" },
				[]string{`s3 client "boto3": want aws or minio`}},
			{"one credential variable", func(c *backends.Config) { c.SecretKeyEnv = "" },
				[]string{"name both access_key_env and secret_key_env"}},
		} {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				ref := servers.Reference(t, func() error {
					b, err := backends.OpenConfig(t.Context(), config(srv.Endpoint, "present", client))
					if err == nil {
						b.Close()
					}
					return err
				})
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
				if bound := servers.Prompt(ref); took > bound {
					t.Errorf("took %v, want an answer within %v (a successful open took %v)", took, bound, ref)
				}
			})
		}
	}
}

// throttler answers every third request with 503 SlowDown, as a store
// under too much load does, and passes the others to MinIO.
func throttler(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("x-amz-request-id", "throttled")
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Throttling is retried with backoff until the operation succeeds, and
// every throttled attempt is counted into the Stats of the context.
func TestThrottlingIsRetriedAndCounted(t *testing.T) {
	srv := servers.MinIO(t)
	endpoint := throttler(t, srv.Endpoint)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			bucket := "throttled-" + client
			srv.Bucket(t, bucket)
			b, err := backends.OpenConfig(t.Context(), config(endpoint, bucket, client))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			const objects = 3
			data := bytes.Repeat([]byte("mlps"), 100_000)
			for i := range objects {
				w, err := b.Create(ctx, fmt.Sprintf("o%d", i), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				w.Write(data)
				if err := w.Close(); err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				// Put sends from the caller's slice: retries resend it.
				if _, err := backends.Put(ctx, b, fmt.Sprintf("p%d", i), data); err != nil {
					t.Fatalf("Put %d: %v", i, err)
				}
				r, err := b.Open(ctx, fmt.Sprintf("o%d", i), 0, -1)
				if err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("get %d: %d bytes, %v", i, len(got), err)
				}
			}
			s := st.Snapshot()
			if s.Transient == 0 || s.Requests < 3*objects+s.Transient {
				t.Errorf("stats %+v for %d creates, puts and gets through a throttler failing every third request", s, objects)
			}
		})
	}
}
