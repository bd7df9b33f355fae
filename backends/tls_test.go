package backends

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func init() {
	Register(Scheme{
		Name:    "tlstest",
		Options: []string{"ca_file", "insecure_skip_verify"},
		Check:   func(u *url.URL, _ *Config) (string, error) { return u.String(), nil },
		Open:    func(context.Context, *url.URL, *Config) (Backend, error) { return nil, errors.New("not for opening") },
	})
}

// caPEM is a self-signed CA certificate in PEM.
func caPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A ca_file that cannot serve as a CA bundle is refused by Resolve, at
// plan time, as an error about ca_file that names the path and says what
// the option wants; it never shows the file's content.
func TestResolveCAFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ca.pem", caPEM(t))
	// A private key pasted where the CA goes: PEM, but no certificate.
	key := write("key.pem", []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"))
	text := write("ca.txt", []byte("secret-key-bytes\n"))
	for _, tc := range []struct {
		name, path string
		want       string // in the error; "" resolves
	}{
		{"PEM bundle", good, ""},
		{"missing", filepath.Join(dir, "nope.pem"), "no such file or directory"},
		{"directory", dir, "is a directory"},
		{"empty", os.DevNull, "holds no PEM certificate"},
		{"not PEM", text, "holds no PEM certificate"},
		{"PEM without a certificate", key, "holds no PEM certificate"},
		{"endless", "/dev/zero", "larger than 16 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Resolve(Config{URI: "tlstest://x", CAFile: tc.path})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tg.CAFile != tc.path {
					t.Errorf("resolved ca_file %q, want %q", tg.CAFile, tc.path)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != "ca_file" {
				t.Fatalf("error %v, want an OptionError about ca_file", err)
			}
			msg := oe.Err.Error()
			for _, w := range []string{tc.path, tc.want, "want a PEM file"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "secret-key-bytes") || strings.Contains(msg, "c2VjcmV0") {
				t.Errorf("error %q shows the file's content", msg)
			}
		})
	}
}
