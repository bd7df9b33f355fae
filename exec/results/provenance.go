package results

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"mlps.dev/mlps/backends/secret"

	"mlps.dev/mlps/stages"
)

// Version is mlps's version, set at build time with
// -ldflags "-X mlps.dev/mlps/exec/results.Version=v1.2.3"; otherwise it
// comes from the module's build information.
var Version = ""

// MlpsVersion returns the version this binary reports.
func MlpsVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += "+" + s.Value
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}

// Provenance is everything needed to reproduce and place a result.
type Provenance struct {
	MlpsVersion string    `json:"mlps_version"`
	GoVersion   string    `json:"go_version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	Hostname    string    `json:"hostname"`
	CPUs        int       `json:"cpus"`
	MemoryBytes int64     `json:"memory_bytes"`
	CommandLine []string  `json:"command_line"`
	Workload    string    `json:"workload"`
	Seed        uint64    `json:"seed"`
	Start       time.Time `json:"start"`
	// End is absent from the provenance Begin writes, and stays absent
	// in a run that was killed.
	End time.Time `json:"end,omitzero"`
}

// NewProvenance describes this host and this invocation.
func NewProvenance(args []string) Provenance {
	host, _ := os.Hostname()
	return Provenance{
		MlpsVersion: MlpsVersion(),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		Hostname:    host,
		CPUs:        runtime.NumCPU(),
		MemoryBytes: stages.ThisHost().MemoryBytes,
		CommandLine: redacted(args),
	}
}

// redacted is the command line with anything that looks like a credential
// hidden (a --set of a URI with a password in it, say).
func redacted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = secret.Redact(a)
	}
	return out
}
