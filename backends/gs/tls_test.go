package gs_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
)

// fake-gcs-server serves HTTPS with a certificate of a CA made for this
// test, which no system trusts. The backend reaches it when the target
// trusts the CA (ca_file) or asks in so many words to skip verification,
// and otherwise fails at open with a message that says the certificate is
// not trusted and names ca_file.
func TestTLS(t *testing.T) {
	ca, other := servers.NewCA(t), servers.NewCA(t)
	srv := servers.FakeGCSTLS(t, ca)
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s is not https", srv.Endpoint)
	}
	for _, tc := range []struct {
		name string
		edit func(*testing.T, *backends.Config)
		want []string // in the error at open; none: it opens
	}{
		{"ca_file", func(_ *testing.T, c *backends.Config) { c.CAFile = ca.File }, nil},
		{"insecure_skip_verify", func(_ *testing.T, c *backends.Config) { c.InsecureSkipVerify = true }, nil},
		{"untrusted", func(*testing.T, *backends.Config) {},
			[]string{srv.Endpoint, "not trusted", "ca_file", "insecure_skip_verify"}},
		// ca_file adds trust in one CA; it does not turn checks off.
		{"another CA", func(_ *testing.T, c *backends.Config) { c.CAFile = other.File },
			[]string{srv.Endpoint, "not trusted", "CA bundle " + other.File + " does not hold the CA", "as the target's ca_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ToLower(strings.ReplaceAll("tls-"+tc.name, "_", "-"))
			name = strings.ReplaceAll(name, " ", "-")
			srv.Bucket(t, name)
			// Small parts and splits, so that a resumable upload and
			// parallel ranged reads go over TLS too.
			c := backends.Config{URI: "gs://" + name, Endpoints: []string{srv.Endpoint},
				PartBytes: 1 << 20, SplitBytes: 2 << 20}
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
			data := bytes.Repeat([]byte("tls!"), (5<<20)/4)
			w, err := b.Create(t.Context(), "big.bin", -1)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatalf("write: %v", err)
			}
			r, err := b.Open(t.Context(), "big.bin", 0, -1)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
			}
			if ep := backends.EndpointOf(r); ep != srv.Endpoint {
				t.Errorf("reader endpoint %q, want %s", ep, srv.Endpoint)
			}
		})
	}
}
