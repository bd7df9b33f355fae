package stages

import (
	"context"
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
