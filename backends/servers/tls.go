package servers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test: no system trusts it,
// so a client reaches a server whose certificate it signed only when it is
// told to trust it (a target's ca_file) or to skip verification.
type CA struct {
	// File is the CA's certificate as a PEM file: what a target's ca_file
	// names.
	File string
	// Pool holds the CA's certificate alone, for the harness's own clients.
	Pool *x509.CertPool

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a certificate authority whose files live in the test's
// temporary directory. Each test run has its own, so no key outlives it.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Organization: []string{"mlps test"}, CommonName: "mlps test CA"},
		NotBefore:             time.Now().Add(-time.Hour), // a server's clock may lag a little
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{File: filepath.Join(t.TempDir(), "ca.pem"), Pool: x509.NewCertPool(), cert: cert, key: key}
	ca.Pool.AddCert(cert)
	writePEM(t, ca.File, "CERTIFICATE", der, 0o644)
	return ca
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ServerCert writes a certificate for 127.0.0.1 and localhost, signed by
// the CA, and its private key, as PEM files at certFile and keyFile: the
// form MinIO, fake-gcs-server and Azurite all read.
func (ca *CA) ServerCert(t testing.TB, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{Organization: []string{"mlps test"}, CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der, 0o644)
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8, 0o600)
}

func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}

// Transport is an HTTP transport that trusts the CA and nothing else, so
// that the harness's own requests prove the server's certificate is the
// one the CA signed.
func (ca *CA) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	return tr
}

// httpClient is the harness's client for a server: one that trusts ca
// when the server serves HTTPS (ca != nil), a plain one otherwise.
func httpClient(ca *CA, timeout time.Duration) *http.Client {
	if ca == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: ca.Transport()}
}

// httpReady is HTTPReady through a client that trusts ca (nil: plain).
func httpReady(ca *CA, url string, status int) func() error {
	return readyWith(httpClient(ca, 2*time.Second), url, status)
}

// scheme is the URL scheme of a server that serves TLS with ca's
// certificate (ca != nil) or plain HTTP.
func scheme(ca *CA) string {
	if ca == nil {
		return "http"
	}
	return "https"
}

// MinIOTLS starts a MinIO server that serves HTTPS only, with a
// certificate ca signed, and stops it at cleanup.
func MinIOTLS(t testing.TB, ca *CA) *MinIOServer {
	t.Helper()
	return minioIn(t, t.TempDir(), ca)
}

// FakeGCSTLS starts a fake-gcs-server that serves HTTPS only, with a
// certificate ca signed, and stops it at cleanup.
func FakeGCSTLS(t testing.TB, ca *CA) *FakeGCSServer {
	t.Helper()
	return fakeGCS(t, ca)
}

// AzuriteTLS starts an Azurite blob service that serves HTTPS only, with
// a certificate ca signed, and stops it at cleanup.
func AzuriteTLS(t testing.TB, ca *CA) *AzuriteServer {
	t.Helper()
	return azurite(t, ca)
}
