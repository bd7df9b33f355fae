// Package s3 is the backend for S3-compatible object stores, through either
// of two client libraries so users can compare them on the same store:
//
//	s3://bucket/prefix    client "aws" (aws-sdk-go-v2, the default) or "minio" (minio-go/v7)
//
// Both clients share everything above the wire: the endpoint choice among
// several endpoints, the HTTP transport, reads split into parallel ranged
// GETs above split_bytes, and writes buffered up to one part and sent as a
// single PUT, or streamed as a multipart upload when they grow past it. So
// an A/B comparison of the two measures the libraries, not two designs.
//
// Neither client hashes payloads: requests are signed with
// UNSIGNED-PAYLOAD and no checksum is computed unless the store demands
// one, because a benchmark must measure the store, not SHA-256.
//
// Credentials come from the standard places (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws), or from
// the environment variables a target names; the endpoint from the target,
// else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
)

func init() {
	backends.Register(backends.Scheme{
		Name:        "s3",
		Credentials: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, an AWS profile, or variables the target names with access_key_env and secret_key_env",
		// The first client is the default.
		Traits:  backends.Traits{Shared: true, Clients: Clients},
		Options: append(slices.Clone(objstore.TargetOptions), "access_key_env", "secret_key_env", "metadata_credentials"),
		Check:   check,
		Open:    open,
	})
}

// client is one library's view of one endpoint. Errors are the library's
// own; the backend classifies them with kind.
type client interface {
	// get returns n bytes from off (n < 0: to the end); a range that starts
	// at or past the end returns an error wrapping objstore.ErrPastEnd.
	get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// put stores data with one request.
	put(ctx context.Context, key string, data []byte) error
	// putStream stores body, of size bytes (-1: unknown), as a multipart
	// upload; it must not commit when body fails.
	putStream(ctx context.Context, key string, body io.Reader, size int64) error
	head(ctx context.Context, key string) (int64, error)
	del(ctx context.Context, key string) error
	headBucket(ctx context.Context) error
	// kind classifies an error of this library.
	kind(err error) backends.Kind
}

// settings are what both clients are built from.
type settings struct {
	bucket     string
	endpoint   string // "" for the library's default (AWS)
	region     string
	pathStyle  bool
	http       *http.Client
	access     string // from the environment variables the target names
	secret     string
	explicit   bool // access and secret were named by the target
	metadata   bool // the target lets the SDK ask the instance metadata service
	opts       objstore.Options
	clientName string
}

type backend struct {
	bucket, prefix string
	location       string
	eps            *objstore.Endpoints
	clients        []client
	opts           objstore.Options
	parts          sync.Pool // *[]byte of opts.PartBytes
}

// Clients are the client libraries a target may choose, the default
// first.
var Clients = []string{"aws", "minio"}

func check(u *url.URL, c *backends.Config) (string, error) {
	const want = "want s3://bucket or s3://bucket/prefix"
	if err := objstore.CheckOptions(c); err != nil {
		return "", err
	}
	switch {
	case u.User != nil:
		return "", errors.New("s3 URI must not carry credentials; give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or name variables with access_key_env and secret_key_env)")
	case u.Host == "":
		return "", errors.New("s3 URI names no bucket; " + want)
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("s3 URI takes no query or fragment; " + want)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := backends.ValidName(prefix); err != nil {
			return "", fmt.Errorf("s3 URI prefix: %v", err)
		}
	}
	if (c.AccessKeyEnv == "") != (c.SecretKeyEnv == "") {
		opt := "access_key_env"
		if c.SecretKeyEnv == "" {
			opt = "secret_key_env"
		}
		return "", &backends.OptionError{Option: opt, Err: errors.New("name both access_key_env and secret_key_env, or neither")}
	}
	return "s3://" + u.Host + "/" + prefix, nil
}

func open(ctx context.Context, u *url.URL, c *backends.Config) (backends.Backend, error) {
	prefix := strings.Trim(u.Path, "/")
	name := c.Client // Resolve filled in the default and checked it
	if c.CAFile == "" {
		// Both clients honour the AWS SDKs' variable for a private CA.
		cc := *c
		cc.CAFile = os.Getenv("AWS_CA_BUNDLE")
		c = &cc
	}
	hc, err := objstore.HTTPClient(c)
	if err != nil {
		return nil, err
	}
	endpoints := c.Endpoints
	if len(endpoints) == 0 {
		for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
			if e := os.Getenv(v); e != "" {
				if endpoints, err = backends.ExpandEndpoints([]string{e}, ""); err != nil {
					return nil, fmt.Errorf("%s: %v", v, err)
				}
				break
			}
		}
	}
	s := settings{
		bucket: u.Host, region: region(c), pathStyle: c.PathStyle || len(endpoints) > 0,
		http: hc, opts: objstore.OptionsOf(c), clientName: name, metadata: c.MetadataCredentials,
	}
	if c.AccessKeyEnv != "" {
		s.access, s.secret, s.explicit = os.Getenv(c.AccessKeyEnv), os.Getenv(c.SecretKeyEnv), true
		if s.access == "" || s.secret == "" {
			return nil, fmt.Errorf("the credentials the target names are not set: %s and %s must both be non-empty", c.AccessKeyEnv, c.SecretKeyEnv)
		}
	}
	urls := endpoints
	if len(urls) == 0 {
		urls = []string{""} // the library resolves AWS's endpoint itself
	}
	eps, err := objstore.NewEndpoints(urls, c.Strategy)
	if err != nil {
		return nil, err
	}
	b := &backend{bucket: u.Host, prefix: prefix, eps: eps, opts: s.opts,
		location: (&url.URL{Scheme: "s3", Host: u.Host, Path: "/" + prefix}).String()}
	b.location = strings.TrimSuffix(b.location, "/")
	for _, e := range urls {
		s.endpoint = e
		var cl client
		if name == "aws" {
			cl, err = newAWS(ctx, s)
		} else {
			cl, err = newMinio(s)
		}
		if err != nil {
			return nil, err
		}
		b.clients = append(b.clients, cl)
	}
	for i, cl := range b.clients {
		if err := b.check(ctx, cl, urls[i], s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// noCredentials says that client found no credentials, and where it
// looked: the places both SDKs read, and the metadata service only when
// the target let it ask.
func noCredentials(s settings, client string, err error) error {
	credFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" {
		credFile = config.DefaultSharedCredentialsFilename()
	}
	profile := os.Getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	looked := fmt.Sprintf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, profile %q of %s", profile, credFile)
	if client == "aws" {
		confFile := os.Getenv("AWS_CONFIG_FILE")
		if confFile == "" {
			confFile = config.DefaultSharedConfigFilename()
		}
		looked += fmt.Sprintf(" and %s, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_FULL_URI", confFile)
	} else {
		looked += ", MINIO_ROOT_USER and MINIO_ROOT_PASSWORD"
	}
	meta := "; the instance metadata service was not asked (set metadata_credentials: true on the target to allow it)"
	if s.metadata {
		meta = " and the instance metadata service"
	}
	return fmt.Errorf("no S3 credentials found (%s client): looked in %s%s; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name variables with access_key_env and secret_key_env (%v)",
		client, looked, meta, err)
}

func region(c *backends.Config) string {
	for _, r := range []string{c.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")} {
		if r != "" {
			return r
		}
	}
	return "us-east-1"
}

// checkTimeout bounds the bucket check at open, so that a wrong endpoint
// or credentials end the run in seconds rather than after retries.
const checkTimeout = 8 * time.Second

// check asks endpoint whether the bucket exists and the credentials work,
// and turns a failure into a message that says what to fix.
func (b *backend) check(ctx context.Context, cl client, endpoint string, s settings) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	// The check's own counts, to tell a stalled store from a slow answer.
	var st backends.Stats
	ctx = backends.WithStats(ctx, &st)
	if endpoint != "" {
		if err := objstore.Dial(ctx, endpoint); err != nil {
			return err
		}
	}
	err := cl.headBucket(ctx)
	if err == nil {
		return nil
	}
	where := endpoint
	if where == "" {
		where = "the AWS endpoint of region " + s.region
	}
	creds := "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
	if s.explicit {
		creds = "the variables named by access_key_env and secret_key_env"
	}
	if n := st.Stalls.Load(); n > 0 {
		// Said before the timeout below, which a store that stalls every
		// attempt would otherwise reach first and blame.
		return fmt.Errorf("%s accepted the connection but answered nothing about bucket %q: %d attempts stalled (no progress for the target's stall_timeout); last: %w", where, b.bucket, n, err)
	}
	if endpoint != "" && objstore.PlainHTTP(err) {
		return objstore.NotTLS(endpoint)
	}
	if endpoint != "" && !speaksS3(endpoint, s.http) {
		return fmt.Errorf("endpoint %s answered, but not as an S3 service (no x-amz-request-id header): check the endpoint's address and port", endpoint)
	}
	switch cl.kind(err) {
	case backends.NotExist:
		return fmt.Errorf("bucket %q does not exist at %s; create it first (%s client: %v)", b.bucket, where, s.clientName, err)
	case backends.Permission:
		return fmt.Errorf("%s refused the credentials for bucket %q: check %s (%s client: %v)", where, b.bucket, creds, s.clientName, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("no answer from %s within %v about bucket %q: check the endpoint and the network", where, checkTimeout, b.bucket)
	}
	if endpoint != "" {
		return objstore.Unreachable(endpoint, err)
	}
	return fmt.Errorf("bucket %q at %s: %v", b.bucket, where, err)
}

// speaksS3 reports whether endpoint answers as an S3 service does: every
// S3 implementation sets x-amz-request-id, even on an error.
func speaksS3(endpoint string, hc *http.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true // unreachable: say so, not "not S3"
	}
	resp.Body.Close()
	return resp.Header.Get("x-amz-request-id") != ""
}

func (b *backend) key(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "/" + name
}

func (b *backend) wrap(cl client, op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &backends.Error{Kind: cl.kind(err), Scheme: "s3", Op: op, Name: name, Err: err}
}

func (b *backend) pick(ctx context.Context) (client, string, func()) {
	i, done := b.eps.Pick(ctx)
	return b.clients[i], b.eps.URL(i), done
}

func (b *backend) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := backends.CheckName("s3", "open", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: "s3", Op: "open", Name: name, Err: fmt.Errorf("negative offset %d", off)}
	}
	cl, ep, done := b.pick(ctx)
	key := b.key(name)
	if length == 0 {
		defer done()
		size, err := cl.head(ctx, key)
		if err != nil {
			return nil, b.wrap(cl, "open", name, err)
		}
		if off > size {
			return nil, objstore.PastEnd("s3", name, off, size)
		}
		return &objstore.Body{ReadCloser: io.NopCloser(bytes.NewReader(nil)), URL: ep}, nil
	}
	if length > b.opts.SplitBytes {
		get := func(ctx context.Context, o, n int64) (io.ReadCloser, error) {
			rc, err := cl.get(ctx, key, o, n)
			if err != nil && o == off {
				return b.atEnd(ctx, cl, name, key, off, err)
			}
			return rc, b.wrap(cl, "open", name, err)
		}
		body := objstore.Split(ctx, get, off, length, b.opts.PartBytes, b.opts.SplitConcurrency)
		return &objstore.Body{ReadCloser: body, URL: ep, Done: done}, nil
	}
	rc, err := cl.get(ctx, key, off, length)
	if err != nil {
		rc, err = b.atEnd(ctx, cl, name, key, off, err)
	}
	if err != nil {
		done()
		return nil, err
	}
	return &objstore.Body{ReadCloser: rc, URL: ep, Done: done}, nil
}

// atEnd turns the error of a ranged GET that started at or past the end of
// the object (S3 answers 416 either way) into the contract's answer: an
// empty read at the end, an error past it.
func (b *backend) atEnd(ctx context.Context, cl client, name, key string, off int64, err error) (io.ReadCloser, error) {
	if !errors.Is(err, objstore.ErrPastEnd) {
		return nil, b.wrap(cl, "open", name, err)
	}
	size, herr := cl.head(ctx, key)
	if herr != nil {
		return nil, b.wrap(cl, "open", name, herr)
	}
	if off == size {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	return nil, objstore.PastEnd("s3", name, off, size)
}

func (b *backend) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	if err := backends.CheckName("s3", "create", name); err != nil {
		return nil, err
	}
	cl, ep, done := b.pick(ctx)
	w := &writer{b: b, cl: cl, ctx: ctx, name: name, key: b.key(name), endpoint: ep, done: done}
	if size >= 0 && size < b.opts.PartBytes {
		w.buf = make([]byte, 0, size)
	} else {
		w.pooled = b.getPart()
		w.buf = (*w.pooled)[:0]
	}
	return w, nil
}

// Put sends data from the caller's slice, which stays readable for the
// SDK's retries: one PUT when it fits a part, else a multipart upload.
func (b *backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := backends.CheckName("s3", "create", name); err != nil {
		return "", err
	}
	cl, ep, done := b.pick(ctx)
	defer done()
	key := b.key(name)
	var err error
	if int64(len(data)) <= b.opts.PartBytes {
		err = cl.put(ctx, key, data)
	} else {
		err = cl.putStream(ctx, key, bytes.NewReader(data), int64(len(data)))
	}
	return ep, b.wrap(cl, "create", name, err)
}

func (b *backend) getPart() *[]byte {
	if p, ok := b.parts.Get().(*[]byte); ok {
		return p
	}
	p := make([]byte, b.opts.PartBytes)
	return &p
}

func (b *backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := backends.CheckName("s3", "stat", name); err != nil {
		return backends.Info{}, err
	}
	cl, _, done := b.pick(ctx)
	defer done()
	size, err := cl.head(ctx, b.key(name))
	if err != nil {
		return backends.Info{}, b.wrap(cl, "stat", name, err)
	}
	return backends.Info{Name: name, Size: size}, nil
}

// Delete looks before it deletes: S3 answers a delete of a missing key
// with success, and the contract promises a not-exist error.
func (b *backend) Delete(ctx context.Context, name string) error {
	if err := backends.CheckName("s3", "delete", name); err != nil {
		return err
	}
	cl, _, done := b.pick(ctx)
	defer done()
	key := b.key(name)
	if _, err := cl.head(ctx, key); err != nil {
		return b.wrap(cl, "delete", name, err)
	}
	return b.wrap(cl, "delete", name, cl.del(ctx, key))
}

func (b *backend) Properties() backends.Properties {
	return backends.Properties{Scheme: "s3", Location: b.location}
}

func (b *backend) Close() error { return nil }

// writer buffers up to one part. An object that fits is sent with one PUT
// at Close; one that outgrows the buffer becomes a multipart upload that
// streams through a pipe, the buffered part first.
type writer struct {
	b        *backend
	cl       client
	ctx      context.Context
	name     string
	key      string
	endpoint string
	done     func()
	buf      []byte
	pooled   *[]byte
	pipe     *objstore.PipeWriter
	closed   bool
	err      error
}

func (w *writer) Endpoint() string { return w.endpoint }

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("s3: write after Close or Abort")
	}
	if w.pipe != nil {
		n, err := w.pipe.Write(p)
		return n, w.b.wrap(w.cl, "write", w.name, err)
	}
	if int64(len(w.buf)+len(p)) <= w.b.opts.PartBytes {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	first := w.buf
	w.pipe = objstore.NewPipeWriter(w.ctx, func(ctx context.Context, body io.Reader) error {
		return w.cl.putStream(ctx, w.key, io.MultiReader(bytes.NewReader(first), body), -1)
	}, w.endpoint, nil)
	n, err := w.pipe.Write(p)
	return n, w.b.wrap(w.cl, "write", w.name, err)
}

func (w *writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	defer w.release()
	if w.pipe != nil {
		w.err = w.b.wrap(w.cl, "create", w.name, w.pipe.Close())
	} else {
		w.err = w.b.wrap(w.cl, "create", w.name, w.cl.put(w.ctx, w.key, w.buf))
	}
	return w.err
}

func (w *writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	if w.pipe != nil {
		w.pipe.Abort()
	}
	return nil
}

func (w *writer) release() {
	if w.pooled != nil {
		w.b.parts.Put(w.pooled)
		w.pooled = nil
	}
	w.buf = nil
	w.done()
}
