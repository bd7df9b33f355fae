package planner

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/measure"
)

// WriteText prints the plan for people: the targets, then each stage in
// run order with what it waits for and its planned work.
func (p *Plan) WriteText(out io.Writer) error {
	w := p.Workload
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload %s (seed %d): %d stages\n", w.Name, w.Seed, len(p.Nodes))
	fmt.Fprintf(tw, "targets:\n")
	for _, name := range slices.Sorted(maps.Keys(w.Targets)) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, w.Targets[name].URI)
	}
	fmt.Fprintf(tw, "stages, in run order:\n")
	for _, n := range p.Nodes {
		after := "-"
		if len(n.Deps) > 0 {
			after = "after " + strings.Join(n.Deps, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n.ID, n.Kind, after, workText(n.Task.Work()))
		fmt.Fprintf(tw, "  \t\t\t%s\n", n.Task.Describe())
	}
	total := p.Work()
	fmt.Fprintf(tw, "total\t\t\t%s\n", workText(total))
	if err := tw.Flush(); err != nil {
		return err
	}
	if total.Expected {
		_, err := fmt.Fprintf(out, "≈ marks an expected size: files of drawn sizes (record_bytes_stdev) beyond %d, re-read files at the mean size, or parquet values without page headers\n", dataset.ExactFiles)
		return err
	}
	return nil
}

func workText(w stages.Work) string {
	var parts []string
	// An expectation over the record size distribution says so: it is
	// not the sum of the files' sizes.
	about := ""
	if w.Expected {
		about = "≈"
	}
	if w.WriteBytes > 0 {
		parts = append(parts, "write "+about+measure.IEC(w.WriteBytes))
	}
	if w.ReadBytes > 0 {
		parts = append(parts, "read "+about+measure.IEC(w.ReadBytes))
	}
	parts = append(parts, fmt.Sprintf("%d files, %d ops", w.Files, w.Ops))
	return strings.Join(parts, ", ")
}

// JSONStage is one stage in the JSON form of a plan.
type JSONStage struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	DependsOn []string `json:"depends_on"`
	Planned   JSONWork `json:"planned"`
	Describe  string   `json:"describe"`
}

// JSONWork is planned work with its byte total spelled out.
type JSONWork struct {
	stages.Work
	Bytes int64 `json:"bytes"`
}

// JSONPlan is the JSON form of a plan.
type JSONPlan struct {
	Workload string      `json:"workload"`
	Seed     uint64      `json:"seed"`
	Stages   []JSONStage `json:"stages"`
	Total    JSONWork    `json:"total"`
}

// JSON returns the plan in its JSON form.
func (p *Plan) JSON() JSONPlan {
	jp := JSONPlan{Workload: p.Workload.Name, Seed: p.Workload.Seed, Total: jsonWork(p.Work())}
	for _, n := range p.Nodes {
		jp.Stages = append(jp.Stages, JSONStage{
			ID: n.ID, Kind: n.Kind, DependsOn: append([]string{}, n.Deps...),
			Planned: jsonWork(n.Task.Work()), Describe: n.Task.Describe(),
		})
	}
	return jp
}

func jsonWork(w stages.Work) JSONWork { return JSONWork{Work: w, Bytes: w.Bytes()} }

// WriteJSON prints the plan as indented JSON.
func (p *Plan) WriteJSON(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(p.JSON())
}

// WriteDOT prints the plan as a Graphviz digraph; an edge a -> b means b
// runs after a.
func (p *Plan) WriteDOT(out io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotID(p.Workload.Name))
	b.WriteString("  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")
	for _, n := range p.Nodes {
		label := n.ID + "\n" + n.Kind + "\n" + workText(n.Task.Work())
		fmt.Fprintf(&b, "  %s [label=%s];\n", dotID(n.ID), dotID(label))
	}
	for _, n := range p.Nodes {
		for _, d := range n.Deps {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotID(d), dotID(n.ID))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(out, b.String())
	return err
}

// dotID quotes s as a DOT string: only the quote and the backslash need
// escaping, and a newline becomes DOT's centred line break.
func dotID(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
