package dlio

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/dsl"
)

// node is one field of the DLIO YAML: a mapping of further nodes or a
// value. Every node remembers where it was written, and whether the
// conversion used it, so that whatever is left over can be reported.
type node struct {
	key  string
	path string // dotted, relative to the workload: "dataset.format"
	pos  token.Pos
	// value is the YAML value; for a mapping it is nil and fields holds
	// the entries in the order they were written.
	value  ast.Expr
	vpos   token.Pos
	isMap  bool
	fields []*node
	byKey  map[string]*node
	// used is set once the conversion has mapped the node or reported it.
	used bool
}

// child returns the entry key of a mapping, or nil.
func (n *node) child(key string) *node {
	if n == nil || !n.isMap {
		return nil
	}
	return n.byKey[key]
}

// parseYAML reads a DLIO workload into a tree of nodes. A syntax error
// comes back as a dsl.Error at the line and column where parsing fails.
func parseYAML(filename string, data []byte) (*node, error) {
	f, err := dsl.ExtractYAML(filename, data)
	if err != nil {
		return nil, syntaxError(filename, data, err)
	}
	root := &node{isMap: true, byKey: map[string]*node{}, pos: filePos(filename, data, 0)}
	var errs dsl.Errors
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Field:
			errs = append(errs, add(root, d)...)
		case *ast.CommentGroup, *ast.Attribute:
		case *ast.EmbedDecl:
			if isNull(d.Expr) {
				continue // an empty document
			}
			return nil, dsl.Errors{dsl.Errorf(d.Pos(), "", "a DLIO workload is a YAML mapping of sections (model, dataset, reader, ...), not a %s", describe(d))}
		default:
			return nil, dsl.Errors{dsl.Errorf(d.Pos(), "", "a DLIO workload is a YAML mapping of sections (model, dataset, reader, ...), not a %s", describe(d))}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(root.fields) == 0 {
		return nil, dsl.Errors{dsl.Errorf(root.pos, "", "empty DLIO workload: no sections (model, dataset, reader, ...)")}
	}
	return root, nil
}

// isNull reports whether e is null, or the *null | _ an empty YAML
// document becomes.
func isNull(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return x.Kind == token.NULL
	case *ast.BinaryExpr:
		return x.Op == token.OR && isNull(x.X)
	case *ast.UnaryExpr:
		return x.Op == token.MUL && isNull(x.X)
	}
	return false
}

func describe(d ast.Node) string {
	if e, ok := d.(*ast.EmbedDecl); ok {
		d = e.Expr
	}
	switch d.(type) {
	case *ast.ListLit:
		return "list"
	case *ast.BasicLit, *ast.Ident, *ast.UnaryExpr:
		return "single value"
	}
	return "value of that kind"
}

func add(parent *node, f *ast.Field) dsl.Errors {
	key, _, err := ast.LabelName(f.Label)
	if err != nil {
		return dsl.Errors{dsl.Errorf(f.Pos(), parent.path, "unsupported key: %v", err)}
	}
	path := key
	if parent.path != "" {
		path = parent.path + "." + key
	}
	if prev, dup := parent.byKey[key]; dup {
		return dsl.Errors{dsl.Errorf(f.Pos(), path, "duplicate key; first written at line %d", prev.pos.Line())}
	}
	n := &node{key: key, path: path, pos: f.Pos(), vpos: f.Value.Pos()}
	parent.fields = append(parent.fields, n)
	parent.byKey[key] = n
	s, ok := f.Value.(*ast.StructLit)
	if !ok {
		n.value = f.Value
		return nil
	}
	n.isMap, n.byKey = true, map[string]*node{}
	var errs dsl.Errors
	for _, e := range s.Elts {
		switch e := e.(type) {
		case *ast.Field:
			errs = append(errs, add(n, e)...)
		case *ast.CommentGroup, *ast.Attribute:
		default:
			errs = append(errs, dsl.Errorf(e.Pos(), path, "unsupported YAML construct"))
		}
	}
	return errs
}

// yamlLine finds the line a YAML parser error names: "file:12: msg".
var yamlLine = regexp.MustCompile(`^(?:.*?):(\d+): `)

// syntaxError places a YAML parse error. The parser names a line at
// best, and sometimes the line where the enclosing block starts, so the
// error is put on the first line, from the one the parser names on, at
// which the file stops parsing: the file's first L lines parse for every
// smaller L.
func syntaxError(filename string, data []byte, err error) error {
	msg := err.Error()
	from := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		from, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, filename+": ")
	}
	starts := lineStarts(data)
	line := len(starts)
	if len(starts) <= 5000 { // each probe parses a prefix: keep it cheap
		for l := max(from, 1); l <= len(starts); l++ {
			end := len(data)
			if l < len(starts) {
				end = starts[l]
			}
			if _, perr := dsl.ExtractYAML(filename, data[:end]); perr != nil {
				line = l
				break
			}
		}
	} else if from <= len(starts) {
		line = max(from, 1)
	}
	off := 0
	if line >= 1 && line <= len(starts) {
		off = starts[line-1]
		// Point at the line's first character that is not indentation.
		for off < len(data) && data[off] == ' ' {
			off++
		}
	}
	return dsl.Errors{dsl.Errorf(filePos(filename, data, off), "", "invalid YAML: %s", msg)}
}

// lineStarts returns the offset of the start of each line.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 || i+j+1 >= len(data) {
			break
		}
		i += j + 1
		starts = append(starts, i)
	}
	return starts
}

func filePos(filename string, data []byte, off int) token.Pos {
	f := token.NewFile(filename, -1, len(data)+1)
	f.SetLinesForContent(data)
	return f.Pos(off, token.NoRelPos)
}

// kindName names the kind of a YAML value for error messages.
func kindName(n *node) string {
	if n.isMap {
		return "a mapping"
	}
	switch v := n.value.(type) {
	case *ast.ListLit:
		return "a list"
	case *ast.BasicLit:
		switch v.Kind {
		case token.STRING:
			return fmt.Sprintf("the string %s", v.Value)
		case token.INT, token.FLOAT:
			return "the number " + v.Value
		case token.TRUE, token.FALSE:
			return v.Value
		case token.NULL:
			return "null"
		}
	}
	return "that value"
}
