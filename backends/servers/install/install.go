// Package install installs the storage server programs the tests run
// (MinIO, fake-gcs-server, Azurite; package servers starts them) into a
// cache directory. Each tool is taken from PATH or from the cache; when
// one is in neither, an installer process is started that installs every
// missing tool at once (go install, npm install) into the cache. It
// imports nothing but the standard library, so that the first test binary
// of a run can start the installer before the heavy packages compile.
//
// The installer is detached from the test binary that started it: on a
// fresh machine MinIO alone takes minutes to build, longer than a test
// binary may live under go test's default -timeout, so the build must
// outlive the binary that began it and serve the binaries after it. It
// holds a lock per tool while it installs, so several test binaries
// asking at once install each tool once, and a binary that arrives
// mid-build waits for that build instead of starting another. A waiting
// test gives up shortly before its own deadline and says so.
//
// Need skips a test, naming the tool, only when the tool cannot be had;
// with MLPS_REQUIRE_SERVERS=1 (as .ci/run sets) it fails instead, so CI
// never passes by skipping.
package install

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CacheDir is where installed tools live: $MLPS_TOOLS, else mlps/tools in
// the user's cache directory.
func CacheDir() string {
	if d := os.Getenv("MLPS_TOOLS"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "mlps", "tools")
}

// Tool is a server program and how to install it.
type Tool struct {
	// Name is the program's name on PATH.
	Name string
	// Cached is its path relative to CacheDir once installed.
	Cached string
	// Install installs it below dir (CacheDir), writing its output to log.
	Install func(ctx context.Context, dir string, log *os.File) error
}

// The servers the backend tests run against. The module proxy serves one
// MinIO version; fake-gcs-server and Azurite are taken at their latest.
var (
	MinIO   = GoTool("minio", "github.com/minio/minio@latest")
	FakeGCS = GoTool("fake-gcs-server", "github.com/fsouza/fake-gcs-server@latest")
	// Azurite's blob service alone: the full azurite would also start
	// queue and table services on ports a test does not reserve.
	Azurite = NPMTool("azurite-blob", "azurite")
)

// Begin starts the installer of every known tool that is missing, and
// returns at once. The first test binary of `go test ./...` calls it
// (package backends sorts first and go test runs packages in that order
// as far as it can), so MinIO's build of several minutes overlaps the
// compilation of the other packages instead of starting when the first
// object-store test asks for it, inside that test binary's -timeout.
func Begin() {
	startInstaller(CacheDir(), names())
}

func names() []string {
	var n []string
	for name := range known {
		n = append(n, name)
	}
	return n
}

// known holds every tool made by GoTool or NPMTool, by name: the
// installer installs all that are missing, not only the one asked for,
// since a test run that needs one server soon needs the others.
var known = map[string]Tool{}

func register(t Tool) Tool {
	known[t.Name] = t
	return t
}

// GoTool installs a Go program with go install into dir/bin. The flags
// drop the symbol table and DWARF, which a test server does not need and
// which make the link of a program as large as MinIO slower; -trimpath is
// left out, since it would keep the build from sharing compiled packages
// with the build cache of the tests.
func GoTool(name, pkg string) Tool {
	return register(Tool{
		Name:   name,
		Cached: filepath.Join("bin", name),
		Install: func(ctx context.Context, dir string, log *os.File) error {
			cmd := exec.CommandContext(ctx, "go", "install", "-ldflags=-s -w", pkg)
			cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"), "GOFLAGS=-mod=mod")
			cmd.Dir = os.TempDir() // outside any module, so the tool's own go.mod rules
			return run(cmd, log)
		},
	})
}

// NPMTool installs an npm package into dir/npm and runs its bin.
func NPMTool(name, pkg string) Tool {
	return register(Tool{
		Name:   name,
		Cached: filepath.Join("npm", "node_modules", ".bin", name),
		Install: func(ctx context.Context, dir string, log *os.File) error {
			d := filepath.Join(dir, "npm")
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", d, pkg)
			return run(cmd, log)
		},
	})
}

func run(cmd *exec.Cmd, log *os.File) error {
	fmt.Fprintf(log, "%s: %s\n", time.Now().UTC().Format(time.RFC3339), cmd)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v", cmd, err)
	}
	return nil
}

// installerEnv, set in its environment, makes a test binary the detached
// installer of the tools it names (see init).
const installerEnv = "MLPS_SERVERS_INSTALL"

// A test binary started with installerEnv set installs the tools named
// there and exits, before any test runs: re-running the test binary is how
// the installer gets the tools' install functions without a program of its
// own to build first.
func init() {
	// Set at all, even empty, it makes this process the installer and
	// nothing else: a test binary that ran its tests here would start
	// installers of its own.
	if names, ok := os.LookupEnv(installerEnv); ok {
		os.Exit(installAll(CacheDir(), strings.Split(names, ",")))
	}
}

// installAll installs the named tools into dir, each under its lock, all
// at the same time: they are independent, and the slowest (MinIO) sets the
// wait.
func installAll(dir string, names []string) int {
	var wg sync.WaitGroup
	for _, name := range names {
		tool, ok := known[name]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			installOne(dir, tool)
		}()
	}
	wg.Wait()
	return 0
}

// installOne installs tool unless it is there, recording a failure in
// its .err file for the tests waiting on it.
func installOne(dir string, tool Tool) {
	unlock, err := lock(dir, tool)
	if err != nil {
		os.WriteFile(errPath(dir, tool), []byte(err.Error()), 0o644)
		return
	}
	defer unlock()
	if installed(dir, tool) {
		return
	}
	os.Remove(errPath(dir, tool))
	os.Remove(okPath(dir, tool))
	log, err := os.Create(logPath(dir, tool))
	if err != nil {
		os.WriteFile(errPath(dir, tool), []byte(err.Error()), 0o644)
		return
	}
	defer log.Close()
	// Bounded, so that a hung download cannot hold the lock for ever.
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	start := time.Now()
	err = tool.Install(ctx, dir, log)
	if err == nil {
		if _, serr := os.Stat(filepath.Join(dir, tool.Cached)); serr != nil {
			err = fmt.Errorf("done, but %s is not there", filepath.Join(dir, tool.Cached))
		}
	}
	fmt.Fprintf(log, "%s: %s installed in %s, error: %v\n", time.Now().UTC().Format(time.RFC3339), tool.Name, time.Since(start).Round(time.Second), err)
	if err != nil {
		os.WriteFile(errPath(dir, tool), []byte(err.Error()), 0o644)
		return
	}
	os.WriteFile(okPath(dir, tool), nil, 0o644)
}

// installTimeout bounds one tool's install: MinIO builds from nothing in
// about a quarter of an hour on a loaded 2-core machine.
const installTimeout = 45 * time.Minute

func logPath(dir string, t Tool) string { return filepath.Join(dir, "logs", t.Name+".log") }
func errPath(dir string, t Tool) string { return filepath.Join(dir, "logs", t.Name+".err") }
func okPath(dir string, t Tool) string  { return filepath.Join(dir, "logs", t.Name+".ok") }

// lock takes the tool's install lock, waiting while another process
// holds it.
func lock(dir string, tool Tool) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock-"+tool.Name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// installed reports whether the tool's program is in dir, and, if this
// package's installer ever tried to install it there, that its last try
// succeeded: a try that was killed can leave the program without all it
// needs.
func installed(dir string, tool Tool) bool {
	if _, err := os.Stat(filepath.Join(dir, tool.Cached)); err != nil {
		return false
	}
	if _, err := os.Stat(okPath(dir, tool)); err == nil {
		return true
	}
	_, err := os.Stat(logPath(dir, tool))
	return errors.Is(err, os.ErrNotExist) // installed by other means
}

// ready reports whether the tool is installed in dir and no install of it
// is under way: go install copies a binary into place and npm links a
// package's bin before it has unpacked all its dependencies, so the
// program's presence alone does not mean it is whole.
func ready(dir string, tool Tool) bool {
	if !installed(dir, tool) {
		return false
	}
	f, err := os.Open(filepath.Join(dir, ".lock-"+tool.Name))
	if err != nil {
		return errors.Is(err, os.ErrNotExist) // installed by other means
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// installers are the detached installers this process started, by tools
// directory: one each, started by the first test that found a tool
// missing.
var installers struct {
	sync.Mutex
	m map[string]*installerProc
}

type installerProc struct {
	pid  int
	done chan struct{} // closed when it exits
}

// startInstaller starts, once per process and directory, a detached
// installer of those of names that are missing. It outlives this process:
// in its own session, with no pipe back to go test (which waits for a test
// binary's output to close), writing only to the tools' logs.
func startInstaller(dir string, names []string) (*installerProc, error) {
	installers.Lock()
	defer installers.Unlock()
	if p := installers.m[dir]; p != nil {
		return p, nil
	}
	var missing []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err == nil {
			continue
		}
		if t, ok := known[name]; ok && !installed(dir, t) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) == 0 {
		// Installed since the caller looked, or being finished by another
		// process's installer: nothing to start, the caller waits for the
		// lock to be free.
		p := &installerProc{done: make(chan struct{})}
		close(p.done)
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), installerEnv+"="+strings.Join(missing, ","), "MLPS_TOOLS="+dir)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the installer of %s: %w", strings.Join(missing, ", "), err)
	}
	p := &installerProc{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if installers.m == nil {
		installers.m = map[string]*installerProc{}
	}
	installers.m[dir] = p
	return p, nil
}

// Find returns the path of the tool's program, installing it when needed
// (with every other known tool that is missing) and waiting for the
// install until ctx is done.
func Find(ctx context.Context, tool Tool) (string, error) {
	return find(ctx, CacheDir(), tool, names())
}

func find(ctx context.Context, dir string, tool Tool, names []string) (string, error) {
	if p, err := exec.LookPath(tool.Name); err == nil {
		return p, nil
	}
	cached := filepath.Join(dir, tool.Cached)
	if ready(dir, tool) {
		return cached, nil
	}
	if _, ok := known[tool.Name]; !ok {
		return "", fmt.Errorf("%s: not a tool made by GoTool or NPMTool", tool.Name)
	}
	inst, err := startInstaller(dir, names)
	if err != nil {
		return "", err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := inst.done
	for {
		if ready(dir, tool) {
			return cached, nil
		}
		select {
		case <-done:
			if ready(dir, tool) {
				return cached, nil
			}
			if installed(dir, tool) {
				done = nil // another process's installer holds the lock a moment longer
				continue
			}
			why, err := os.ReadFile(errPath(dir, tool))
			if err != nil {
				why = []byte("the installer exited without installing it")
			}
			return "", fmt.Errorf("install %s: %s\n%s", tool.Name, bytes.TrimSpace(why), tail(logPath(dir, tool)))
		case <-ctx.Done():
			return "", fmt.Errorf("%s is still being installed by process %d (log %s); it goes on after this test binary exits, so a later run finds it: %w",
				tool.Name, inst.pid, logPath(dir, tool), ctx.Err())
		case <-tick.C:
		}
	}
}

// tail is the end of an install log, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// processStart is about when this test binary started, which go test's
// -timeout counts from.
var processStart = time.Now()

// deadline is the test binary's deadline: t's own when t is a *testing.T,
// else (a wrapper of one, as tests that share a server across the binary
// use) the -test.timeout flag counted from the binary's start.
func deadline(t testing.TB) (time.Time, bool) {
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return dl.Deadline()
	}
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Time{}, false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return time.Time{}, false
	}
	d, ok := g.Get().(time.Duration)
	if !ok || d <= 0 {
		return time.Time{}, false
	}
	return processStart.Add(d), true
}

// waitMargin is how long before its deadline a test stops waiting for an
// install, so that it fails with a message rather than being killed by
// go test's -timeout with a dump of every goroutine.
const waitMargin = 30 * time.Second

// Need returns the tool's path, or skips (fails under
// MLPS_REQUIRE_SERVERS=1) when it cannot be had. A test waits for an
// install in progress until shortly before its deadline, then fails,
// saying the install goes on.
func Need(t testing.TB, tool Tool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	if d, ok := deadline(t); ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, d.Add(-waitMargin))
		defer c2()
	}
	start := time.Now()
	p, err := Find(ctx, tool)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waited %s for %s: %v", time.Since(start).Round(time.Second), tool.Name, err)
		}
		if os.Getenv("MLPS_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is required (MLPS_REQUIRE_SERVERS=1) and cannot be had: %v", tool.Name, err)
		}
		t.Skipf("skipping: %s is not on PATH nor in %s and could not be installed: %v", tool.Name, CacheDir(), err)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("%s installed into %s after a wait of %s", tool.Name, CacheDir(), d.Round(time.Second))
	}
	return p
}
