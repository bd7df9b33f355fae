// Package planner compiles a workload into a deterministic DAG of stages,
// each carrying its planned work. Edges come from explicit after: lists and
// from data: a stage that reads a dataset depends on the stage that writes
// it. Sizes are computed by the stage kinds from counts and formulas, so a
// plan for millions of files holds no per-file values.
package planner

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
)

// Plan is a workload compiled into stages in dependency order.
type Plan struct {
	Workload *dsl.Workload
	// Targets holds every target of the workload resolved: its
	// configuration checked against its scheme, its traits known. exec
	// opens them from here.
	Targets map[string]*backends.Target
	// Nodes are in topological order: every node after all of its
	// dependencies, ties broken by id, so the same workload always gives
	// the same order.
	Nodes []*Node
	// Skipped are the stages a partial run leaves out (Select), and
	// Checks those of them that write what a stage that runs reads: the
	// engine checks that it is there (stages.Checker) before the run.
	Skipped []string
	Checks  []*Node
}

// Node is one stage of the plan.
type Node struct {
	ID   string
	Kind string
	// Deps are the ids of the stages that must finish first, sorted.
	Deps []string
	Task stages.Task
}

// Work is the plan's total planned work.
func (p *Plan) Work() stages.Work {
	var t stages.Work
	for _, n := range p.Nodes {
		w := n.Task.Work()
		t.ReadBytes += w.ReadBytes
		t.WriteBytes += w.WriteBytes
		t.Files += w.Files
		t.Ops += w.Ops
		t.Expected = t.Expected || w.Expected
	}
	return t
}

type edge struct {
	from, to string
	why      *dsl.Error // where the edge was written, for cycle reports
}

// Compile plans w. Every problem found is reported, as dsl.Errors naming
// the file, line and column.
func Compile(w *dsl.Workload) (*Plan, error) {
	ids := w.StageIDs()
	targets, errs := resolveTargets(w)
	if len(ids) == 0 {
		errs = append(errs, dsl.Errorf(w.Pos("stages"), "stages", "the workload has no stages; add one, such as a generate stage"))
	}
	if len(errs) > 0 {
		// A stage's plan asks its targets' traits: it cannot be judged
		// against a target that did not resolve.
		return nil, errs
	}
	in := &stages.PlanInput{Workload: w, Targets: targets, Host: stages.ThisHost()}
	nodes := map[string]*Node{}
	for _, id := range ids {
		st := w.Stages[id]
		kind, ok := stages.Lookup(st.Kind)
		if !ok {
			errs = append(errs, dsl.Errorf(w.Pos("stages", id, "kind"), "stages."+id+".kind",
				"kind %q is not supported yet (supported: %s)", st.Kind, strings.Join(stages.Kinds(), ", ")))
			continue
		}
		task, err := kind.Plan(in, id)
		if err != nil {
			errs = append(errs, asInputErrors(err, w, id)...)
			continue
		}
		nodes[id] = &Node{ID: id, Kind: st.Kind, Task: task}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	var edges []edge
	for _, id := range ids {
		for i, dep := range w.Stages[id].After {
			path := fmt.Sprintf("stages.%s.after[%d]", id, i)
			pos := w.Pos("stages", id, "after", i)
			if _, ok := w.Stages[dep]; !ok {
				errs = append(errs, dsl.Errorf(pos, path, "unknown stage %q (stages: %s)", dep, strings.Join(ids, ", ")))
				continue
			}
			edges = append(edges, edge{dep, id, dsl.Errorf(pos, path, "%s runs after %s", id, dep)})
		}
	}
	writers := map[string][]string{}
	for _, id := range ids {
		for _, ds := range nodes[id].Task.Writes() {
			writers[ds] = append(writers[ds], id)
		}
	}
	for ds, ws := range writers {
		if len(ws) > 1 {
			errs = append(errs, dsl.Errorf(w.Pos("stages", ws[1], "kind"), "stages."+ws[1],
				"dataset %q is written by stages %s; a dataset has one writer", ds, strings.Join(ws, " and ")))
		}
	}
	for _, id := range ids {
		for _, ds := range nodes[id].Task.Reads() {
			for _, from := range writers[ds] {
				if from != id {
					edges = append(edges, edge{from, id, dsl.Errorf(w.Pos("stages", id, "kind"), "stages."+id,
						"%s reads dataset %q, written by %s", id, ds, from)})
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	deps := map[string]map[string]*dsl.Error{}
	for _, e := range edges {
		if deps[e.to] == nil {
			deps[e.to] = map[string]*dsl.Error{}
		}
		if _, dup := deps[e.to][e.from]; !dup {
			deps[e.to][e.from] = e.why
		}
	}
	for id, n := range nodes {
		for d := range deps[id] {
			n.Deps = append(n.Deps, d)
		}
		sort.Strings(n.Deps)
	}
	order, err := topo(ids, nodes, deps)
	if err != nil {
		return nil, err
	}
	return &Plan{Workload: w, Targets: targets, Nodes: order}, nil
}

// resolveTargets resolves every target of w once; an error is placed at
// the option it is about.
func resolveTargets(w *dsl.Workload) (map[string]*backends.Target, dsl.Errors) {
	var errs dsl.Errors
	out := map[string]*backends.Target{}
	for _, name := range slices.Sorted(maps.Keys(w.Targets)) {
		t, err := backends.Resolve(w.Targets[name])
		if err != nil {
			opt, msg := "uri", err.Error()
			var oe *backends.OptionError
			if errors.As(err, &oe) {
				opt, msg = oe.Option, oe.Err.Error()
			}
			errs = append(errs, dsl.Errorf(w.Pos("targets", name, opt), "targets."+name+"."+opt, "%s", msg))
			continue
		}
		out[name] = t
	}
	return out, errs
}

// topo orders the nodes with Kahn's algorithm, taking the smallest ready
// id first. Nodes left over sit on or behind a cycle, which is reported
// with the place each of its edges was written.
func topo(ids []string, nodes map[string]*Node, deps map[string]map[string]*dsl.Error) ([]*Node, error) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for _, id := range ids {
		indeg[id] = len(deps[id])
		for d := range deps[id] {
			users[d] = append(users[d], id)
		}
	}
	var ready, order []string
	for _, id := range ids {
		if indeg[id] == 0 {
			ready = append(ready, id)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, u := range users[id] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) < len(ids) {
		return nil, cycleError(ids, indeg, deps)
	}
	out := make([]*Node, len(order))
	for i, id := range order {
		out[i] = nodes[id]
	}
	return out, nil
}

func cycleError(ids []string, indeg map[string]int, deps map[string]map[string]*dsl.Error) error {
	// Walk backwards along dependencies among the unfinished nodes until a
	// node repeats: that stretch is a cycle.
	var start string
	for _, id := range ids {
		if indeg[id] > 0 {
			start = id
			break
		}
	}
	seen := map[string]int{}
	var path []string
	for cur := start; ; {
		if i, ok := seen[cur]; ok {
			path = path[i:]
			break
		}
		seen[cur] = len(path)
		path = append(path, cur)
		var next []string
		for d := range deps[cur] {
			if indeg[d] > 0 {
				next = append(next, d)
			}
		}
		sort.Strings(next)
		cur = next[0]
	}
	slices.Reverse(path) // dependencies first: a -> b means b runs after a
	cyc := append(slices.Clone(path), path[0])
	msg := "stages form a cycle: " + strings.Join(cyc, " -> ") + " (each runs after the one before it)"
	e := &dsl.Error{Path: "stages", Msg: msg}
	for i := range path {
		why := deps[cyc[i+1]][cyc[i]]
		if !e.Pos.IsValid() {
			e.Pos, e.Path = why.Pos, why.Path
			continue
		}
		e.Also = append(e.Also, why.Pos)
	}
	return dsl.Errors{e}
}

// asInputErrors keeps a kind's input errors as they are and gives any
// other error the stage's position.
func asInputErrors(err error, w *dsl.Workload, id string) dsl.Errors {
	switch e := err.(type) {
	case dsl.Errors:
		return e
	case *dsl.Error:
		return dsl.Errors{e}
	}
	return dsl.Errors{dsl.Errorf(w.Pos("stages", id, "kind"), "stages."+id, "%v", err)}
}

// Warnings collects what the stages find questionable about the plan on
// host, each prefixed by its stage.
func (p *Plan) Warnings(host stages.Host) []string {
	var out []string
	// A store whose certificate is not checked may not be the store the
	// figures are said to be from; the results record it, and so does
	// the run's output.
	for _, name := range slices.Sorted(maps.Keys(p.Targets)) {
		if p.Targets[name].Config.InsecureSkipVerify {
			out = append(out, "target "+name+": insecure_skip_verify: the store's TLS certificate is not checked")
		}
	}
	for _, n := range p.Nodes {
		if w, ok := n.Task.(stages.Warner); ok {
			for _, msg := range w.Warnings(host) {
				out = append(out, "stage "+n.ID+": "+msg)
			}
		}
	}
	return out
}
