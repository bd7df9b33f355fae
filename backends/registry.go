package backends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Opener opens the backend that a URI of its scheme names. u has passed
// url.Parse and its Scheme is the registered one (lower case). An Opener
// must not put u's password in an error or in Properties.
type Opener func(ctx context.Context, u *url.URL) (Backend, error)

var registry struct {
	sync.RWMutex
	openers map[string]Opener
}

// Register makes a backend available under scheme. Backend packages call it
// from init; blank-import mlps.dev/mlps/backends/all to get them all. It
// panics when scheme is malformed or already registered, as database/sql
// does, because either is a programming error found at start-up.
func Register(scheme string, open Opener) {
	if !validScheme(scheme) {
		panic(fmt.Sprintf("backends: Register of invalid scheme %q (want lower case letters, digits, '+', '-', '.')", scheme))
	}
	if open == nil {
		panic("backends: Register of scheme " + scheme + " with a nil Opener")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.openers[scheme]; dup {
		panic("backends: Register called twice for scheme " + scheme)
	}
	if registry.openers == nil {
		registry.openers = make(map[string]Opener)
	}
	registry.openers[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	s := make([]string, 0, len(registry.openers))
	for k := range registry.openers {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open opens the backend for uri, choosing it by the URI's scheme.
func Open(ctx context.Context, uri string) (Backend, error) {
	u, err := url.Parse(uri)
	if err != nil {
		// url.Error repeats the whole input, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("backends: invalid target URI %q: %v", redact(uri), err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("backends: target %q has no scheme; want a URI such as file:///data/mlps (registered schemes: %s)",
			redactURL(u), strings.Join(Schemes(), ", "))
	}
	registry.RLock()
	open := registry.openers[u.Scheme]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("backends: no backend for scheme %q in %q (registered schemes: %s)",
			u.Scheme, redactURL(u), strings.Join(Schemes(), ", "))
	}
	b, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("backends: open %q: %w", redactURL(u), err)
	}
	return b, nil
}

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

// redactURL hides all of the userinfo, not only the password that
// url.URL.Redacted hides, because some schemes carry a key in the user name.
func redactURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// redact hides the userinfo of a URI that url.Parse rejected, so it cannot
// rely on url.URL.Redacted.
func redact(uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	auth := uri[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return uri
	}
	return uri[:i+3] + "REDACTED" + uri[i+3+at:]
}
