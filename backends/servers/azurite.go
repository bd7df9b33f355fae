package servers

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"mlps.dev/mlps/backends/servers/install"
)

// AzuriteTool is Azurite's blob service alone: the full azurite would also
// start queue and table services on ports a test does not reserve.
var AzuriteTool = install.Azurite

// The development account every Azurite serves; these are published
// constants of the emulator, not secrets.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzuriteServer is an Azurite blob service on loopback, storing into a
// temporary directory.
type AzuriteServer struct {
	*Process
	// Endpoint is its base URL, http://127.0.0.1:PORT (https:// when
	// started by AzuriteTLS); the account is the
	// first element of a request's path.
	Endpoint string
	Account  string
	Key      string
	ca       *CA // the CA of its certificate; nil when it serves plain HTTP
}

// Azurite starts an Azurite blob service for the test and stops it at
// cleanup.
func Azurite(t testing.TB) *AzuriteServer {
	t.Helper()
	return azurite(t, nil)
}

// azurite starts Azurite's blob service, serving HTTPS with a certificate
// ca signed when ca is not nil, on a port of its own (see owned).
func azurite(t testing.TB, ca *CA) *AzuriteServer {
	t.Helper()
	return owned(t, "azurite", func() (*AzuriteServer, string) {
		s := azuriteOnce(t, ca)
		return s, s.Endpoint
	})
}

func azuriteOnce(t testing.TB, ca *CA) *AzuriteServer {
	t.Helper()
	bin := Need(t, AzuriteTool)
	dir := t.TempDir()
	port := FreePort(t)
	endpoint := scheme(ca) + "://" + Addr(port)
	args := []string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
		// The SDK may speak a newer API version than the emulator
		// knows, and sends headers it does not implement.
		"--skipApiVersionCheck", "--loose", "--silent",
		// Tests must not phone home.
		"--disableTelemetry"}
	if ca != nil {
		// Azurite serves HTTPS when given a PEM certificate and key.
		certs := t.TempDir()
		cert, key := filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")
		ca.ServerCert(t, cert, key)
		args = append(args, "--cert", cert, "--key", key)
	}
	p := Start(t, "azurite", bin, args, nil,
		httpReady(ca, endpoint+"/"+AzuriteAccount+"?comp=properties&restype=service", 0))
	return &AzuriteServer{Process: p, Endpoint: endpoint, Account: AzuriteAccount, Key: AzuriteKey, ca: ca}
}

// ConnectionString is what AZURE_STORAGE_CONNECTION_STRING holds to reach
// the server.
func (s *AzuriteServer) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;",
		scheme(s.ca), s.Account, s.Key, s.Endpoint, s.Account)
}

// Client is an azblob client of the server, for test setup.
func (s *AzuriteServer) Client(t testing.TB) *azblob.Client {
	t.Helper()
	var opts *azblob.ClientOptions
	if s.ca != nil {
		opts = &azblob.ClientOptions{}
		opts.Transport = &http.Client{Transport: s.ca.Transport()}
	}
	c, err := azblob.NewClientFromConnectionString(s.ConnectionString(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Container creates a container on the server.
func (s *AzuriteServer) Container(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateContainer(ctx, name, nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
}
