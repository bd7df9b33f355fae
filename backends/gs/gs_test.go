package gs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/backendtest"
	_ "mlps.dev/mlps/backends/gs"
	"mlps.dev/mlps/backends/servers"
)

func TestMain(m *testing.M) {
	// Credentials in the environment would send the tests' clients to
	// Google for tokens; the emulator wants none.
	os.Unsetenv("GOOGLE_APPLICATION_CREDENTIALS")
	os.Unsetenv("STORAGE_EMULATOR_HOST")
	code := m.Run()
	cleanups.Lock()
	for _, f := range cleanups.fs {
		f()
	}
	cleanups.Unlock()
	os.Exit(code)
}

// One server serves every test of the binary: starting it costs more than
// all the tests together. Its cleanup runs when TestMain ends rather than
// when the test that happened to start it does.
var (
	srvOnce  sync.Once
	srv      *servers.FakeGCSServer
	cleanups struct {
		sync.Mutex
		fs []func()
	}
	buckets atomic.Int64
)

type processTB struct{ testing.TB }

func (processTB) Cleanup(f func()) {
	cleanups.Lock()
	cleanups.fs = append(cleanups.fs, f)
	cleanups.Unlock()
}

func fakeGCS(t *testing.T) *servers.FakeGCSServer {
	t.Helper()
	srvOnce.Do(func() { srv = servers.FakeGCS(processTB{t}) })
	if srv == nil {
		if os.Getenv("MLPS_REQUIRE_SERVERS") == "1" {
			t.Fatal("fake-gcs-server did not start; see the first test that asked for it")
		}
		t.Skip("skipping: fake-gcs-server did not start; see the first test that asked for it")
	}
	return srv
}

// bucket makes a fresh bucket, so that every test starts empty.
func bucket(t *testing.T, s *servers.FakeGCSServer) string {
	t.Helper()
	name := fmt.Sprintf("mlps-test-%d", buckets.Add(1))
	s.Bucket(t, name)
	return name
}

func openConfig(t *testing.T, c backends.Config) backends.Backend {
	t.Helper()
	b, err := backends.OpenConfig(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	s := fakeGCS(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return openConfig(t, backends.Config{
			URI:       "gs://" + bucket(t, s) + "/run/one",
			Endpoints: []string{s.Endpoint},
		})
	}, backendtest.Endpoints(s.Endpoint))
}

// Small parts and splits send the suite's large object through resumable
// uploads and parallel ranged reads, and two clients take turns.
func TestConformanceSplitTwoEndpoints(t *testing.T) {
	s := fakeGCS(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return openConfig(t, backends.Config{
			URI:              "gs://" + bucket(t, s),
			Endpoints:        []string{s.Endpoint, s.Endpoint},
			PartBytes:        1 << 20,
			SplitBytes:       2 << 20,
			SplitConcurrency: 3,
		})
	}, backendtest.Endpoints(s.Endpoint, s.Endpoint))
}

func TestMissingBucket(t *testing.T) {
	s := fakeGCS(t)
	ref := reference(t, s)
	start := time.Now()
	_, err := backends.OpenConfig(t.Context(), backends.Config{
		URI: "gs://no-such-bucket/x", Endpoints: []string{s.Endpoint}})
	if took, bound := time.Since(start), servers.Prompt(ref); took > bound {
		t.Errorf("open took %v, want under %v (a successful open took %v)", took, bound, ref)
	}
	if err == nil {
		t.Fatal("open of a missing bucket succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "bucket no-such-bucket does not exist") || !strings.Contains(msg, "create it first") {
		t.Errorf("error %q does not say which bucket to create", msg)
	}
	if !backends.IsNotExist(err) {
		t.Errorf("error %v is of kind %v, want not exist", err, backends.KindOf(err))
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	ref := reference(t, fakeGCS(t))
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", servers.FreePort(t))
	start := time.Now()
	_, err := backends.OpenConfig(t.Context(), backends.Config{
		URI: "gs://some-bucket", Endpoints: []string{endpoint}})
	if took, bound := time.Since(start), servers.Prompt(ref); took > bound {
		t.Errorf("open took %v, want under %v (a successful open took %v)", took, bound, ref)
	}
	if err == nil {
		t.Fatal("open against a closed port succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot reach endpoint "+endpoint) {
		t.Errorf("error %q does not name the endpoint %s", msg, endpoint)
	}
}

func TestBadURI(t *testing.T) {
	for _, uri := range []string{
		"gs://",
		"gs:bucket",
		"gs://user:hunter2@bucket/x",
		"gs://bucket?x=1",
		"gs://bucket#frag",
		"gs://Upper_Case",
		"gs://bucket/a//b",
		"gs://bucket/../b",
	} {
		t.Run(uri, func(t *testing.T) {
			b, err := backends.OpenConfig(t.Context(), backends.Config{URI: uri, Endpoints: []string{"http://127.0.0.1:1"}})
			if err == nil {
				b.Close()
				t.Fatal("open succeeded")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
			if strings.Contains(err.Error(), "cannot reach") {
				t.Errorf("error %q: the URI should be refused before any request", err)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	s := fakeGCS(t)
	name := bucket(t, s)
	b := openConfig(t, backends.Config{URI: "gs://" + name + "/a/b/", Endpoints: []string{s.Endpoint}})
	defer b.Close()
	p := b.Properties()
	if want := "gs://" + name + "/a/b"; p.Location != want {
		t.Errorf("Location = %q, want %q", p.Location, want)
	}
	if p.Scheme != "gs" {
		t.Errorf("Properties = %+v", p)
	}
}

// The requests go through objstore's counting transport, and readers and
// writers say which endpoint served them.
func TestCountsRequestsAndEndpoint(t *testing.T) {
	s := fakeGCS(t)
	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{s.Endpoint}})
	defer b.Close()
	var st backends.Stats
	ctx := backends.WithStats(t.Context(), &st)
	w, err := b.Create(ctx, "x.bin", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := backends.EndpointOf(w); got != s.Endpoint {
		t.Errorf("writer endpoint = %q, want %q", got, s.Endpoint)
	}
	io.WriteString(w, "abc")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := b.Open(ctx, "x.bin", 1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := backends.EndpointOf(r); got != s.Endpoint {
		t.Errorf("reader endpoint = %q, want %q", got, s.Endpoint)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "bc" {
		t.Errorf("read %q, %v; want \"bc\"", got, err)
	}
	if n := st.Snapshot().Requests; n < 2 {
		t.Errorf("Stats.Requests = %d after a write and a read, want at least 2", n)
	}
}

// Abort in the middle of a resumable upload (several chunks sent) must
// leave nothing behind, and must not disturb the object it would replace.
func TestAbortResumable(t *testing.T) {
	s := fakeGCS(t)
	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{s.Endpoint}, PartBytes: 256 << 10})
	defer b.Close()
	ctx := t.Context()
	for _, name := range []string{"new.bin", "old.bin"} {
		if name == "old.bin" {
			put(t, b, name, []byte("older"))
		}
		w, err := b.Create(ctx, name, -1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
		info, err := b.Stat(ctx, name)
		switch {
		case name == "new.bin" && !backends.IsNotExist(err):
			t.Errorf("after Abort, Stat(%s) = %+v, %v; want not exist", name, info, err)
		case name == "old.bin" && (err != nil || info.Size != 5):
			t.Errorf("after Abort, Stat(%s) = %+v, %v; want the old 5-byte object", name, info, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	s := fakeGCS(t)
	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{s.Endpoint}})
	defer b.Close()
	_, err := b.Open(context.Background(), "x.bin", 0, -1)
	if want := `gs: open "x.bin": not exist: `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want it to start with %q", err, want)
	}
}

// With GOOGLE_APPLICATION_CREDENTIALS set, requests to an endpoint carry a
// token from the key's token server, and still go through the counting
// transport.
func TestCredentialsFile(t *testing.T) {
	s := fakeGCS(t)
	var tokens atomic.Int64
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"test-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokenSrv.Close()
	var authorized atomic.Int64
	target, _ := url.Parse(s.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer test-token" {
			authorized.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "test",
		"private_key_id": "k1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "mlps@test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      tokenSrv.URL + "/token",
	})
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)

	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{front.URL}})
	defer b.Close()
	var st backends.Stats
	ctx := backends.WithStats(t.Context(), &st)
	if _, err := b.Stat(ctx, "missing.bin"); !backends.IsNotExist(err) {
		t.Errorf("Stat of a missing object: %v", err)
	}
	if tokens.Load() == 0 || authorized.Load() == 0 {
		t.Errorf("%d token requests, %d authorized requests; want both > 0", tokens.Load(), authorized.Load())
	}
	if st.Snapshot().Requests == 0 {
		t.Error("the authorized request was not counted")
	}
}

// The SDK's own emulator variable serves a target that names no endpoint.
func TestEmulatorHostEnv(t *testing.T) {
	s := fakeGCS(t)
	t.Setenv("STORAGE_EMULATOR_HOST", s.Addr)
	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s)})
	defer b.Close()
	put(t, b, "env.bin", []byte("via the environment"))
	if info, err := b.Stat(t.Context(), "env.bin"); err != nil || info.Size != 19 {
		t.Errorf("Stat = %+v, %v", info, err)
	}

	closed := fmt.Sprintf("127.0.0.1:%d", servers.FreePort(t))
	t.Setenv("STORAGE_EMULATOR_HOST", closed)
	_, err := backends.OpenConfig(t.Context(), backends.Config{URI: "gs://some-bucket"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach endpoint http://"+closed) {
		t.Errorf("open against a closed emulator port: %v; want it to name http://%s", err, closed)
	}
}

// A writer given more bytes than announced outgrows its one-request
// buffer and goes on as a resumable upload.
func TestMoreThanAnnounced(t *testing.T) {
	s := fakeGCS(t)
	b := openConfig(t, backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{s.Endpoint}})
	defer b.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 50_000) // 800 000 bytes
	w, err := b.Create(t.Context(), "big.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; rest = rest[min(len(rest), 70_001):] {
		if _, err := w.Write(rest[:min(len(rest), 70_001)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := b.Open(t.Context(), "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, %v; want the %d written", len(got), err, len(data))
	}
}

func put(t *testing.T, b backends.Backend, name string, data []byte) {
	t.Helper()
	w, err := b.Create(t.Context(), name, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// An https:// endpoint that serves plain HTTP is named as such, not as a
// timeout or an unreachable endpoint.
func TestHTTPSToPlainHTTP(t *testing.T) {
	s := fakeGCS(t)
	endpoint := "https://" + strings.TrimPrefix(s.Endpoint, "http://")
	_, err := backends.OpenConfig(t.Context(), backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{endpoint}})
	if err == nil || !strings.Contains(err.Error(), "endpoint "+endpoint+" answers in plain HTTP, not HTTPS") {
		t.Fatalf("error %v; want it to say the endpoint answers in plain HTTP", err)
	}
}

// Without a credentials file, a target against Google says none was found
// and where it looked, and the metadata server (here a loopback listener
// at GCE_METADATA_HOST, which the SDK reads) hears nothing unless the
// target opts in with metadata_credentials.
func TestNoCredentials(t *testing.T) {
	for _, optIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("metadata_credentials=%v", optIn), func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
			t.Setenv("STORAGE_EMULATOR_HOST", "")
			var hits atomic.Int64
			md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.NotFound(w, r)
			}))
			defer md.Close()
			t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
			t.Setenv("GCE_METADATA_IP", strings.TrimPrefix(md.URL, "http://"))
			if !optIn {
				_, err := backends.OpenConfig(t.Context(), backends.Config{URI: "gs://some-bucket"})
				if err == nil || !strings.Contains(err.Error(), "no Google credentials found") ||
					!strings.Contains(err.Error(), filepath.Join(home, "gcloud", "application_default_credentials.json")) ||
					!strings.Contains(err.Error(), "metadata_credentials: true") {
					t.Errorf("error %v; want it to say no credentials were found, where it looked, and how to allow the metadata server", err)
				}
				if n := hits.Load(); n != 0 {
					t.Errorf("the metadata server received %d requests without the target's opt-in", n)
				}
				return
			}
			// With the opt-in the SDK asks the metadata server for a token
			// before it sends the request, which the 404 then fails.
			_, err := backends.OpenConfig(t.Context(), backends.Config{URI: "gs://some-bucket", MetadataCredentials: true})
			if err == nil {
				t.Fatal("open with a metadata server that has no token succeeded")
			}
			t.Log(err)
			if hits.Load() == 0 {
				t.Errorf("the metadata server received nothing although the target opted in (%v)", err)
			}
		})
	}
}

// reference times a successful open of a bucket that exists, the measure
// of this machine's speed that servers.Prompt scales its bound by.
func reference(t *testing.T, s *servers.FakeGCSServer) time.Duration {
	c := backends.Config{URI: "gs://" + bucket(t, s), Endpoints: []string{s.Endpoint}}
	return servers.Reference(t, func() error {
		b, err := backends.OpenConfig(t.Context(), c)
		if err == nil {
			b.Close()
		}
		return err
	})
}
