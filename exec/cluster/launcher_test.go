package cluster

import (
	"strings"
	"testing"
)

func TestPlaceOf(t *testing.T) {
	none := Flags{Rank: -1, World: -1}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		flags Flags
		want  Place
		ok    bool
		err   string
	}{
		{"alone", nil, none, Place{Procs: 1}, false, ""},
		{"one process of srun", map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, none, Place{Procs: 1}, false, ""},
		{"openmpi", map[string]string{"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "0", "MLPS_COORDINATOR": "10.0.0.1:7070"}, none,
			Place{Proc: 2, Procs: 4, Launcher: "openmpi", Coordinator: "10.0.0.1:7070"}, true, ""},
		{"pmi", map[string]string{"PMI_RANK": "1", "PMI_SIZE": "2"}, Flags{Rank: -1, World: -1, Coordinator: "h:1"},
			Place{Proc: 1, Procs: 2, Launcher: "pmi", Coordinator: "h:1"}, true, ""},
		{"slurm", map[string]string{"SLURM_PROCID": "7", "SLURM_NTASKS": "8", "SLURM_LOCALID": "3", "MLPS_COORDINATOR": "n0:7070"}, none,
			Place{Proc: 7, Procs: 8, LocalProc: 3, Launcher: "slurm", Coordinator: "n0:7070"}, true, ""},
		{"kubernetes", map[string]string{"JOB_COMPLETION_INDEX": "3", "MLPS_WORLD": "16", "MLPS_COORDINATOR": "mlps-0.mlps:7070"}, none,
			Place{Proc: 3, Procs: 16, Launcher: "kubernetes", Coordinator: "mlps-0.mlps:7070"}, true, ""},
		{"kubernetes without a world", map[string]string{"JOB_COMPLETION_INDEX": "3", "MLPS_COORDINATOR": "c:1"}, none, Place{}, false, "give --world N, or MLPS_WORLD"},
		{"flags", nil, Flags{Rank: 1, World: 4, Coordinator: "127.0.0.1:7070"}, Place{Proc: 1, Procs: 4, Launcher: "flags", Coordinator: "127.0.0.1:7070"}, true, ""},
		{"flags win", map[string]string{"SLURM_PROCID": "7", "SLURM_NTASKS": "8"}, Flags{Rank: 1, World: 2, Coordinator: "c:1"}, Place{Proc: 1, Procs: 2, Launcher: "flags", Coordinator: "c:1"}, true, ""},
		{"no coordinator", map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2"}, none, Place{}, false, "no coordinator: give --coordinator HOST:PORT"},
		{"rank past the world", nil, Flags{Rank: 4, World: 4, Coordinator: "c:1"}, Place{}, false, "rank 4 of 4 processes"},
		{"no rank", nil, Flags{Rank: -1, World: 4, Coordinator: "c:1"}, Place{}, false, "this process's rank is unknown"},
		{"bad number", map[string]string{"OMPI_COMM_WORLD_RANK": "x"}, none, Place{}, false, `OMPI_COMM_WORLD_RANK="x": want a number`},
		{"bad coordinator", nil, Flags{Rank: 0, World: 2, Coordinator: "nohost"}, Place{}, false, `coordinator "nohost": want HOST:PORT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := PlaceOf(func(k string) string { return tc.env[k] }, tc.flags)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v, %v; want %+v, %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}
