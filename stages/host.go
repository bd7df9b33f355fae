package stages

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// HostMemoryBytes reads MemTotal from /proc/meminfo; 0 where there is
// none. Results record it, and training reads compare the dataset with it
// to warn that the page cache could serve the reads.
func HostMemoryBytes() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Host is what stages know of the machine a run is planned for and runs
// on.
type Host struct {
	Hostname string `json:"hostname"`
	CPUs     int    `json:"cpus"`
	// MemoryBytes is the host's memory; 0 where it cannot be read.
	MemoryBytes int64 `json:"memory_bytes"`
}

// ThisHost describes the machine this process runs on.
func ThisHost() Host {
	name, _ := os.Hostname()
	return Host{Hostname: name, CPUs: runtime.NumCPU(), MemoryBytes: HostMemoryBytes()}
}
