// Package backends defines the one interface every storage backend of mlps
// implements, the classification of backend errors, and the registry that
// maps a target URI's scheme to the backend that serves it.
//
// The interface is deliberately small: stages stream bytes in and out of
// named objects and never list anything, because every name a stage touches
// is computed from the plan.
package backends

import (
	"context"
	"io"
	"unsafe"
)

// Backend stores named byte streams (objects, or files) below one root.
//
// Names are relative, slash-separated paths such as "train/img_007_of_64.npz"
// (see ValidName); they never start with "/" and never contain "." or ".."
// elements. A Backend is safe for concurrent use by many goroutines.
type Backend interface {
	// Create starts writing the object name, replacing any object of that
	// name. size is the number of bytes the caller will write, or -1 when it
	// is not known; a backend may use it to choose between a single and a
	// multipart upload, and must not fail when fewer or more bytes arrive
	// than announced.
	//
	// The content is complete and durable to the backend's usual standard
	// once Writer.Close returns nil. After Abort, or a Close that failed,
	// the content being written never becomes visible under name; whether
	// an older object of that name survives depends on the backend (a file
	// was truncated at Create, an object store keeps the old object).
	// Before Close, readers may or may not see partial content depending on
	// the backend.
	Create(ctx context.Context, name string, size int64) (Writer, error)

	// Open returns a reader of length bytes of name starting at byte off;
	// length < 0 means up to the end of the object. When off+length runs past
	// the end, the reader returns the bytes that exist and then io.EOF: the
	// caller compares the count it got with the count it planned. off past
	// the end of the object is a Permanent error: the object will be as
	// long when the request is repeated.
	//
	// The reader must be closed. Reads may be served lazily, so an error may
	// surface from Read rather than from Open.
	Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)

	// Stat returns the size of name; an error for which IsNotExist is true
	// when there is no such object.
	Stat(ctx context.Context, name string) (Info, error)

	// Delete removes name; an error for which IsNotExist is true when there
	// is no such object.
	Delete(ctx context.Context, name string) error

	// Properties describes the backend; it never contains a secret.
	Properties() Properties

	// Close releases the backend's resources. A backend that owns its root
	// (such as a temporary directory) removes it here.
	Close() error
}

// Writer receives the content of one object being created.
type Writer interface {
	io.Writer
	// Close commits the content written so far.
	Close() error
	// Abort discards the content; calling it after Close is a no-op.
	Abort() error
}

// Info describes a stored object.
type Info struct {
	Name string
	Size int64
}

// Properties are the facts about a backend that stages and results need.
type Properties struct {
	// Scheme is the URI scheme the backend was opened with ("file", "mem").
	Scheme string
	// Location says where the data lives, as a URI without credentials.
	Location string
}

// DirectAlign is the alignment of O_DIRECT offsets, lengths and buffers:
// the largest logical block size in common use.
const DirectAlign = 4096

// AlignedBuffer returns n bytes (rounded up to DirectAlign) starting at a
// DirectAlign-aligned address, so O_DIRECT reads can land in it directly.
func AlignedBuffer(n int) []byte {
	n = (n + DirectAlign - 1) / DirectAlign * DirectAlign
	b := make([]byte, n+DirectAlign)
	skip := (DirectAlign - int(uintptr(unsafe.Pointer(&b[0]))%DirectAlign)) % DirectAlign
	return b[skip : skip+n : skip+n]
}
