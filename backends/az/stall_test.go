package az_test

import (
	"bytes"
	"io"
	"strings"
	"syscall"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/objstore"
	"mlps.dev/mlps/backends/servers"
)

// The watchdog is the object stores' own, not S3's: an Azure emulator that
// freezes mid-read fails the read as a stall too.
func TestFrozenStoreFailsTheRead(t *testing.T) {
	s := servers.Azurite(t)
	s.Container(t, "frozen")
	t.Setenv(accountEnv, s.Account)
	t.Setenv(keyEnv, s.Key)
	c := config(s, "az://frozen")
	c.StallTimeout, c.SplitBytes = "2s", 1<<30
	b, err := backends.OpenConfig(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := backends.Put(t.Context(), b, "big", bytes.Repeat([]byte("stalled?"), 40<<20/8)); err != nil {
		t.Fatal(err)
	}
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
	if err := syscall.Kill(-s.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-s.PID(), syscall.SIGCONT) })
	_, err = io.Copy(io.Discard, r)
	syscall.Kill(-s.PID(), syscall.SIGCONT)
	if !objstore.IsStall(err) || !strings.Contains(err.Error(), "no progress for 2s") || !backends.IsTransient(err) {
		t.Errorf("error %v (kind %v); want a transient stall naming stall_timeout", err, backends.KindOf(err))
	}
	if snap := st.Snapshot(); snap.Stalls < 1 || snap.Transient < snap.Stalls {
		t.Errorf("stats %+v, want the stalls counted as transient failures", snap)
	}
}
