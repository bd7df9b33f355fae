package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSection returns the text of README.md from the heading first up to
// the heading end.
func readmeSection(t *testing.T, first, end string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "\n"+first+"\n"), strings.Index(s, "\n"+end+"\n")
	if i < 0 || j < i {
		t.Fatalf("README.md has no section %q before %q", first, end)
	}
	return s[i:j]
}

// blocks returns the fenced code blocks of the given language in text.
func blocks(text, lang string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// commands returns the mlps command lines of shell blocks, continuation
// lines joined and comments dropped, split into words as sh would split
// these (plain words and single-quoted strings).
func commands(sh []string) [][]string {
	var out [][]string
	comment := regexp.MustCompile(`\s+#\s.*$`)
	word := regexp.MustCompile(`'[^']*'|\S+`)
	for _, b := range sh {
		for _, line := range strings.Split(strings.ReplaceAll(b, "\\\n", " "), "\n") {
			line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
			if !strings.HasPrefix(line, "mlps ") {
				continue
			}
			var args []string
			for _, w := range word.FindAllString(line, -1)[1:] {
				args = append(args, strings.Trim(w, "'"))
			}
			out = append(out, args)
		}
	}
	return out
}

// The README's first-hour sections (install, pointing a workload at real
// storage, training on a dataset that already exists) say what works: each
// mlps command in them runs as written, with /mnt/nvme/mlps moved into a
// temporary directory. Commands on the full-size shipped workloads are
// planned (which resolves every target and checks every --set) instead of
// run; the demo and the train-existing.cue of the README are run, and the
// second reads the first's files without writing any.
func TestREADMEFirstHour(t *testing.T) {
	text := readmeSection(t, "## Install", "## Workloads are CUE")
	dir := t.TempDir()
	storage := filepath.Join(dir, "nvme")
	local := func(s string) string { return strings.ReplaceAll(s, "/mnt/nvme/mlps", storage) }

	var existing string
	for _, b := range blocks(text, "cue") {
		if strings.HasPrefix(b, "// train-existing.cue\n") {
			existing = filepath.Join(dir, "train-existing.cue")
			if err := os.WriteFile(existing, []byte(local(b)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if existing == "" {
		t.Fatal("README.md shows no train-existing.cue")
	}

	cmds := commands(blocks(text, "sh"))
	if len(cmds) < 5 {
		t.Fatalf("found %d mlps commands in the README's first-hour sections, want at least 5: %q", len(cmds), cmds)
	}
	var ran []string
	for i, args := range cmds {
		for j, a := range args {
			switch {
			case strings.HasPrefix(a, "workloads/"):
				args[j] = "../../" + a
			case a == "train-existing.cue":
				args[j] = existing
			default:
				args[j] = local(a)
			}
		}
		small := len(args) > 1 && (strings.HasSuffix(args[1], "/demo.cue") || args[1] == existing)
		if args[0] == "exec" && !small {
			args[0] = "plan"
		}
		if args[0] == "exec" {
			args = append(args, "--progress", "none", "--results", filepath.Join(dir, "results", string(rune('a'+i))))
		}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Errorf("mlps %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
			continue
		}
		ran = append(ran, args[0])
		if args[0] == "version" && !strings.HasPrefix(stdout.String(), "mlps ") {
			t.Errorf("mlps version printed %q", stdout.String())
		}
		if len(args) > 1 && args[1] == existing {
			// It trained on what the demo wrote, and wrote nothing.
			sum := readJSON(t, filepath.Join(args[len(args)-1], "summary.json"))
			stages := sum["stages"].(map[string]any)
			if len(stages) != 1 || stages["train"] == nil || sum["complete"] != true {
				t.Errorf("train-existing.cue: stages %v, complete %v; want train alone, complete", stages, sum["complete"])
			}
			if sum["train_bytes_read"].(float64) < 64*4194304 {
				t.Errorf("train-existing.cue read %v bytes, want the dataset's 64 × 4 MiB at least", sum["train_bytes_read"])
			}
		}
	}
	t.Logf("ran %q", ran)
	if n := strings.Count(strings.Join(ran, " "), "exec"); n != 2 {
		t.Errorf("%d commands executed, want the demo and train-existing.cue", n)
	}
}
