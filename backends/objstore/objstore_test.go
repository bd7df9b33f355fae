package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"mlps.dev/mlps/backends"
)

// object serves ranges of data as a store would: a range starting at or
// past the end fails with ErrPastEnd, one running past it is short.
func object(data []byte, fail int64) Getter {
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if off == fail {
			return nil, errors.New("boom")
		}
		if off >= int64(len(data)) {
			return nil, fmt.Errorf("%w: 416", ErrPastEnd)
		}
		return io.NopCloser(bytes.NewReader(data[off:min(off+n, int64(len(data)))])), nil
	}
}

func TestSplit(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, tc := range []struct {
		name               string
		off, length, chunk int64
		conc               int
		fail               int64
		want               []byte
		wantErr            string
	}{
		{"whole in chunks", 0, 1000, 64, 3, -1, data, ""},
		{"chunk divides", 0, 1000, 100, 4, -1, data, ""},
		{"middle", 123, 456, 50, 2, -1, data[123:579], ""},
		{"one chunk", 10, 20, 64, 4, -1, data[10:30], ""},
		{"past the end is short", 900, 500, 64, 3, -1, data[900:], ""},
		{"ends on a chunk boundary", 0, 2000, 500, 2, -1, data, ""},
		{"a failed chunk fails the read", 0, 1000, 100, 3, 300, nil, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Split(t.Context(), object(data, tc.fail), tc.off, tc.length, tc.chunk, tc.conc)
			got, err := io.ReadAll(r)
			if cerr := r.Close(); cerr != nil {
				t.Errorf("Close: %v", cerr)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("read %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

// Closing a split reader early stops its fetches and returns.
func TestSplitCloseEarly(t *testing.T) {
	data := make([]byte, 1<<20)
	r := Split(t.Context(), object(data, -1), 0, int64(len(data)), 1024, 4)
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEndpoints(t *testing.T) {
	urls := []string{"http://a", "http://b", "http://c"}
	pick := func(e *Endpoints, ctx context.Context, n int, hold bool) []int {
		var out []int
		for range n {
			i, done := e.Pick(ctx)
			out = append(out, i)
			if !hold {
				done()
			}
		}
		return out
	}
	rr, _ := NewEndpoints(urls, "")
	if got := fmt.Sprint(pick(rr, t.Context(), 6, false)); got != "[0 1 2 0 1 2]" {
		t.Errorf("round robin picked %s", got)
	}
	rank, _ := NewEndpoints(urls, "rank")
	for r, want := range []int{0, 1, 2, 0, 1} {
		if got := pick(rank, backends.WithRank(t.Context(), r), 3, false); fmt.Sprint(got) != fmt.Sprint([]int{want, want, want}) {
			t.Errorf("rank %d picked %v, want endpoint %d every time", r, got, want)
		}
	}
	lo, _ := NewEndpoints(urls, "least-outstanding")
	held := pick(lo, t.Context(), 3, true) // one in flight on each
	seen := map[int]bool{}
	for _, i := range held {
		seen[i] = true
	}
	if len(seen) != 3 {
		t.Errorf("least outstanding put three requests on %v", held)
	}
	if _, err := NewEndpoints(urls, "random"); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}
