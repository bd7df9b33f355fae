package servers

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// A tmpfs store left by a test process that is gone is removed; one of a
// live process is kept.
func TestSweepShmRemovesOnlyDeadOwners(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("no /dev/shm on this host")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("/dev/shm/mlps-minio-%d-test", gone.Process.Pid)
	live := fmt.Sprintf("/dev/shm/mlps-minio-%d-test", os.Getppid())
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	sweepShm()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s of an ended process survived the sweep (%v)", dead, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s of a live process was removed: %v", live, err)
	}
}
