package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gatedTool is installed by the same detached installer as the servers,
// but its install is a small program written into place once the test
// opens the gate (a file named "gate" in the tools directory), so a test
// can hold an install in progress for as long as it needs. Each install
// appends a line to "installs", to count them.
var gatedTool = register(Tool{
	Name:   "mlps-servers-gated-tool",
	Cached: filepath.Join("bin", "mlps-servers-gated-tool"),
	Install: func(ctx context.Context, dir string, log *os.File) error {
		f, err := os.OpenFile(filepath.Join(dir, "installs"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintln(f, os.Getpid())
		f.Close()
		for {
			if _, err := os.Stat(filepath.Join(dir, "gate")); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "bin", "mlps-servers-gated-tool"), []byte("#!/bin/sh\necho installed\n"), 0o755)
	},
})

// failingTool's install fails the way a module that cannot be fetched
// does: with words in its log and an error.
var failingTool = register(Tool{
	Name:   "mlps-servers-failing-tool",
	Cached: filepath.Join("bin", "mlps-servers-failing-tool"),
	Install: func(ctx context.Context, dir string, log *os.File) error {
		fmt.Fprintln(log, "go: example.invalid/tool@latest: module lookup disabled")
		return errors.New("exit status 1")
	},
})

func waitFile(t *testing.T, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s never appeared", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A test that gives up waiting leaves the install running, detached from
// its binary; the next waiter (here the same binary, in a real run the
// next package's) gets the program from that one install, and an
// installer started by another binary meanwhile waits on the lock and
// installs nothing.
func TestInstallOutlivesWaiter(t *testing.T) {
	dir := t.TempDir()
	names := []string{gatedTool.Name}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := find(ctx, dir, gatedTool, names)
		errc <- err
	}()
	waitFile(t, filepath.Join(dir, "installs"))
	cancel()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "is still being installed by process") || !errors.Is(err, context.Canceled) {
		t.Fatalf("find gave up with %v; want a message that the install goes on", err)
	}
	inst := installers.m[dir]
	// Detached: a session of its own, so go test's kill of a timed-out
	// binary's process does not reach it, and no pipe of go test's, which
	// would make go test wait for it.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", inst.pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if sid, _ := strconv.Atoi(fields[3]); sid != inst.pid {
		t.Errorf("installer %d is in session %d, want its own", inst.pid, sid)
	}
	for fd := 0; fd <= 2; fd++ {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", inst.pid, fd)); err != nil || l != os.DevNull {
			t.Errorf("installer's fd %d is %q (%v), want %s", fd, l, err, os.DevNull)
		}
	}

	// Another binary's installer, started while this one holds the lock.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command(self)
	other.Env = append(os.Environ(), installerEnv+"="+gatedTool.Name, "MLPS_TOOLS="+dir)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := find(t.Context(), dir, gatedTool, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("the other installer: %v", err)
	}
	out, err := exec.Command(p).Output()
	if err != nil || string(out) != "installed\n" {
		t.Errorf("the installed program says %q, %v", out, err)
	}
	installs, err := os.ReadFile(filepath.Join(dir, "installs"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(installs), "\n"); n != 1 {
		t.Errorf("%d installs, want 1 (by pid %d):\n%s", n, inst.pid, installs)
	}
	if got := strings.TrimSpace(string(installs)); got != strconv.Itoa(inst.pid) {
		t.Errorf("installed by %s, want the first installer, %d", got, inst.pid)
	}
}

// A failed install is reported with the tool, the error and the end of its
// log, and a later try starts afresh.
func TestInstallFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	_, err := find(t.Context(), dir, failingTool, []string{failingTool.Name})
	if err == nil {
		t.Fatal("the install of a tool that cannot be had succeeded")
	}
	for _, want := range []string{"install mlps-servers-failing-tool", "exit status 1", "module lookup disabled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if installed(dir, failingTool) {
		t.Error("a failed install counts as installed")
	}
}

// A program the installer did not finish (killed mid-install: its log is
// there, its success mark is not) is installed again, not used.
func TestUnfinishedInstallIsNotUsed(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, gatedTool.Cached)
	os.MkdirAll(filepath.Dir(prog), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath(dir, gatedTool), []byte("killed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ready(dir, gatedTool) {
		t.Fatal("an unfinished install counts as ready")
	}
	os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644)
	p, err := find(t.Context(), dir, gatedTool, []string{gatedTool.Name})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(p).Output(); err != nil || string(out) != "installed\n" {
		t.Errorf("the program says %q, %v; want the reinstalled one", out, err)
	}
}

type wrappedTB struct{ testing.TB }

// A test binary's deadline is known through a wrapper of its *testing.T
// too (the tests that share a server across the binary pass one), and
// never later than the real one, so waiting stops in time.
func TestDeadlineThroughWrapper(t *testing.T) {
	real, ok := t.Deadline()
	got, gotOK := deadline(wrappedTB{t})
	if ok != gotOK {
		t.Fatalf("wrapper: deadline known %v, *testing.T: %v", gotOK, ok)
	}
	if ok && got.After(real) {
		t.Errorf("wrapper's deadline %v is after the test's %v", got, real)
	}
}
