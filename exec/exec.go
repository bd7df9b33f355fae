// Package exec runs a plan: it opens the workload's targets, starts each
// stage when the stages it depends on have finished, and collects what
// every stage measured into a results.Report. The first failure or a
// cancellation stops the run; what was measured until then is still
// reported, marked incomplete.
package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

// Options tune how a run reports progress.
type Options struct {
	// Progress receives progress lines; nil for none.
	Progress io.Writer
	// Live redraws one status line in place, for a terminal; otherwise
	// plain lines are printed every Interval.
	Live     bool
	Interval time.Duration
	// Dir is the results directory, claimed and begun (results.Begin);
	// stages write their detail files below Dir/stages/ID/ while they
	// run, and each stage's report is written to Dir/stages/ID.json when
	// it ends, so that a run killed later keeps what it measured. "" keeps
	// none.
	Dir string
	// Verify checks the data of the stages left out by reading every
	// byte back (stages.Verifier), not only its names and sizes.
	Verify bool
	// Processes spreads the stages' ranks over the run's processes
	// (exec/cluster); nil for a run of one process.
	Processes stages.Group
}

// stageRun is a stage while it runs: its report, and what fills it.
type stageRun struct {
	rep   *results.StageReport
	meter *measure.Meter
	stats backends.Stats
	// mu guards rep.Start and rep.End, which the progress ticker reads
	// while the stage runs.
	mu sync.Mutex
}

// times returns when the stage started and ended, zero until it does.
func (r *stageRun) times() (start, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep.Start, r.rep.End
}

func (r *stageRun) setTime(t *time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*t = time.Now()
}

// Run executes the plan. It always returns a report; Report.Err says why a
// run did not complete.
func Run(ctx context.Context, p *planner.Plan, opts Options) *results.Report {
	rep := &results.Report{Workload: p.Workload.Name, Start: time.Now(), Targets: map[string]results.Target{}, Skipped: p.Skipped}
	for name, t := range p.Targets {
		rep.Targets[name] = results.TargetOf(t)
	}
	group := stages.Group(stages.LocalGroup{})
	if opts.Processes != nil {
		group = opts.Processes
	}
	rep.Hosts = hostsOf(p, group.Members())
	var runs []*stageRun
	byID := map[string]*stageRun{}
	for _, n := range p.Nodes {
		sr := &stageRun{rep: &results.StageReport{ID: n.ID, Kind: n.Kind, Status: results.StatusNotRun, Planned: n.Task.Work()},
			meter: measure.NewMeter(n.ID)}
		rep.Stages = append(rep.Stages, sr.rep)
		runs = append(runs, sr)
		byID[n.ID] = sr
	}

	targets, err := openTargets(ctx, p)
	defer closeTargets(targets)
	if err != nil {
		rep.Err = err
		rep.End = time.Now()
		rep.Seconds = rep.End.Sub(rep.Start).Seconds()
		return rep
	}

	if err := check(ctx, p, targets, opts.Verify); err != nil {
		// Nothing ran: a stage would have read data that is not there.
		rep.Err = err
		rep.End = time.Now()
		rep.Seconds = rep.End.Sub(rep.Start).Seconds()
		return rep
	}

	rep.GoMaxProcs = runtime.GOMAXPROCS(0)
	if n := procs(p, rep.GoMaxProcs); n > rep.GoMaxProcs {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
		rep.GoMaxProcs = n
	}

	host := stages.ThisHost()
	stopProgress := startProgress(opts, runs)
	done := map[string]chan struct{}{}
	for _, n := range p.Nodes {
		done[n.ID] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range p.Nodes {
		run := byID[n.ID]
		sr := run.rep
		g.Go(func() error {
			defer close(done[n.ID])
			for _, d := range n.Deps {
				select {
				case <-done[d]:
				case <-gctx.Done():
					return nil // the error that cancelled the run is reported by its stage
				}
				if byID[d].rep.Status != results.StatusOK {
					return nil
				}
			}
			if gctx.Err() != nil {
				return nil
			}
			env := &stages.Env{Stage: n.ID, Host: host, Targets: targets, Meter: run.meter, Processes: opts.Processes}
			if opts.Dir != "" {
				env.Dir = filepath.Join(opts.Dir, "stages", n.ID)
			}
			run.setTime(&sr.Start)
			if opts.Dir != "" {
				// A failure here meets the final results.Write again,
				// which reports it.
				defer func() { _ = results.WriteStage(opts.Dir, sr) }()
			}
			metrics, err := n.Task.Run(backends.WithStats(gctx, &run.stats), env)
			run.setTime(&sr.End)
			if st := run.stats.Snapshot(); st.Requests > 0 {
				sr.Requests = &st
			}
			sr.Seconds = sr.End.Sub(sr.Start).Seconds()
			sr.Metrics = metrics
			if err == nil && opts.Processes != nil {
				// One result: the lead's figures of the stage's
				// operations are of every process's.
				sr.Processes, err = gatherMeter(gctx, opts.Processes, n.ID, run.meter)
			}
			sr.Measured = run.meter.Snapshot()
			if metrics != nil {
				if h, ok := n.Task.(stages.Headliner); ok {
					sr.Headline = h.Headline(metrics)
				}
				if k, ok := n.Task.(stages.SummaryKeyer); ok {
					sr.SummaryKeys = k.SummaryKeys()
				}
				if u, ok := n.Task.(stages.Uniter); ok {
					sr.Units = u.Units()
				}
			}
			switch {
			case err == nil:
				sr.Status = results.StatusOK
			case ctx.Err() != nil:
				sr.Status, sr.Error = results.StatusCanceled, "canceled: "+context.Cause(ctx).Error()
				return ctx.Err()
			case gctx.Err() != nil && errors.Is(err, context.Canceled):
				// Stopped because another stage failed.
				sr.Status, sr.Error = results.StatusCanceled, "canceled after another stage failed"
				return nil
			default:
				sr.Status, sr.Error = results.StatusFailed, err.Error()
				return fmt.Errorf("stage %s: %w", n.ID, err)
			}
			progressLine(opts, sr)
			return nil
		})
	}
	rep.Err = g.Wait()
	if rep.Err == nil && ctx.Err() != nil {
		rep.Err = ctx.Err()
	}
	stopProgress()
	rep.End = time.Now()
	rep.Seconds = rep.End.Sub(rep.Start).Seconds()
	rep.Complete = rep.Err == nil
	for _, sr := range rep.Stages {
		rep.Complete = rep.Complete && sr.Status == results.StatusOK
	}
	return rep
}

// check asks each stage the run leaves out whose data a stage that runs
// reads whether that data is there (stages.Checker).
func check(ctx context.Context, p *planner.Plan, targets map[string]backends.Backend, verify bool) error {
	for _, n := range p.Checks {
		c, ok := n.Task.(stages.Checker)
		if !ok {
			return fmt.Errorf("stage %s is left out, and a stage that runs reads what it writes, which a %s stage cannot check is there: run it too", n.ID, n.Kind)
		}
		env := &stages.Env{Stage: n.ID, Host: stages.ThisHost(), Targets: targets, Meter: measure.NewMeter(n.ID)}
		// A kind that cannot compare content (an index, built from
		// the data rather than generated) gets its check of names.
		test := c.Check
		if v, ok := n.Task.(stages.Verifier); ok && verify {
			test = v.Verify
		}
		if err := test(ctx, env); err != nil {
			return fmt.Errorf("stage %s is left out, but what it writes is not as this workload plans it: %w; run it (drop it from --skip, or add it to --only)", n.ID, err)
		}
	}
	return nil
}

// hostsOf is the hosts of ms and, for each of their processes, its
// share of every stage that spreads its ranks.
func hostsOf(p *planner.Plan, ms []stages.Member) []results.HostReport {
	var hs []results.HostReport
	at := map[string]int{}
	for _, m := range ms {
		i, ok := at[m.Host.Hostname]
		if !ok {
			i = len(hs)
			at[m.Host.Hostname] = i
			hs = append(hs, results.HostReport{Host: m.Host})
		}
		pr := results.ProcessReport{Proc: m.Proc}
		for _, n := range p.Nodes {
			sp, ok := n.Task.(stages.Spread)
			if !ok {
				continue
			}
			first, count := stages.ShareOf(m.Proc, len(ms), sp.Ranks())
			if pr.Ranks == nil {
				pr.Ranks = map[string]string{}
			}
			switch count {
			case 0:
				pr.Ranks[n.ID] = "none"
			case 1:
				pr.Ranks[n.ID] = fmt.Sprint(first)
			default:
				pr.Ranks[n.ID] = fmt.Sprintf("%d-%d", first, first+count-1)
			}
		}
		hs[i].Processes = append(hs[i].Processes, pr)
	}
	return hs
}

// gatherMeter sends this process's figures of a stage's operations to
// the lead process, which adds the others' to its meter and returns each
// process's share of them.
func gatherMeter(ctx context.Context, g stages.Group, stage string, m *measure.Meter) ([]results.ProcessShare, error) {
	var offset time.Duration
	if c, ok := g.(interface{ ClockOffset() time.Duration }); ok {
		offset = c.ClockOffset()
	}
	parts, err := g.Gather(ctx, "meter/"+stage, m.Export(offset))
	if err != nil || !g.Lead() {
		return nil, err
	}
	shares := make([]results.ProcessShare, len(parts))
	for i, b := range parts {
		var p measure.Part
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("process %d's figures: %w", i, err)
		}
		shares[i].Proc = i
		for _, o := range p.Ops {
			shares[i].Ops += o.Count
			shares[i].Errors += o.Errors
			shares[i].Bytes += o.Bytes
		}
		// Part 0 is the lead's own, already in m.
		if i == 0 {
			continue
		}
		if err := m.Absorb(p); err != nil {
			return nil, fmt.Errorf("process %d's figures: %w", i, err)
		}
	}
	return shares, nil
}

// maxProcs bounds the processors a run asks for: past it, more threads
// in blocking calls than this cost more in scheduling than they gain.
const maxProcs = 256

// procs returns the processors (GOMAXPROCS) the run needs so that no
// storage call waits for a processor held by another call that blocks
// (see stages.Concurrent): the concurrency of all stages together, as
// independent stages run at once, and never fewer than have: the
// runtime's default, or what the user set in GOMAXPROCS, which is kept.
func procs(p *planner.Plan, have int) int {
	if os.Getenv("GOMAXPROCS") != "" {
		return have
	}
	n := 0
	for _, node := range p.Nodes {
		if c, ok := node.Task.(stages.Concurrent); ok {
			n += c.Concurrency()
		}
	}
	return max(have, min(n, maxProcs))
}

// openTargets opens every target of the plan, as the planner resolved
// them.
func openTargets(ctx context.Context, p *planner.Plan) (map[string]backends.Backend, error) {
	targets := map[string]backends.Backend{}
	for _, name := range slices.Sorted(maps.Keys(p.Targets)) {
		b, err := p.Targets[name].Open(ctx)
		if err != nil {
			return targets, fmt.Errorf("target %s: %w", name, err)
		}
		targets[name] = b
	}
	return targets, nil
}

func closeTargets(targets map[string]backends.Backend) {
	for _, b := range targets {
		b.Close()
	}
}
