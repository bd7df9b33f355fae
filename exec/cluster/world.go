package cluster

import (
	"context"
	"sync"

	"mlps.dev/mlps/stages"
)

// World is a stages.World whose ranks are spread over the run's
// processes, each hosting some as goroutines: a barrier gathers this
// process's ranks first, and the last of them to arrive takes the
// process through the coordinator's barrier for all of them, so that a
// round costs one call per process, not per rank.
type World struct {
	p     *Process
	local int
	mu    sync.Mutex
	count int
	cur   *localRound
}

type localRound struct {
	done chan struct{}
	err  error
}

var _ stages.World = (*World)(nil)

// World returns the run-wide world of a stage whose ranks are this run's.
func (p *Process) World() *World {
	return &World{p: p, local: p.cfg.Ranks, cur: &localRound{done: make(chan struct{})}}
}

// Size is the number of ranks over every process.
func (w *World) Size() int { return w.p.Ranks() }

// Barrier returns once every rank of every process has called it, or
// with the run's failure.
func (w *World) Barrier(ctx context.Context) error {
	w.mu.Lock()
	r := w.cur
	w.count++
	if w.count < w.local {
		w.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.count = 0
	w.cur = &localRound{done: make(chan struct{})}
	w.mu.Unlock()
	r.err = w.p.Barrier(ctx)
	close(r.done)
	return r.err
}
