package objstore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
)

func TestStallTimeout(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"", DefaultStallTimeout, ""},
		{"2s", 2 * time.Second, ""},
		{"1.5m", 90 * time.Second, ""},
		{"100ms", 100 * time.Millisecond, ""},
		{"1h", time.Hour, ""},
		{"99ms", 0, `stall_timeout: "99ms": want a duration from 100ms to 1h0m0s such as "30s"`},
		{"2h", 0, `stall_timeout: "2h": want a duration from 100ms to 1h0m0s`},
		{"forever", 0, `stall_timeout: "forever": want a duration`},
		{"-1s", 0, `stall_timeout: "-1s": want a duration`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := StallTimeout(&backends.Config{StallTimeout: tc.in})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// A stall is a transient failure to every classifier, whatever wraps it.
func TestStallErrorIsTransient(t *testing.T) {
	err := &backends.Error{Scheme: "s3", Op: "open", Name: "k",
		Err: &StallError{After: 2 * time.Second, Endpoint: "http://127.0.0.1:9000", Doing: "reading", Path: "/b/k"}}
	if !backends.IsTransient(err) || !IsStall(err) {
		t.Errorf("%v: kind %v, IsStall %v; want transient and a stall", err, backends.KindOf(err), IsStall(err))
	}
	want := "stalled: no progress for 2s from http://127.0.0.1:9000 reading /b/k (the target's stall_timeout)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q, want it to hold %q", err, want)
	}
}

// BenchmarkWatchedRead is the watchdog's cost on the read path: 64 MiB
// read in 32 KiB pieces through a watched body, and through the bare
// body as the reference, so the ratio of the two is the overhead.
func BenchmarkWatchedRead(b *testing.B) {
	data := make([]byte, 64<<20)
	buf := make([]byte, 32<<10)
	for _, watched := range []bool{false, true} {
		name := "bare"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var r io.ReadCloser = io.NopCloser(bytes.NewReader(data))
				if watched {
					req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9000/b/k", nil)
					w, _ := newWatch(context.Background(), req, time.Minute, &backends.Stats{})
					w.pause()
					r = &recvBody{ReadCloser: r, w: w}
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
				r.Close()
			}
		})
	}
}
