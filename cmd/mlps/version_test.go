package main

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// `mlps version` names the commit the binary was built from, read back
// from the binary's build information. The build here keeps the test's
// own cgo setting, so that it reuses the packages the test binary was
// compiled from and only links: a CGO_ENABLED=0 build would recompile
// every package above net, minutes on a loaded machine, inside this
// binary's -timeout. The static build (CGO_ENABLED=0, no interpreter, no
// dynamic section) is checked by .ci/run's build step instead.
func TestVersionNamesTheCommit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mlps")
	// -buildvcs=auto overrides a GOFLAGS of -buildvcs=false, which some
	// machines set; the justfile's build and the README's install say it
	// too.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("mlps version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	t.Logf("mlps version: %s", line)
	if !regexp.MustCompile(`^mlps \S+ \(`).MatchString(line) {
		t.Errorf("mlps version printed %q; want mlps VERSION (…)", line)
	}
	// go build stamps the commit only where .git is a directory: not in a
	// copy without history, nor in a git worktree, whose .git is a file.
	// There the binary must say that the commit is unknown.
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		if !strings.Contains(line, "commit unknown") {
			t.Errorf("built where go cannot stamp a commit (%s/.git is no directory), mlps version printed %q; want it to say the commit is unknown", root, line)
		}
		return
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "commit " + strings.TrimSpace(string(head))[:12]
	if !strings.Contains(line, want) {
		t.Errorf("mlps version printed %q; want %q (git rev-parse HEAD) in it", line, want)
	}
	if settings["vcs.time"] == "" || !strings.Contains(line, settings["vcs.time"]) {
		t.Errorf("mlps version printed %q; want the commit's time %q", line, settings["vcs.time"])
	}
	dirty, err := exec.Command("git", "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	if modified := len(dirty) > 0; modified != strings.Contains(line, "modified") {
		t.Errorf("mlps version printed %q; the checkout is modified: %v", line, modified)
	}
}
