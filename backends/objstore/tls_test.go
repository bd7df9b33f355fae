package objstore

import (
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
)

// caFile writes the certificate srv serves (httptest's, self-signed) as a
// PEM file: a CA that trusts exactly that server.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The client HTTPClient makes trusts what the Config says and nothing
// more, and a certificate it does not trust is an UntrustedError that says
// which option to set, that no SDK retries and that the stats do not count
// as a transient failure.
func TestTrust(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	// The handshakes this test fails on purpose are no news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	mine, theirs := caFile(t, srv), servers.NewCA(t).File
	// httptest's certificate names 127.0.0.1 and example.com, not localhost.
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name string
		url  string
		c    backends.Config
		want []string // in the error; none: the request succeeds
		not  []string // not in the error
	}{
		{"ca_file", srv.URL, backends.Config{CAFile: mine}, nil, nil},
		{"insecure_skip_verify", srv.URL, backends.Config{InsecureSkipVerify: true}, nil, nil},
		{"untrusted", srv.URL, backends.Config{},
			[]string{"certificate of " + srv.URL + " is not trusted", "ca_file", "insecure_skip_verify: true"}, nil},
		{"another CA", srv.URL, backends.Config{CAFile: theirs},
			[]string{"not trusted", "CA bundle " + theirs + " does not hold the CA", "as the target's ca_file"}, []string{"insecure_skip_verify"}},
		{"another name", byName, backends.Config{CAFile: mine},
			[]string{"not trusted", "host name or address the certificate names"}, []string{"ca_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, err := HTTPClient(&tc.c)
			if err != nil {
				t.Fatal(err)
			}
			var st backends.Stats
			req, _ := http.NewRequestWithContext(backends.WithStats(t.Context(), &st), http.MethodGet, tc.url, nil)
			resp, err := hc.Do(req)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("the request succeeded")
			}
			var ue *UntrustedError
			if !errors.As(err, &ue) || !Incurable(err) {
				t.Fatalf("error %v (%T) is no UntrustedError", err, err)
			}
			if ue.RetryableError() {
				t.Error("an untrusted certificate is retryable")
			}
			if got := Unreachable(tc.url, err); got != error(ue) {
				t.Errorf("Unreachable = %v, want the UntrustedError alone", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q says %q, which does not help here", err, w)
				}
			}
			if s := st.Snapshot(); s.Requests != 1 || s.Transient != 0 {
				t.Errorf("stats %+v, want one request and no transient failure", s)
			}
		})
	}
}

// A ca_file that cannot be read or holds no certificate fails the client,
// naming the option.
func TestBadCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.pem"), "no such file"},
		{notPEM, "holds no PEM certificate"},
	} {
		_, err := HTTPClient(&backends.Config{CAFile: tc.path})
		if err == nil || !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ca_file %s: error %v, want it to name ca_file and say %q", tc.path, err, tc.want)
		}
	}
}
