// Package exec runs a plan: it opens the workload's targets, starts each
// stage when the stages it depends on have finished, and collects what
// every stage measured. The first failure or a cancellation stops the run;
// what was measured until then is still reported, marked incomplete.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
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
	// Dir is the results directory; stages write their detail files below
	// Dir/stages/ID/ while they run. "" keeps none.
	Dir string
}

// Status of a stage in a report.
const (
	StatusOK       = "ok"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusNotRun   = "not-run"
)

// StageReport is what one stage did.
type StageReport struct {
	ID       string           `json:"id"`
	Kind     string           `json:"kind"`
	Status   string           `json:"status"`
	Error    string           `json:"error,omitempty"`
	Start    time.Time        `json:"start,omitzero"`
	End      time.Time        `json:"end,omitzero"`
	Seconds  float64          `json:"seconds"`
	Planned  stages.Work      `json:"planned"`
	Measured measure.Snapshot `json:"measured"`
	Metrics  stages.Metrics   `json:"metrics,omitempty"`
	// Requests counts the HTTP requests of object stores, retries
	// included; absent for stages that only touched local targets.
	Requests *backends.StatsSnapshot `json:"requests,omitempty"`

	node  *planner.Node
	meter *measure.Meter
	stats backends.Stats
}

// Report is what a run did.
type Report struct {
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	Complete bool           `json:"complete"`
	Stages   []*StageReport `json:"stages"`
	// Err is the error that ended the run early, if any.
	Err error `json:"-"`
}

// Canceled reports whether the run was stopped by its context (Ctrl-C)
// rather than by a failure.
func (r *Report) Canceled() bool { return errors.Is(r.Err, context.Canceled) }

// Run executes the plan. It always returns a report; Report.Err says why a
// run did not complete.
func Run(ctx context.Context, p *planner.Plan, opts Options) *Report {
	rep := &Report{Start: time.Now()}
	byID := map[string]*StageReport{}
	for _, n := range p.Nodes {
		sr := &StageReport{ID: n.ID, Kind: n.Kind, Status: StatusNotRun, Planned: n.Task.Work(),
			node: n, meter: measure.NewMeter(n.ID)}
		rep.Stages = append(rep.Stages, sr)
		byID[n.ID] = sr
	}

	targets, err := openTargets(ctx, p)
	defer closeTargets(targets)
	if err != nil {
		rep.Err = err
		rep.End = time.Now()
		return rep
	}

	host := stages.ThisHost()
	stopProgress := startProgress(opts, rep)
	done := map[string]chan struct{}{}
	for _, n := range p.Nodes {
		done[n.ID] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range p.Nodes {
		sr := byID[n.ID]
		g.Go(func() error {
			defer close(done[n.ID])
			for _, d := range n.Deps {
				select {
				case <-done[d]:
				case <-gctx.Done():
					return nil // the error that cancelled the run is reported by its stage
				}
				if byID[d].Status != StatusOK {
					return nil
				}
			}
			if gctx.Err() != nil {
				return nil
			}
			env := &stages.Env{Stage: n.ID, Host: host, Targets: targets, Meter: sr.meter}
			if opts.Dir != "" {
				env.Dir = filepath.Join(opts.Dir, "stages", n.ID)
			}
			sr.Start = time.Now()
			metrics, err := n.Task.Run(backends.WithStats(gctx, &sr.stats), env)
			sr.End = time.Now()
			if st := sr.stats.Snapshot(); st.Requests > 0 {
				sr.Requests = &st
			}
			sr.Seconds = sr.End.Sub(sr.Start).Seconds()
			sr.Metrics = metrics
			sr.Measured = sr.meter.Snapshot()
			switch {
			case err == nil:
				sr.Status = StatusOK
			case ctx.Err() != nil:
				sr.Status, sr.Error = StatusCanceled, "canceled: "+context.Cause(ctx).Error()
				return ctx.Err()
			case gctx.Err() != nil && errors.Is(err, context.Canceled):
				// Stopped because another stage failed.
				sr.Status, sr.Error = StatusCanceled, "canceled after another stage failed"
				return nil
			default:
				sr.Status, sr.Error = StatusFailed, err.Error()
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
	rep.Complete = rep.Err == nil
	for _, sr := range rep.Stages {
		rep.Complete = rep.Complete && sr.Status == StatusOK
	}
	return rep
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
