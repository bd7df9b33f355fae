package servers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mlps.dev/mlps/backends/servers/install"
)

// FakeGCSTool is fake-gcs-server, an emulator of the GCS JSON and XML APIs.
var FakeGCSTool = install.FakeGCS

// FakeGCSServer is a fake-gcs-server on loopback, keeping objects in memory.
type FakeGCSServer struct {
	*Process
	// Endpoint is its base URL, http://127.0.0.1:PORT (https:// when
	// started by FakeGCSTLS): what a gs target's
	// endpoints list or STORAGE_EMULATOR_HOST takes.
	Endpoint string
	Addr     string
	ca       *CA // the CA of its certificate; nil when it serves plain HTTP
}

// FakeGCS starts a fake-gcs-server for the test and stops it at cleanup.
func FakeGCS(t testing.TB) *FakeGCSServer {
	t.Helper()
	return fakeGCS(t, nil)
}

// fakeGCS starts a fake-gcs-server, serving HTTPS with a certificate ca
// signed when ca is not nil, on a port of its own (see owned).
func fakeGCS(t testing.TB, ca *CA) *FakeGCSServer {
	t.Helper()
	return owned(t, "fake-gcs-server", func() (*FakeGCSServer, string) {
		s := fakeGCSOnce(t, ca)
		return s, s.Addr
	})
}

func fakeGCSOnce(t testing.TB, ca *CA) *FakeGCSServer {
	t.Helper()
	bin := Need(t, FakeGCSTool)
	port := FreePort(t)
	addr := Addr(port)
	endpoint := scheme(ca) + "://" + addr
	// The server hands out resumable upload URLs built from its public
	// host and external URL; by default those name storage.googleapis.com
	// or 0.0.0.0, which a client then cannot reach, so both point back here.
	args := []string{"-scheme", scheme(ca), "-host", "127.0.0.1", "-port", strconv.Itoa(port),
		"-backend", "memory", "-public-host", addr, "-external-url", endpoint,
		"-log-level", "warn"}
	if ca != nil {
		dir := t.TempDir()
		cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		ca.ServerCert(t, cert, key)
		args = append(args, "-cert-location", cert, "-private-key-location", key)
	}
	p := Start(t, "fake-gcs-server", bin, args, nil, httpReady(ca, endpoint+"/storage/v1/b", 200))
	return &FakeGCSServer{Process: p, Endpoint: endpoint, Addr: addr, ca: ca}
}

// Bucket creates a bucket on the server.
func (s *FakeGCSServer) Bucket(t testing.TB, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	c := httpClient(s.ca, 10*time.Second)
	resp, err := c.Post(s.Endpoint+"/storage/v1/b?project=test", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		t.Fatalf("make bucket %s: %s: %s", name, resp.Status, msg)
	}
}
