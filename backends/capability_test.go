package backends

import (
	"context"
	"io"
	"strings"
	"testing"
)

// evicting has one optional capability; wrapper decorates a Backend the
// way a retry or rate-limit decorator will, and wrappedWriter a Writer.
type evicting struct{ Backend }

func (evicting) Evict(context.Context, string) error { return nil }

type wrapper struct {
	Backend
	inner Backend
}

func (w wrapper) Unwrap() Backend { return w.inner }

func wrap(b Backend) wrapper { return wrapper{inner: b} }

type endpointWriter struct{ Writer }

func (endpointWriter) Endpoint() string { return "http://127.0.0.1:9000" }

type wrappedWriter struct{ inner Writer }

func (w wrappedWriter) Unwrap() Writer { return w.inner }

type wrappedReader struct{ inner io.ReadCloser }

func (w wrappedReader) Unwrap() io.ReadCloser { return w.inner }

type endpointReader struct{ io.ReadCloser }

func (endpointReader) Endpoint() string { return "http://127.0.0.1:9001" }

func TestAs(t *testing.T) {
	var direct evicting
	if _, ok := As[Evicter](direct); !ok {
		t.Error("As misses a capability of the backend itself")
	}
	if _, ok := As[Evicter](wrap(wrap(direct))); !ok {
		t.Error("As misses a capability behind two decorators")
	}
	if _, ok := As[DirectOpener](wrap(direct)); ok {
		t.Error("As finds a capability nothing in the chain has")
	}
	if _, ok := As[Evicter](wrap(nil)); ok {
		t.Error("As finds a capability behind a decorator of nothing")
	}
	if _, ok := As[Evicter](nil); ok {
		t.Error("As finds a capability in nil")
	}
	if got := EndpointOf(wrappedWriter{endpointWriter{}}); got != "http://127.0.0.1:9000" {
		t.Errorf("EndpointOf(wrapped writer) = %q", got)
	}
	if got := EndpointOf(wrappedReader{endpointReader{io.NopCloser(strings.NewReader(""))}}); got != "http://127.0.0.1:9001" {
		t.Errorf("EndpointOf(wrapped reader) = %q", got)
	}
	if got := EndpointOf(wrappedReader{nil}); got != "" {
		t.Errorf("EndpointOf(reader wrapping nothing) = %q", got)
	}
}
