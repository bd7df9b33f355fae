package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
)

// statusKinds is the whole mapping, so that a change to any status is a
// deliberate change to this table.
var statusKinds = []struct {
	status int
	want   backends.Kind
}{
	{0, backends.Unknown}, // no response at all: the transport error decides
	{http.StatusOK, backends.Unknown},
	{http.StatusPartialContent, backends.Unknown},
	{http.StatusMovedPermanently, backends.Unknown},
	{http.StatusNotModified, backends.Unknown},
	{http.StatusBadRequest, backends.Permanent},
	{http.StatusUnauthorized, backends.Permission},
	{http.StatusForbidden, backends.Permission},
	{http.StatusNotFound, backends.NotExist},
	{http.StatusMethodNotAllowed, backends.Permanent},
	{http.StatusRequestTimeout, backends.Transient},
	{http.StatusConflict, backends.Permanent},
	{http.StatusPreconditionFailed, backends.Permanent},
	{http.StatusRequestedRangeNotSatisfiable, backends.Permanent},
	{http.StatusTooManyRequests, backends.Transient},
	{499, backends.Permanent},
	{http.StatusInternalServerError, backends.Transient},
	{http.StatusNotImplemented, backends.Permanent},
	{http.StatusBadGateway, backends.Transient},
	{http.StatusServiceUnavailable, backends.Transient},
	{http.StatusGatewayTimeout, backends.Transient},
	{http.StatusHTTPVersionNotSupported, backends.Permanent},
	{http.StatusInsufficientStorage, backends.Transient},
	{599, backends.Transient},
	{600, backends.Unknown},
}

func TestKindOfStatus(t *testing.T) {
	for _, tc := range statusKinds {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			if got := KindOfStatus(tc.status); got != tc.want {
				t.Errorf("KindOfStatus(%d) = %v, want %v", tc.status, got, tc.want)
			}
		})
	}
}

// The counting transport counts as transient exactly the responses the
// mapping calls transient.
func TestTransportCountsTransientByKindOfStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	hc, err := HTTPClient(&backends.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range statusKinds {
		if tc.status < 200 || tc.status > 599 || tc.status/100 == 3 {
			continue // not a status a server answers a plain GET with
		}
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			var st backends.Stats
			req, err := http.NewRequestWithContext(backends.WithStats(t.Context(), &st), http.MethodGet,
				fmt.Sprintf("%s/%d", srv.URL, tc.status), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := int64(0)
			if tc.want == backends.Transient {
				want = 1
			}
			if s := st.Snapshot(); s.Requests != 1 || s.Transient != want {
				t.Errorf("status %d counted as %+v, want 1 request and %d transient", tc.status, s, want)
			}
		})
	}
}

func TestPastEnd(t *testing.T) {
	err := PastEnd("s3", "train/x.npz", 1001, 1000)
	if k := backends.KindOf(err); k != backends.Permanent {
		t.Errorf("kind %v, want permanent: a retry reads the same object size", k)
	}
	// ErrPastEnd tells Split that a chunk lies beyond the end, which it
	// reads as a short object; the contract's error must not be read so.
	if errors.Is(err, ErrPastEnd) {
		t.Error("PastEnd's error wraps ErrPastEnd, so Split would read it as the end of the object")
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("PastEnd's error says the object does not exist")
	}
	want := `s3: open "train/x.npz": permanent: offset 1001 is past the end of the 1000-byte object`
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}
