package backends

import (
	"errors"
	"strconv"
	"strings"
)

const nameHint = `; want a relative, slash-separated name such as "train/img_1_of_64.npz"`

// ValidName reports why name cannot be an object name, or nil when it can.
// A name is relative and slash-separated, with no empty, "." or ".."
// element and no NUL or backslash, so that it means the same object on a
// POSIX file system, on Windows and in an object store, and can never
// escape a backend's root.
func ValidName(name string) error {
	if p := nameProblem(name); p != "" {
		return errors.New("invalid object name " + strconv.Quote(name) + ": " + p + nameHint)
	}
	return nil
}

// CheckName is ValidName in the form a backend returns: a Permanent *Error
// for the operation op, or nil when name is valid.
func CheckName(scheme, op, name string) error {
	if p := nameProblem(name); p != "" {
		return &Error{Kind: Permanent, Scheme: scheme, Op: op, Name: name,
			Err: errors.New("invalid object name: " + p + nameHint)}
	}
	return nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case name[0] == '/':
		return `starts with "/"`
	case strings.IndexByte(name, 0) >= 0:
		return "contains a NUL byte"
	case strings.IndexByte(name, '\\') >= 0:
		return `contains a backslash (use "/" to separate elements)`
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch elem {
		case "":
			return `has an empty element ("//" or a trailing "/")`
		case ".", "..":
			return "has a " + strconv.Quote(elem) + " element"
		}
	}
	return ""
}
