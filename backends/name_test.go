package backends

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "a.bin", "train/img_007_of_64.npz", "a/b/c.bin", "..a", "a..", ".hidden", "a/.b/c", "with space/ü.bin"} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", name, err)
		}
	}
	for name, why := range map[string]string{
		"":          "empty",
		"/abs":      `starts with "/"`,
		"a//b":      "empty element",
		"a/":        "empty element",
		".":         `"." element`,
		"./a":       `"." element`,
		"a/./b":     `"." element`,
		"..":        `".." element`,
		"a/../b":    `".." element`,
		"../x":      `".." element`,
		`a\b`:       "backslash",
		"a\x00b":    "NUL",
		"a/b/../..": `".." element`,
	} {
		err := ValidName(name)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ValidName(%q) = %v, want an error saying %q", name, err, why)
		}
		cerr := CheckName("file", "create", name)
		if KindOf(cerr) != Permanent || !strings.Contains(cerr.Error(), why) {
			t.Errorf("CheckName(%q) = %v (kind %v), want a permanent error saying %q", name, cerr, KindOf(cerr), why)
		}
	}
	if err := CheckName("file", "create", "ok/name"); err != nil {
		t.Errorf("CheckName of a valid name = %v", err)
	}
}
