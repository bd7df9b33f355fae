package results

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"mlps.dev/mlps/backends/secret"

	"mlps.dev/mlps/stages"
)

// Version is mlps's version, set at build time with
// -ldflags "-X mlps.dev/mlps/exec/results.Version=v1.2.3"; otherwise it
// comes from the module's build information (the module version when the
// binary was built by go install of a tagged module, "(devel)" when built
// from a checkout).
var Version = ""

// MlpsVersion returns the version this binary reports, with the commit it
// was built from when the build recorded one: "v1.2.3 (commit
// 0123456789ab, 2026-01-02T03:04:05Z, modified)". A build without version
// control information (go build -buildvcs=false, or outside a checkout)
// says so instead of naming no commit silently.
func MlpsVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(Version, bi)
}

func versionOf(ldflags string, bi *debug.BuildInfo) string {
	v := ldflags
	if v == "" && bi != nil {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if bi == nil {
		return v + " (no build information)"
	}
	var rev, when string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return v + " (commit unknown: built without version control information)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	parts := []string{"commit " + rev}
	if when != "" {
		parts = append(parts, when)
	}
	if modified {
		parts = append(parts, "modified")
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
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
