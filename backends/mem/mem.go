// Package mem is an in-memory backend registered as mem:// (any host or
// path after it is only a label). Every Open returns a new, empty store, so
// it serves tests and measures the engine's own overhead, with no storage
// in the way.
//
// Objects are immutable once committed: a writer builds its own slice and
// publishes it on Close, and an overwrite replaces the slice, so readers
// never see partial content and a reader in flight keeps what it opened.
package mem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"

	"mlps.dev/mlps/backends"
)

// A mem store lives in this process and nowhere else: no page cache, no
// O_DIRECT, and every open a new store.
func init() {
	backends.Register(backends.Scheme{Name: scheme, Check: check, Open: open, Traits: backends.Traits{InMemory: true}})
}

const (
	scheme = "mem"
	// maxPrealloc bounds the buffer a Create reserves from its announced
	// size, so that a wrong announcement cannot reserve unbounded memory.
	maxPrealloc = 256 << 20
)

var errClosed = errors.New("backend is closed")

type store struct {
	location string
	mu       sync.RWMutex
	objs     map[string][]byte // nil once closed
}

func check(u *url.URL, _ *backends.Config) (string, error) {
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("mem URI takes no query or fragment; want mem:// or mem://label")
	}
	return "", nil
}

func open(_ context.Context, u *url.URL, _ *backends.Config) (backends.Backend, error) {
	// The label is rebuilt from host and path so that userinfo never
	// reaches Location.
	loc := (&url.URL{Scheme: scheme, Host: u.Host, Path: u.Path, Opaque: u.Opaque}).String()
	if loc == "mem:" {
		loc = "mem://"
	}
	return &store{location: loc, objs: make(map[string][]byte)}, nil
}

func (s *store) Properties() backends.Properties {
	return backends.Properties{Scheme: scheme, Location: s.location}
}

func (s *store) Close() error {
	s.mu.Lock()
	s.objs = nil
	s.mu.Unlock()
	return nil
}

func (s *store) check(ctx context.Context, op, name string) error {
	if err := backends.CheckName(scheme, op, name); err != nil {
		return err
	}
	return backends.Wrap(scheme, op, name, ctx.Err())
}

func notExist(op, name string) error {
	return &backends.Error{Kind: backends.NotExist, Scheme: scheme, Op: op, Name: name}
}

func closed(op, name string) error {
	return &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: op, Name: name, Err: errClosed}
}

// get returns the committed content of name.
func (s *store) get(op, name string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.objs == nil {
		return nil, closed(op, name)
	}
	b, ok := s.objs[name]
	if !ok {
		return nil, notExist(op, name)
	}
	return b, nil
}

func (s *store) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	if err := s.check(ctx, "create", name); err != nil {
		return nil, err
	}
	w := &writer{s: s, name: name}
	if size > 0 {
		w.buf = make([]byte, 0, min(size, maxPrealloc))
	}
	return w, nil
}

func (s *store) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := s.check(ctx, "open", name); err != nil {
		return nil, err
	}
	b, err := s.get("open", name)
	if err != nil {
		return nil, err
	}
	size := int64(len(b))
	if off < 0 || off > size {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name,
			Err: fmt.Errorf("offset %d is outside the %d-byte object", off, size)}
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(b[off:end])), nil
}

func (s *store) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := s.check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	b, err := s.get("stat", name)
	if err != nil {
		return backends.Info{}, err
	}
	return backends.Info{Name: name, Size: int64(len(b))}, nil
}

func (s *store) Delete(ctx context.Context, name string) error {
	if err := s.check(ctx, "delete", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objs == nil {
		return closed("delete", name)
	}
	if _, ok := s.objs[name]; !ok {
		return notExist("delete", name)
	}
	delete(s.objs, name)
	return nil
}

type writer struct {
	s    *store
	name string
	buf  []byte
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.closedErr("write")
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *writer) Close() error {
	if w.done {
		return w.closedErr("close")
	}
	w.done = true
	// Clip so that no later append can ever share the committed array.
	b := w.buf[:len(w.buf):len(w.buf)]
	if b == nil {
		b = []byte{}
	}
	w.buf = nil
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.objs == nil {
		return closed("close", w.name)
	}
	w.s.objs[w.name] = b
	return nil
}

// Abort removes any object of the name, as the Backend contract requires
// ("no object of that name remains"), matching the file backend, which
// truncates the old file at Create.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.objs != nil {
		delete(w.s.objs, w.name)
	}
	return nil
}

func (w *writer) closedErr(op string) error {
	return &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: op, Name: w.name,
		Err: errors.New("writer already closed or aborted")}
}
