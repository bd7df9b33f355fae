package dlio

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"
)

// obj is a CUE struct under construction: fields in the order they are
// printed, each with an optional comment above it.
type obj struct {
	fields []field
}

type field struct {
	label string
	// value is an ast.Expr or an *obj.
	value any
	doc   []string
}

// set appends a field; doc lines become a comment above it.
func (o *obj) set(label string, value any, doc ...string) {
	o.fields = append(o.fields, field{label: label, value: value, doc: doc})
}

func intLit(i int64) ast.Expr { return ast.NewLit(token.INT, strconv.FormatInt(i, 10)) }

func floatLit(f float64) ast.Expr {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if f == float64(int64(f)) && !strings.ContainsAny(s, "e") {
		return ast.NewLit(token.INT, s)
	}
	return ast.NewLit(token.FLOAT, s)
}

func strLit(s string) ast.Expr { return ast.NewString(s) }

func boolLit(b bool) ast.Expr { return ast.NewBool(b) }

func strList(ss []string) ast.Expr {
	var es []ast.Expr
	for _, s := range ss {
		es = append(es, ast.NewString(s))
	}
	return ast.NewList(es...)
}

// expr returns the struct as CUE syntax; depth is its nesting, by which
// comments are wrapped narrower.
func (o *obj) expr(depth int) *ast.StructLit {
	s := &ast.StructLit{}
	for _, f := range o.fields {
		var v ast.Expr
		switch x := f.value.(type) {
		case *obj:
			v = x.expr(depth + 1)
		case []*obj:
			var es []ast.Expr
			for _, e := range x {
				es = append(es, e.expr(depth+2))
			}
			v = ast.NewList(es...)
		case ast.Expr:
			v = x
		default:
			panic(fmt.Sprintf("dlio: field %s: unexpected value %T", f.label, f.value))
		}
		var label ast.Label = ast.NewIdent(f.label)
		if !isIdent(f.label) {
			label = ast.NewString(f.label)
		}
		fd := &ast.Field{Label: label, Value: v}
		if len(f.doc) > 0 {
			ast.AddComment(fd, comment(f.doc, max(40, 74-4*depth)))
		}
		s.Elts = append(s.Elts, fd)
	}
	return s
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != "" && s[0] != '_'
}

func comment(lines []string, width int) *ast.CommentGroup {
	cg := &ast.CommentGroup{Doc: true}
	for _, l := range lines {
		for _, w := range wrap(l, width) {
			cg.List = append(cg.List, &ast.Comment{Text: strings.TrimRight("// "+w, " ")})
		}
	}
	return cg
}

// wrap breaks s into lines of at most width characters at spaces.
func wrap(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(out, line)
}

// render prints the workload w with a header naming the source file and
// listing, grouped by reason, the fields that were not carried over.
func render(filename string, w *obj, warnings []Warning) ([]byte, error) {
	var hc []*ast.Comment
	line := func(s string) { hc = append(hc, &ast.Comment{Text: strings.TrimRight("// "+s, " ")}) }
	for _, s := range wrap(fmt.Sprintf("Converted by mlps import dlio from the DLIO workload %s.", filename), 74) {
		line(s)
	}
	if len(warnings) > 0 {
		var reasons []string
		fields := map[string][]string{}
		for _, wn := range warnings {
			if _, seen := fields[wn.Reason]; !seen {
				reasons = append(reasons, wn.Reason)
			}
			fields[wn.Reason] = append(fields[wn.Reason], wn.Path)
		}
		line("")
		line("Not carried over:")
		for _, r := range reasons {
			for i, s := range wrap(strings.Join(fields[r], ", ")+": "+r, 70) {
				if i == 0 {
					line("  " + s)
				} else {
					line("    " + s)
				}
			}
		}
	}
	f := &ast.File{Decls: []ast.Decl{&ast.CommentGroup{List: hc}}}
	for _, d := range w.expr(0).Elts {
		f.Decls = append(f.Decls, d)
	}
	b, err := format.Node(f)
	if err != nil {
		return nil, fmt.Errorf("dlio: formatting the workload: %w", err)
	}
	// Formatting the source once more aligns the values of neighbouring
	// fields, as cue fmt does.
	if again, err := format.Source(b); err == nil {
		b = again
	}
	return b, nil
}
