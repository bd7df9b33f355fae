package backends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"mlps.dev/mlps/backends/secret"
)

// Scheme is what a backend package registers for one URI scheme: a pure
// check of a target's configuration, the traits every target of the
// scheme has, and the opener. The planner resolves every target of a
// workload through it before anything opens (Resolve), so a mistake
// about what a target can do is an input error, not a failure after
// earlier stages ran.
type Scheme struct {
	// Name is the URI scheme: lower case letters, digits, '+', '-', '.'.
	Name string
	// Traits are what every target of the scheme can do.
	Traits Traits
	// Options are the options, by their workload names ("endpoints",
	// "region"), that the scheme takes beyond uri; Resolve refuses any
	// other that a target sets. client is not listed: a scheme takes it
	// when its Traits name Clients.
	Options []string
	// Hints say, for an option the scheme refuses, what to do instead
	// ("set GOOGLE_APPLICATION_CREDENTIALS"), where the refusal alone
	// would not tell.
	Hints map[string]string
	// Check validates u (parsed, Scheme lower case) and c (endpoints
	// expanded) without I/O: no file, no network. It returns the storage
	// u names in a canonical form (file:///data for
	// file://localhost/data/), for SameStorage. An error about one option
	// should be an *OptionError naming it; any other is about the URI.
	// Like every error of a backend, it must not show a secret.
	Check func(u *url.URL, c *Config) (storage string, err error)
	// Open opens the backend for a configuration that passed Check.
	Open func(ctx context.Context, u *url.URL, c *Config) (Backend, error)
	// Credentials says where the scheme's credentials go ("AWS_ACCESS_KEY_ID
	// and AWS_SECRET_ACCESS_KEY in the environment..."), for the message
	// that refuses one written into a URI or an endpoint; "" for a scheme
	// that takes none.
	Credentials string
}

// Traits are the facts about a scheme's storage that stages decide by at
// plan time.
type Traits struct {
	// PageCache is set when the host's page cache holds what the backend
	// reads and writes, so a dataset that fits in memory can be served
	// from it (DLIO's potential_caching).
	PageCache bool
	// DirectRead and DirectWrite are set when the backend reads
	// (DirectOpener) and writes (DirectCreator) around the page cache
	// with O_DIRECT.
	DirectRead, DirectWrite bool
	// Evict is set when the backend can drop an object from the host's
	// cache (Evicter).
	Evict bool
	// Shared is set when one URI names the same storage each time it is
	// opened (file, s3); tmp and mem make a new, empty store per open.
	Shared bool
	// InMemory is set when the backend keeps everything written to it in
	// this process's memory (mem), so a plan must fit what it writes there
	// in the host's memory.
	InMemory bool
	// Discards is set when the backend stores nothing (null): writes are
	// discarded and reads synthesized, so an object is as long as a
	// reader asks, has no size to Stat, and nothing written can be read
	// back. Stages refuse at plan time whatever needs the bytes or the
	// size of what was written (verify, formats parsed on read, copying
	// from it) and ask reads of exactly the planned length.
	Discards bool
	// Clients are the client libraries a target may choose with its
	// client option, the default first; empty when there is one.
	Clients []string
}

// DefaultClient is the client a target that names none gets, or "".
func (t Traits) DefaultClient() string {
	if len(t.Clients) == 0 {
		return ""
	}
	return t.Clients[0]
}

var registry struct {
	sync.RWMutex
	schemes map[string]*Scheme
}

// Register makes a backend available under s.Name. Backend packages call
// it from init; blank-import mlps.dev/mlps/backends/all to get them all.
// It panics when the scheme is malformed, incomplete or registered twice,
// as database/sql does, because each is a programming error found at
// start-up.
func Register(s Scheme) {
	if !validScheme(s.Name) {
		panic(fmt.Sprintf("backends: Register of invalid scheme %q (want lower case letters, digits, '+', '-', '.')", s.Name))
	}
	if s.Check == nil || s.Open == nil {
		panic("backends: Register of scheme " + s.Name + " without Check or Open")
	}
	for _, o := range s.Options {
		if !slices.Contains(optionNames(), o) || o == "client" {
			panic("backends: scheme " + s.Name + " lists option " + o + ", which is unknown or (client) follows from Traits.Clients")
		}
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.schemes[s.Name]; dup {
		panic("backends: Register called twice for scheme " + s.Name)
	}
	if registry.schemes == nil {
		registry.schemes = make(map[string]*Scheme)
	}
	registry.schemes[s.Name] = &s
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	s := make([]string, 0, len(registry.schemes))
	for k := range registry.schemes {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// TraitsOf returns the traits of a registered scheme.
func TraitsOf(scheme string) (Traits, bool) {
	if s := lookup(scheme); s != nil {
		return s.Traits, true
	}
	return Traits{}, false
}

func lookup(scheme string) *Scheme {
	registry.RLock()
	defer registry.RUnlock()
	return registry.schemes[scheme]
}

// takes reports whether the scheme takes option.
func (s *Scheme) takes(option string) bool {
	if option == "client" {
		return len(s.Traits.Clients) > 0
	}
	return slices.Contains(s.Options, option)
}

// takers lists the schemes that take option, for the error a scheme that
// does not gets.
func takers(option string) []string {
	var out []string
	for _, name := range Schemes() {
		if lookup(name).takes(option) {
			out = append(out, name)
		}
	}
	return out
}

// Target is a target resolved: its configuration checked against its
// scheme and completed (endpoints expanded, the default client filled
// in), with the scheme's traits. It opens without further checks.
type Target struct {
	// Config is the configuration as resolved.
	Config
	// Scheme is the URI's scheme, lower case.
	Scheme string
	Traits Traits
	// Storage is the storage the URI names, canonical (see Scheme.Check).
	Storage string

	u      *url.URL
	scheme *Scheme
}

// Resolve checks c and completes it, without touching storage: it parses
// the URI, finds its scheme, refuses the options the scheme does not
// take, expands the endpoints (reading endpoints_file, a local list),
// reads ca_file (a local bundle, so a wrong path is an input error), fills
// in the default client and runs the scheme's Check. Errors about one option are
// *OptionError values naming it; the rest are about the URI.
func Resolve(c Config) (*Target, error) {
	u, err := url.Parse(c.URI)
	if err != nil {
		// url.Error repeats the whole input, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &OptionError{Option: "uri", Err: fmt.Errorf("invalid target URI %q: %v", redact(c.URI), err)}
	}
	if u.Scheme == "" {
		return nil, &OptionError{Option: "uri", Err: fmt.Errorf("target %q has no scheme; want a URI such as file:///data/mlps (registered schemes: %s)",
			redactURL(u), strings.Join(Schemes(), ", "))}
	}
	s := lookup(u.Scheme)
	if s == nil {
		return nil, &OptionError{Option: "uri", Err: fmt.Errorf("no backend for scheme %q in %q (registered schemes: %s)",
			u.Scheme, redactURL(u), strings.Join(Schemes(), ", "))}
	}
	if err := s.refuseCredentials(c); err != nil {
		return nil, err
	}
	for _, o := range c.set() {
		if s.takes(o) {
			continue
		}
		msg := fmt.Sprintf("%s targets take no %s", s.Name, o)
		if t := takers(o); len(t) > 0 {
			msg += fmt.Sprintf(" (it is an option of %s targets)", strings.Join(t, ", "))
		}
		if h := s.Hints[o]; h != "" {
			msg += ": " + h
		} else {
			msg += ": remove it"
		}
		return nil, &OptionError{Option: o, Err: errors.New(msg)}
	}
	if len(c.Endpoints) > 0 || c.EndpointsFile != "" {
		eps, err := ExpandEndpoints(c.Endpoints, c.EndpointsFile)
		if err != nil {
			opt := "endpoints"
			if c.EndpointsFile != "" && len(c.Endpoints) == 0 {
				opt = "endpoints_file"
			}
			return nil, &OptionError{Option: opt, Err: err}
		}
		c.Endpoints, c.EndpointsFile = eps, ""
	}
	if c.CAFile != "" {
		if _, err := ReadCAFile(c.CAFile); err != nil {
			return nil, &OptionError{Option: "ca_file", Err: err}
		}
	}
	if len(s.Traits.Clients) > 0 {
		if c.Client == "" {
			c.Client = s.Traits.DefaultClient()
		} else if !slices.Contains(s.Traits.Clients, c.Client) {
			return nil, &OptionError{Option: "client", Err: fmt.Errorf("%s client %q: want %s", s.Name, c.Client, strings.Join(s.Traits.Clients, " or "))}
		}
	}
	storage, err := s.Check(u, &c)
	if err != nil {
		var oe *OptionError
		if !errors.As(err, &oe) {
			err = &OptionError{Option: "uri", Err: err}
		}
		return nil, err
	}
	return &Target{Config: c, Scheme: s.Name, Traits: s.Traits, Storage: storage, u: u, scheme: s}, nil
}

// Open opens the backend of a resolved target.
func (t *Target) Open(ctx context.Context) (Backend, error) {
	c := t.Config
	b, err := t.scheme.Open(ctx, t.u, &c)
	if err != nil {
		return nil, fmt.Errorf("backends: open %q: %w", redactURL(t.u), err)
	}
	return b, nil
}

// SameStorage reports whether t and o certainly name the same storage:
// the same shared storage through the same endpoints. (Every tmp:// and
// mem:// target is a store of its own, and the same bucket behind other
// endpoints may be another cluster's.)
func (t *Target) SameStorage(o *Target) bool {
	return t.Traits.Shared && o.Traits.Shared && t.Storage == o.Storage &&
		slices.Equal(sortedCopy(t.Endpoints), sortedCopy(o.Endpoints))
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Open opens the backend for uri, a target with no options.
func Open(ctx context.Context, uri string) (Backend, error) {
	return OpenConfig(ctx, Config{URI: uri})
}

// OpenConfig resolves c and opens its backend.
func OpenConfig(ctx context.Context, c Config) (Backend, error) {
	t, err := Resolve(c)
	if err != nil {
		return nil, fmt.Errorf("backends: %w", err)
	}
	return t.Open(ctx)
}

// OptionError is a target configuration error about one option, named as
// the workload names it ("uri", "endpoints", "client"), so that the
// planner can point at the user's text for it.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// refuseCredentials refuses a credential written into the URI or an
// endpoint, saying where the scheme takes credentials instead: a
// workload is recorded beside its results and shared, so it names
// environment variables and never holds a secret. The secret
// key's variable is registered so that its value is hidden wherever a
// library might echo it.
func (s *Scheme) refuseCredentials(c Config) error {
	where := s.Name + " targets take no credentials"
	if s.Credentials != "" {
		where = s.Name + " credentials go in " + s.Credentials
	}
	if what := secret.InURI(c.URI); what != "" {
		return &OptionError{Option: "uri", Err: fmt.Errorf("%s carries %s: %s", secret.Redact(c.URI), what, where)}
	}
	for _, e := range c.Endpoints {
		for _, ep := range strings.Split(e, ",") {
			if what := secret.InURI(strings.TrimSpace(ep)); what != "" {
				return &OptionError{Option: "endpoints", Err: fmt.Errorf("endpoint %q carries %s: %s", secret.Redact(ep), what, where)}
			}
		}
	}
	if c.SecretKeyEnv != "" {
		secret.Register(os.Getenv(c.SecretKeyEnv))
	}
	return nil
}

// redactURL hides every credential a URI shows: all of the userinfo,
// not only the password that url.URL.Redacted hides (some schemes carry a
// key in the user name), and credential query parameters.
func redactURL(u *url.URL) string { return secret.Redact(u.String()) }

// redact hides the credentials of a URI that url.Parse rejected.
func redact(uri string) string { return secret.Redact(uri) }
