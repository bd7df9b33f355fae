package planner_test

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/workloads"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plan")

// Every shipped workload loads, decodes strictly into the Go types of its
// stage kinds (an unknown field fails) and plans.
func TestShippedWorkloadsPlan(t *testing.T) {
	err := fs.WalkDir(workloads.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".cue" {
			return err
		}
		if filepath.Base(filepath.Dir(p)) == strings.TrimSuffix(filepath.Base(p), ".cue") {
			return nil // a model's shared definitions, not a workload
		}
		t.Run(p, func(t *testing.T) {
			plan := exectest.PlanFile(t, filepath.Join("..", "workloads", p))
			if len(plan.Nodes) == 0 {
				t.Fatalf("empty plan")
			}
			// A kvcache stage runs for a duration: its work is what it
			// measures, not planned.
			timed := true
			for _, n := range plan.Nodes {
				timed = timed && n.Kind == "kvcache"
			}
			if plan.Work().Bytes() == 0 && !timed {
				t.Errorf("a plan of no work")
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The demo's plan in each format matches its golden file, and planning
// twice gives the same bytes.
func TestDemoPlanGolden(t *testing.T) {
	p := exectest.PlanFile(t, filepath.Join("..", "workloads", "demo.cue"))
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"demo.txt", func(b *bytes.Buffer) error { return p.WriteText(b) }},
		{"demo.json", func(b *bytes.Buffer) error { return p.WriteJSON(b) }},
		{"demo.dot", func(b *bytes.Buffer) error { return p.WriteDOT(b) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var got, again bytes.Buffer
			if err := f.write(&got); err != nil {
				t.Fatal(err)
			}
			f.write(&again)
			if !bytes.Equal(got.Bytes(), again.Bytes()) {
				t.Errorf("two renderings differ")
			}
			golden := filepath.Join("..", "testdata", "plan", f.name)
			if *update {
				os.WriteFile(golden, got.Bytes(), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got.Bytes(), golden, want)
			}
		})
	}
}

// Graphviz accepts the DOT output.
func TestDOTIsValidGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("graphviz's dot not found; .ci/run installs the graphviz package")
		}
		t.Skip("graphviz's dot not found; install the graphviz package")
	}
	p := exectest.PlanFile(t, filepath.Join("..", "workloads", "demo.cue"))
	var b bytes.Buffer
	p.WriteDOT(&b)
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("<svg")) {
		t.Fatalf("dot rejected the plan: %v\n%s", err, out)
	}
}

// Edges come from data and from after:, and the order is the same
// topological order every time.
func TestEdgesAndOrder(t *testing.T) {
	src := `name: "edges"
targets: t: uri: "mem://"
datasets: {
	a: {target: "t", format: "npz", files: 4, record_bytes: 1024}
	b: {target: "t", format: "npz", files: 4, record_bytes: 1024}
}
stages: {
	zread: {kind: "read-epoch", dataset: "a"}
	gena: {kind: "generate", dataset: "a"}
	genb: {kind: "generate", dataset: "b", after: ["zread"]}
	readb: {kind: "read-epoch", dataset: "b"}
}
`
	p := exectest.Plan(t, src)
	var order []string
	deps := map[string]string{}
	for _, n := range p.Nodes {
		order = append(order, n.ID)
		deps[n.ID] = strings.Join(n.Deps, ",")
	}
	if got := strings.Join(order, " "); got != "gena zread genb readb" {
		t.Errorf("order %q", got)
	}
	want := map[string]string{"gena": "", "zread": "gena", "genb": "zread", "readb": "genb"}
	for id, d := range want {
		if deps[id] != d {
			t.Errorf("%s depends on %q, want %q", id, deps[id], d)
		}
	}
}

// A dataset of millions of files plans from counts and formulas: the plan
// is exact without a value per file.
func TestMillionsOfFilesPlan(t *testing.T) {
	p := exectest.PlanFile(t, filepath.Join("..", "workloads", "demo.cue"),
		"datasets.train.files=2127821", "datasets.train.record_bytes=322957", "stages.train.epochs=8")
	w := p.Nodes[0].Task.Work()
	if w.Files != 2127821 || w.Ops != 2127821 {
		t.Errorf("generate plans %+v", w)
	}
	if r := p.Nodes[1].Task.Work(); r.Files != 8*2127816 {
		t.Errorf("read-epoch plans %d file reads, want 8 epochs × 2127816 (whole steps of 2 ranks × batch 4)", r.Files)
	}
}

// A dataset the host's memory holds, or smaller than the rules require,
// is planned with a warning that says so; a large enough one without.
func TestWarnings(t *testing.T) {
	p := exectest.PlanFile(t, filepath.Join("..", "workloads", "unet3d", "h100.cue"), "stages.train.accelerators=8")
	tests := []struct {
		memory int64
		want   []string
	}{
		{64 << 30, []string{
			"stage train: dataset train (21.8 GiB) fits in this host's memory (64.0 GiB): reads may come from the page cache (potential_caching)",
			"stage train: dataset train has 168 files, fewer than the 28000 the rules require for this host and 8 accelerators: see mlps datasize",
		}},
		{1 << 30, []string{
			"stage train: dataset train has 168 files, fewer than the 28000 the rules require for this host and 8 accelerators: see mlps datasize",
		}},
	}
	for _, tt := range tests {
		if got := p.Warnings(stages.Host{MemoryBytes: tt.memory}); !slices.Equal(got, tt.want) {
			t.Errorf("memory %d: warnings\n%s\nwant\n%s", tt.memory, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	big := exectest.PlanFile(t, filepath.Join("..", "workloads", "unet3d", "h100.cue"), "datasets.train.files=28000")
	if got := big.Warnings(stages.Host{MemoryBytes: 128 << 30}); len(got) != 0 {
		t.Errorf("a dataset of the required size: warnings %q", got)
	}
}

// A target that skips TLS verification is warned of at plan time, since
// figures from it may not be from the store they name.
func TestInsecureSkipVerifyWarns(t *testing.T) {
	p := exectest.Plan(t, `name: "insecure"
targets: {
	a: {uri: "s3://bucket/a", endpoints: ["https://127.0.0.1:9000"], insecure_skip_verify: true}
	b: {uri: "s3://bucket/b", endpoints: ["https://127.0.0.1:9000"]}
}
datasets: d: {target: "a", format: "npz", files: 4, record_bytes: 1024}
stages: gen: {kind: "generate", dataset: "d"}
`)
	want := []string{"target a: insecure_skip_verify: the store's TLS certificate is not checked"}
	if got := p.Warnings(stages.Host{MemoryBytes: 1 << 30}); !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}

// Select keeps the stages a partial run names, in the plan's order, drops
// the dependencies on stages left out, and keeps for checking those left
// out whose data a kept stage reads.
func TestSelect(t *testing.T) {
	p := exectest.Plan(t, `name: "sel"
targets: t: uri: "mem://"
datasets: {
	a: {target: "t", format: "npz", files: 2, record_bytes: 1000}
	b: {target: "t", format: "npz", files: 2, record_bytes: 1000}
}
stages: {
	gen_a: {kind: "generate", dataset: "a"}
	gen_b: {kind: "generate", dataset: "b"}
	read_a: {kind: "read-epoch", dataset: "a", accelerators: 1, batch_size: 1, computation_time: 0}
}
`)
	for _, tt := range []struct {
		only, skip        []string
		nodes, skipped    string
		checks, readADeps string
	}{
		{only: []string{"read_a"}, nodes: "read_a", skipped: "gen_a gen_b", checks: "gen_a", readADeps: ""},
		{skip: []string{"gen_b"}, nodes: "gen_a read_a", skipped: "gen_b", checks: "", readADeps: "gen_a"},
		{skip: []string{"gen_a"}, nodes: "gen_b read_a", skipped: "gen_a", checks: "gen_a", readADeps: ""},
	} {
		q, err := p.Select(tt.only, tt.skip)
		if err != nil {
			t.Fatal(err)
		}
		var nodes, checks, deps []string
		for _, n := range q.Nodes {
			nodes = append(nodes, n.ID)
			if n.ID == "read_a" {
				deps = n.Deps
			}
		}
		for _, n := range q.Checks {
			checks = append(checks, n.ID)
		}
		got := [4]string{strings.Join(nodes, " "), strings.Join(q.Skipped, " "), strings.Join(checks, " "), strings.Join(deps, " ")}
		if want := [4]string{tt.nodes, tt.skipped, tt.checks, tt.readADeps}; got != want {
			t.Errorf("only %v skip %v: nodes, skipped, checks, read_a's deps %q, want %q", tt.only, tt.skip, got, want)
		}
	}
	// The whole plan's read_a still waits for gen_a.
	if d := p.Nodes[2].Deps; len(d) != 1 || d[0] != "gen_a" {
		t.Errorf("Select changed the plan it was called on: %v", d)
	}
}
