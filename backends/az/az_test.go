package az_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/az"
	"mlps.dev/mlps/backends/backendtest"
	"mlps.dev/mlps/backends/servers"
)

// Credentials go through variables of our own naming, so that whatever
// AZURE_STORAGE_* the developer's shell holds cannot redirect the tests.
const (
	accountEnv = "MLPS_AZ_TEST_ACCOUNT"
	keyEnv     = "MLPS_AZ_TEST_KEY"
)

// One Azurite serves the whole test binary: it takes a few seconds to
// start, and containers keep the tests apart.
var shared struct {
	once     sync.Once
	srv      *servers.AzuriteServer
	cleanups []func()
	n        atomic.Int64
}

// binaryTB hands servers.Azurite a testing.TB whose cleanups and temporary
// directory last until TestMain ends, not until the first test does.
type binaryTB struct{ testing.TB }

func (binaryTB) Cleanup(f func()) { shared.cleanups = append(shared.cleanups, f) }

func (b binaryTB) TempDir() string {
	d, err := os.MkdirTemp("", "mlps-azurite-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(shared.cleanups) - 1; i >= 0; i-- {
		shared.cleanups[i]()
	}
	os.Exit(code)
}

func azurite(t *testing.T) *servers.AzuriteServer {
	t.Helper()
	shared.once.Do(func() {
		shared.srv = servers.Azurite(binaryTB{t})
		os.Setenv(accountEnv, shared.srv.Account)
		os.Setenv(keyEnv, shared.srv.Key)
	})
	if shared.srv == nil {
		t.Fatal("Azurite did not start in an earlier test")
	}
	return shared.srv
}

// container makes a fresh container for one test.
func container(t *testing.T, srv *servers.AzuriteServer) string {
	t.Helper()
	name := fmt.Sprintf("mlps-%d", shared.n.Add(1))
	srv.Container(t, name)
	return name
}

func config(srv *servers.AzuriteServer, uri string) backends.Config {
	return backends.Config{URI: uri, Endpoints: []string{srv.Endpoint}, AccessKeyEnv: accountEnv, SecretKeyEnv: keyEnv}
}

func open(t *testing.T, c backends.Config) backends.Backend {
	t.Helper()
	b, err := backends.OpenConfig(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := azurite(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return open(t, config(srv, "az://"+container(t, srv)+"/some/prefix"))
	}, backendtest.Endpoints(srv.Endpoint))
}

// TestConformanceSmallParts runs the suite with parts and splits small
// enough that the Large test uploads many blocks and reads in parallel
// ranged requests.
func TestConformanceSmallParts(t *testing.T) {
	srv := azurite(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		c := config(srv, "az://"+container(t, srv))
		c.PartBytes, c.PartConcurrency = 1<<20, 3
		c.SplitBytes, c.SplitConcurrency = 2<<20, 3
		return open(t, c)
	}, backendtest.Endpoints(srv.Endpoint))
}

func TestSplitReadUsesRangedRequests(t *testing.T) {
	srv := azurite(t)
	c := config(srv, "az://"+container(t, srv))
	c.PartBytes, c.SplitBytes = 1<<20, 1<<20
	b := open(t, c)
	defer b.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16+3)
	w, err := b.Create(t.Context(), "split.bin", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var st backends.Stats
	ctx := backends.WithStats(t.Context(), &st)
	r, err := b.Open(ctx, "split.bin", 100, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := backends.EndpointOf(r); got != srv.Endpoint {
		t.Errorf("reader endpoint = %q, want %q", got, srv.Endpoint)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data[100:]) {
		t.Fatalf("split read: %d bytes, %v; want %d bytes of the object", len(got), err, len(data)-100)
	}
	// One HEAD and six ranged GETs of at most 1 MiB each.
	if n := st.Requests.Load(); n < 6 {
		t.Errorf("split read of %d bytes made %d requests; want one per 1 MiB chunk", len(got), n)
	}
}

func TestPrefixNamesBlobs(t *testing.T) {
	srv := azurite(t)
	cont := container(t, srv)
	b := open(t, config(srv, "az://"+cont+"/run/1"))
	defer b.Close()
	w, err := b.Create(t.Context(), "train/x.bin", 3)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "abc")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	props, err := srv.Client(t).ServiceClient().NewContainerClient(cont).NewBlobClient("run/1/train/x.bin").GetProperties(t.Context(), nil)
	if err != nil || props.ContentLength == nil || *props.ContentLength != 3 {
		t.Errorf("blob run/1/train/x.bin: %v; want the 3-byte object written as train/x.bin under prefix run/1", err)
	}
	if loc := b.Properties().Location; loc != "az://"+cont+"/run/1" {
		t.Errorf("Location = %q, want az://%s/run/1", loc, cont)
	}
}

func TestConnectionString(t *testing.T) {
	srv := azurite(t)
	cont := container(t, srv)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", srv.ConnectionString())
	for _, c := range []backends.Config{
		{URI: "az://" + cont}, // the string's BlobEndpoint
		{URI: "az://" + cont, Endpoints: []string{srv.Endpoint}}, // its account and key, our endpoint
	} {
		b := open(t, c)
		name := fmt.Sprintf("cs-%d.bin", len(c.Endpoints))
		w, err := b.Create(t.Context(), name, -1)
		if err != nil {
			t.Fatal(err)
		}
		if ep := backends.EndpointOf(w); ep != srv.Endpoint {
			t.Errorf("writer endpoint = %q, want %q", ep, srv.Endpoint)
		}
		io.WriteString(w, "hello")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if info, err := b.Stat(t.Context(), name); err != nil || info.Size != 5 {
			t.Errorf("Stat = %+v, %v; want 5 bytes", info, err)
		}
		checkNoSecret(t, b.Properties().Location, srv.Key)
		b.Close()
	}
}

func TestSeveralEndpoints(t *testing.T) {
	srv := azurite(t)
	c := config(srv, "az://"+container(t, srv))
	// Two spellings of one server are two endpoints to the backend.
	alt := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	c.Endpoints = []string{srv.Endpoint, alt}
	b := open(t, c)
	defer b.Close()
	seen := map[string]bool{}
	for i := range 4 {
		w, err := b.Create(t.Context(), fmt.Sprintf("ep/%d.bin", i), -1)
		if err != nil {
			t.Fatal(err)
		}
		seen[backends.EndpointOf(w)] = true
		io.WriteString(w, "x")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !seen[srv.Endpoint] || !seen[alt] {
		t.Errorf("writers went to %v; want both endpoints round robin", seen)
	}
}

// openFails opens c, which must fail within the open-time check's bound,
// and returns the error's message.
func openFails(t *testing.T, c backends.Config) (string, error) {
	t.Helper()
	// A successful open of a container that exists: the measure of this
	// machine's speed that servers.Prompt scales its bound by.
	srv := azurite(t)
	ok := config(srv, "az://"+container(t, srv))
	ref := servers.Reference(t, func() error {
		b, err := backends.OpenConfig(t.Context(), ok)
		if err == nil {
			b.Close()
		}
		return err
	})
	start := time.Now()
	b, err := backends.OpenConfig(t.Context(), c)
	if err == nil {
		b.Close()
		t.Fatalf("OpenConfig(%s) succeeded", c.URI)
	}
	if d, bound := time.Since(start), servers.Prompt(ref); d > bound {
		t.Errorf("OpenConfig took %v to fail; want under %v (a successful open took %v)", d, bound, ref)
	}
	t.Logf("error: %v", err)
	return err.Error(), err
}

func TestMissingContainer(t *testing.T) {
	srv := azurite(t)
	msg, err := openFails(t, config(srv, "az://no-such-container/p"))
	if !strings.Contains(msg, "container no-such-container does not exist") || !strings.Contains(msg, "create it first") {
		t.Errorf("error %q does not say that container no-such-container is missing and must be created", msg)
	}
	if !backends.IsNotExist(err) {
		t.Errorf("kind %v, want not exist", backends.KindOf(err))
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", servers.FreePort(t))
	t.Setenv(accountEnv, servers.AzuriteAccount)
	t.Setenv(keyEnv, servers.AzuriteKey)
	msg, _ := openFails(t, backends.Config{URI: "az://c-unreachable", Endpoints: []string{endpoint},
		AccessKeyEnv: accountEnv, SecretKeyEnv: keyEnv})
	if !strings.Contains(msg, "cannot reach endpoint "+endpoint) {
		t.Errorf("error %q does not name the unreachable endpoint %s", msg, endpoint)
	}
	checkNoSecret(t, msg, servers.AzuriteKey)
}

func TestWrongKey(t *testing.T) {
	srv := azurite(t)
	cont := container(t, srv)
	wrong := base64.StdEncoding.EncodeToString([]byte("not the key of devstoreaccount1, nor of any other"))
	t.Setenv("MLPS_AZ_TEST_WRONG_KEY", wrong)
	c := config(srv, "az://"+cont)
	c.SecretKeyEnv = "MLPS_AZ_TEST_WRONG_KEY"
	msg, err := openFails(t, c)
	if backends.KindOf(err) != backends.Permission || !strings.Contains(msg, "credentials rejected") {
		t.Errorf("error %q (kind %v); want a permission error saying the credentials were rejected", msg, backends.KindOf(err))
	}
	if !strings.Contains(msg, "MLPS_AZ_TEST_WRONG_KEY") {
		t.Errorf("error %q does not name the variable holding the key", msg)
	}
	checkNoSecret(t, msg, wrong)
}

func TestBadCredentialsFailBeforeNetwork(t *testing.T) {
	for _, tc := range []struct {
		name, account, key, want string
	}{
		{"no account", "", "a2V5", "MLPS_AZ_TEST_NOACCT is not set"},
		{"no key", "acct", "", "MLPS_AZ_TEST_NOKEY is not set"},
		{"key not base64", "acct", "s3cr3t!!", "not valid base64"},
		{"key in account variable", "Eby8vdM02x/==", "a2V5", "account name in MLPS_AZ_TEST_NOACCT is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MLPS_AZ_TEST_NOACCT", tc.account)
			t.Setenv("MLPS_AZ_TEST_NOKEY", tc.key)
			_, err := backends.OpenConfig(t.Context(), backends.Config{URI: "az://cont",
				Endpoints: []string{"http://127.0.0.1:1"}, AccessKeyEnv: "MLPS_AZ_TEST_NOACCT", SecretKeyEnv: "MLPS_AZ_TEST_NOKEY"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to say %q", err, tc.want)
			}
			if tc.key != "" {
				checkNoSecret(t, err.Error(), tc.key)
			}
			if tc.account != "" && tc.account != "acct" {
				checkNoSecret(t, err.Error(), tc.account)
			}
		})
	}
}

func TestBadURI(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"az://user:pw@cont/p", "carries a user name or password: az credentials go in AZURE_STORAGE_CONNECTION_STRING"},
		{"az://cont/p?sig=x", "carries a credential in its query (sig)"},
		{"az://cont/p?restype=x", "takes no query"},
		{"az://cont/p#frag", "takes no fragment"},
		{"az:///p", "names no container"},
		{"az://", "names no container"},
		{"az:cont", "needs //"},
		{"az://Upper/p", "not valid"},
		{"az://ab/p", "not valid"},
		{"az://a--b/p", "not valid"},
		{"az://-ab/p", "not valid"},
		{"az://ab-/p", "not valid"},
		{"az://cont:80/p", "not valid"},
		{"az://cont/a/../b", "prefix"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			_, err := backends.OpenConfig(context.Background(), backends.Config{URI: tc.uri,
				AccessKeyEnv: "MLPS_AZ_TEST_UNSET_A", SecretKeyEnv: "MLPS_AZ_TEST_UNSET_K"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to say %q", err, tc.want)
			}
			checkNoSecret(t, err.Error(), "pw")
		})
	}
}

func TestLocationHasNoSecret(t *testing.T) {
	srv := azurite(t)
	cont := container(t, srv)
	b := open(t, config(srv, "az://"+cont+"/p"))
	defer b.Close()
	p := b.Properties()
	if p.Location != "az://"+cont+"/p" || p.Scheme != "az" {
		t.Errorf("Properties = %+v, want scheme az, location az://%s/p", p, cont)
	}
	checkNoSecret(t, fmt.Sprintf("%+v", p), srv.Key)
}

func TestErrorMessages(t *testing.T) {
	srv := azurite(t)
	b := open(t, config(srv, "az://"+container(t, srv)))
	defer b.Close()
	_, err := b.Open(t.Context(), "x.bin", 0, -1)
	if want := `az: open "x.bin": not exist: HTTP 404 BlobNotFound`; err == nil || err.Error() != want {
		t.Errorf("Open of a missing object: %v; want %s", err, want)
	}
	err = b.Delete(t.Context(), "x.bin")
	if want := `az: delete "x.bin": not exist: HTTP 404 BlobNotFound`; err == nil || err.Error() != want {
		t.Errorf("Delete of a missing object: %v; want %s", err, want)
	}
}

func checkNoSecret(t *testing.T, s, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(s, secret) {
		t.Errorf("%q holds a secret", s)
	}
}

func TestContainerNames(t *testing.T) {
	srv := azurite(t)
	for _, name := range []string{"a-b", "abc", "0-9-z"} {
		srv.Container(t, name)
		b := open(t, config(srv, "az://"+name))
		b.Close()
	}
}

// An https:// endpoint that serves plain HTTP is named as such, not as an
// unreachable endpoint.
func TestHTTPSToPlainHTTP(t *testing.T) {
	srv := azurite(t)
	c := config(srv, "az://"+container(t, srv))
	endpoint := "https://" + strings.TrimPrefix(srv.Endpoint, "http://")
	c.Endpoints = []string{endpoint}
	msg, _ := openFails(t, c)
	if !strings.Contains(msg, "endpoint "+endpoint+" answers in plain HTTP, not HTTPS") {
		t.Errorf("error %q does not say the endpoint answers in plain HTTP", msg)
	}
}
