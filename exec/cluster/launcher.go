// Package cluster runs one workload across many processes and hosts
// without an MPI library: each process learns its place (its process
// rank, the number of processes) from the launcher that started it
// (mpirun, srun, a Kubernetes Indexed Job) or from flags, and process 0
// serves a small gRPC coordinator for rendezvous, barriers, clock offsets
// and the gathering of per-rank aggregates. A process that dies, or a
// coordinator that does, ends the run on every process.
package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Place is where this process stands in the run: process Proc of Procs,
// LocalProc of those on its host, as the launcher numbered them, and the
// coordinator's address.
type Place struct {
	Proc, Procs, LocalProc int
	// Launcher names where the numbers came from: "openmpi", "pmi",
	// "slurm", "kubernetes" or "flags".
	Launcher string
	// Coordinator is host:port of process 0's coordinator.
	Coordinator string
}

// Flags are the command line's say in a Place: --rank, --world and
// --coordinator. Rank and World are -1 when not given.
type Flags struct {
	Rank, World int
	Coordinator string
}

// launchers are the environment variables each launcher sets, in the
// order they are looked for: the first whose rank variable is set wins.
var launchers = []struct {
	name, rank, size, local string
}{
	{"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
	{"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
	{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
	// An Indexed Job numbers its pods; the world size is the Job's
	// completions, which the pod does not see: --world or MLPS_WORLD.
	{"kubernetes", "JOB_COMPLETION_INDEX", "MLPS_WORLD", ""},
}

// maxProcs bounds the processes of one run.
const maxProcs = 1 << 16

// PlaceOf works out this process's Place from the launcher's
// environment (getenv) and the flags, the flags winning where both say.
// The coordinator comes from --coordinator or MLPS_COORDINATOR. ok is
// false for a process that no launcher started and no flag placed: a
// run of one process.
func PlaceOf(getenv func(string) string, f Flags) (p Place, ok bool, err error) {
	p = Place{Proc: -1, Procs: -1}
	for _, l := range launchers {
		v := getenv(l.rank)
		if v == "" {
			continue
		}
		p.Launcher = l.name
		if p.Proc, err = atoi(l.rank, v); err != nil {
			return p, false, err
		}
		if s := getenv(l.size); s != "" {
			if p.Procs, err = atoi(l.size, s); err != nil {
				return p, false, err
			}
		}
		if l.local != "" {
			if s := getenv(l.local); s != "" {
				if p.LocalProc, err = atoi(l.local, s); err != nil {
					return p, false, err
				}
			}
		}
		break
	}
	if f.Rank >= 0 {
		p.Proc, p.Launcher = f.Rank, "flags"
	}
	if f.World >= 0 {
		p.Procs = f.World
		if p.Launcher == "" {
			p.Launcher = "flags"
		}
	}
	p.Coordinator = f.Coordinator
	if p.Coordinator == "" {
		p.Coordinator = getenv("MLPS_COORDINATOR")
	}
	// A launcher's single process (srun -n 1, mpirun -np 1) with no
	// coordinator is a run of one process, as if started alone.
	if p.Coordinator == "" && (p.Launcher == "" || p.Procs == 1 && p.Proc == 0) {
		return Place{Procs: 1}, false, nil
	}
	switch {
	case p.Proc < 0:
		return p, false, fmt.Errorf("this process's rank is unknown: no launcher's variable (OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID, JOB_COMPLETION_INDEX) is set and --rank is not given")
	case p.Procs < 1:
		return p, false, fmt.Errorf("the number of processes is unknown (launcher %s): give --world N, or MLPS_WORLD for a Kubernetes Indexed Job", p.Launcher)
	case p.Procs > maxProcs:
		return p, false, fmt.Errorf("%d processes: at most %d", p.Procs, maxProcs)
	case p.Proc >= p.Procs:
		return p, false, fmt.Errorf("rank %d of %d processes: a rank is 0 to %d", p.Proc, p.Procs, p.Procs-1)
	case p.Coordinator == "":
		return p, false, fmt.Errorf("rank %d of %d (launcher %s): no coordinator: give --coordinator HOST:PORT (or MLPS_COORDINATOR), the address process 0 listens on and every process reaches", p.Proc, p.Procs, p.Launcher)
	}
	if _, port, err := net.SplitHostPort(p.Coordinator); err != nil || port == "" {
		return p, false, fmt.Errorf("coordinator %q: want HOST:PORT", p.Coordinator)
	}
	return p, true, nil
}

func atoi(name, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a number from 0", name, v)
	}
	return n, nil
}
