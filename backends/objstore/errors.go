package objstore

import (
	"fmt"
	"net/http"

	"mlps.dev/mlps/backends"
)

// KindOfStatus classifies an HTTP response status, the same way for every
// object store and for the transport's count of transient failures, so
// that one response means one thing whichever SDK received it. Protocol
// error codes (S3's SlowDown, NoSuchKey) refine it in each backend.
//
// A status below 400, or not a status at all (0, ≥ 600), is Unknown:
// whatever error came with it decides.
func KindOfStatus(status int) backends.Kind {
	switch status {
	case http.StatusNotFound:
		return backends.NotExist
	case http.StatusUnauthorized, http.StatusForbidden:
		return backends.Permission
	// 408 is the server giving up waiting for the request: a slow client
	// or network, which the next attempt may not meet.
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return backends.Transient
	// These two say the server cannot serve this request (its method or
	// headers, its protocol version) at all, not that it cannot now: the
	// same request fails the same way, so retrying only delays the error.
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return backends.Permanent
	}
	switch {
	case status >= 400 && status < 500:
		// The request is wrong: a retry sends the same wrong request.
		return backends.Permanent
	case status >= 500 && status < 600:
		// The server failed (500, 502, 503, 504 and the rest): another
		// attempt, perhaps on another server behind the same name, may not.
		return backends.Transient
	}
	return backends.Unknown
}

// PastEnd is the error of an Open whose offset lies past the end of a
// size-byte object: permanent, since the object will be as long on a retry.
//
// It does not wrap ErrPastEnd, which tells Split that a chunk lies beyond
// the end and so reads as a short object; the contract wants an error.
func PastEnd(scheme, name string, off, size int64) error {
	return &backends.Error{Kind: backends.Permanent, Scheme: scheme, Op: "open", Name: name,
		Err: fmt.Errorf("offset %d is past the end of the %d-byte object", off, size)}
}
