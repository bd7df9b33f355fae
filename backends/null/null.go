// Package null is a backend that stores nothing, registered as null://
// (any host or path after it is only a label for the results), as fio's
// null engine is: writes are accepted and discarded, and reads are served
// from a fixed pattern without touching storage. A run against it
// measures mlps's own ceiling (content generation, formats, metering)
// apart from any storage, the denominator of "how much of the run is
// storage".
//
// It keeps no state per object, so its memory is the same for ten files
// or ten million. The price is that it knows no sizes: a read must name
// its length and gets exactly that many bytes (an object is as long as the
// reader asks), Stat fails, and nothing written can be read back; the
// trait Discards tells the plan so.
//
// A read costs one copy from a 64 KiB pattern into the caller's buffer,
// what a page-cache hit costs at best (no system call, no page walk): a
// figure read from null:// is mlps's ceiling, never a storage figure.
package null

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"

	"mlps.dev/mlps/backends"
)

// Nothing is stored: no page cache, no O_DIRECT, nothing to evict. Not
// Shared either: SameStorage means two targets reach the same stored
// bytes, and there are none to reach, so two null targets are never "the
// same files" an upload would copy onto themselves.
func init() {
	backends.Register(backends.Scheme{Name: scheme, Check: check, Open: open, Traits: backends.Traits{Discards: true}})
}

const (
	scheme = "null"
	// patternBytes is the size of the pattern reads copy from: large
	// enough that a read of a few MiB is a handful of big copies, small
	// enough to stay in a core's L2 cache.
	patternBytes = 64 << 10
	// patternSeed fixes the pattern, so that two runs read the same bytes.
	patternSeed = 0x6e756c6c // "null"
)

var (
	errNoSize  = errors.New("null:// keeps no sizes, so a read must name its length")
	errNoStat  = errors.New("null:// keeps nothing: no object has a size to stat")
	errNegOff  = errors.New("negative offset")
	errNoLabel = errors.New("null URI takes no query or fragment; want null:// or null://label")
)

type store struct {
	location string
	pattern  []byte
}

func check(u *url.URL, _ *backends.Config) (string, error) {
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errNoLabel
	}
	return "", nil
}

func open(_ context.Context, u *url.URL, _ *backends.Config) (backends.Backend, error) {
	// The label is rebuilt from host and path so that userinfo never
	// reaches Location.
	loc := (&url.URL{Scheme: scheme, Host: u.Host, Path: u.Path, Opaque: u.Opaque}).String()
	if loc == "null:" {
		loc = "null://"
	}
	p := make([]byte, patternBytes)
	r := rand.New(rand.NewPCG(patternSeed, patternSeed))
	for i := 0; i < len(p); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			p[i+k] = byte(v >> (8 * k))
		}
	}
	return &store{location: loc, pattern: p}, nil
}

func (s *store) Properties() backends.Properties {
	return backends.Properties{Scheme: scheme, Location: s.location}
}

func (s *store) Close() error { return nil }

func (s *store) check(ctx context.Context, op, name string) error {
	if err := backends.CheckName(scheme, op, name); err != nil {
		return err
	}
	return backends.Wrap(scheme, op, name, ctx.Err())
}

// Create returns a writer that accepts every byte and keeps none.
func (s *store) Create(ctx context.Context, name string, _ int64) (backends.Writer, error) {
	if err := s.check(ctx, "create", name); err != nil {
		return nil, err
	}
	return discard{}, nil
}

// Put accepts data without looking at it.
func (s *store) Put(ctx context.Context, name string, _ []byte) (string, error) {
	return "", s.check(ctx, "put", name)
}

// Open returns a reader of exactly length bytes from the pattern, at off
// into it, whatever was written under name: the object is as long as the
// reader asks.
func (s *store) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := s.check(ctx, "open", name); err != nil {
		return nil, err
	}
	if length < 0 {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name, Err: errNoSize}
	}
	if off < 0 {
		return nil, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name, Err: errNegOff}
	}
	return &reader{pattern: s.pattern, pos: int(off % patternBytes), left: length}, nil
}

func (s *store) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := s.check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	return backends.Info{}, &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "stat", Name: name, Err: errNoStat}
}

// Delete succeeds: there is nothing to delete, and deleting what is gone
// leaves it as gone.
func (s *store) Delete(ctx context.Context, name string) error {
	return s.check(ctx, "delete", name)
}

// discard has no state, so a Create allocates nothing and a Write after
// Close is as harmless as any other.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }
func (discard) Abort() error                { return nil }

type reader struct {
	pattern []byte
	pos     int   // next byte of pattern
	left    int64 // bytes still to return
}

func (r *reader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.pattern[r.pos:])
		n += k
		r.pos = (r.pos + k) % patternBytes
	}
	r.left -= int64(n)
	return n, nil
}

func (r *reader) Close() error { return nil }
