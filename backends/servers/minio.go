package servers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"mlps.dev/mlps/backends/servers/install"
)

// MinIOTool is the MinIO server; the module proxy serves one version.
var MinIOTool = install.MinIO

// MinIO credentials of every server Start starts; tests export them as
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or name them by variable.
const (
	MinIOUser     = "mlpstest"
	MinIOPassword = "mlpstest-secret-key"
)

// MinIOServer is a MinIO server on loopback, storing into a temporary
// directory.
type MinIOServer struct {
	*Process
	// Endpoint is its base URL, http://127.0.0.1:PORT (https:// when
	// started by MinIOTLS).
	Endpoint string
	Addr     string
	ca       *CA    // the CA of its certificate; nil when it serves plain HTTP
	dir      string // where it stores
}

// EmptyTrash removes the data of objects overwritten or deleted so far,
// which MinIO keeps in its trash until a sweep of its own: a benchmark
// that rewrites gigabytes a minute into tmpfs calls it between runs, or
// the host runs out of memory before the sweep.
func (s *MinIOServer) EmptyTrash() error {
	trash := filepath.Join(s.dir, ".minio.sys", "tmp", ".trash")
	entries, err := os.ReadDir(trash)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(trash, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// MinIO starts a MinIO server for the test and stops it at cleanup.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	return minioIn(t, t.TempDir(), nil)
}

// MinIOInMemory is MinIO storing into tmpfs (/dev/shm) where the host has
// it, for benchmarks that compare clients: a disk's write-back stalls
// would swamp the differences they measure.
func MinIOInMemory(t testing.TB) *MinIOServer {
	t.Helper()
	sweepShm()
	dir, err := os.MkdirTemp("/dev/shm", fmt.Sprintf("mlps-minio-%d-", os.Getpid()))
	if err != nil {
		t.Logf("no tmpfs at /dev/shm (%v): MinIO stores on disk", err)
		return MinIO(t)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return minioIn(t, dir, nil)
}

// sweepShm removes the tmpfs stores of MinIO servers whose test process
// is gone (killed before its cleanup ran): they would hold the host's
// memory until a reboot.
func sweepShm() {
	dirs, _ := filepath.Glob("/dev/shm/mlps-minio-*-*")
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "mlps-minio-%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// minioIn starts MinIO storing into dir, serving HTTPS with a certificate
// ca signed when ca is not nil, on a port of its own (see owned).
func minioIn(t testing.TB, dir string, ca *CA) *MinIOServer {
	t.Helper()
	return owned(t, "minio", func() (*MinIOServer, string) {
		s := minioOnce(t, dir, ca)
		return s, s.Addr
	})
}

func minioOnce(t testing.TB, dir string, ca *CA) *MinIOServer {
	t.Helper()
	bin := Need(t, MinIOTool)
	addr, console := Addr(FreePort(t)), Addr(FreePort(t))
	endpoint := scheme(ca) + "://" + addr
	args := []string{"server", "--quiet", "--address", addr, "--console-address", console}
	if ca != nil {
		// MinIO serves TLS when its certs directory holds these two names.
		certs := t.TempDir()
		ca.ServerCert(t, filepath.Join(certs, "public.crt"), filepath.Join(certs, "private.key"))
		args = append(args, "--certs-dir", certs)
	}
	p := Start(t, "minio", bin, append(args, dir),
		[]string{"MINIO_ROOT_USER=" + MinIOUser, "MINIO_ROOT_PASSWORD=" + MinIOPassword,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1"},
		httpReady(ca, endpoint+"/minio/health/live", 200))
	return &MinIOServer{Process: p, Endpoint: endpoint, Addr: addr, ca: ca, dir: dir}
}

// Client is a minio-go client of the server, for test setup.
func (s *MinIOServer) Client(t testing.TB) *minio.Client {
	t.Helper()
	opts := &minio.Options{Creds: credentials.NewStaticV4(MinIOUser, MinIOPassword, "")}
	if s.ca != nil {
		opts.Secure, opts.Transport = true, s.ca.Transport()
	}
	c, err := minio.New(s.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a bucket on the server.
func (s *MinIOServer) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
}
