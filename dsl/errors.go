package dsl

import (
	stderrors "errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/backends/secret"
)

// Error is one problem with the user's input: where it is, which field, and
// what is wrong. Loading and planning both report them, so that every input
// error reads the same way.
type Error struct {
	// Pos is where the problem is in the user's files; it may be
	// token.NoPos when the problem has no single place (a cycle).
	Pos token.Pos
	// Path is the field path, such as "stages.train.epochs".
	Path string
	Msg  string
	// Also lists further places that take part, such as the schema's
	// constraint or the other side of a conflict.
	Also []token.Pos
}

// Errorf returns an Error at pos about the field path.
func Errorf(pos token.Pos, path, format string, args ...any) *Error {
	return &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos.IsValid() {
		b.WriteString(posString(e.Pos))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	for _, p := range e.Also {
		b.WriteString("\n\t")
		b.WriteString(posString(p))
	}
	return b.String()
}

// Errors is a list of input errors, printed one after another.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// IsInputError reports whether err is the user's: a workload or an override
// that does not load, validate or plan. mlps exits 2 for these.
func IsInputError(err error) bool {
	var e *Error
	var es Errors
	return stderrors.As(err, &e) || stderrors.As(err, &es)
}

// posString prints a position as file:line:col with the file relative to
// the working directory when it is below it, the way compilers do. Files
// served from the binary print under their import path.
func posString(p token.Pos) string {
	name := displayName(p.Filename())
	return fmt.Sprintf("%s:%d:%d", name, p.Line(), p.Column())
}

func displayName(name string) string {
	if i := strings.Index(name, genMarker); i >= 0 {
		return name[i+len(genMarker):]
	}
	if !filepath.IsAbs(name) {
		return name
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return name
}

// fromCUE turns CUE's evaluation errors into Errors, one per problem, with
// the user's own position first. CUE reports a bad value under a defaulted
// field twice (once against the default, once against the constraint); the
// conflict with the default says nothing the user can act on, so it is
// dropped when a more specific error names the same field.
func fromCUE(err error, isUser func(token.Pos) bool) Errors {
	var out Errors
	byPath := map[string][]*Error{}
	for _, ce := range errors.Errors(err) {
		format, args := ce.Msg()
		// CUE echoes a rejected value, which may hold a credential.
		msg := secret.Redact(fmt.Sprintf(format, args...))
		if strings.Contains(msg, "errors in empty disjunction") {
			continue // a header; the errors it counts follow on their own
		}
		path := strings.TrimPrefix(strings.Join(ce.Path(), "."), "#Workload.")
		e := &Error{Path: path, Msg: msg}
		var user, other []token.Pos
		for _, p := range errors.Positions(ce) {
			if !isUser(p) {
				other = append(other, p)
			} else {
				user = append(user, p)
			}
		}
		all := append(user, other...)
		if len(all) > 0 {
			e.Pos, e.Also = all[0], all[1:]
		}
		byPath[path] = append(byPath[path], e)
		out = append(out, e)
	}
	keep := out[:0]
	for _, e := range out {
		if strings.HasPrefix(e.Msg, "conflicting values") && hasSpecific(byPath[e.Path]) {
			continue
		}
		if !isUser(e.Pos) && len(out) > 1 {
			continue // a consequence of an error in the user's files
		}
		keep = append(keep, e)
	}
	out = mergeAlternatives(dedupe(keep))
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// mergeAlternatives folds the "conflicting values A and X", "conflicting
// values B and X", ... that CUE reports for a value outside an enumeration
// into one error listing what is allowed.
func mergeAlternatives(es Errors) Errors {
	var out Errors
	group := map[string]*Error{}
	var allowed = map[string][]string{}
	for _, e := range es {
		var a, x string
		if n, _ := fmt.Sscanf(e.Msg, "conflicting values %s and %s", &a, &x); n != 2 || !e.Pos.IsValid() {
			out = append(out, e)
			continue
		}
		k := e.Path + "\x00" + x + "\x00" + posString(e.Pos)
		if g, ok := group[k]; ok {
			allowed[k] = append(allowed[k], a)
			g.Msg = fmt.Sprintf("invalid value %s: want one of %s", x, strings.Join(allowed[k], ", "))
			g.Also = nil
			continue
		}
		group[k] = e
		allowed[k] = []string{a}
		out = append(out, e)
	}
	return out
}

func hasSpecific(es []*Error) bool {
	for _, e := range es {
		if !strings.HasPrefix(e.Msg, "conflicting values") {
			return true
		}
	}
	return false
}

func dedupe(es Errors) Errors {
	seen := map[string]bool{}
	var out Errors
	for _, e := range es {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}
