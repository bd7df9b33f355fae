package stages

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// World is the set of emulated accelerators (ranks) that take part in a
// stage. Today they are goroutines of one process (LocalWorld); ranks
// spread over processes and hosts will implement the same interface.
type World interface {
	// Size is the number of ranks.
	Size() int
	// Barrier returns once every rank has called it, standing in for the
	// all-reduce that ends a training step. It returns the context's error
	// if the context ends first.
	Barrier(ctx context.Context) error
}

// Group is the processes a run's ranks are spread over: which ranks of a
// stage this process runs, the World they meet in, and the gathering of
// each process's figures to the process that writes the results. A run
// of one process is LocalGroup; exec/cluster spreads one over many.
type Group interface {
	// Share is the ranks of a stage of n ranks that this process runs:
	// first, first+1, ..., first+count-1.
	Share(n int) (first, count int)
	// World is where a stage's n ranks meet, under a name every process
	// gives it alike (stage, phase, epoch), so that worlds of stages that
	// run at once keep apart; this process's share of them call its
	// Barrier.
	World(name string, n int) World
	// Gather sends this process's part of name and, once every process
	// has sent its own, returns them all in process order to the lead
	// process, and nil to the others.
	Gather(ctx context.Context, name string, v any) ([]json.RawMessage, error)
	// Sync returns once every process has called it with name, a name
	// no other Sync of the run uses: the ranks of all processes start a
	// phase (a checkpoint save) together.
	Sync(ctx context.Context, name string) error
	// Lead is true in the process that writes the results.
	Lead() bool
	// Members are the run's processes, in process order: process i runs
	// ShareOf(i, len(Members()), n) of a stage's n ranks.
	Members() []Member
}

// Member is one process of a run and the host it runs on.
type Member struct {
	Proc int  `json:"proc"`
	Host Host `json:"host"`
}

// ShareOf is process proc's share of n ranks over procs processes: the
// processes take n/procs each, in process order, the first n mod procs
// one more.
func ShareOf(proc, procs, n int) (first, count int) {
	return proc * n / procs, (proc+1)*n/procs - proc*n/procs
}

// Hosts are the distinct hosts of ms, in the order of their first
// process, by host name.
func Hosts(ms []Member) []Host {
	var hs []Host
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.Host.Hostname] {
			seen[m.Host.Hostname] = true
			hs = append(hs, m.Host)
		}
	}
	return hs
}

// LocalGroup is a run of one process: it runs every rank.
type LocalGroup struct{}

// Share is all n ranks.
func (LocalGroup) Share(n int) (int, int) { return 0, n }

// World is a LocalWorld of n ranks.
func (LocalGroup) World(_ string, n int) World { return NewLocalWorld(n) }

// Gather returns v alone.
func (LocalGroup) Gather(_ context.Context, _ string, v any) ([]json.RawMessage, error) {
	b, err := json.Marshal(v)
	return []json.RawMessage{b}, err
}

// Sync has no other process to wait for.
func (LocalGroup) Sync(ctx context.Context, _ string) error { return ctx.Err() }

// Lead is true: the one process writes the results.
func (LocalGroup) Lead() bool { return true }

// Members is this process, on this host.
func (LocalGroup) Members() []Member { return []Member{{Proc: 0, Host: ThisHost()}} }

// LocalWorld is a World of n goroutines in this process.
type LocalWorld struct {
	n     int
	mu    sync.Mutex
	count int
	gen   chan struct{}
}

// NewLocalWorld returns a world of n ranks.
func NewLocalWorld(n int) *LocalWorld {
	return &LocalWorld{n: n, gen: make(chan struct{})}
}

// Size is the number of ranks.
func (w *LocalWorld) Size() int { return w.n }

// Barrier blocks until all n ranks have called it.
func (w *LocalWorld) Barrier(ctx context.Context) error {
	w.mu.Lock()
	gen := w.gen
	w.count++
	if w.count == w.n {
		w.count = 0
		w.gen = make(chan struct{})
		w.mu.Unlock()
		close(gen)
		return nil
	}
	w.mu.Unlock()
	select {
	case <-gen:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sleep waits for d, as an emulated accelerator computes or training
// pauses between checkpoints, and returns early with ctx's error when the
// run is cancelled, so that Ctrl-C is prompt.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
