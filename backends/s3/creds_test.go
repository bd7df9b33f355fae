package s3_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
)

// noCredentials empties every place the two SDKs look for credentials,
// and points the instance metadata address both read at a loopback
// listener that counts what reaches it.
func noCredentials(t *testing.T) (credFile string, metadataHits *atomic.Int64) {
	home := t.TempDir()
	credFile = filepath.Join(home, "no-credentials")
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_DISABLED", "MINIO_ROOT_USER",
		"MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "no-config"))
	var hits atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(imds.Close)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	return credFile, &hits
}

// Without credentials, both clients say none were found and where they
// looked, before any request; the metadata address hears nothing unless
// the target opts in with metadata_credentials, and then it does.
func TestNoCredentials(t *testing.T) {
	for _, client := range []string{"aws", "minio"} {
		for _, optIn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/metadata_credentials=%v", client, optIn), func(t *testing.T) {
				credFile, hits := noCredentials(t)
				closed := fmt.Sprintf("http://127.0.0.1:%d", servers.FreePort(t))
				b, err := backends.OpenConfig(t.Context(), backends.Config{URI: "s3://bucket", Client: client,
					Endpoints: []string{closed}, MetadataCredentials: optIn})
				if err == nil {
					b.Close()
					t.Fatal("open without credentials succeeded")
				}
				want := []string{"no S3 credentials found", "AWS_ACCESS_KEY_ID", credFile}
				if !optIn {
					want = append(want, "the instance metadata service was not asked", "metadata_credentials: true")
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				t.Log(err)
				if n := hits.Load(); !optIn && n != 0 {
					t.Errorf("the metadata address received %d requests without the target's opt-in", n)
				} else if optIn && n == 0 {
					t.Error("the metadata address received nothing although the target opted in")
				}
			})
		}
	}
}
