package backends

import (
	"context"
	"sync"
	"sync/atomic"
)

// Stats counts what happens below the operations a stage records: the HTTP
// requests an object store client sends, the attempts that failed
// transiently (throttling, timeouts, server errors, reset connections,
// stalls), the requests that repeated one of those, and the requests that
// stalled or came close to it. The engine gives each stage its own,
// through the context (WithStats), so the counts are per stage even when
// stages share a target.
type Stats struct {
	Requests  atomic.Int64
	Transient atomic.Int64
	Retries   atomic.Int64
	Stalls    atomic.Int64
	Slow      atomic.Int64

	// failed holds the keys of requests that failed transiently and were
	// not repeated yet, so that a repeat is counted as a retry. A retry
	// follows its failure within seconds, so a bounded set loses nothing
	// that matters when it drops the lot at maxFailed.
	mu     sync.Mutex
	failed map[string]struct{}
}

const maxFailed = 4096

// FailedTransiently notes that the request identified by key (method, URL
// and range) failed in a way a retry may not meet.
func (s *Stats) FailedTransiently(key string) {
	s.Transient.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil || len(s.failed) >= maxFailed {
		s.failed = map[string]struct{}{}
	}
	s.failed[key] = struct{}{}
}

// Sent counts a request identified by key, and a retry when it repeats
// one that failed transiently.
func (s *Stats) Sent(key string) {
	s.Requests.Add(1)
	if s.Transient.Load() == 0 {
		// Nothing has failed, so nothing can be a retry: the common
		// case takes no lock on the request path.
		return
	}
	s.mu.Lock()
	_, retry := s.failed[key]
	delete(s.failed, key)
	s.mu.Unlock()
	if retry {
		s.Retries.Add(1)
	}
}

// StatsSnapshot is Stats as results report it.
type StatsSnapshot struct {
	// Requests is the number of HTTP requests sent, retries included.
	Requests int64 `json:"http_requests"`
	// Transient counts requests that failed in a way a retry may not meet:
	// throttling (429, 503 SlowDown), a timeout (408), another 5xx but 501
	// and 505 (objstore.KindOfStatus) or a broken connection. The SDK's
	// retryer retries those its protocol calls retryable, with exponential
	// backoff and jitter, until its attempts run out.
	Transient int64 `json:"transient_failures"`
	// Retries counts requests that repeated, with the same method, URL
	// and range, a request of the same stage that had failed transiently:
	// the retries the SDK (or a stage) made, whoever decided them.
	Retries int64 `json:"retries"`
	// Stalls counts requests cancelled because they made no progress for
	// their target's stall_timeout (no byte sent or received while the
	// store was the one to move); each is also a transient failure.
	Stalls int64 `json:"stalls"`
	// Slow counts requests that went more than a quarter of stall_timeout
	// without progress at least once, and then moved again: the freezes a
	// run absorbed without failing.
	Slow int64 `json:"slow_requests"`
}

// Troubled reports whether anything went wrong below the operations that
// a summary should warn about even when every operation succeeded: a
// transient failure (retried or not), a stall, or a slow request.
func (s StatsSnapshot) Troubled() bool { return s.Transient > 0 || s.Stalls > 0 || s.Slow > 0 }

// Snapshot reads the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	if s == nil {
		return StatsSnapshot{}
	}
	return StatsSnapshot{Requests: s.Requests.Load(), Transient: s.Transient.Load(),
		Retries: s.Retries.Load(), Stalls: s.Stalls.Load(), Slow: s.Slow.Load()}
}

type statsKey struct{}

// WithStats makes backends count the requests made under ctx into s.
func WithStats(ctx context.Context, s *Stats) context.Context {
	return context.WithValue(ctx, statsKey{}, s)
}

// StatsOf returns the Stats of ctx, or nil.
func StatsOf(ctx context.Context) *Stats {
	s, _ := ctx.Value(statsKey{}).(*Stats)
	return s
}
