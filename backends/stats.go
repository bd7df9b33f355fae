package backends

import (
	"context"
	"sync/atomic"
)

// Stats counts what happens below the operations a stage records: the HTTP
// requests an object store client sends, and the attempts that failed
// transiently (throttling, timeouts, server errors, reset connections),
// which the client's retryer retries. The engine gives each stage its own,
// through the context (WithStats), so the counts are per stage even when
// stages share a target.
type Stats struct {
	Requests  atomic.Int64
	Transient atomic.Int64
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
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	if s == nil {
		return StatsSnapshot{}
	}
	return StatsSnapshot{Requests: s.Requests.Load(), Transient: s.Transient.Load()}
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
