package ckpt

import (
	"context"
	"sync/atomic"

	"mlps.dev/mlps/backends"
)

// buffer is one chunk of the pool.
type buffer struct{ buf []byte }

// Pool is a fixed set of chunks, allocated and touched once when the
// stage starts, then passed between fillers, writers and readers: memory
// is the pool's size whatever the checkpoint's, and no chunk pays its
// page faults inside a measured operation.
type Pool struct {
	free chan *buffer
	// peak is the most chunks out at once that a get saw, for the tests
	// that pin how many a rank holds.
	peak atomic.Int64
}

// NewPool allocates n chunks of size bytes, aligned for O_DIRECT when asked.
func NewPool(n, size int, aligned bool) *Pool {
	p := &Pool{free: make(chan *buffer, n)}
	for range n {
		var b []byte
		if aligned {
			b = backends.AlignedBuffer(size)
		} else {
			b = make([]byte, size)
		}
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // fault the page in now, not during a save
		}
		p.free <- &buffer{buf: b}
	}
	return p
}

// get takes a chunk, waiting while all are in use; false when ctx ends
// first.
func (p *Pool) get(ctx context.Context) (*buffer, bool) {
	var b *buffer
	select {
	case b = <-p.free:
	default:
		select {
		case b = <-p.free:
		case <-ctx.Done():
			return nil, false
		}
	}
	// Out now: those not free. A put between the receive and this read
	// can only make it smaller, so peak never exceeds the true peak.
	n := int64(cap(p.free) - len(p.free))
	for {
		m := p.peak.Load()
		if n <= m || p.peak.CompareAndSwap(m, n) {
			return b, true
		}
	}
}

func (p *Pool) put(b *buffer) { p.free <- b }
