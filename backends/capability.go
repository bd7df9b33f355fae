package backends

import (
	"context"
	"io"
)

// Optional capabilities. A backend, or a reader or writer it returns, may
// implement any of the interfaces below; code that wants one asks As,
// never a type assertion, so that a capability stays visible through the
// decorators (retry, rate limit, fault injection) that wrap a backend and
// expose what they wrap with an Unwrap method.

// Unwrapper is implemented by a decorator of a Backend: Unwrap returns
// the backend it wraps, whose capabilities As then finds.
type Unwrapper interface {
	Unwrap() Backend
}

// As finds the capability T in x (a Backend, a Writer or a reader one
// returned) or in what x wraps: it tries x, then follows Unwrap methods
// that return a Backend, a Writer or an io.ReadCloser until one has T.
func As[T any](x any) (T, bool) {
	for x != nil {
		if c, ok := x.(T); ok {
			return c, true
		}
		switch u := x.(type) {
		case Unwrapper:
			x = nilIfNil(u.Unwrap())
		case interface{ Unwrap() Writer }:
			x = nilIfNil(u.Unwrap())
		case interface{ Unwrap() io.ReadCloser }:
			x = nilIfNil(u.Unwrap())
		default:
			x = nil
		}
	}
	var zero T
	return zero, false
}

// nilIfNil turns a nil interface of any type into a nil any, which ends
// As's walk.
func nilIfNil[I comparable](i I) any {
	var zero I
	if i == zero {
		return nil
	}
	return i
}

// DirectOpener is implemented by backends that can read around the host's
// page cache (O_DIRECT), as DLIO's reader.odirect does. OpenDirect has
// Open's contract; reads are fastest into buffers from AlignedBuffer.
type DirectOpener interface {
	OpenDirect(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
}

// Syncer is implemented by writers whose Close leaves data in a volatile
// cache (a file's page cache): Sync makes what was written so far durable,
// as fsync does. A writer without it is durable once Close returns.
type Syncer interface {
	Sync() error
}

// DirectCreator is implemented by backends that can write around the
// host's page cache (O_DIRECT). CreateDirect has Create's contract; writes
// are fastest from buffers from AlignedBuffer in multiples of DirectAlign,
// and only the last write of a file may be shorter.
type DirectCreator interface {
	CreateDirect(ctx context.Context, name string, size int64) (Writer, error)
}

// Evicter is implemented by backends whose host caches their objects
// (files in the page cache): Evict writes name back and drops it from the
// cache, so the next read comes from storage; the content is unchanged.
// A name that is not an object (missing, below an object, or a prefix of
// names) is an error for which IsNotExist is true, as for Stat: a caller
// that evicts what it is about to read learns of a missing object at once.
type Evicter interface {
	Evict(ctx context.Context, name string) error
}

// Spacer is implemented by backends that can tell the free space of the
// storage below their root (a file system): Free is the bytes an
// unprivileged writer may still write there.
type Spacer interface {
	Free(ctx context.Context) (int64, error)
}

// Putter is implemented by backends that can store an object the caller
// holds whole in memory without first copying it into a buffer of their
// own, as a Writer must (it cannot keep the slices it is given, and an
// object store needs the bytes again to retry a request). Put has the
// contract of Create, Write and Close in one call; it returns the
// endpoint that served the request ("" when there is none).
type Putter interface {
	Put(ctx context.Context, name string, data []byte) (endpoint string, err error)
}

// Put stores data as name through b's Putter, or else with Create, one
// Write and Close.
func Put(ctx context.Context, b Backend, name string, data []byte) (endpoint string, err error) {
	if p, ok := As[Putter](b); ok {
		return p.Put(ctx, name, data)
	}
	w, err := b.Create(ctx, name, int64(len(data)))
	if err != nil {
		return "", err
	}
	endpoint = EndpointOf(w)
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return endpoint, err
	}
	return endpoint, w.Close()
}

// Endpointer is implemented by readers and writers of backends that spread
// requests over several endpoints: Endpoint is the base URL that served
// the operation, for per-endpoint statistics.
type Endpointer interface {
	Endpoint() string
}

// EndpointOf returns the endpoint of a reader or writer, or "".
func EndpointOf(x any) string {
	if e, ok := As[Endpointer](x); ok {
		return e.Endpoint()
	}
	return ""
}
