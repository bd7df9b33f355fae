package s3_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
)

// MinIO serves HTTPS with a certificate of a CA made for this test, which
// no system trusts. Each client reaches it when the target trusts the CA
// (ca_file) or asks in so many words to skip verification, and otherwise
// fails at open with a message that says the certificate is not trusted
// and names ca_file.
func TestTLS(t *testing.T) {
	ca := servers.NewCA(t)
	other := servers.NewCA(t)
	srv := servers.MinIOTLS(t, ca)
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s is not https", srv.Endpoint)
	}
	// The SDKs' own variable for a private CA must not help the
	// untrusted case pass.
	t.Setenv("AWS_CA_BUNDLE", "")
	for _, client := range []string{"aws", "minio"} {
		bucket := "tls-" + client
		srv.Bucket(t, bucket)
		for _, tc := range []struct {
			name string
			edit func(*testing.T, *backends.Config)
			want []string // in the error at open; none: it opens
		}{
			{"ca_file", func(_ *testing.T, c *backends.Config) { c.CAFile = ca.File }, nil},
			// Both clients honour the AWS SDKs' variable for a private CA.
			{"AWS_CA_BUNDLE", func(t *testing.T, _ *backends.Config) { t.Setenv("AWS_CA_BUNDLE", ca.File) }, nil},
			{"insecure_skip_verify", func(_ *testing.T, c *backends.Config) { c.InsecureSkipVerify = true }, nil},
			{"untrusted", func(*testing.T, *backends.Config) {},
				[]string{srv.Endpoint, "not trusted", "ca_file", "insecure_skip_verify"}},
			// ca_file adds trust in one CA; it does not turn checks off.
			{"another CA", func(_ *testing.T, c *backends.Config) { c.CAFile = other.File },
				[]string{srv.Endpoint, "not trusted", "ca_file"}},
		} {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				c := config(srv.Endpoint, bucket, client)
				tc.edit(t, &c)
				b, err := backends.OpenConfig(t.Context(), c)
				if tc.want != nil {
					if err == nil {
						b.Close()
						t.Fatal("open succeeded without trusting the server's CA")
					}
					if testing.Verbose() {
						t.Logf("what the user sees: %v", err)
					}
					for _, w := range tc.want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q does not say %q", err, w)
						}
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				roundTrip(t, b, tc.name)
			})
		}
	}
}

// roundTrip writes an object larger than a part (a multipart upload) and
// reads it back split into ranged requests, so every kind of request the
// benchmark makes has gone over TLS.
func roundTrip(t *testing.T, b backends.Backend, name string) {
	t.Helper()
	data := bytes.Repeat([]byte("tls!"), (7<<20)/4)
	if _, err := backends.Put(t.Context(), b, name, data); err != nil {
		t.Fatalf("put: %v", err)
	}
	r, err := b.Open(t.Context(), name, 0, -1)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	if ep := backends.EndpointOf(r); !strings.HasPrefix(ep, "https://") {
		t.Errorf("reader endpoint %q, want the https endpoint", ep)
	}
	if err := b.Delete(t.Context(), name); err != nil {
		t.Errorf("delete: %v", err)
	}
}
