package s3_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
	"mlps.dev/mlps/backends/servers"
)

// freeze stops every process of the server's group, as a store that hangs
// does: connections stay open and nothing moves. The returned thaw (also
// run at cleanup) lets it go on.
func freeze(t *testing.T, srv *servers.MinIOServer) (thaw func()) {
	t.Helper()
	// Another server may have bound the port since the start.
	if err := srv.OwnsPort(servers.PortOf(srv.Addr)); err != nil {
		t.Fatalf("cannot freeze the store alone: %v", err)
	}
	if err := syscall.Kill(-srv.PID(), syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP minio: %v", err)
	}
	thaw = func() { syscall.Kill(-srv.PID(), syscall.SIGCONT) }
	t.Cleanup(thaw)
	return thaw
}

// An object larger than the loopback socket buffers, so that a reader
// that has begun finds the rest still on the server when it freezes.
const stallObject = 40 << 20

// stallBackend opens a bucket of its own on srv with stall_timeout, and
// stores one object of stallObject bytes in it.
func stallBackend(t *testing.T, srv *servers.MinIOServer, client, stall string) (backends.Backend, []byte) {
	t.Helper()
	bucket := "stall-" + client + "-" + strings.ReplaceAll(stall, ".", "")
	srv.Bucket(t, bucket)
	c := config(srv.Endpoint, bucket, client)
	c.StallTimeout = stall
	c.SplitBytes = 1 << 30 // one GET, so the freeze meets one request
	b, err := backends.OpenConfig(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	data := bytes.Repeat([]byte("stalled?"), stallObject/8)
	if _, err := backends.Put(t.Context(), b, "big", data); err != nil {
		t.Fatal(err)
	}
	return b, data
}

// A store that freezes mid-read fails the read with a stall error once
// the target's stall_timeout has passed with no byte, through both
// clients, instead of hanging the run; the stall is counted.
func TestFrozenStoreFailsTheRead(t *testing.T) {
	// Each freeze test has a server of its own, so they run in parallel
	// and freeze no other test's store.
	t.Parallel()
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			b, _ := stallBackend(t, srv, client, "2s")
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			r, err := b.Open(ctx, "big", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			thaw := freeze(t, srv)
			start := time.Now()
			n, err := io.Copy(io.Discard, r)
			took := time.Since(start)
			thaw()
			t.Logf("read %d more bytes, then after %v: %v", n, took, err)
			if err == nil {
				t.Fatal("the read of a frozen store succeeded")
			}
			if !objstore.IsStall(err) || !strings.Contains(err.Error(), "no progress for 2s") ||
				!strings.Contains(err.Error(), srv.Endpoint) || !strings.Contains(err.Error(), "big") {
				t.Errorf("error %q does not name the stall, its endpoint and its object", err)
			}
			if !backends.IsTransient(err) {
				t.Errorf("a stall is %v, want transient", backends.KindOf(err))
			}
			if s := st.Snapshot(); s.Stalls != 1 || s.Transient < 1 {
				t.Errorf("stats %+v, want one stall counted as a transient failure", s)
			}
			// Not a timing check: a bound fifteen times the timeout only
			// tells a stall error from a hang that something else ended.
			if took > 30*time.Second {
				t.Errorf("the stall took %v to end the read", took)
			}
		})
	}
}

// A store frozen before the request is answered fails each attempt as a
// stall; the SDK retries them, and the retries and stalls are counted.
func TestFrozenStoreFailsEveryAttempt(t *testing.T) {
	t.Parallel()
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			b, _ := stallBackend(t, srv, client, "1s")
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			thaw := freeze(t, srv)
			r, err := b.Open(ctx, "big", 0, -1)
			// Opening the target checks the bucket: that stalls too.
			c := config(srv.Endpoint, "stall-"+client+"-1s", client)
			c.StallTimeout = "1s"
			_, oerr := backends.OpenConfig(t.Context(), c)
			thaw()
			if oerr == nil || !strings.Contains(oerr.Error(), "answered nothing about bucket") ||
				!strings.Contains(oerr.Error(), "stalled (no progress for the target's stall_timeout)") {
				t.Errorf("open of a frozen store: %v; want it to say the store stalled", oerr)
			}
			if err == nil {
				r.Close()
				t.Fatal("open of a frozen store succeeded")
			}
			if !objstore.IsStall(err) || !strings.Contains(err.Error(), "no progress for 1s") {
				t.Errorf("error %q does not name the stall", err)
			}
			s := st.Snapshot()
			t.Logf("%v; stats %+v", err, s)
			if s.Stalls < 2 || s.Retries < 1 || s.Retries >= s.Requests || s.Transient < s.Stalls {
				t.Errorf("stats %+v, want each attempt a stall, and the repeats counted as retries", s)
			}
		})
	}
}

// A freeze shorter than stall_timeout does not fail the read: the bytes
// all arrive, no stall is counted, and the request counts as slow, which
// the run's summary reports.
func TestShortFreezeIsSlowNotStalled(t *testing.T) {
	t.Parallel()
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			b, data := stallBackend(t, srv, client, "8s")
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			r, err := b.Open(ctx, "big", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			head := make([]byte, 1<<20)
			if _, err := io.ReadFull(r, head); err != nil {
				t.Fatal(err)
			}
			// Frozen for longer than a quarter of the timeout (2s), far
			// shorter than the timeout: a loaded machine stretches the
			// wait, which only makes it slower.
			thaw := freeze(t, srv)
			thawed := make(chan struct{})
			go func() { time.Sleep(3 * time.Second); thaw(); close(thawed) }()
			rest, err := io.ReadAll(r)
			<-thawed
			if err != nil {
				t.Fatalf("read through a short freeze: %v", err)
			}
			if !bytes.Equal(append(head, rest...), data) {
				t.Fatalf("read %d bytes, not the %d stored", len(head)+len(rest), len(data))
			}
			s := st.Snapshot()
			// At least one: a loaded machine may make another request slow.
			if s.Stalls != 0 || s.Slow < 1 || !s.Troubled() {
				t.Errorf("stats %+v, want no stall and a slow request", s)
			}
			var se *objstore.StallError
			if errors.As(err, &se) {
				t.Errorf("stall error %v", se)
			}
		})
	}
}

// A writer frozen out by the store fails as a stall too, through both
// clients, whether the freeze meets it sending or awaiting the answer.
func TestFrozenStoreFailsTheWrite(t *testing.T) {
	t.Parallel()
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			b, _ := stallBackend(t, srv, client, "1s")
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			thaw := freeze(t, srv)
			_, err := backends.Put(ctx, b, "written", bytes.Repeat([]byte("x"), 4<<20))
			thaw()
			if !objstore.IsStall(err) || !strings.Contains(err.Error(), "no progress for 1s") {
				t.Errorf("error %v; want a stall", err)
			}
			if s := st.Snapshot(); s.Stalls < 1 {
				t.Errorf("stats %+v, want the stalls counted", s)
			}
		})
	}
}

// The clock runs only while the store is the one to move: a caller that
// holds a body open and reads nothing for longer than stall_timeout (a
// stage computing, a rank at a barrier) is not a stalled store.
func TestIdleCallerIsNotAStall(t *testing.T) {
	t.Parallel()
	srv := servers.MinIO(t)
	for _, client := range []string{"aws", "minio"} {
		t.Run(client, func(t *testing.T) {
			// 5 s: a loaded machine's MinIO may pause for seconds between
			// bytes, and that must not be what this test sees as a stall.
			b, data := stallBackend(t, srv, client, "5s")
			var st backends.Stats
			ctx := backends.WithStats(t.Context(), &st)
			r, err := b.Open(ctx, "big", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			time.Sleep(6 * time.Second) // before the first Read
			head := make([]byte, 1<<20)
			if _, err := io.ReadFull(r, head); err != nil {
				t.Fatalf("read after idling: %v", err)
			}
			time.Sleep(6 * time.Second) // between Reads
			rest, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(append(head, rest...), data) {
				t.Fatalf("read %d bytes after idling: %v", len(head)+len(rest), err)
			}
			// A writer whose caller pauses mid-object, longer than the
			// timeout, while its upload streams.
			w, err := b.Create(ctx, "paused", -1)
			if err != nil {
				t.Fatal(err)
			}
			chunk := bytes.Repeat([]byte("p"), 3<<20)
			for i := range 3 {
				if _, err := w.Write(chunk); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				time.Sleep(3500 * time.Millisecond)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close after pauses: %v", err)
			}
			if s := st.Snapshot(); s.Stalls != 0 {
				t.Errorf("stats %+v: an idle caller was taken for a stalled store", s)
			}
		})
	}
}
