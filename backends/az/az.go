// Package az is the Azure Blob Storage backend:
//
//	az://container            objects are block blobs named as the caller names them
//	az://container/prefix     blob name = prefix + "/" + name
//
// Credentials come from the environment, never from the URI or the
// Config: AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and
// AZURE_STORAGE_KEY (a shared key). A Config's access_key_env and
// secret_key_env name other variables holding the account name and the
// key; they take precedence over a connection string.
//
// Without endpoints the account's public endpoint is used (or the
// connection string's BlobEndpoint). An endpoint on an IP address or on
// localhost, as Azurite and other emulators serve, is addressed path-style
// (endpoint/account/container), as is any endpoint when path_style is set;
// other endpoints are taken to be the account's own blob endpoint. Several
// endpoints get one client each, and each operation goes to the endpoint
// the Config's strategy picks.
//
// Opening checks that the container exists, so that a typo, a stopped
// emulator or a wrong key fails the run at once with what to fix, rather
// than as the first write's error.
package az

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
)

const scheme = "az"

// checkTimeout bounds the container check at open time: a run that cannot
// reach its store should say so in seconds.
const checkTimeout = 10 * time.Second

// Environment variables read when the Config names none.
const (
	envConnString = "AZURE_STORAGE_CONNECTION_STRING"
	envAccount    = "AZURE_STORAGE_ACCOUNT"
	envKey        = "AZURE_STORAGE_KEY"
)

func init() {
	backends.Register(backends.Scheme{
		Name:        scheme,
		Credentials: "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, in the environment, or variables the target names with access_key_env and secret_key_env",
		Traits:      backends.Traits{Shared: true},
		// access_key_env and secret_key_env name the account and key
		// variables.
		Options: append(slices.Clone(objstore.TargetOptions), "access_key_env", "secret_key_env"),
		Check:   check,
		Open:    open,
	})
}

func check(u *url.URL, c *backends.Config) (string, error) {
	if err := objstore.CheckOptions(c); err != nil {
		return "", err
	}
	cont, prefix, err := parseURI(u)
	if err != nil {
		return "", err
	}
	return scheme + "://" + cont + "/" + prefix, nil
}

type backend struct {
	container string
	prefix    string // "" or ends with "/"
	location  string
	opts      objstore.Options
	http      *http.Client
	eps       *objstore.Endpoints
	clients   []*container.Client // one per endpoint, in eps order
	// credSource names where the credentials came from (variable names,
	// never values), for the message a rejected key gets.
	credSource string
}

const want = "want az://container or az://container/prefix"

// validContainer is Azure's rule for container names; $root and $web are
// the two names the service reserves and accepts besides.
func validContainer(s string) bool {
	if s == "$root" || s == "$web" {
		return true
	}
	return len(s) >= 3 && len(s) <= 63 && containerRE.MatchString(s) && !strings.Contains(s, "--")
}

var containerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

func parseURI(u *url.URL) (cont, prefix string, err error) {
	switch {
	case u.User != nil:
		return "", "", errors.New("az URI must not carry credentials; set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY; " + want)
	case u.Opaque != "":
		return "", "", errors.New("az URI needs // before the container; " + want)
	case u.RawQuery != "" || u.ForceQuery:
		return "", "", errors.New("az URI takes no query (give options in the target's configuration); " + want)
	case u.Fragment != "":
		return "", "", errors.New("az URI takes no fragment; " + want)
	case u.Host == "":
		return "", "", errors.New("az URI names no container; " + want)
	}
	cont = u.Host
	if !validContainer(cont) {
		return "", "", fmt.Errorf("container name %q is not valid: Azure wants 3 to 63 lower case letters, digits and single hyphens, starting and ending with a letter or digit; %s", cont, want)
	}
	p := strings.Trim(u.Path, "/")
	if p != "" {
		if err := backends.ValidName(p); err != nil {
			return "", "", fmt.Errorf("prefix: %v", err)
		}
		prefix = p + "/"
	}
	return cont, prefix, nil
}

func open(ctx context.Context, u *url.URL, c *backends.Config) (backends.Backend, error) {
	cont, prefix, err := parseURI(u)
	if err != nil {
		return nil, err
	}
	hc, err := objstore.HTTPClient(c)
	if err != nil {
		return nil, err
	}
	copts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: hc,
		// The SDK's default backs off for up to a minute per try; the
		// object stores' shared policy (objstore.MaxAttempts and
		// MaxBackoff, from a 200 ms first delay) fails a refused
		// connection at open in seconds.
		Retry: policy.RetryOptions{MaxRetries: objstore.MaxAttempts - 1, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: objstore.MaxBackoff},
	}}
	b := &backend{
		container: cont,
		prefix:    prefix,
		location:  (&url.URL{Scheme: scheme, Host: cont, Path: "/" + strings.TrimSuffix(prefix, "/")}).String(),
		opts:      objstore.OptionsOf(c),
		http:      hc,
	}
	if prefix == "" {
		b.location = scheme + "://" + cont // no trailing slash to suggest a prefix
	}
	urls, err := b.clientsFor(c, copts)
	if err != nil {
		return nil, err
	}
	if b.eps, err = objstore.NewEndpoints(urls, c.Strategy); err != nil {
		return nil, err
	}
	if err := b.checkContainer(ctx); err != nil {
		hc.CloseIdleConnections()
		return nil, err
	}
	return b, nil
}

// clientsFor makes one container client per endpoint and returns the
// endpoints' base URLs (scheme://host), which readers and writers report.
func (b *backend) clientsFor(c *backends.Config, copts *container.ClientOptions) ([]string, error) {
	accountEnv, keyEnv := c.AccessKeyEnv, c.SecretKeyEnv
	named := accountEnv != "" || keyEnv != ""
	if accountEnv == "" {
		accountEnv = envAccount
	}
	if keyEnv == "" {
		keyEnv = envKey
	}
	connString := os.Getenv(envConnString)
	if !named && connString != "" {
		b.credSource = envConnString
		if len(c.Endpoints) == 0 {
			// The SDK knows every form a connection string takes
			// (EndpointSuffix, SAS, BlobEndpoint); let it build the URL.
			cl, err := container.NewClientFromConnectionString(connString, b.container, copts)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", envConnString, scrub(err))
			}
			b.clients = []*container.Client{cl}
			return []string{baseURL(cl.URL())}, nil
		}
		cs, err := parseConnString(connString)
		if err != nil {
			return nil, err
		}
		for _, e := range c.Endpoints {
			u := containerURL(serviceURL(e, cs.account, c.PathStyle), b.container)
			var cl *container.Client
			if cs.key != "" {
				cred, err := azblob.NewSharedKeyCredential(cs.account, cs.key)
				if err != nil {
					return nil, fmt.Errorf("%s: the AccountKey is not valid base64", envConnString)
				}
				cl, err = container.NewClientWithSharedKeyCredential(u, cred, copts)
				if err != nil {
					return nil, fmt.Errorf("endpoint %s: %v", e, scrub(err))
				}
			} else {
				cl, err = container.NewClientWithNoCredential(u+"?"+cs.sas, copts)
				if err != nil {
					return nil, fmt.Errorf("endpoint %s: %v", e, scrub(err))
				}
			}
			b.clients = append(b.clients, cl)
		}
		return c.Endpoints, nil
	}

	account, key := os.Getenv(accountEnv), os.Getenv(keyEnv)
	b.credSource = accountEnv + " and " + keyEnv
	switch {
	case account == "" && key == "" && !named:
		return nil, fmt.Errorf("no Azure credentials: set %s, or %s and %s (or name other variables with access_key_env and secret_key_env)",
			envConnString, envAccount, envKey)
	case account == "":
		return nil, fmt.Errorf("no Azure storage account name: %s is not set or empty", accountEnv)
	case key == "":
		return nil, fmt.Errorf("no Azure storage account key: %s is not set or empty", keyEnv)
	case !accountRE.MatchString(account):
		// Not quoted: a key pasted into the wrong variable must not leak.
		return nil, fmt.Errorf("the account name in %s is not valid: want 3 to 24 lower case letters and digits", accountEnv)
	}
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		return nil, fmt.Errorf("the account key in %s is not valid base64", keyEnv)
	}
	endpoints := c.Endpoints
	if len(endpoints) == 0 {
		endpoints = []string{"https://" + account + ".blob.core.windows.net"}
	}
	for _, e := range endpoints {
		cl, err := container.NewClientWithSharedKeyCredential(
			containerURL(serviceURL(e, account, c.PathStyle), b.container), cred, copts)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %v", e, scrub(err))
		}
		b.clients = append(b.clients, cl)
	}
	return endpoints, nil
}

// accountRE allows the names emulators use as well as Azure's, which are
// 3 to 24 characters; it exists so a name can go into a host and a path.
var accountRE = regexp.MustCompile(`^[a-z0-9]{1,63}$`)

// serviceURL is the account's URL at endpoint e: emulators and IP
// addresses take the account as the first path element, Azure's own
// (and custom-domain) endpoints carry it in the host name.
func serviceURL(e, account string, pathStyle bool) string {
	e = strings.TrimSuffix(e, "/")
	if pathStyle {
		return e + "/" + account
	}
	if u, err := url.Parse(e); err == nil {
		h := u.Hostname()
		if h == "localhost" || net.ParseIP(h) != nil {
			return e + "/" + account
		}
	}
	return e
}

func containerURL(service, cont string) string {
	return strings.TrimSuffix(service, "/") + "/" + url.PathEscape(cont)
}

// baseURL reduces a client URL to scheme://host, the form endpoints are
// reported in; it drops the path and any SAS query.
func baseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

type connString struct {
	account, key, sas string
}

// parseConnString reads the parts of a connection string that endpoints
// of our own choosing need; errors name the variable, never its value.
func parseConnString(s string) (connString, error) {
	var cs connString
	for part := range strings.SplitSeq(strings.TrimRight(s, ";"), ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return cs, fmt.Errorf("%s is malformed: want Key=Value pairs separated by ';'", envConnString)
		}
		switch strings.TrimSpace(k) {
		case "AccountName":
			cs.account = v
		case "AccountKey":
			cs.key = v
		case "SharedAccessSignature":
			cs.sas = strings.TrimPrefix(v, "?")
		}
	}
	switch {
	case cs.account == "":
		return cs, fmt.Errorf("%s has no AccountName, which endpoints need to address the account", envConnString)
	case !accountRE.MatchString(cs.account):
		return cs, fmt.Errorf("%s: AccountName is not valid: want lower case letters and digits", envConnString)
	case cs.key == "" && cs.sas == "":
		return cs, fmt.Errorf("%s has neither AccountKey nor SharedAccessSignature", envConnString)
	}
	return cs, nil
}

// checkContainer asks every endpoint for the container's properties, so
// that a missing container, an unreachable endpoint or a rejected key is
// reported at open time, once, with what to fix.
func (b *backend) checkContainer(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	errs := make([]error, len(b.clients))
	var wg sync.WaitGroup
	for i, cl := range b.clients {
		wg.Go(func() {
			_, err := cl.GetProperties(cctx, nil)
			if err != nil {
				errs[i] = b.checkErr(ctx, b.eps.URL(i), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *backend) checkErr(ctx context.Context, endpoint string, err error) error {
	fail := func(k backends.Kind, msg string) error {
		return &backends.Error{Kind: k, Scheme: scheme, Op: "check container", Name: b.container, Err: errors.New(msg)}
	}
	var re *azcore.ResponseError
	switch {
	case ctx.Err() != nil:
		return backends.Wrap(scheme, "check container", b.container, ctx.Err())
	case objstore.PlainHTTP(err):
		return fail(backends.Permanent, objstore.NotTLS(endpoint).Error())
	case errors.As(err, &re):
		code := respCode(re)
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fail(backends.NotExist, fmt.Sprintf(
				"container %s does not exist at %s (%s); create it first (for example: az storage container create --name %s)",
				b.container, endpoint, code, b.container))
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return fail(backends.Permission, fmt.Sprintf(
				"credentials rejected by %s (%s); check the account name and key in %s",
				endpoint, code, b.credSource))
		default:
			return fail(objstore.KindOfStatus(re.StatusCode), fmt.Sprintf(
				"checking container %s at %s failed (%s); is %s an Azure Blob endpoint?",
				b.container, endpoint, code, endpoint))
		}
	case objstore.Incurable(err):
		return fail(backends.Permanent, objstore.Unreachable(endpoint, err).Error())
	default:
		// Timeouts and refused connections alike: the store cannot be
		// reached, and saying which endpoint is what the user needs.
		return fail(backends.Transient, objstore.Unreachable(endpoint, scrub(err)).Error())
	}
}

func (b *backend) Properties() backends.Properties {
	return backends.Properties{Scheme: scheme, Location: b.location}
}

func (b *backend) Close() error {
	b.http.CloseIdleConnections()
	return nil
}

// check validates name and ctx, in that order, so that a bad name is
// reported as such even under a canceled context.
func (b *backend) check(ctx context.Context, op, name string) error {
	if err := backends.CheckName(scheme, op, name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return backends.Wrap(scheme, op, name, err)
	}
	return nil
}

func (b *backend) blob(i int, name string) *blockblob.Client {
	return b.clients[i].NewBlockBlobClient(b.prefix + name)
}

func (b *backend) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	if err := b.check(ctx, "create", name); err != nil {
		return nil, err
	}
	i, done := b.eps.Pick(ctx)
	bb := b.blob(i, name)
	opts := &blockblob.UploadStreamOptions{BlockSize: b.opts.PartBytes, Concurrency: b.opts.PartConcurrency}
	// UploadStream commits only after reading the body to EOF, so the
	// error PipeWriter.Abort puts into the body leaves nothing visible:
	// staged blocks stay uncommitted and the service drops them.
	upload := func(ctx context.Context, body io.Reader) error {
		_, err := bb.UploadStream(ctx, body, opts)
		return b.wrap("create", name, err)
	}
	return &writer{PipeWriter: objstore.NewPipeWriter(ctx, upload, b.eps.URL(i), done), name: name, b: b}, nil
}

// writer classifies the errors of Write, which come from the pipe: the
// upload's own error when it failed, or the pipe's.
type writer struct {
	*objstore.PipeWriter
	b    *backend
	name string
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.PipeWriter.Write(p)
	if err != nil {
		var be *backends.Error
		if errors.As(err, &be) {
			return n, be
		}
		return n, w.b.wrap("write", w.name, err)
	}
	return n, nil
}

func (b *backend) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := b.check(ctx, "open", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name,
			Err: fmt.Errorf("negative offset %d", off)}
	}
	i, done := b.eps.Pick(ctx)
	bb := b.blob(i, name).BlobClient()
	body, err := b.open(ctx, bb, name, off, length)
	if err != nil {
		done()
		return nil, err
	}
	return &objstore.Body{ReadCloser: body, URL: b.eps.URL(i), Done: done}, nil
}

func (b *backend) open(ctx context.Context, bb *blob.Client, name string, off, length int64) (io.ReadCloser, error) {
	if length == 0 || length > b.opts.SplitBytes {
		// The size decides both whether off is valid (a zero-length range
		// is no request Azure can answer) and how far a split read
		// reaches; for a large read one HEAD costs nothing.
		props, err := bb.GetProperties(ctx, nil)
		if err != nil {
			return nil, b.wrap("open", name, err)
		}
		if isDir(props.Metadata) {
			return nil, b.notObject("open", name)
		}
		size := deref(props.ContentLength)
		if off > size {
			return nil, objstore.PastEnd(scheme, name, off, size)
		}
		length = min(length, size-off)
		if length == 0 {
			return io.NopCloser(strings.NewReader("")), nil
		}
		if length > b.opts.SplitBytes {
			// Every chunk must come from the version the HEAD saw, or a
			// concurrent overwrite would splice two objects together.
			ac := &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: props.ETag}}
			get := func(ctx context.Context, pos, n int64) (io.ReadCloser, error) {
				return b.download(ctx, bb, name, pos, n, ac)
			}
			return objstore.Split(ctx, get, off, length, b.opts.PartBytes, b.opts.SplitConcurrency), nil
		}
	}
	body, err := b.download(ctx, bb, name, off, length, nil)
	if errors.Is(err, objstore.ErrPastEnd) {
		// Azure answers 416 for a range that starts at the size, which the
		// contract reads as an empty object tail; only the size tells
		// that from an offset past the end.
		props, perr := bb.GetProperties(ctx, nil)
		if perr != nil {
			return nil, b.wrap("open", name, perr)
		}
		if size := deref(props.ContentLength); off > size {
			return nil, objstore.PastEnd(scheme, name, off, size)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	return body, err
}

// download fetches [off, off+n) (n < 0: to the end); a 416 becomes
// objstore.ErrPastEnd, as Split wants it.
func (b *backend) download(ctx context.Context, bb *blob.Client, name string, off, n int64, ac *blob.AccessConditions) (io.ReadCloser, error) {
	rng := blob.HTTPRange{Offset: off}
	if n > 0 {
		rng.Count = n
	}
	resp, err := bb.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng, AccessConditions: ac})
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name,
				Err: fmt.Errorf("%w (%v)", objstore.ErrPastEnd, scrub(err))}
		}
		return nil, b.wrap("open", name, err)
	}
	if isDir(resp.Metadata) {
		resp.Body.Close()
		return nil, b.notObject("open", name)
	}
	return &body{rc: resp.Body, b: b, name: name}, nil
}

// body classifies errors of Read, so a reset in the middle of a large
// object reads as transient like one at the start.
type body struct {
	rc   io.ReadCloser
	b    *backend
	name string
}

func (r *body) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.b.wrap("read", r.name, err)
	}
	return n, err
}

func (r *body) Close() error { return r.rc.Close() }

// notObject is what a directory marker of a hierarchical-namespace account
// gets: it is a prefix of names, not an object, as on every other backend.
func (b *backend) notObject(op, name string) error {
	return &backends.Error{Kind: backends.NotExist, Scheme: scheme, Op: op, Name: name,
		Err: errors.New("is a directory, not an object")}
}

func isDir(md map[string]*string) bool {
	for k, v := range md {
		if strings.EqualFold(k, "hdi_isfolder") && v != nil && strings.EqualFold(*v, "true") {
			return true
		}
	}
	return false
}

func (b *backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := b.check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	i, done := b.eps.Pick(ctx)
	defer done()
	props, err := b.blob(i, name).GetProperties(ctx, nil)
	if err != nil {
		return backends.Info{}, b.wrap("stat", name, err)
	}
	if isDir(props.Metadata) {
		return backends.Info{}, b.notObject("stat", name)
	}
	return backends.Info{Name: name, Size: deref(props.ContentLength)}, nil
}

func (b *backend) Delete(ctx context.Context, name string) error {
	if err := b.check(ctx, "delete", name); err != nil {
		return err
	}
	i, done := b.eps.Pick(ctx)
	defer done()
	// A blob with snapshots cannot be deleted alone; the benchmark's
	// object is the whole of it.
	include := blob.DeleteSnapshotsOptionTypeInclude
	_, err := b.blob(i, name).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: &include})
	return b.wrap("delete", name, err)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// wrap classifies an SDK error as a *backends.Error whose message is one
// line: the SDK's own is a multi-line dump of the request and response.
func (b *backend) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) && be.Kind != backends.Unknown {
		return err
	}
	err = scrub(err)
	return &backends.Error{Kind: kindOf(err), Scheme: scheme, Op: op, Name: name, Err: err}
}

func kindOf(err error) backends.Kind {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return objstore.KindOfStatus(re.StatusCode)
	}
	if k := backends.KindOf(err); k != backends.Unknown {
		return k
	}
	var ne *net.OpError
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return backends.Transient
	}
	return backends.Unknown
}

func respCode(re *azcore.ResponseError) string {
	s := "HTTP " + strconv.Itoa(re.StatusCode)
	if re.ErrorCode != "" {
		s += " " + re.ErrorCode
	}
	return s
}

// responseError is an azcore.ResponseError in one line: status and
// service error code, which is what tells one failure from another. It
// unwraps to the SDK's error, so bloberror.HasCode still works.
type responseError struct {
	re *azcore.ResponseError
}

func (e *responseError) Error() string { return respCode(e.re) }
func (e *responseError) Unwrap() error { return e.re }

// urlError is a *url.Error without the request URL's query, which holds
// the signature when a SAS authorizes the requests.
type urlError struct {
	msg string
	err error
}

func (e *urlError) Error() string { return e.msg }
func (e *urlError) Unwrap() error { return e.err }

// scrub rewrites the errors whose text the SDK or net/http make long or
// make carry a secret.
func scrub(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return &responseError{re: re}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			where = u.String()
		} else {
			where = "request"
		}
		return &urlError{msg: ue.Op + " " + where + ": " + ue.Err.Error(), err: ue.Err}
	}
	return err
}
