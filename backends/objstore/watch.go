package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"mlps.dev/mlps/backends"
)

// DefaultStallTimeout is how long a request may go without progress when
// its target sets no stall_timeout. A store that sends nothing for this
// long is not slow but stuck: long enough for a busy store's pauses (a
// multipart completion, a garbage collection), short enough that a frozen
// one ends the run in well under a minute.
const DefaultStallTimeout = 30 * time.Second

// Stall timeouts a target may set: below the lower bound a loaded
// machine's scheduling pauses would read as stalls; above the upper one a
// frozen store would hold a run for longer than anyone waits.
const (
	MinStallTimeout = 100 * time.Millisecond
	MaxStallTimeout = time.Hour
)

// slowFraction of the stall timeout is the wait that makes a request count
// as slow (Stats.Slow) when it then moves again.
const slowFraction = 4

// StallTimeout is c's stall_timeout, or the default.
func StallTimeout(c *backends.Config) (time.Duration, error) {
	if c.StallTimeout == "" {
		return DefaultStallTimeout, nil
	}
	d, err := time.ParseDuration(c.StallTimeout)
	if err != nil || d < MinStallTimeout || d > MaxStallTimeout {
		return 0, &backends.OptionError{Option: "stall_timeout", Err: fmt.Errorf(
			"%q: want a duration from %v to %v such as \"30s\"", c.StallTimeout, MinStallTimeout, MaxStallTimeout)}
	}
	return d, nil
}

// CheckOptions checks the options this package serves that Resolve does
// not: each object store's Check calls it.
func CheckOptions(c *backends.Config) error {
	_, err := StallTimeout(c)
	return err
}

// StallError is the error of a request that made no progress for its
// target's stall timeout. It is a timeout, and so Transient: the SDKs may
// retry the request, and the next attempt may find the store moving.
type StallError struct {
	// After is the stall timeout that ran out.
	After time.Duration
	// Endpoint is the scheme and host the request went to.
	Endpoint string
	// Doing is what the request was doing: "sending", "waiting for the
	// answer to" or "reading".
	Doing string
	// Path is the request's path: the bucket and key for most stores.
	Path string
}

func (e *StallError) Error() string {
	return fmt.Sprintf("stalled: no progress for %v from %s %s %s (the target's stall_timeout)",
		e.After, e.Endpoint, e.Doing, e.Path)
}

// Timeout makes a stall a timeout to every classifier: backends.KindOf,
// and the SDKs' retryers.
func (e *StallError) Timeout() bool { return true }

// Temporary says the same to the retryers that still ask it.
func (e *StallError) Temporary() bool { return true }

// watch is one request's no-progress watchdog. Its clock runs only while
// the store is the one to move: while the transport sends the request or
// waits for the answer, but not while it waits inside the request body's
// Read for the caller to produce bytes; and while the caller waits inside
// the response body's Read, but not between Reads, when the caller is
// busy. So a slow producer or consumer is never taken for a stalled store.
type watch struct {
	stall  time.Duration
	st     *backends.Stats
	cancel context.CancelCauseFunc
	err    *StallError
	start  time.Time // the monotonic origin of last

	last   atomic.Int64 // nanoseconds from start when the clock last restarted
	paused atomic.Int32 // > 0: the caller, not the store, is the one to move
	slow   atomic.Bool
	fired  atomic.Bool
	// doing is what err will say; it changes when the answer arrives.
	doing atomic.Value

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

func newWatch(ctx context.Context, req *http.Request, stall time.Duration, st *backends.Stats) (*watch, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watch{stall: stall, st: st, cancel: cancel, start: time.Now(),
		err: &StallError{After: stall, Endpoint: req.URL.Scheme + "://" + req.URL.Host, Path: req.URL.Path}}
	w.doing.Store("waiting for the answer to")
	if req.Body != nil && req.Body != http.NoBody {
		w.doing.Store("sending")
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(stall, w.check)
	w.mu.Unlock()
	return w, ctx
}

func (w *watch) now() int64 { return int64(time.Since(w.start)) }

// moved records progress: the clock restarts, and a wait longer than the
// slow fraction of the timeout marks the request slow.
func (w *watch) moved() {
	now := w.now()
	if gap := now - w.last.Swap(now); gap > int64(w.stall/slowFraction) && !w.fired.Load() {
		if w.slow.CompareAndSwap(false, true) && w.st != nil {
			w.st.Slow.Add(1)
		}
	}
}

// pause stops the clock; resume restarts it from now.
func (w *watch) pause() { w.paused.Add(1) }

func (w *watch) resume() {
	w.last.Store(w.now())
	w.paused.Add(-1)
}

// check runs when the timer fires: it fails the request if the store has
// been the one to move for the whole timeout, else it sets the timer for
// the rest.
func (w *watch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	next := w.stall
	if w.paused.Load() <= 0 {
		idle := time.Duration(w.now() - w.last.Load())
		if idle >= w.stall {
			w.done = true
			w.err.Doing = w.doing.Load().(string)
			w.fired.Store(true)
			if w.st != nil {
				w.st.Stalls.Add(1)
			}
			w.cancel(w.err)
			return
		}
		next = w.stall - idle
	}
	w.timer.Reset(next)
}

// stop ends the watch; the request's context is cancelled to release it.
func (w *watch) stop() {
	w.mu.Lock()
	if !w.done {
		w.done = true
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancel(context.Canceled)
}

// failure turns an error seen after the watch fired into the stall.
func (w *watch) failure(err error) error {
	if err != nil && w.fired.Load() {
		return w.err
	}
	return err
}

// sendBody is a request body whose Reads pause the clock: inside them
// the transport waits for the caller, and each chunk they return means
// the store took the one before.
type sendBody struct {
	io.ReadCloser
	w *watch
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.moved()
	b.w.pause()
	n, err := b.ReadCloser.Read(p)
	b.w.resume()
	if err == io.EOF {
		b.w.doing.Store("waiting for the answer to")
	}
	return n, err
}

// recvBody is a response body whose Reads run the clock: inside them the
// caller waits for the store.
type recvBody struct {
	io.ReadCloser
	w     *watch
	key   string
	once  sync.Once
	noted bool
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.resume()
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.moved()
	}
	b.w.pause()
	if err == io.EOF {
		// Nothing more to wait for; the transport has already pooled the
		// connection when Read returns EOF, so the cancel cannot cost it.
		b.once.Do(b.w.stop)
	}
	err = b.w.failure(err)
	if err != nil && !b.noted && b.w.st != nil && IsStall(err) {
		// The request failed after its answer began; a repeat of it (by
		// a caller that opens the object again) is a retry.
		b.noted = true
		b.w.st.FailedTransiently(b.key)
	}
	return n, err
}

func (b *recvBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.w.stop)
	return err
}

// requestKey identifies a request for the count of retries: a retry sends
// the same method, URL (with its query: upload id, part number) and range.
func requestKey(req *http.Request) string {
	return req.Method + " " + req.URL.String() + " " + req.Header.Get("Range")
}

// watchTransport gives every request a no-progress watchdog, and counts
// each attempt, its transient failures, its stalls and the retries into
// the Stats of the request's context.
type watchTransport struct {
	base   http.RoundTripper
	stall  time.Duration
	caFile string // named in the error of a certificate that does not verify
}

func (t *watchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := backends.StatsOf(req.Context())
	key := ""
	if st != nil {
		key = requestKey(req)
		st.Sent(key)
	}
	w, ctx := newWatch(req.Context(), req, t.stall, st)
	r := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &sendBody{ReadCloser: req.Body, w: w}
		if req.GetBody != nil {
			// The transport rewinds the body this way to resend it on a
			// fresh connection; the new body must be watched too.
			r.GetBody = func() (io.ReadCloser, error) {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				return &sendBody{ReadCloser: b, w: w}, nil
			}
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		err = untrusted(req, w.failure(err), t.caFile)
		w.stop()
		// Neither a request its caller cancelled nor a certificate that
		// no retry will make trusted is a transient failure.
		if st != nil && req.Context().Err() == nil && !Incurable(err) {
			st.FailedTransiently(key)
		}
		return nil, err
	}
	w.moved()
	if st != nil && KindOfStatus(resp.StatusCode) == backends.Transient {
		st.FailedTransiently(key)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		// An answer without a body (HEAD, 204) has arrived whole; a
		// caller need not close it, so nothing may wait on that.
		w.stop()
		return resp, nil
	}
	w.doing.Store("reading")
	w.pause() // until the caller reads
	resp.Body = &recvBody{ReadCloser: resp.Body, w: w, key: key}
	return resp, nil
}

// IsStall reports whether err is, or wraps, a stall.
func IsStall(err error) bool {
	var se *StallError
	return errors.As(err, &se)
}
