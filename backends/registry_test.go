package backends

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type fakeBackend struct {
	Backend
	u *url.URL
}

func init() {
	Register(regtest)
}

// regtest is a scheme for the registry's tests: it opens a backend that
// only remembers its URI, refuses at Check a URI whose host is "bad" and
// at Open one whose host is "fail".
var regtest = Scheme{
	Name:    "regtest",
	Traits:  Traits{Shared: true, Clients: []string{"one", "two"}},
	Options: []string{"endpoints", "endpoints_file", "region"},
	Hints:   map[string]string{"part_bytes": "regtest sends each object whole"},
	Check: func(u *url.URL, c *Config) (string, error) {
		switch {
		case u.Host == "bad":
			return "", errors.New("checker refused")
		case c.Region == "nowhere":
			return "", &OptionError{Option: "region", Err: errors.New("no such region")}
		}
		return "regtest://" + u.Host + u.Path, nil
	},
	Open: func(_ context.Context, u *url.URL, c *Config) (Backend, error) {
		if u.Host == "fail" {
			return nil, errors.New("opener refused")
		}
		return fakeBackend{u: u}, nil
	},
}

func TestOpen(t *testing.T) {
	b, err := Open(t.Context(), "REGTEST://bucket/prefix")
	if err != nil {
		t.Fatal(err)
	}
	if u := b.(fakeBackend).u; u.Scheme != "regtest" || u.Host != "bucket" || u.Path != "/prefix" {
		t.Errorf("opener got %v", u)
	}
	if !slices.Contains(Schemes(), "regtest") || !slices.IsSorted(Schemes()) {
		t.Errorf("Schemes() = %v, want sorted and containing regtest", Schemes())
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"nosuch://AKIAKEY:s3cr3t@bucket/x", `no backend for scheme "nosuch"`},
		{"nosuch://x", "registered schemes: " + strings.Join(Schemes(), ", ")},
		{"/data/mlps", "has no scheme; want a URI such as file:///data/mlps"},
		{"regtest://AKIAKEY:s3cr3t@bucket:badport/x", "invalid target URI"},
		{"regtest://AKIAKEY:s3cr3t@fail/x", "carries a user name or password: regtest targets take no credentials"},
		{"regtest://fail/x", "opener refused"},
		{"regtest://u:s3cr3t@host/\x7f", "invalid target URI"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			_, err := Open(t.Context(), tc.uri)
			if err == nil {
				t.Fatalf("Open(%q) succeeded, want an error", tc.uri)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "AKIAKEY") {
				t.Errorf("error %q shows the userinfo", msg)
			}
		})
	}
}

func TestRegisterPanics(t *testing.T) {
	with := func(f func(*Scheme)) Scheme {
		s := regtest
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name   string
		scheme Scheme
	}{
		{"duplicate", regtest},
		{"upper case", with(func(s *Scheme) { s.Name = "S3" })},
		{"empty", with(func(s *Scheme) { s.Name = "" })},
		{"leading digit", with(func(s *Scheme) { s.Name = "9p" })},
		{"nil opener", with(func(s *Scheme) { s.Name, s.Open = "regtest-nil", nil })},
		{"nil check", with(func(s *Scheme) { s.Name, s.Check = "regtest-nocheck", nil })},
		{"unknown option", with(func(s *Scheme) { s.Name, s.Options = "regtest-opt", []string{"colour"} })},
		{"client listed", with(func(s *Scheme) { s.Name, s.Options = "regtest-client", []string{"client"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tc.scheme.Name)
				}
			}()
			Register(tc.scheme)
		})
	}
}

func TestResolve(t *testing.T) {
	file := filepath.Join(t.TempDir(), "endpoints")
	os.WriteFile(file, []byte("http://127.0.0.1:9000\n"), 0o644)
	for _, tc := range []struct {
		name           string
		c              Config
		option, errMsg string // the error's option and part of its text
		client         string // the resolved client
		endpoints      string
	}{
		{name: "default client", c: Config{URI: "regtest://b/p"}, client: "one"},
		{name: "chosen client", c: Config{URI: "regtest://b/p", Client: "two"}, client: "two"},
		{name: "expanded endpoints", c: Config{URI: "regtest://b", Endpoints: []string{"http://h{1...2}:9000"}},
			client: "one", endpoints: "http://h1:9000 http://h2:9000"},
		{name: "endpoints file", c: Config{URI: "regtest://b", EndpointsFile: file}, client: "one", endpoints: "http://127.0.0.1:9000"},
		{name: "unknown client", c: Config{URI: "regtest://b", Client: "three"}, option: "client", errMsg: `regtest client "three": want one or two`},
		{name: "option not taken", c: Config{URI: "regtest://b", PartBytes: 5 << 20}, option: "part_bytes", errMsg: "regtest targets take no part_bytes: regtest sends each object whole"},
		{name: "option not taken, no hint", c: Config{URI: "regtest://b", SplitBytes: 1 << 20}, option: "split_bytes", errMsg: "regtest targets take no split_bytes: remove it"},
		{name: "malformed endpoint", c: Config{URI: "regtest://b", Endpoints: []string{"http://h:9000/bucket"}}, option: "endpoints", errMsg: "the bucket goes in the target URI"},
		{name: "missing endpoints file", c: Config{URI: "regtest://b", EndpointsFile: "/no/such/file"}, option: "endpoints_file", errMsg: "endpoints file"},
		{name: "check refuses the URI", c: Config{URI: "regtest://bad"}, option: "uri", errMsg: "checker refused"},
		{name: "check refuses an option", c: Config{URI: "regtest://b", Region: "nowhere"}, option: "region", errMsg: "no such region"},
		{name: "unknown scheme", c: Config{URI: "nosuch://b"}, option: "uri", errMsg: `no backend for scheme "nosuch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.c)
			if tc.errMsg != "" {
				var oe *OptionError
				if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("Resolve(%+v) = %v, want an error about %s saying %q", tc.c, err, tc.option, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Client != tc.client || strings.Join(got.Endpoints, " ") != tc.endpoints || got.EndpointsFile != "" {
				t.Errorf("resolved client %q, endpoints %q (file %q); want %q, %q", got.Client, got.Endpoints, got.EndpointsFile, tc.client, tc.endpoints)
			}
			if got.Scheme != "regtest" || !got.Traits.Shared {
				t.Errorf("resolved scheme %q traits %+v", got.Scheme, got.Traits)
			}
		})
	}
}

func TestSameStorage(t *testing.T) {
	resolve := func(c Config) *Target {
		t.Helper()
		r, err := Resolve(c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := resolve(Config{URI: "regtest://b/p", Endpoints: []string{"http://h1:9000", "http://h2:9000"}})
	for _, tc := range []struct {
		name string
		c    Config
		same bool
	}{
		{"another client", Config{URI: "regtest://b/p", Client: "two", Endpoints: []string{"http://h2:9000", "http://h1:9000"}}, true},
		{"another path", Config{URI: "regtest://b/q", Endpoints: []string{"http://h1:9000", "http://h2:9000"}}, false},
		{"other endpoints", Config{URI: "regtest://b/p", Endpoints: []string{"http://h3:9000"}}, false},
	} {
		if got := a.SameStorage(resolve(tc.c)); got != tc.same {
			t.Errorf("%s: SameStorage = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// A credential written into a target is refused before anything opens,
// whichever place it is in, with where the scheme takes credentials, and
// the refusal does not show it.
func TestResolveRefusesCredentials(t *testing.T) {
	withCreds := regtest
	withCreds.Name = "regcreds"
	withCreds.Options = []string{"endpoints"}
	withCreds.Credentials = "REGCREDS_KEY in the environment"
	Register(withCreds)
	for _, tc := range []struct {
		c      Config
		option string
		want   string
	}{
		{Config{URI: "regcreds://AKIAKEY:s3cr3t@bucket/x"}, "uri", "regcreds://REDACTED@bucket/x carries a user name or password: regcreds credentials go in REGCREDS_KEY in the environment"},
		{Config{URI: "regcreds://bucket/x?X-Amz-Signature=s3cr3t"}, "uri", "carries a credential in its query (X-Amz-Signature)"},
		{Config{URI: "regcreds://bucket/x?sig=s3cr3t&sv=1"}, "uri", "carries a credential in its query (sig)"},
		{Config{URI: "regcreds://bucket/x", Endpoints: []string{"http://127.0.0.1:1,http://AKIAKEY:s3cr3t@127.0.0.1:2"}}, "endpoints", `endpoint "http://REDACTED@127.0.0.1:2" carries a user name or password`},
		{Config{URI: "regcreds://bucket/x", Endpoints: []string{"http://127.0.0.1:1/?token=s3cr3t"}}, "endpoints", "carries a credential in its query (token)"},
	} {
		t.Run(tc.c.URI, func(t *testing.T) {
			_, err := Resolve(tc.c)
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option {
				t.Fatalf("Resolve = %v, want an OptionError about %s", err, tc.option)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "AKIAKEY") {
				t.Errorf("error %q: want it to contain %q and no secret", msg, tc.want)
			}
		})
	}
}
