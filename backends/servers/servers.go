// Package servers starts real storage servers on loopback for tests:
// MinIO for s3, fake-gcs-server for gs and Azurite for az, each installed
// on first need by package install.
//
// A test skips, naming the tool, only when the tool cannot be had; with
// MLPS_REQUIRE_SERVERS=1 (as .ci/run sets) it fails instead, so CI never
// passes by skipping.
package servers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"mlps.dev/mlps/backends/servers/install"
)

// Tool is a server program and how to install it.
type Tool = install.Tool

// CacheDir is where installed tools live: $MLPS_TOOLS, else mlps/tools in
// the user's cache directory.
func CacheDir() string { return install.CacheDir() }

// GoTool installs a Go program with go install.
func GoTool(name, pkg string) Tool { return install.GoTool(name, pkg) }

// NPMTool installs an npm package and runs its bin.
func NPMTool(name, pkg string) Tool { return install.NPMTool(name, pkg) }

// Find returns the path of the tool's program, installing it when needed.
func Find(ctx context.Context, tool Tool) (string, error) { return install.Find(ctx, tool) }

// Need returns the tool's path, or skips (fails under
// MLPS_REQUIRE_SERVERS=1) when it cannot be had; see install.Need.
func Need(t testing.TB, tool Tool) string {
	t.Helper()
	return install.Need(t, tool)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a server started by Start.
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	once sync.Once
	done chan struct{}
}

// Start runs bin with args and env (added to the environment) in its own
// process group, and waits until ready returns nil. The test's cleanup
// stops it.
func Start(t testing.TB, name, bin string, args, env []string, ready func() error) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{Name: name, cmd: cmd, log: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = &lockedWriter{w: p.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ready()
		if err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", name, cmd.ProcessState, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			t.Fatalf("%s not ready after 60s: %v\n%s", name, err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID is the server's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log is what the server printed.
func (p *Process) Log() string {
	lw := p.cmd.Stdout.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return p.log.String()
}

// Stop kills the server's process group and waits for it to exit.
func (p *Process) Stop() {
	p.once.Do(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		return len(b), nil // a chatty server must not eat the test's memory
	}
	return l.w.Write(b)
}

// HTTPReady returns a readiness check that wants status from GET url; 0
// accepts any answer (an anonymous request to a server that wants
// credentials gets an error status, which still proves it is serving).
func HTTPReady(url string, status int) func() error {
	return readyWith(&http.Client{Timeout: 2 * time.Second}, url, status)
}

func readyWith(c *http.Client, url string, status int) func() error {
	return func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if status != 0 && resp.StatusCode != status {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// Addr is host:port on loopback.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// NotS3 starts an HTTP server that answers every request with a plain 404,
// as a web server at a wrong address would; it returns its base URL.
func NotS3(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}
