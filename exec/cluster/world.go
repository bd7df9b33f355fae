package cluster

import (
	"context"
	"encoding/json"
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

// Scoped is the run's processes as one run of a series sees them: its
// barriers, gathers and syncs are named apart from every other run's,
// so that a run of --repeat never meets a round of the run before it.
type Scoped struct {
	*Process
	scope string
}

var _ stages.Group = Scoped{}

// Scope returns p as run scope of a series sees it.
func (p *Process) Scope(scope string) Scoped { return Scoped{Process: p, scope: scope} }

// World is p's World under the run's name for it.
func (s Scoped) World(name string, n int) stages.World {
	return s.Process.World(s.scope+"/"+name, n)
}

// Gather is p's Gather under the run's name for it.
func (s Scoped) Gather(ctx context.Context, name string, v any) ([]json.RawMessage, error) {
	return s.Process.Gather(ctx, s.scope+"/"+name, v)
}

// Sync is p's Sync under the run's name for it.
func (s Scoped) Sync(ctx context.Context, name string) error {
	return s.Process.Sync(ctx, s.scope+"/"+name)
}
