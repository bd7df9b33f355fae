package backends

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
)

// Kind classifies a backend error by what the caller can do about it, so
// that code above the backends can tell a missing object from a refused
// key, a store that is struggling from a request that is wrong, without
// knowing which backend or SDK produced the error: open-time checks turn
// it into advice, errors.Is(err, fs.ErrNotExist) holds for every backend,
// and the conformance suite holds backends to the contract through it.
//
// No layer of mlps retries by Kind. Each object-store SDK retries with its
// own retryer, configured from objstore.MaxAttempts and MaxBackoff, before
// an error reaches the caller: Transient says the failure was of a passing
// sort, and for an object store that the SDK's attempts ran out on it.
type Kind int

const (
	// Unknown means the error could not be classified; treat it as fatal
	// but do not claim it is permanent.
	Unknown Kind = iota
	// NotExist means the object is not there.
	NotExist
	// Permission means the credentials or file modes forbid the operation.
	Permission
	// Transient means a retry may succeed: throttling, timeouts, resets.
	Transient
	// Permanent means a retry of the same request will fail the same way.
	Permanent
	// Canceled means the operation's context was canceled or timed out.
	Canceled
)

var kindNames = [...]string{
	Unknown:    "unknown",
	NotExist:   "not exist",
	Permission: "permission",
	Transient:  "transient",
	Permanent:  "permanent",
	Canceled:   "canceled",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a classified backend error. Backends return it (or wrap it) so
// that KindOf works on every error they produce, whatever its cause.
type Error struct {
	Kind Kind
	// Scheme is the backend's URI scheme ("file"); it prefixes the message
	// so that a log line says which target failed.
	Scheme string
	// Op is the operation: "create", "open", "stat", "write", ...
	Op string
	// Name is the object name as the caller gave it, never a URI with
	// credentials.
	Name string
	// Err is the underlying cause; it may be nil.
	Err error
}

// Error formats as `file: open "train/x.npz": not exist: <cause>`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Scheme != "" {
		b.WriteString(e.Scheme)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	if e.Name != "" {
		if e.Op != "" {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(e.Name))
	}
	sep := func() {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
	}
	// "unknown" would only add noise in front of the cause.
	if e.Kind != Unknown || e.Err == nil {
		sep()
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		sep()
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, fs.ErrNotExist) and fs.ErrPermission hold for a
// classified error even when its cause is not a file system error (an HTTP
// 404 from an object store, say), so code written against io/fs still works.
func (e *Error) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Kind == NotExist
	case fs.ErrPermission:
		return e.Kind == Permission
	}
	return false
}

// Wrap returns err as an *Error classified by KindOf, or nil when err is nil.
func Wrap(scheme, op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindOf(err), Scheme: scheme, Op: op, Name: name, Err: err}
}

// KindOf classifies err. The outermost *Error with a known Kind decides;
// otherwise the standard library's errors are mapped: fs.ErrNotExist,
// fs.ErrPermission, context errors, timeouts and the errno values whose
// meaning does not depend on the backend.
func KindOf(err error) Kind {
	if err == nil {
		return Unknown
	}
	for e := err; e != nil; {
		var be *Error
		if !errors.As(e, &be) {
			break
		}
		if be.Kind != Unknown {
			return be.Kind
		}
		e = be.Err
	}
	return classify(err)
}

// IsNotExist reports whether err says the object does not exist.
func IsNotExist(err error) bool { return KindOf(err) == NotExist }

// IsPermanent reports whether retrying the operation cannot help: the
// object is missing, access is denied, or the request itself is wrong.
func IsPermanent(err error) bool {
	switch KindOf(err) {
	case NotExist, Permission, Permanent:
		return true
	}
	return false
}

// IsTransient reports whether retrying the operation may succeed.
func IsTransient(err error) bool { return KindOf(err) == Transient }

// permanentErrno are conditions a retry does not fix: the device is full or
// read-only, or the request does not fit the file system.
var permanentErrno = []syscall.Errno{
	syscall.ENOSPC, syscall.EROFS, syscall.EDQUOT, syscall.EFBIG,
	syscall.ENAMETOOLONG, syscall.EISDIR, syscall.ENOTDIR, syscall.EINVAL,
	syscall.EEXIST, syscall.ENOTEMPTY, syscall.EXDEV, syscall.ELOOP,
}

// transientErrno are conditions that pass: interrupted or would-block
// calls, network timeouts and resets, and descriptor or buffer exhaustion
// that other workers release.
var transientErrno = []syscall.Errno{
	syscall.EAGAIN, syscall.EINTR, syscall.ETIMEDOUT, syscall.ECONNRESET,
	syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN,
	syscall.EBUSY, syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
}

func classify(err error) Kind {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Canceled
	case errors.Is(err, fs.ErrNotExist):
		return NotExist
	case errors.Is(err, fs.ErrPermission):
		return Permission
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for _, e := range permanentErrno {
			if errno == e {
				return Permanent
			}
		}
		for _, e := range transientErrno {
			if errno == e {
				return Transient
			}
		}
	}
	// net.Error, os.ErrDeadlineExceeded and most SDK timeouts say so
	// through this method.
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return Transient
	}
	return Unknown
}
