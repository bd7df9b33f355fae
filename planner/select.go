package planner

import (
	"fmt"
	"slices"
	"strings"
)

// Select returns the plan of the stages only names (or, with skip, all
// but those skip names), for a run of part of the DAG: a series of runs
// over a dataset generated once. A stage left out that writes a dataset a
// selected stage reads is kept in Checks, for the engine to check that
// its data is there before anything runs. Naming a stage that is not in
// the workload, both lists, or leaving nothing to run is an error.
func (p *Plan) Select(only, skip []string) (*Plan, error) {
	if len(only) > 0 && len(skip) > 0 {
		return nil, fmt.Errorf("--only and --skip together: name the stages to run, or those to leave out")
	}
	if len(only) == 0 && len(skip) == 0 {
		return p, nil
	}
	ids := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		ids[i] = n.ID
	}
	for _, id := range append(slices.Clone(only), skip...) {
		if !slices.Contains(ids, id) {
			return nil, fmt.Errorf("no stage %q in workload %s; its stages are %s", id, p.Workload.Name, strings.Join(ids, ", "))
		}
	}
	run := func(id string) bool {
		if len(only) > 0 {
			return slices.Contains(only, id)
		}
		return !slices.Contains(skip, id)
	}
	q := &Plan{Workload: p.Workload, Targets: p.Targets}
	read := map[string]bool{}
	for _, n := range p.Nodes {
		if !run(n.ID) {
			q.Skipped = append(q.Skipped, n.ID)
			continue
		}
		m := *n
		m.Deps = slices.DeleteFunc(slices.Clone(n.Deps), func(d string) bool { return !run(d) })
		q.Nodes = append(q.Nodes, &m)
		for _, d := range n.Task.Reads() {
			read[d] = true
		}
	}
	if len(q.Nodes) == 0 {
		return nil, fmt.Errorf("--skip leaves no stage of workload %s to run", p.Workload.Name)
	}
	for _, n := range p.Nodes {
		if run(n.ID) {
			continue
		}
		if slices.ContainsFunc(n.Task.Writes(), func(d string) bool { return read[d] }) {
			q.Checks = append(q.Checks, n)
		}
	}
	return q, nil
}
