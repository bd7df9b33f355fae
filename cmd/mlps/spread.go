package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/cluster"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
)

// spread runs the plan as one process of a run across processes: it
// joins the coordinator (process 0 serves it), runs its share of every
// stage's ranks, and process 0 alone writes the results. Only stage kinds
// that spread their ranks (stages.Spread) may run so: data is generated
// before, by a run of one process, and checked here as --skip checks it.
// With repeat > 1 the processes join once and run the stages repeat
// times back to back, each run with its own run seed and results
// directory, as --repeat does in one process.
func (s *series) spread(p *planner.Plan, where cluster.Place, bind string, repeat int) int {
	for _, n := range p.Nodes {
		w, ok := n.Task.(stages.Spread)
		if !ok {
			fmt.Fprintf(s.stderr, "mlps exec: stage %s (%s) cannot run across processes yet: run it in one process first (mlps exec WORKLOAD --only %s), then this with --skip %s\n", n.ID, n.Kind, n.ID, n.ID)
			return exitUsage
		}
		if u, ok := n.Task.(stages.Unspreadable); ok {
			if why := u.WhyNotSpread(); why != "" {
				fmt.Fprintf(s.stderr, "mlps exec: stage %s (%s): %s\n", n.ID, n.Kind, why)
				return exitUsage
			}
		}
		// Every process must host a rank: one with none would never
		// meet the others at a barrier.
		if w.Ranks() < where.Procs {
			fmt.Fprintf(s.stderr, "mlps exec: stage %s has %d ranks for %d processes: each process runs at least one (fewer processes, or more accelerators)\n", n.ID, w.Ranks(), where.Procs)
			return exitUsage
		}
	}
	plans, phase := []*planner.Plan{p}, ""
	if repeat > 1 {
		// Every run is planned before the first starts, and the hash
		// checked at rendezvous covers them all.
		plans, phase = make([]*planner.Plan, repeat), "run"
		base := p.Workload.RunSeed()
		for i := range plans {
			q, code := load(s.path, append(slices.Clone(s.overrides), fmt.Sprintf("run_seed=%d", base+uint64(i))), s.stderr)
			if q == nil {
				return code
			}
			var err error
			if plans[i], err = q.Select(s.only, s.skip); err != nil {
				fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
				return exitUsage
			}
		}
	}
	h := sha256.New()
	for _, q := range plans {
		in, err := inputs(q)
		if err != nil {
			fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
			return exitFailed
		}
		planJSON, err := json.Marshal(in.Plan)
		if err != nil {
			fmt.Fprintf(s.stderr, "mlps exec: %v\n", err)
			return exitFailed
		}
		h.Write(in.WorkloadJSON)
		h.Write(planJSON)
	}
	ranks := 1
	for _, n := range p.Nodes {
		if w, ok := n.Task.(stages.Spread); ok {
			ranks = max(ranks, w.Ranks())
		}
	}
	// Its share of the largest stage, as the stages split them, so that
	// the ranks the coordinator's messages name are the ranks it runs.
	_, share := stages.ShareOf(where.Proc, where.Procs, ranks)
	proc, ctx, err := cluster.Join(context.Background(), cluster.Config{
		Place: where,
		Ranks: share,
		Plan: cluster.Plan{Hash: hex.EncodeToString(h.Sum(nil)), Workload: p.Workload.Name, Version: results.MlpsVersion(),
			Overrides: s.overrides},
		Host:  stages.ThisHost(),
		Token: os.Getenv("MLPS_CLUSTER_TOKEN"),
		Bind:  bind,
	})
	if err != nil {
		fmt.Fprintf(s.stderr, "mlps exec: process %d of %d (%s): %v\n", where.Proc, where.Procs, where.Launcher, err)
		return exitFailed
	}
	defer proc.Close()
	if proc.Lead() {
		fmt.Fprintf(s.stderr, "mlps exec: a run of %d processes (%s): %s\n", where.Procs, where.Launcher, hostsLine(proc.Members()))
	}
	code := exitOK
	var failed error
	for i, q := range plans {
		var g stages.Group = proc
		if len(plans) > 1 {
			// Each run's barriers and gathers are named apart.
			g = proc.Scope(fmt.Sprint("run", i))
			if proc.Lead() {
				fmt.Fprintf(s.stderr, "mlps exec: run %d of %d (run_seed %d)\n", i+1, len(plans), q.Workload.RunSeed())
			}
		}
		if code, failed = s.spreadOne(ctx, g, q, phase, where); code != exitOK {
			break
		}
	}
	// A failure of this process's own ends the run on the others with its
	// reason; one the run told this process of is already theirs.
	if code != exitOK && failed != nil && context.Cause(ctx) == nil {
		proc.Abort(failed)
	}
	if code == exitOK {
		if err := proc.Finish(ctx); err != nil {
			fmt.Fprintf(s.stderr, "mlps exec: process %d of %d: %v\n", where.Proc, where.Procs, err)
			return exitFailed
		}
		if !proc.Lead() {
			fmt.Fprintf(s.stderr, "mlps exec: process %d of %d done; process 0 writes the results\n", where.Proc, where.Procs)
		}
	}
	return code
}

// spreadOne runs p as this process's part of one run across the
// processes g: the lead writes the results; the others keep none.
func (s *series) spreadOne(ctx context.Context, g stages.Group, p *planner.Plan, phase string, where cluster.Place) (int, error) {
	s.opts.Processes = g
	if g.Lead() {
		code, rep := s.oneReport(ctx, p, phase)
		if rep != nil {
			return code, rep.Err
		}
		return code, nil
	}
	opts := s.opts
	opts.Dir, opts.Progress = "", nil
	rep := exec.Run(ctx, p, opts)
	if rep.Complete {
		return exitOK, nil
	}
	failed := rep.Err
	if cause := context.Cause(ctx); cause != nil {
		failed = cause
	}
	fmt.Fprintf(s.stderr, "mlps exec: process %d of %d: %v\n", where.Proc, where.Procs, failed)
	return exitFailed, failed
}

// hostsLine is the processes of a run for its log: hosts and ranks.
func hostsLine(ms []stages.Member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%d:%s", m.Proc, m.Host.Hostname))
	}
	return strings.Join(parts, " ")
}
