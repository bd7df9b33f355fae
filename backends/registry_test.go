package backends

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

type fakeBackend struct {
	Backend
	u *url.URL
}

func init() {
	Register("regtest", func(_ context.Context, u *url.URL) (Backend, error) {
		if u.Host == "fail" {
			return nil, errors.New("opener refused")
		}
		return fakeBackend{u: u}, nil
	})
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
		{"regtest://AKIAKEY:s3cr3t@fail/x", "opener refused"},
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
	open := func(context.Context, *url.URL) (Backend, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		scheme string
		open   Opener
	}{
		{"duplicate", "regtest", open},
		{"upper case", "S3", open},
		{"empty", "", open},
		{"leading digit", "9p", open},
		{"nil opener", "regtest-nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tc.scheme)
				}
			}()
			Register(tc.scheme, tc.open)
		})
	}
}
