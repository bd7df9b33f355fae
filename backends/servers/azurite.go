package servers

import (
	"context"
	"fmt"
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
	// Endpoint is its base URL, http://127.0.0.1:PORT; the account is the
	// first element of a request's path.
	Endpoint string
	Account  string
	Key      string
}

// Azurite starts an Azurite blob service for the test and stops it at
// cleanup.
func Azurite(t testing.TB) *AzuriteServer {
	t.Helper()
	bin := Need(t, AzuriteTool)
	dir := t.TempDir()
	port := FreePort(t)
	endpoint := "http://" + Addr(port)
	p := Start(t, "azurite", bin,
		[]string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
			// The SDK may speak a newer API version than the emulator
			// knows, and sends headers it does not implement.
			"--skipApiVersionCheck", "--loose", "--silent",
			// Tests must not phone home.
			"--disableTelemetry"},
		nil, HTTPReady(endpoint+"/"+AzuriteAccount+"?comp=properties&restype=service", 0))
	return &AzuriteServer{Process: p, Endpoint: endpoint, Account: AzuriteAccount, Key: AzuriteKey}
}

// ConnectionString is what AZURE_STORAGE_CONNECTION_STRING holds to reach
// the server.
func (s *AzuriteServer) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;",
		s.Account, s.Key, s.Endpoint, s.Account)
}

// Client is an azblob client of the server, for test setup.
func (s *AzuriteServer) Client(t testing.TB) *azblob.Client {
	t.Helper()
	c, err := azblob.NewClientFromConnectionString(s.ConnectionString(), nil)
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
