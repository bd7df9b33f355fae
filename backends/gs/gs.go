// Package gs is the Google Cloud Storage backend:
//
//	gs://bucket            objects are named as given
//	gs://bucket/prefix     objects are prefix/name
//
// It speaks the JSON and XML APIs through cloud.google.com/go/storage, so
// it also serves an emulator such as fake-gcs-server: set the target's
// endpoints (one client per endpoint, requests spread by the target's
// strategy) or STORAGE_EMULATOR_HOST.
//
// Every client sends its requests through objstore.HTTPClient, so that the
// requests of each stage are counted. Handing the SDK an HTTP client turns
// off its own authentication, so the backend adds it back itself: against
// Google (no endpoints, no emulator) it wraps the counting transport in
// the Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
// gcloud's application-default login, or the metadata server); against
// explicit endpoints it authenticates only when GOOGLE_APPLICATION_CREDENTIALS
// is set, since an emulator wants no token and would only slow down on one;
// against STORAGE_EMULATOR_HOST it never does, as the SDK itself does not.
package gs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
)

func init() {
	backends.Register(backends.Scheme{
		Name:        scheme,
		Credentials: "the service account key file named by GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application default credentials",
		Traits:      backends.Traits{Shared: true},
		// There is one GCS client, and its credentials come from
		// GOOGLE_APPLICATION_CREDENTIALS (or, when asked, the metadata
		// server): no key options.
		Options: append(slices.Clone(objstore.TargetOptions), "metadata_credentials"),
		Hints: map[string]string{
			"access_key_env": "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file",
			"secret_key_env": "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file",
		},
		Check: check,
		Open:  open,
	})
}

const (
	scheme = "gs"
	// checkTimeout bounds the bucket check at open, so a wrong endpoint or
	// bucket is reported while the user is still watching.
	checkTimeout = 10 * time.Second
	// maxAttempts bounds the SDK's retries, which are otherwise unlimited:
	// a store that keeps failing must surface as an error, not a hang.
	maxAttempts = 5
	// googleEndpoint is named in messages when no endpoint was given.
	googleEndpoint = "https://storage.googleapis.com"
)

type backend struct {
	bucket   string
	prefix   string // "" or a valid name, without a trailing "/"
	location string
	opts     objstore.Options
	eps      *objstore.Endpoints
	// urls[i] is what readers and writers of clients[i] report as their
	// endpoint: the configured base URL, or "" for the default one.
	urls    []string
	clients []*storage.Client
	hc      *http.Client

	closeOnce sync.Once
	closeErr  error
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

func check(u *url.URL, c *backends.Config) (string, error) {
	const want = "want gs://bucket or gs://bucket/prefix"
	if err := objstore.CheckOptions(c); err != nil {
		return "", err
	}
	switch {
	case u.User != nil:
		return "", errors.New("gs URI must not carry a user or password (credentials come from GOOGLE_APPLICATION_CREDENTIALS); " + want)
	case u.Opaque != "":
		return "", fmt.Errorf("gs URI %q has no bucket; %s", u.Opaque, want)
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("gs URI takes no query or fragment; " + want)
	case u.Host == "":
		return "", errors.New("gs URI names no bucket; " + want)
	case !bucketRE.MatchString(u.Host):
		return "", fmt.Errorf("gs URI: %q is not a bucket name (3 to 222 lower-case letters, digits, '-', '_' and '.'); %s", u.Host, want)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := backends.ValidName(prefix); err != nil {
			return "", fmt.Errorf("gs URI prefix: %v", err)
		}
	}
	return "gs://" + u.Host + "/" + prefix, nil
}

func open(ctx context.Context, u *url.URL, c *backends.Config) (backends.Backend, error) {
	prefix := strings.Trim(u.Path, "/")
	urls := []string{""}
	if len(c.Endpoints) > 0 {
		urls = make([]string, len(c.Endpoints))
		for i, e := range c.Endpoints {
			urls[i] = strings.TrimSuffix(e, "/")
		}
	}
	eps, err := objstore.NewEndpoints(urls, c.Strategy)
	if err != nil {
		return nil, err
	}
	hc, err := objstore.HTTPClient(c)
	if err != nil {
		return nil, err
	}
	b := &backend{
		bucket:   u.Host,
		prefix:   prefix,
		location: (&url.URL{Scheme: scheme, Host: u.Host, Path: "/" + prefix}).String(),
		opts:     objstore.OptionsOf(c),
		eps:      eps,
		urls:     urls,
		hc:       hc,
	}
	if prefix == "" {
		b.location = "gs://" + u.Host
	}
	for _, ep := range urls {
		cl, err := newClient(ctx, hc, ep, c.MetadataCredentials)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.clients = append(b.clients, cl)
	}
	if err := b.checkBucket(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func emulatorURL() string {
	h := os.Getenv("STORAGE_EMULATOR_HOST")
	if h == "" {
		return ""
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h // as the SDK reads it
	}
	return strings.TrimSuffix(h, "/")
}

func newClient(ctx context.Context, hc *http.Client, endpoint string, metadata bool) (*storage.Client, error) {
	// The clients outlive ctx, which may be the open call's alone; a token
	// source bound to it would fail to refresh once it is done.
	ctx = context.WithoutCancel(ctx)
	// Metrics would be exported to Cloud Monitoring from inside the
	// benchmark; mlps reports its own.
	opts := []option.ClientOption{storage.WithDisabledClientMetrics()}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint+"/storage/v1/"))
	}
	auth := emulatorURL() == "" && (endpoint == "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "")
	client := hc
	if auth && !metadata {
		// The Application Default Credentials end at the metadata server
		// when no file holds credentials: off Google Cloud that address
		// leads nowhere, or to whoever answers there.
		if err := credentialsFile(); err != nil {
			return nil, err
		}
	}
	if auth {
		tr, err := htransport.NewTransport(ctx, hc.Transport,
			option.WithScopes(storage.ScopeFullControl), option.WithTelemetryDisabled())
		if err != nil {
			return nil, fmt.Errorf("no usable Google credentials: %v; set GOOGLE_APPLICATION_CREDENTIALS to a service account key file or run 'gcloud auth application-default login' (for an emulator, give its endpoints or STORAGE_EMULATOR_HOST)", err)
		}
		client = &http.Client{Transport: tr}
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	opts = append(opts, option.WithHTTPClient(client))
	cl, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gs client for %s: %w", endpointName(endpoint), err)
	}
	cl.SetRetry(storage.WithMaxAttempts(maxAttempts))
	return cl, nil
}

// credentialsFile checks that the Application Default Credentials will
// come from a file, GOOGLE_APPLICATION_CREDENTIALS or gcloud's
// application-default login, and says where it looked when neither is
// there.
func credentialsFile() error {
	if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		return nil // the SDK reports a file it cannot read
	}
	dir := os.Getenv("CLOUDSDK_CONFIG")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config", "gcloud")
	}
	adc := filepath.Join(dir, "application_default_credentials.json")
	if _, err := os.Stat(adc); err == nil {
		return nil
	}
	return fmt.Errorf("no Google credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set and %s does not exist; the GCE metadata server was not asked (set metadata_credentials: true on the target to allow it); set GOOGLE_APPLICATION_CREDENTIALS to a service account key file or run 'gcloud auth application-default login' (for an emulator, give its endpoints or STORAGE_EMULATOR_HOST)", adc)
}

func endpointName(endpoint string) string {
	switch {
	case endpoint != "":
		return endpoint
	case emulatorURL() != "":
		return emulatorURL()
	}
	return googleEndpoint
}

// checkBucket asks every endpoint for the bucket at once, so that a typo in
// the bucket or an endpoint fails the run at open rather than as the first
// thousand failed writes.
func (b *backend) checkBucket(ctx context.Context) error {
	errs := make([]error, len(b.clients))
	var wg sync.WaitGroup
	for i, cl := range b.clients {
		wg.Go(func() { errs[i] = b.checkOne(ctx, cl, b.urls[i]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *backend) checkOne(ctx context.Context, cl *storage.Client, endpoint string) error {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	// A failed dial (nothing listening, no route, unknown host) will fail
	// the same way for the rest of the timeout: say so now.
	h := cl.Bucket(b.bucket).Retryer(storage.WithErrorFunc(func(err error) bool {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" || objstore.PlainHTTP(err) {
			return false
		}
		return storage.ShouldRetry(err)
	}))
	_, err := h.Attrs(cctx)
	if err == nil {
		return nil
	}
	ep := endpointName(endpoint)
	fail := func(kind backends.Kind, err error) error {
		return &backends.Error{Kind: kind, Scheme: scheme, Op: "open bucket", Name: b.bucket, Err: err}
	}
	var ge *googleapi.Error
	var op *net.OpError
	switch {
	case ctx.Err() != nil:
		return fail(backends.Canceled, err)
	case objstore.PlainHTTP(err):
		return fail(backends.Permanent, objstore.NotTLS(ep))
	case errors.Is(err, storage.ErrBucketNotExist):
		return fail(backends.NotExist, fmt.Errorf("bucket %s does not exist at %s; create it first (gcloud storage buckets create gs://%s)", b.bucket, ep, b.bucket))
	case errors.As(err, &ge) && ge.Code == http.StatusForbidden:
		// Roles such as Storage Object Admin may read and write objects
		// but not the bucket's metadata: the objects will tell.
		return nil
	case errors.As(err, &ge) && ge.Code == http.StatusUnauthorized:
		return fail(backends.Permission, fmt.Errorf("%s refused the credentials: %v; check GOOGLE_APPLICATION_CREDENTIALS", ep, err))
	case objstore.Incurable(err):
		return fail(backends.Permanent, objstore.Unreachable(ep, err))
	case errors.As(err, &op), errors.Is(err, context.DeadlineExceeded):
		return fail(kindOf(err), objstore.Unreachable(ep, err))
	}
	return fail(kindOf(err), fmt.Errorf("checking bucket %s at %s: %w", b.bucket, ep, err))
}

func (b *backend) Properties() backends.Properties {
	return backends.Properties{Scheme: scheme, Location: b.location}
}

func (b *backend) Close() error {
	b.closeOnce.Do(func() {
		var errs []error
		for _, cl := range b.clients {
			errs = append(errs, cl.Close())
		}
		b.hc.CloseIdleConnections()
		if err := errors.Join(errs...); err != nil {
			b.closeErr = wrap("close", "", err)
		}
	})
	return b.closeErr
}

// kindOf classifies the SDK's errors: HTTP statuses arrive as
// *googleapi.Error, and 404s of objects and buckets as sentinels.
func kindOf(err error) backends.Kind {
	// First, since the SDK's retry loop wraps a deadline around the last
	// HTTP error it saw.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return backends.Canceled
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return backends.NotExist
	}
	if k := objstore.KindOfStatus(statusOf(err)); k != backends.Unknown {
		return k
	}
	return backends.KindOf(err)
}

// wrap classifies err, unless it is already one of this backend's errors.
func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if be, ok := err.(*backends.Error); ok && be.Scheme == scheme {
		return err
	}
	return &backends.Error{Kind: kindOf(err), Scheme: scheme, Op: op, Name: name, Err: err}
}

// check validates name and ctx, in that order, so that a bad name is
// reported as such even under a canceled context.
func (b *backend) check(ctx context.Context, op, name string) error {
	if err := backends.CheckName(scheme, op, name); err != nil {
		return err
	}
	if !utf8.ValidString(name) {
		return &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: op, Name: name,
			Err: errors.New("invalid object name: GCS names must be valid UTF-8")}
	}
	if err := ctx.Err(); err != nil {
		return wrap(op, name, err)
	}
	return nil
}

func (b *backend) key(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "/" + name
}

// object picks the client for one operation; done ends its outstanding
// count.
func (b *backend) object(ctx context.Context, name string) (obj *storage.ObjectHandle, i int, done func()) {
	i, done = b.eps.Pick(ctx)
	return b.clients[i].Bucket(b.bucket).Object(b.key(name)), i, done
}

func (b *backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := b.check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	obj, _, done := b.object(ctx, name)
	defer done()
	attrs, err := obj.Attrs(ctx)
	if err != nil {
		return backends.Info{}, wrap("stat", name, err)
	}
	return backends.Info{Name: name, Size: attrs.Size}, nil
}

func (b *backend) Delete(ctx context.Context, name string) error {
	if err := b.check(ctx, "delete", name); err != nil {
		return err
	}
	obj, _, done := b.object(ctx, name)
	defer done()
	return wrap("delete", name, obj.Delete(ctx))
}

// minChunk is the SDK's upload granularity; chunk sizes round up to it.
const minChunk = googleapi.MinUploadChunkSize

func (b *backend) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	if err := b.check(ctx, "create", name); err != nil {
		return nil, err
	}
	obj, i, done := b.object(ctx, name)
	// An unconditional upload of the same bytes may be repeated safely,
	// and the SDK only retries what it knows to be idempotent otherwise.
	obj = obj.Retryer(storage.WithPolicy(storage.RetryAlways))
	wctx, cancel := context.WithCancel(ctx)
	w := obj.NewWriter(wctx)
	// The SDK holds a whole chunk per writer; a small object announced as
	// such gets a buffer its size (plus one byte, so that it still goes up
	// in a single request), not PartBytes. More bytes than announced still
	// work: they go up as a resumable upload in chunks of that size.
	chunk := b.opts.PartBytes
	if size >= 0 && size < chunk {
		chunk = (size + minChunk) / minChunk * minChunk
	}
	w.ChunkSize = int(min(chunk, math.MaxInt32))
	return &writer{w: w, cancel: cancel, name: name, url: b.urls[i], done: done}, nil
}

// writer commits on Close; Abort cancels the upload's context first, so the
// SDK never sends the request that would finalize the object.
type writer struct {
	w      *storage.Writer
	cancel context.CancelFunc
	name   string
	url    string
	done   func()
	closed bool
}

func (w *writer) Endpoint() string { return w.url }

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "write", Name: w.name,
			Err: errors.New("writer already closed or aborted")}
	}
	n, err := w.w.Write(p)
	return n, wrap("write", w.name, err)
}

func (w *writer) Close() error {
	if w.closed {
		return &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "close", Name: w.name,
			Err: errors.New("writer already closed or aborted")}
	}
	w.closed = true
	err := w.w.Close()
	w.cancel()
	w.done()
	return wrap("close", w.name, err)
}

func (w *writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.cancel()
	w.w.Close() // fails: the context is canceled
	w.done()
	return nil
}

func (b *backend) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := b.check(ctx, "open", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name,
			Err: fmt.Errorf("negative offset %d", off)}
	}
	if length > math.MaxInt64-off {
		length = -1 // the same range, and off+length cannot overflow
	}
	obj, i, done := b.object(ctx, name)
	rc, err := b.openRange(ctx, obj, name, off, length)
	if err != nil {
		done()
		return nil, wrap("open", name, err)
	}
	return &reader{rc: rc, name: name, url: b.urls[i], done: done}, nil
}

// openRange spends as few requests as the range allows: one for a known
// length up to SplitBytes (or for none at all), the first chunk's for an
// unknown length that turns out short, and parallel chunks beyond that.
func (b *backend) openRange(ctx context.Context, obj *storage.ObjectHandle, name string, off, length int64) (io.ReadCloser, error) {
	if length == 0 {
		attrs, err := obj.Attrs(ctx)
		if err != nil {
			return nil, err
		}
		if off > attrs.Size {
			return nil, objstore.PastEnd(scheme, name, off, attrs.Size)
		}
		return http.NoBody, nil
	}
	if length > 0 && length <= b.opts.SplitBytes {
		rc, _, _, err := rangeReader(ctx, obj, name, off, length)
		return rc, err
	}

	// A read long enough to split, or of unknown length: the first chunk's
	// response tells the object's size, and how to go on.
	chunk := b.opts.PartBytes
	first := chunk
	if length > 0 {
		first = min(chunk, length)
	}
	r0, size, gen, err := rangeReader(ctx, obj, name, off, first)
	if err != nil {
		return nil, err
	}
	end := size
	if length > 0 {
		end = min(off+length, size)
	}
	if end-off <= first {
		return r0, nil
	}
	// Pin the generation, so that an object overwritten meanwhile fails
	// the read instead of mixing two contents.
	if gen > 0 {
		obj = obj.Generation(gen)
	}
	if length < 0 && end-off <= b.opts.SplitBytes {
		rest := &lazyReader{open: func() (io.ReadCloser, error) {
			return obj.NewRangeReader(ctx, off+first, -1)
		}}
		return &multiReadCloser{Reader: io.MultiReader(r0, rest), closers: []io.Closer{r0, rest}}, nil
	}
	var handed atomic.Bool
	get := func(ctx context.Context, pos, n int64) (io.ReadCloser, error) {
		if pos == off && handed.CompareAndSwap(false, true) {
			return r0, nil
		}
		rc, err := obj.NewRangeReader(ctx, pos, n)
		if statusOf(err) == http.StatusRequestedRangeNotSatisfiable {
			return nil, fmt.Errorf("%w: %v", objstore.ErrPastEnd, err)
		}
		return rc, err
	}
	rc := objstore.Split(ctx, get, off, end-off, chunk, b.opts.SplitConcurrency)
	return &splitCloser{ReadCloser: rc, first: r0, handed: &handed}, nil
}

// rangeReader opens [off, off+n) (n < 0: to the end) as one request and
// returns the reader, the object's size and generation. A range starting at
// or past the end is answered 416; the object's size then decides between
// an empty read (off at the end) and an error.
func rangeReader(ctx context.Context, obj *storage.ObjectHandle, name string, off, n int64) (io.ReadCloser, int64, int64, error) {
	r, err := obj.NewRangeReader(ctx, off, n)
	if err == nil {
		return r, r.Attrs.Size, r.Attrs.Generation, nil
	}
	if statusOf(err) != http.StatusRequestedRangeNotSatisfiable {
		return nil, 0, 0, err
	}
	size, ok := rangeSize(err)
	if !ok {
		attrs, aerr := obj.Attrs(ctx)
		if aerr != nil {
			return nil, 0, 0, aerr
		}
		size = attrs.Size
	}
	switch {
	case off == size:
		return http.NoBody, size, 0, nil
	case off > size:
		return nil, 0, 0, objstore.PastEnd(scheme, name, off, size)
	}
	return nil, 0, 0, err // the object grew between the two answers
}

func statusOf(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// rangeSize reads the object's size from a 416's "Content-Range: bytes */N",
// which saves asking for it.
func rangeSize(err error) (int64, bool) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return 0, false
	}
	cr, ok := strings.CutPrefix(ge.Header.Get("Content-Range"), "bytes */")
	if !ok {
		return 0, false
	}
	n, perr := strconv.ParseInt(cr, 10, 64)
	return n, perr == nil
}

type reader struct {
	rc   io.ReadCloser
	name string
	url  string
	done func()
}

func (r *reader) Endpoint() string { return r.url }

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = wrap("read", r.name, err)
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.rc.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return wrap("close", r.name, err)
}

// lazyReader opens its range at the first Read, so that a reader closed
// early never sends the request.
type lazyReader struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.rc == nil && l.err == nil {
		l.rc, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.rc.Read(p)
}

func (l *lazyReader) Close() error {
	if l.rc == nil {
		return nil
	}
	return l.rc.Close()
}

type multiReadCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiReadCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// splitCloser closes the first chunk's reader when Split never took it
// (the reader was closed before the first fetch started).
type splitCloser struct {
	io.ReadCloser
	first  io.Closer
	handed *atomic.Bool
}

func (s *splitCloser) Close() error {
	err := s.ReadCloser.Close()
	if s.handed.CompareAndSwap(false, true) {
		s.first.Close()
	}
	return err
}
