package dsl

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/backends/secret"
)

// posIn is line:col of a file whose text is data. Errors that CUE did not
// place (the YAML decoder's, a --set flag's, a missing field's) still print
// as file:line:col.
func posIn(name string, data []byte, line, col int) token.Pos {
	off := 0
	for l := 1; l < line && off < len(data); l++ {
		i := strings.IndexByte(string(data[off:]), '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	off = min(off+max(col-1, 0), len(data))
	// The newline gives an empty file its line 1.
	f := token.NewFile(name, -1, len(data)+1)
	f.SetLinesForContent(append(data[:len(data):len(data)], '\n'))
	return f.Pos(off, token.NoRelPos)
}

var (
	yamlLine   = regexp.MustCompile(`^(\d+): `)
	yamlAnchor = regexp.MustCompile(`unknown anchor '([^']*)' referenced`)
)

// yamlError places an error of the YAML decoder, which CUE passes on as
// plain text ("file:line: message") that errors.Errors would promote with
// an empty message.
func yamlError(l *loader, abs string, data []byte, err error) Errors {
	for _, ce := range errors.Errors(err) {
		if len(errors.Positions(ce)) > 0 {
			return l.errors(err)
		}
	}
	msg := strings.TrimSpace(err.Error())
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, abs), ":")
	msg = strings.TrimSpace(msg)
	line, col := 1, 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if m := yamlAnchor.FindStringSubmatch(msg); m != nil {
		// The decoder does not say where the alias is; the first use is.
		if i := strings.Index(string(data), "*"+m[1]); i >= 0 {
			line = 1 + strings.Count(string(data[:i]), "\n")
			col = i - strings.LastIndexByte(string(data[:i]), '\n')
		}
		msg = fmt.Sprintf("unknown anchor %q: define it with &%s before *%s refers to it", m[1], m[1], m[1])
	}
	if msg == "" {
		msg = "not valid YAML"
	}
	return Errors{{Pos: posIn(abs, data, line, col), Msg: "YAML: " + secret.Redact(msg)}}
}

// isEmpty reports whether a workload file holds no fields at all: an empty
// file, or one with only comments or a package clause.
func isEmpty(v cue.Value) bool {
	if d, ok := v.Default(); ok {
		v = d // an empty YAML document is *null | _
	}
	if v.IncompleteKind() == cue.NullKind {
		return true
	}
	if v.IncompleteKind() != cue.StructKind {
		return false
	}
	it, err := v.Fields(cue.All())
	return err == nil && !it.Next()
}

// nouns name an entry of each collection, for messages.
var nouns = map[string]string{"datasets": "dataset", "stages": "stage", "targets": "target"}

// checkSet checks a --set flag's field path against the workload as loaded
// so far, before CUE does: CUE's own errors for a path below a scalar or
// into an entry that does not exist name no field the user wrote, and some
// name nothing at all. A new entry of a collection is allowed (several
// flags can build one); it is remembered so that what it lacks is
// reported as the entry not existing.
func (l *loader) checkSet(set *setArg, leaf ast.Expr) *Error {
	base := l.def.Unify(l.cur)
	var sels []cue.Selector
	for j, name := range set.path {
		parent := base.LookupPath(cue.MakePath(sels...))
		if j > 0 {
			if k := parent.IncompleteKind(); k != cue.BottomKind && k&cue.StructKind == 0 {
				above := strings.Join(set.path[:j], ".")
				return &Error{Pos: set.pos, Path: strings.Join(set.path[:j+1], "."),
					Msg: fmt.Sprintf("%s is %s and has no fields; set it with --set %s=VALUE", above, kindName(k), above)}
			}
		}
		sel := cue.Str(name)
		sels = append(sels, sel)
		if base.LookupPath(cue.MakePath(sels...)).Exists() {
			continue
		}
		names := fieldNames(parent, true)
		if slices.Contains(names, name) {
			return nil // an optional field the workload leaves out
		}
		if !parent.Allows(sel) {
			return &Error{Pos: set.pos, Path: strings.Join(set.path[:j+1], "."),
				Msg: "field not allowed" + suggest(name, names)}
		}
		set.created = set.path[:j+1]
		set.noun = "entry"
		if j > 0 {
			if n, ok := nouns[set.path[j-1]]; ok && j == 1 {
				set.noun = n
			}
		}
		set.had = fieldNames(l.cur.LookupPath(cue.MakePath(sels[:j]...)), false)
		return nil
	}
	want := base.LookupPath(cue.MakePath(sels...)).IncompleteKind()
	got := l.ctx.BuildExpr(leaf).IncompleteKind()
	if want == cue.BottomKind || got == cue.BottomKind || want&got != 0 ||
		(want&cue.NumberKind != 0 && got&cue.NumberKind != 0) {
		return nil
	}
	_, val, _ := strings.Cut(set.arg, "=")
	return &Error{Pos: set.pos, Path: strings.Join(set.path, "."),
		Msg: fmt.Sprintf("%s is %s; want %s", strconv.Quote(secret.Redact(val)), kindName(got), kindName(want))}
}

// kindOf is the kind CUE names in a message ("list", "int").
func kindOf(name string) cue.Kind {
	for _, k := range []cue.Kind{cue.IntKind, cue.FloatKind, cue.NumberKind, cue.StringKind, cue.BoolKind, cue.ListKind, cue.StructKind, cue.NullKind, cue.BytesKind} {
		if k.String() == name {
			return k
		}
	}
	return cue.BottomKind
}

func kindName(k cue.Kind) string {
	switch k {
	case cue.IntKind:
		return "an integer"
	case cue.FloatKind, cue.NumberKind:
		return "a number"
	case cue.StringKind:
		return "a string"
	case cue.BoolKind:
		return "a bool"
	case cue.ListKind:
		return "a list"
	case cue.StructKind:
		return "a struct"
	case cue.NullKind:
		return "null"
	case cue.BytesKind:
		return "bytes"
	}
	return k.String()
}

// fieldNames lists the fields of v, with the optional ones the schema
// declares if optional is set.
func fieldNames(v cue.Value, optional bool) []string {
	it, err := v.Fields(cue.Optional(optional))
	if err != nil {
		return nil
	}
	var out []string
	for it.Next() {
		out = append(out, it.Selector().Unquoted())
	}
	sort.Strings(out)
	return out
}

// suggest names the field closest to a misspelled one ("; did you mean
// epochs?"), or lists what is allowed when none is close.
func suggest(name string, allowed []string) string {
	if s := closest(name, allowed); s != "" {
		return s
	}
	if len(allowed) > 0 && len(allowed) <= 24 {
		return fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
	}
	return ""
}

// closest is "; did you mean X?" for the name in allowed nearest to name,
// if one is near enough to be a misspelling of it.
func closest(name string, allowed []string) string {
	best, bestD := "", 1<<30
	for _, a := range allowed {
		if a == name {
			continue
		}
		if d := editDistance(name, a); d < bestD {
			best, bestD = a, d
		}
	}
	if best != "" && bestD <= max(1, min(len(name), len(best))/3) {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	return ""
}

// editDistance is the number of single-letter insertions, deletions,
// substitutions and swaps of neighbours that turn a into b (optimal string
// alignment), so that "trian" is one step from "train".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// noScheme matches the schema's check that a URI has a scheme.
var noScheme = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") \(out of bound =~"\^\[a-z\]\[a-z0-9\+\.-\]\*://"\)$`)

// refine rewrites CUE's errors into ones that say what to fix where the
// user wrote it: an error under an entry a --set created says the entry
// does not exist; an error with no place in the user's files goes to the
// --set flag that set the field, or, for a field left out, to the nearest
// enclosing field the user wrote; a misspelled field gets a suggestion; a
// URI without a scheme says it needs one.
func (l *loader) refine(es Errors) Errors {
	var out Errors
	reported := map[int]bool{}
	for _, e := range es {
		if i := l.createdBy(e.Path); i >= 0 && !l.isUser(e.Pos) {
			if !reported[i] {
				reported[i] = true
				s := l.sets[i]
				coll := strings.Join(s.created[:len(s.created)-1], ".")
				had := "none"
				if len(s.had) > 0 {
					had = strings.Join(s.had, ", ")
				}
				out = append(out, &Error{Pos: s.pos, Path: strings.Join(s.created, "."),
					Msg: fmt.Sprintf("the workload has no %s %q (%s: %s)%s", s.noun, s.created[len(s.created)-1], coll, had,
						closest(s.created[len(s.created)-1], s.had))})
			}
			continue
		}
		if !l.isUser(e.Pos) {
			if s := l.setFor(e.Path); s != nil {
				e.Also = prepend(e.Pos, e.Also)
				e.Pos = s.pos
			} else if rest, ok := strings.CutPrefix(e.Msg, "incomplete value "); ok {
				e.Msg = "required field missing; want " + rest
				e.Also = prepend(e.Pos, e.Also)
				e.Pos = l.nearestUserPos(e.Path)
			} else if !e.Pos.IsValid() {
				e.Pos = l.nearestUserPos(e.Path)
			}
		}
		if e.Path == "#Workload" {
			// The file's top level is not a mapping.
			e.Path = ""
			if _, kind, ok := strings.Cut(e.Msg, "(mismatched types struct and "); ok {
				e.Msg = fmt.Sprintf("a workload is a mapping of name, targets, datasets and stages, not %s", kindName(kindOf(strings.TrimSuffix(kind, ")"))))
				e.Also = nil
			}
		}
		if e.Msg == "field not allowed" {
			e.Msg += l.suggestField(e.Path)
		}
		if m := noScheme.FindStringSubmatch(e.Msg); m != nil {
			example := "file:///mnt/data"
			if v, err := strconv.Unquote(m[1]); err == nil && strings.HasPrefix(v, "/") {
				example = "file://" + v
			}
			e.Msg = fmt.Sprintf("invalid value %s: a URI needs a scheme, such as %s, tmp://, mem:// or s3://bucket/prefix", m[1], example)
			e.Also = nil
		}
		out = append(out, e)
	}
	out = dedupe(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func prepend(p token.Pos, ps []token.Pos) []token.Pos {
	if !p.IsValid() {
		return ps
	}
	return append([]token.Pos{p}, ps...)
}

// under reports whether the field path p is path or below it.
func under(p string, path []string) bool {
	k := strings.Join(path, ".")
	return p == k || strings.HasPrefix(p, k+".")
}

// createdBy returns the index of the --set whose new entry holds the field
// path p, or -1.
func (l *loader) createdBy(p string) int {
	for i := len(l.sets) - 1; i >= 0; i-- {
		if c := l.sets[i].created; c != nil && under(p, c) {
			return i
		}
	}
	return -1
}

// setFor returns the last --set that sets the field path p or a field
// below or above it.
func (l *loader) setFor(p string) *setArg {
	for i := len(l.sets) - 1; i >= 0; i-- {
		s := &l.sets[i]
		if under(p, s.path) || under(strings.Join(s.path, "."), strings.Split(p, ".")) {
			return s
		}
	}
	return nil
}

// nearestUserPos is where the user wrote the closest enclosing field of
// the path p, or the start of the user's file.
func (l *loader) nearestUserPos(p string) token.Pos {
	parts := strings.Split(p, ".")
	if p == "" {
		parts = nil
	}
	for n := len(parts); n > 0; n-- {
		sels := make([]cue.Selector, n)
		for i, s := range parts[:n] {
			sels[i] = cue.Str(s)
		}
		v := l.cur.LookupPath(cue.MakePath(sels...))
		if v.Exists() && l.isUser(v.Pos()) {
			return v.Pos()
		}
	}
	return l.filePos(1, 1)
}

// suggestField finds the field nearest to the misspelled last element of
// the path p among those its parent allows.
func (l *loader) suggestField(p string) string {
	parts := strings.Split(p, ".")
	sels := make([]cue.Selector, len(parts)-1)
	for i, s := range parts[:len(parts)-1] {
		sels[i] = cue.Str(s)
	}
	if !l.def.Exists() {
		return ""
	}
	parent := l.def.Unify(l.cur).LookupPath(cue.MakePath(sels...))
	return suggest(parts[len(parts)-1], fieldNames(parent, true))
}
