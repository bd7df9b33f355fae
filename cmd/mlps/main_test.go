package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestMain lets tests run the real binary: the test executable re-executed
// with MLPS_TEST_MAIN=1 behaves as mlps, so signal and memory tests need no
// separate build.
func TestMain(m *testing.M) {
	if os.Getenv("MLPS_TEST_MAIN") == "1" {
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		if f := os.Getenv("MLPS_TEST_PEAK_RSS"); f != "" {
			// The kernel's ru_maxrss of a child started by vfork includes
			// the parent's RSS at the fork, so the child reports its own
			// high-water mark, which belongs to the memory it exec'd into.
			status, _ := os.ReadFile("/proc/self/status")
			os.WriteFile(f, status, 0o644)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

var schemaPos = regexp.MustCompile(`(mlps\.dev/schema/workload\.cue):\d+:\d+`)

// TestInputErrors runs every case in testdata/errors: each is a txtar
// archive holding the workload, the command line and the exact message
// expected on stderr. Each must exit 2.
func TestInputErrors(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/errors/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(c)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var args []string
			var want string
			for _, f := range ar.Files {
				switch f.Name {
				case "args":
					args = strings.Fields(string(f.Data))
				case "want":
					want = string(f.Data)
				default:
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, a := range args {
				if strings.HasSuffix(a, ".cue") || strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".json") {
					args[i] = filepath.Join(dir, a)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			got := strings.ReplaceAll(stderr.String(), dir, "$WORK")
			got = schemaPos.ReplaceAllString(got, "$1:$$LINE:$$COL")
			if got != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty on an input error: %q", stdout.String())
			}
		})
	}
}

// peakRSS runs cmd (from mlps) and returns the peak RSS it reports of
// itself (VmHWM), in bytes.
func peakRSS(t testing.TB, cmd *exec.Cmd) ([]byte, int64, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "status")
	cmd.Env = append(cmd.Env, "MLPS_TEST_PEAK_RSS="+f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, 0, err
	}
	status, rerr := os.ReadFile(f)
	if rerr != nil {
		t.Fatalf("the child reported no peak RSS: %v", rerr)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, perr := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if perr != nil {
				t.Fatalf("VmHWM line %q: %v", line, perr)
			}
			return out, n << 10, nil
		}
	}
	t.Fatalf("no VmHWM in /proc/self/status")
	return out, 0, nil
}

// The page cache can serve a dataset that fits in memory only when the
// target's files pass through it: mlps plan warns for tmp:// and not for
// mem://, whose data never touches the page cache.
func TestPageCacheWarning(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		warn bool
	}{
		{"mem://", false},
		{"tmp://", true},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "w.cue")
			src := `name: "cache"
targets: t: uri: "` + tc.uri + `"
datasets: d: {target: "t", format: "npz", files: 8, record_bytes: 4096}
stages: {
	g: {kind: "generate", dataset: "d"}
	r: {kind: "read-epoch", dataset: "d"}
}
`
			if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run([]string{"plan", f}, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := strings.Contains(stderr.String(), "potential_caching"); got != tc.warn {
				t.Errorf("potential_caching warning printed: %v, want %v; stderr:\n%s", got, tc.warn, stderr.String())
			}
			// The other warning, a dataset smaller than the rules require,
			// holds for both: the check above is not blind.
			if !strings.Contains(stderr.String(), "fewer than the") {
				t.Errorf("no dataset-size warning; stderr:\n%s", stderr.String())
			}
		})
	}
}
