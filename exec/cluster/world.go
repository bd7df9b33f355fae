package cluster

import (
	"context"
	"sync"
	"time"

	"mlps.dev/mlps/stages"
)

// World is a stages.World whose ranks are spread over the run's
// processes, each hosting some as goroutines: a barrier gathers this
// process's ranks first, and the last of them to arrive takes the
// process through the coordinator's barrier for all of them, so that a
// round costs one call per process, not per rank.
type World struct {
	p     *Process
	name  string
	gen   uint64
	n     int
	local int
	mu    sync.Mutex
	count int
	cur   *localRound
}

type localRound struct {
	done chan struct{}
	err  error
}

var (
	_ stages.World = (*World)(nil)
	_ stages.Group = (*Process)(nil)
)

// Share is the ranks of a stage of n that this process runs
// (stages.ShareOf).
func (p *Process) Share(n int) (first, count int) {
	return stages.ShareOf(p.cfg.Place.Proc, p.cfg.Place.Procs, n)
}

// World is the world of a stage's n ranks, of which this process runs
// its Share.
func (p *Process) World(name string, n int) stages.World {
	_, count := p.Share(n)
	return &World{p: p, name: name, n: n, local: count, cur: &localRound{done: make(chan struct{})}}
}

// ClockOffset is process 0's clock minus this process's, as rendezvous
// estimated it: what this process adds to its times for process 0.
func (p *Process) ClockOffset() time.Duration { return p.Offset }

// Sync returns once every process has called it with name.
func (p *Process) Sync(ctx context.Context, name string) error {
	return p.barrier(ctx, "sync/"+name, 1)
}

// Lead is true in process 0, which writes the results.
func (p *Process) Lead() bool { return p.cfg.Place.Proc == 0 }

// Size is the number of ranks over every process.
func (w *World) Size() int { return w.n }

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
	w.gen++
	gen := w.gen
	w.mu.Unlock()
	r.err = w.p.barrier(ctx, w.name, gen)
	close(r.done)
	return r.err
}
