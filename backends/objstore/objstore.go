// Package objstore holds what the HTTP object-store backends (s3, gs, az)
// share: an HTTP transport tuned for a benchmark and counting requests per
// stage, the choice of endpoint among several, reads split into parallel
// ranged requests, and writers that stream into an SDK's upload call.
//
// None of it adds work per byte beyond what the SDKs do: the transport
// counts requests, not bytes, and the split reader copies each byte once.
package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"mlps.dev/mlps/backends"
)

// Defaults of the options in backends.Config.
const (
	DefaultPartBytes        = 16 << 20
	DefaultPartConcurrency  = 4
	DefaultSplitBytes       = 32 << 20
	DefaultSplitConcurrency = 4
	// ConnectTimeout bounds a TCP connect, so an unreachable endpoint fails
	// in seconds rather than after the kernel's minutes.
	ConnectTimeout = 5 * time.Second
)

// TargetOptions are the options, by their workload names, that every
// object store takes because this package serves them: endpoints and
// their strategy, region and addressing, TLS trust, and the shape of
// uploads and split reads. A scheme adds its own (client, credentials).
var TargetOptions = []string{"endpoints", "endpoints_file", "strategy", "region", "path_style",
	"ca_file", "insecure_skip_verify", "part_bytes", "part_concurrency", "split_bytes",
	"split_concurrency", "stall_timeout"}

// Options are the Config's shaping options with defaults applied.
type Options struct {
	PartBytes        int64
	PartConcurrency  int
	SplitBytes       int64
	SplitConcurrency int
}

// OptionsOf applies defaults to c's shaping options.
func OptionsOf(c *backends.Config) Options {
	o := Options{c.PartBytes, c.PartConcurrency, c.SplitBytes, c.SplitConcurrency}
	if o.PartBytes <= 0 {
		o.PartBytes = DefaultPartBytes
	}
	if o.PartConcurrency <= 0 {
		o.PartConcurrency = DefaultPartConcurrency
	}
	if o.SplitBytes <= 0 {
		o.SplitBytes = DefaultSplitBytes
	}
	if o.SplitConcurrency <= 0 {
		o.SplitConcurrency = DefaultSplitConcurrency
	}
	return o
}

// HTTPClient returns the client every object-store SDK of mlps is given:
// connections pooled generously (a benchmark runs hundreds of requests at
// once against few hosts), a bounded connect, the TLS trust the Config
// asks for, a no-progress deadline on every request (the target's
// stall_timeout, see watch) and a count of requests, transient failures,
// retries and stalls into the Stats of each request's context.
func HTTPClient(c *backends.Config) (*http.Client, error) {
	stall, err := StallTimeout(c)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	// The watchdog bounds the wait for headers with its own message; this
	// only backs it up.
	tr.ResponseHeaderTimeout = 2 * stall
	tr.TLSHandshakeTimeout = ConnectTimeout
	// Payloads are random bytes: asking for gzip only costs the server.
	tr.DisableCompression = true
	if c.CAFile != "" || c.InsecureSkipVerify {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := backends.ReadCAFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pool.AppendCertsFromPEM(pem)
			cfg.RootCAs = pool
		}
		cfg.InsecureSkipVerify = c.InsecureSkipVerify
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: &watchTransport{base: tr, stall: stall, caFile: c.CAFile}}, nil
}

// Endpoints chooses, for each operation, one of several endpoints.
type Endpoints struct {
	urls     []string
	strategy string
	next     atomic.Uint64
	busy     []atomic.Int64
}

// Strategies are the ways requests are spread over endpoints.
var Strategies = []string{"round-robin", "least-outstanding", "rank"}

// NewEndpoints returns a chooser over urls by strategy ("" is round robin).
func NewEndpoints(urls []string, strategy string) (*Endpoints, error) {
	switch strategy {
	case "":
		strategy = "round-robin"
	case "round-robin", "least-outstanding", "rank":
	default:
		return nil, fmt.Errorf("strategy %q: want round-robin, least-outstanding or rank", strategy)
	}
	if len(urls) == 0 {
		return nil, errors.New("no endpoints")
	}
	return &Endpoints{urls: urls, strategy: strategy, busy: make([]atomic.Int64, len(urls))}, nil
}

// Len is the number of endpoints.
func (e *Endpoints) Len() int { return len(e.urls) }

// URL returns endpoint i.
func (e *Endpoints) URL(i int) string { return e.urls[i] }

// Pick chooses the endpoint for one operation under ctx and counts it as
// outstanding until done is called.
func (e *Endpoints) Pick(ctx context.Context) (i int, done func()) {
	n := len(e.urls)
	switch {
	case n == 1:
		i = 0
	case e.strategy == "rank" && backends.RankOf(ctx) >= 0:
		i = backends.RankOf(ctx) % n
	case e.strategy == "least-outstanding":
		// Start the scan at a rotating index so ties spread evenly.
		start := int(e.next.Add(1) % uint64(n))
		best := int64(-1)
		for k := range n {
			j := (start + k) % n
			if b := e.busy[j].Load(); best < 0 || b < best {
				i, best = j, b
			}
		}
	default:
		i = int((e.next.Add(1) - 1) % uint64(n))
	}
	e.busy[i].Add(1)
	return i, func() { e.busy[i].Add(-1) }
}

// Unreachable explains a connection failure at open time.
func Unreachable(endpoint string, err error) error {
	// The server was reached, and its certificate refused: say that alone,
	// without the SDK's layers around it.
	var ue *UntrustedError
	if errors.As(err, &ue) {
		return ue
	}
	return fmt.Errorf("cannot reach endpoint %s: %v; check the endpoint's address and port and that the server is running", endpoint, err)
}

// Body wraps an SDK's response body so that closing it also ends the
// operation's outstanding count, and so that it reports its endpoint.
type Body struct {
	io.ReadCloser
	URL  string
	Done func()
}

func (b *Body) Endpoint() string { return b.URL }

func (b *Body) Close() error {
	err := b.ReadCloser.Close()
	if b.Done != nil {
		b.Done()
		b.Done = nil
	}
	return err
}

// The retry policy of every object-store client: attempts per request, and
// the cap of the exponential, jittered backoff between them. Each SDK
// applies it with its own retryer, which knows its protocol's throttling
// and transient errors; the transport counts what they retried.
const (
	MaxAttempts = 5
	MaxBackoff  = 5 * time.Second
)

// Dial checks that something listens at endpoint's host and port, so that
// a wrong port fails at once with a message naming it rather than after a
// client's retries.
func Dial(ctx context.Context, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	d := net.Dialer{Timeout: ConnectTimeout}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return Unreachable(endpoint, err)
	}
	return c.Close()
}

// PlainHTTP reports whether err says that a TLS connection found a plain
// HTTP server at the other end: an https:// endpoint that should have been
// http://. Go's transport says so in an error of its own that it does not
// export; the TLS record error is what a bare handshake sees.
func PlainHTTP(err error) bool {
	if err == nil {
		return false
	}
	var re tls.RecordHeaderError
	return errors.As(err, &re) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// NotTLS is the error of an https:// endpoint that answers in plain HTTP.
func NotTLS(endpoint string) error {
	return fmt.Errorf("endpoint %s answers in plain HTTP, not HTTPS: write it as http://%s, or enable TLS on the server",
		endpoint, strings.TrimPrefix(endpoint, "https://"))
}
