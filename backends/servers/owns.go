package servers

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// OwnsPort reports, as an error, when a socket listening on port belongs
// to another process than p. FreePort's port may be taken by another
// test's server before p binds it, and servers that bind with SO_REUSEPORT
// (MinIO does) then share it: connections go to either, so a test that
// stops p would find the port still answering, now and then. Linux only:
// elsewhere it reports nothing.
func (p *Process) OwnsPort(port int) error {
	mine := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID()))
	if err != nil {
		return nil // no procfs: nothing to tell
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", p.PID()), fd.Name())); err == nil {
			if ino, ok := strings.CutPrefix(l, "socket:["); ok {
				mine[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	want := fmt.Sprintf(":%04X", port)
	listening := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) {
				continue
			}
			listening++
			if !mine[fields[9]] {
				f.Close()
				return fmt.Errorf("port %d has a listener (socket inode %s) of another process than %s %d", port, fields[9], p.Name, p.PID())
			}
		}
		f.Close()
	}
	if listening == 0 {
		return fmt.Errorf("%s %d listens on no socket of port %d", p.Name, p.PID(), port)
	}
	return nil
}

// PortOf is the port of an address "host:port", or 0.
func PortOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	n, _ := strconv.Atoi(addr[i+1:])
	return n
}

// owned starts a server with start until one owns the port its address
// names. FreePort's port may be taken by another test's server before
// this one binds it; a server that binds with SO_REUSEPORT (MinIO) would
// then share it silently, and one that does not would fail to start. A
// test then reaches its own server and no other, which a test that
// freezes or stops its server depends on.
func owned[S interface {
	OwnsPort(int) error
	Stop()
}](t testing.TB, name string, start func() (S, string)) S {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, addr := start()
		err := s.OwnsPort(PortOf(addr))
		if err == nil {
			return s
		}
		s.Stop()
		if attempt == 5 {
			t.Fatalf("%s: %v, five times", name, err)
		}
		t.Logf("%s: %v; starting another", name, err)
	}
}
