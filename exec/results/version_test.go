package results

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name, ldflags string
		bi            *debug.BuildInfo
		want          string
	}{
		{"checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-02T01:00:00Z", "vcs.modified", "false")},
			"(devel) (commit 0123456789ab, 2026-12-02T01:00:00Z)"},
		{"modified checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-02T01:00:00Z", "vcs.modified", "true")},
			"(devel) (commit 0123456789ab, 2026-12-02T01:00:00Z, modified)"},
		{"go install of a module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}},
			"v0.3.0 (commit unknown: built without version control information)"},
		{"ldflags wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.modified", "false")},
			"v1.2.3 (commit 0123456789ab)"},
		{"no build information", "", nil, "(devel) (no build information)"},
		{"buildvcs=false", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("-buildvcs", "false")},
			"(devel) (commit unknown: built without version control information)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.ldflags, tt.bi); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
