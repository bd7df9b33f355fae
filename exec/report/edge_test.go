package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/report"
	"mlps.dev/mlps/exec/results"
)

// copyRun copies the tree's run at path into a new tree, as name.
func copyRun(t *testing.T, path, name string) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	dir = filepath.Join(root, name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(tree(t), path))); err != nil {
		t.Fatal(err)
	}
	return root, dir
}

// editJSON rewrites the JSON file at path through edit.
func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	var m map[string]any
	readJSONFile(t, path, &m)
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readRoot(t *testing.T, root string) *report.Report {
	t.Helper()
	dirs, err := results.FindRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Read(root, dirs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func html(t *testing.T, rep *report.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Text from a results directory is escaped wherever the page shows it:
// a workload name or a stage headline that is markup stays text.
func TestReportEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	root, dir := copyRun(t, "training/demo/run1", `run<b>1</b>`)
	editJSON(t, filepath.Join(dir, "workload.json"), func(m map[string]any) { m["name"] = evil })
	editJSON(t, filepath.Join(dir, "stages", "train.json"), func(m map[string]any) { m["headline"] = evil })
	page := html(t, readRoot(t, root))
	for _, bad := range []string{"<script", "<img", "<b>1"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if n := strings.Count(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"); n < 3 {
		t.Errorf("the name and headline appear escaped %d times, want at least 3 (table, run, headline)", n)
	}
}

// A figure a run did not record is not drawn and not a 0: a run killed
// before its summary has a row of empty figures, and a stage whose
// detail file is gone draws a chart saying "not recorded".
func TestReportNotRecorded(t *testing.T) {
	root, dir := copyRun(t, "training/demo/run1", "killed")
	// As Begin leaves it: the inputs and a provenance with no end.
	if err := os.Remove(filepath.Join(dir, "summary.json")); err != nil {
		t.Fatal(err)
	}
	editJSON(t, filepath.Join(dir, "provenance.json"), func(m map[string]any) { delete(m, "end") })
	cut := filepath.Join(root, "cut")
	if err := os.CopyFS(cut, os.DirFS(filepath.Join(tree(t), "training/demo/run2"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cut, "stages", "train", "steps.csv")); err != nil {
		t.Fatal(err)
	}
	rep := readRoot(t, root)

	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	for _, r := range rows[1:] {
		if r[0] != "run" || r[2] != "killed" {
			continue
		}
		for i, h := range head {
			switch h {
			case "complete":
				if r[i] != "false" {
					t.Errorf("a killed run is complete %q", r[i])
				}
			case "row", "runs", "path", "benchmark", "workload", "start":
			default:
				if r[i] != "" {
					t.Errorf("a killed run has %s = %q", h, r[i])
				}
			}
		}
	}

	page := html(t, rep)
	if !strings.Contains(page, "did not finish") {
		t.Errorf("the killed run is not said to have not finished")
	}
	i := strings.Index(page, `data-chart="throughput"`)
	if i < 0 {
		t.Fatal("no throughput chart")
	}
	fig := page[i:]
	fig = fig[:strings.Index(fig, "</figure>")]
	if !strings.Contains(fig, "not recorded: the stage wrote no steps (steps.csv)") || strings.Contains(fig, "<svg") {
		t.Errorf("the throughput chart of a stage without steps.csv:\n%s", fig)
	}
	if !strings.Contains(page[strings.Index(page, `data-chart="au"`):], "<svg") {
		t.Errorf("the AU chart, recorded, is not drawn")
	}
}
