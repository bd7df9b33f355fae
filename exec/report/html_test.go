package report_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/exec/report"
	"mlps.dev/mlps/exec/results"
)

// chromium is the browser the page is rendered in, or a skip (a failure
// where MLPS_REQUIRE_SERVERS=1, as in CI) saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed: apt-get install -y chromium (Debian), or run .ci/run, which installs it"
	if os.Getenv("MLPS_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// renderDOM loads page in headless Chromium, offline, and returns the
// DOM as Chromium built it.
func renderDOM(t *testing.T, page string) string {
	t.Helper()
	bin := chromium(t)
	home, err := os.MkdirTemp("", "mlps-report-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u := url.URL{Scheme: "file", Path: page}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		// Offline: nothing to fetch, no updates, no sync, no name
		// resolved.
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
		"--user-data-dir="+filepath.Join(home, "profile"),
		"--dump-dom", u.String())
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium did not render %s within its deadline\n%s", page, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if len(out) == 0 {
		t.Fatalf("chromium dumped no DOM\n%s", stderr.String())
	}
	return string(out)
}

// The chart kinds each stage kind draws, in order.
var stageChartKinds = map[string][]string{
	"generate":   {"op-latency"},
	"index":      {"op-latency"},
	"read-epoch": {"throughput", "au", "op-latency"},
	"checkpoint": {"checkpoint-phases", "checkpoint-ranks", "op-latency"},
	"query":      {"recall-qps", "query-latency", "op-latency"},
	"kvcache":    {"kv-tier-bandwidth", "kv-tier-latency", "kv-request-latency", "op-latency"},
}

var (
	runHead      = regexp.MustCompile(`^id="[^"]*" data-run="([^"]*)">`)
	stageSection = regexp.MustCompile(`(?s)<section class="stage" data-stage="([^"]*)" data-kind="([^"]*)">(.*?)</section>`)
	figure       = regexp.MustCompile(`(?s)<figure class="chart" data-chart="([^"]*)">(.*?)</figure>`)
	caption      = regexp.MustCompile(`(?s)<figcaption>([^<]+)</figcaption>`)
	yLabel       = regexp.MustCompile(`<text class="axis-label y-label"[^>]*>([^<]+)</text>`)
	xLabel       = regexp.MustCompile(`<text class="axis-label x-label"[^>]*>([^<]+)</text>`)
	polyline     = regexp.MustCompile(`<polyline class="series" points="([^"]*)"`)
)

// The page rendered by Chromium has, for every stage of every run, the
// charts of its kind, each an <svg> with its marks (bars, points, lines)
// as many as the run's files hold figures, titled, with a unit on the
// value axis, and none saying "not recorded"; the page has no script and
// loads nothing.
func TestReportHTMLInChromium(t *testing.T) {
	root, rep := readTree(t)
	out := filepath.Join(t.TempDir(), "report")
	dirs, _ := results.FindRuns(root)
	if err := report.Claim(out, dirs, false); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?i)<script`, `(?i)<link`, `(?i)\b(src|href)="(https?:)?//`, `(?i)@import`, `(?i)url\(`} {
		if loc := regexp.MustCompile(re).FindIndex(src); loc != nil {
			t.Errorf("the page is not self-contained: %q at byte %d", src[loc[0]:loc[1]], loc[0])
		}
	}
	dom := renderDOM(t, filepath.Join(out, "report.html"))
	if strings.Contains(strings.ToLower(dom), "<script") {
		t.Errorf("the rendered page has a script")
	}
	if n := strings.Count(dom, `<table class="runs" data-benchmark="`); n != 5 {
		t.Errorf("%d summary tables, want one per benchmark and one of data preparation, 5", n)
	}

	sections := map[string]string{}
	for _, part := range strings.Split(dom, `<section class="run" `)[1:] {
		if m := runHead.FindStringSubmatch(part); m != nil {
			sections[m[1]] = part
		}
	}
	for _, w := range wantRuns {
		t.Run(w.path, func(t *testing.T) {
			sec, ok := sections[w.path]
			if !ok {
				t.Fatalf("no section for the run")
			}
			stageFiles := filepath.Join(root, w.path, "stages")
			stages := stageSection.FindAllStringSubmatch(sec, -1)
			if len(stages) == 0 {
				t.Fatalf("no stage in the run's section")
			}
			for _, st := range stages {
				id, kind, body := st[1], st[2], st[3]
				var sr results.StageReport
				readJSONFile(t, filepath.Join(stageFiles, id+".json"), &sr)
				figs := figure.FindAllStringSubmatch(body, -1)
				var kinds []string
				for _, f := range figs {
					kinds = append(kinds, f[1])
				}
				if want := stageChartKinds[kind]; strings.Join(kinds, " ") != strings.Join(want, " ") {
					t.Errorf("stage %s (%s): charts %q, want %q", id, kind, kinds, want)
				}
				for _, f := range figs {
					checkChart(t, id, f[1], f[2], expectedMarks(t, filepath.Join(stageFiles, id), &sr, f[1]))
				}
			}
		})
	}
}

// marks is what a chart must draw: bars, points, and lines of at least
// minPoints points.
type marks struct {
	bars, points, lines, minPoints int
}

func checkChart(t *testing.T, stage, kind, body string, want marks) {
	t.Helper()
	where := fmt.Sprintf("stage %s, chart %s", stage, kind)
	if strings.Contains(body, "not recorded") {
		t.Errorf("%s says not recorded where the run recorded its figures", where)
	}
	c := caption.FindStringSubmatch(body)
	if c == nil || strings.TrimSpace(c[1]) == "" {
		t.Errorf("%s has no title", where)
	}
	if !strings.Contains(body, "<svg") {
		t.Errorf("%s has no <svg>", where)
		return
	}
	if y := yLabel.FindStringSubmatch(body); y == nil || strings.TrimSpace(y[1]) == "" {
		t.Errorf("%s has no unit on its value axis", where)
	}
	if want.lines > 0 || want.points > 0 {
		if x := xLabel.FindStringSubmatch(body); x == nil || strings.TrimSpace(x[1]) == "" {
			t.Errorf("%s has no label on its x axis", where)
		}
	}
	if got := strings.Count(body, `<rect class="bar"`); got != want.bars {
		t.Errorf("%s: %d bars, want %d", where, got, want.bars)
	}
	if got := strings.Count(body, `<circle class="point"`); got != want.points {
		t.Errorf("%s: %d points, want %d", where, got, want.points)
	}
	lines := polyline.FindAllStringSubmatch(body, -1)
	if len(lines) != want.lines {
		t.Errorf("%s: %d lines, want %d", where, len(lines), want.lines)
	}
	for _, l := range lines {
		if n := len(strings.Fields(l[1])); n < want.minPoints {
			t.Errorf("%s: a line of %d points, want at least %d", where, n, want.minPoints)
		}
	}
}

// expectedMarks counts, from the stage's own files, what its chart kind
// must draw.
func expectedMarks(t *testing.T, dir string, sr *results.StageReport, kind string) marks {
	t.Helper()
	m := metricsOf(t, dir+".json")
	switch kind {
	case "op-latency":
		n := 0
		for _, o := range sr.Measured.Ops {
			if o.Latency.Count > 0 {
				n++
			}
		}
		return marks{bars: 4 * n}
	case "throughput":
		// A point per step: the tree's runs are far below maxPoints.
		return marks{lines: 1, minPoints: trainSteps(t, m)}
	case "au":
		return marks{bars: len(m["train_au_percentage"].([]any))}
	case "checkpoint-phases":
		return marks{bars: len(m["save_checkpoint_io_GB_per_second"].([]any)) + len(m["load_checkpoint_io_GB_per_second"].([]any))}
	case "checkpoint-ranks":
		// A bar per rank and phase.
		return marks{bars: 2 * int(m["ranks"].(float64))}
	case "recall-qps":
		if sw, ok := m["sweep"].([]any); ok {
			return marks{points: len(sw), lines: 1, minPoints: len(sw)}
		}
		return marks{points: 1}
	case "query-latency":
		if sw, ok := m["sweep"].([]any); ok {
			return marks{bars: 5 * len(sw)}
		}
		return marks{bars: 5}
	case "kv-tier-bandwidth":
		return marks{bars: 2 * len(m["tiers"].(map[string]any))}
	case "kv-tier-latency":
		n := 0
		for _, tier := range m["tiers"].(map[string]any) {
			for k, v := range tier.(map[string]any) {
				if o, ok := v.(map[string]any); ok && strings.HasSuffix(k, "_latency_ms") && o["count"].(float64) > 0 {
					n++
				}
			}
		}
		return marks{bars: 4 * n}
	case "kv-request-latency":
		n := 0
		for _, k := range []string{"end_to_end_latency_ms", "storage_latency_ms", "generation_latency_ms", "service_latency_ms"} {
			if o, ok := m[k].(map[string]any); ok && o["count"].(float64) > 0 {
				n++
			}
		}
		return marks{bars: 4 * n}
	}
	t.Fatalf("no expectation for chart %s", kind)
	return marks{}
}

func metricsOf(t *testing.T, path string) map[string]any {
	var sr struct {
		Metrics map[string]any `json:"metrics"`
	}
	readJSONFile(t, path, &sr)
	return sr.Metrics
}

// trainSteps are the steps of a rank in the run: every epoch's.
func trainSteps(t *testing.T, m map[string]any) int {
	n, ok := m["steps_per_epoch"].(float64)
	if !ok {
		t.Fatalf("no steps_per_epoch in %v", m)
	}
	return int(n) * len(m["train_au_percentage"].([]any))
}
