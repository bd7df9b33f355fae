package mem_test

import (
	"io"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/backendtest"
	_ "mlps.dev/mlps/backends/mem"
)

func open(t *testing.T, uri string) backends.Backend {
	t.Helper()
	b, err := backends.Open(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return open(t, "mem://") })
}

// The file backend truncates in place, so this is mem's own promise, not
// the contract's.
func TestReaderKeepsContentAcrossOverwrite(t *testing.T) {
	b := open(t, "mem://x")
	defer b.Close()
	ctx := t.Context()
	write := func(s string) {
		w, err := b.Create(ctx, "o", -1)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, s)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("old content")
	r, err := b.Open(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	w, err := b.Create(ctx, "o", -1)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	if info, err := b.Stat(ctx, "o"); err != nil || info.Size != int64(len("old content")) {
		t.Errorf("before Close, Stat = %+v, %v; want the old 11-byte object", info, err)
	}
	w.Close()
	write("new")

	got, err := io.ReadAll(r)
	if err != nil || string(got) != "old content" {
		t.Errorf("reader opened before the overwrite read %q, %v; want %q", got, err, "old content")
	}
}

// mem takes no credentials: userinfo in its URI is refused, unshown.
func TestUserinfoRefused(t *testing.T) {
	b, err := backends.Open(t.Context(), "mem://user:secret@label/path")
	if err == nil {
		b.Close()
		t.Fatal("Open succeeded; want userinfo refused")
	}
	if msg := err.Error(); !strings.Contains(msg, "mem targets take no credentials") || strings.Contains(msg, "secret") {
		t.Errorf("error %q: want it to say mem takes no credentials, without the password", msg)
	}
}
