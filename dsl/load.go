// Package dsl loads a workload — a .cue file or directory, or a .yaml or
// .json file — unifies it with the embedded schema in one CUE context,
// validates it as concrete and decodes it into Go values.
//
// Files outside the mlps repository can import the schema and the shipped
// workloads ("mlps.dev/workloads:demo") with no registry and nothing on
// disk: the loader serves them from the binary through cue/load's overlay,
// under the user's module root. Errors keep pointing at the user's real
// files.
package dsl

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"
	cueyaml "cuelang.org/go/encoding/yaml"

	"mlps.dev/mlps/backends/secret"
	"mlps.dev/mlps/schema"
	"mlps.dev/mlps/workloads"
)

// genMarker is where the loader serves the embedded packages below a
// module root; positions inside it belong to mlps, not to the user.
const genMarker = "/cue.mod/gen/"

const schemaModulePath = "mlps.dev"

// Load reads the workload at path (a .cue file, a directory holding one CUE
// package, or a .yaml/.yml/.json file), applies the overrides in sets (each
// "field.path=value", value in CUE syntax or else taken as a string), and
// returns the validated workload. Every input error comes back as Errors.
func Load(path string, sets []string) (*Workload, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, Errors{{Msg: err.Error()}}
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, Errors{{Msg: fmt.Sprintf("cannot read workload: %v", err)}}
	}
	ctx := cuecontext.New()
	l := &loader{ctx: ctx, user: map[string]bool{}, main: abs}

	var user cue.Value
	switch ext := strings.ToLower(filepath.Ext(abs)); {
	case info.IsDir() || ext == ".cue":
		user, err = l.loadCUE(abs, info.IsDir())
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		user, err = l.loadData(abs, ext)
	default:
		return nil, Errors{{Msg: fmt.Sprintf("%s: a workload is a .cue, .yaml or .json file, or a directory of .cue files", path)}}
	}
	if err != nil {
		return nil, err
	}
	if user.Err() != nil {
		return nil, l.errors(user.Err())
	}
	if l.schema.Err() != nil {
		return nil, fmt.Errorf("mlps: embedded schema does not build: %w", l.schema.Err())
	}
	if isEmpty(user) {
		return nil, Errors{{Pos: l.filePos(1, 1), Msg: "the workload is empty: it needs name, targets, datasets and stages (workloads/demo.cue is one)"}}
	}
	l.def = l.schema.LookupPath(cue.ParsePath("#Workload"))
	l.cur = user
	for i, s := range sets {
		v, err := l.override(i, s)
		if err != nil {
			return nil, err
		}
		user = user.Unify(v)
		l.cur = user
	}
	w := l.def.Unify(user)
	if err := w.Validate(); err != nil {
		return nil, l.errors(err)
	}
	w = preferUserDefaults(w, user)
	if err := w.Validate(cue.Concrete(true), cue.Final()); err != nil {
		return nil, l.errors(err)
	}
	wl, err := decode(w)
	if err != nil {
		return nil, err
	}
	wl.file = l.filePos(1, 1)
	return wl, nil
}

type loader struct {
	ctx    *cue.Context
	schema cue.Value
	// user holds the file names that are the user's own (the loaded files
	// and the overrides), so their positions are printed first; userDir is
	// the directory loaded, whose files are the user's too.
	user    map[string]bool
	userDir string
	// main is the file or directory the user named, where an error that
	// has no place of its own (a missing field) points.
	main string
	// def is #Workload and cur the user's value with the --set flags
	// applied so far: what an override is checked against.
	def, cur cue.Value
	sets     []setArg
}

// setArg is one --set flag as far as errors need it.
type setArg struct {
	pos  token.Pos
	arg  string
	path []string
	// created is the entry of a named collection the flag brought into
	// being (datasets.nosuch), if the workload did not have it; noun and
	// had say what it is and what the workload has instead.
	created []string
	noun    string
	had     []string
}

func (l *loader) isUser(p token.Pos) bool {
	if !p.IsValid() {
		return false
	}
	name := p.Filename()
	return l.user[name] || (l.userDir != "" && filepath.Dir(name) == l.userDir)
}

func (l *loader) errors(err error) Errors {
	return l.refine(fromCUE(err, l.isUser))
}

// filePos is line:col in the file the user named (1:1 for a directory),
// for errors about the file as a whole.
func (l *loader) filePos(line, col int) token.Pos {
	data, _ := os.ReadFile(l.main)
	return posIn(l.main, data, line, col)
}

// loadCUE loads a .cue file or a directory through cue/load. Its module
// root is the nearest enclosing directory with a cue.mod, or else the
// file's own directory with a module file served from memory; either way
// the schema and the shipped workloads are served below it.
func (l *loader) loadCUE(abs string, isDir bool) (cue.Value, error) {
	dir := abs
	if !isDir {
		dir = filepath.Dir(abs)
	}
	root, module := findModule(dir)
	overlay := map[string]load.Source{}
	if root == "" {
		root = dir
		overlay[filepath.Join(root, "cue.mod", "module.cue")] = load.FromString(fmt.Sprintf(
			"module: %q\nlanguage: version: %q\n", "mlps.local@v0", schema.LanguageVersion))
	}
	if module != schema.Module {
		gen := filepath.Join(root, "cue.mod", "gen", schemaModulePath)
		if err := addOverlay(overlay, schema.Files, filepath.Join(gen, "schema")); err != nil {
			return cue.Value{}, err
		}
		if err := addOverlay(overlay, workloads.Files, filepath.Join(gen, "workloads")); err != nil {
			return cue.Value{}, err
		}
	}
	cfg := &load.Config{Dir: dir, ModuleRoot: root, Overlay: overlay}
	arg := "."
	if !isDir {
		arg = abs
	}
	// Parse errors come back before the instance lists its files: the
	// user's are known from what was asked for.
	if isDir {
		l.userDir = abs
	} else {
		l.user[abs] = true
	}
	insts := append(load.Instances([]string{arg}, cfg), load.Instances([]string{schema.ImportPath}, cfg)...)
	for _, inst := range insts {
		if inst.Err != nil {
			return cue.Value{}, l.errors(inst.Err)
		}
	}
	for _, f := range insts[0].Files {
		l.user[f.Filename] = true
	}
	if len(insts[0].Files) == 0 {
		return cue.Value{}, Errors{{Msg: fmt.Sprintf("%s: no CUE files", abs)}}
	}
	vs, err := l.ctx.BuildInstances([]*build.Instance{insts[0], insts[1]})
	if err != nil {
		return cue.Value{}, l.errors(err)
	}
	l.schema = vs[1]
	return vs[0], nil
}

// loadData reads a YAML or JSON workload. Such files cannot import, so the
// schema is built on its own from the embedded files.
func (l *loader) loadData(abs, ext string) (cue.Value, error) {
	data, err := os.ReadFile(abs)
	if err != nil {
		return cue.Value{}, Errors{{Msg: err.Error()}}
	}
	l.user[abs] = true
	var v cue.Value
	if ext == ".json" {
		expr, err := cuejson.Extract(abs, data)
		if err != nil {
			return cue.Value{}, l.errors(err)
		}
		v = l.ctx.BuildExpr(expr)
	} else {
		f, err := ExtractYAML(abs, data)
		if err != nil {
			return cue.Value{}, yamlError(l, abs, data, err)
		}
		v = l.ctx.BuildFile(f)
	}
	root := "/mlps-embedded"
	overlay := map[string]load.Source{
		filepath.Join(root, "cue.mod", "module.cue"): load.FromString(fmt.Sprintf(
			"module: %q\nlanguage: version: %q\n", schema.Module, schema.LanguageVersion)),
	}
	if err := addOverlay(overlay, schema.Files, filepath.Join(root, "cue.mod", "gen", schemaModulePath, "schema")); err != nil {
		return cue.Value{}, err
	}
	cfg := &load.Config{Dir: root, ModuleRoot: root, Overlay: overlay}
	insts := load.Instances([]string{schema.ImportPath}, cfg)
	if insts[0].Err != nil {
		return cue.Value{}, fmt.Errorf("mlps: embedded schema does not load: %w", insts[0].Err)
	}
	l.schema = l.ctx.BuildInstance(insts[0])
	return v, nil
}

// override compiles one --set argument into a value to unify with the
// workload. The source is named after the flag so that an error points at
// it.
func (l *loader) override(i int, s string) (cue.Value, error) {
	// The name is printed at the head of an error line: a control
	// character in the argument (a newline) is quoted so that it cannot
	// break the line, and a credential in it is hidden.
	shown := secret.Redact(s)
	if strings.ContainsFunc(shown, unicode.IsControl) {
		shown = strconv.Quote(shown)
	}
	name := fmt.Sprintf("--set[%d] %s", i+1, shown)
	key, val, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return cue.Value{}, Errors{{Path: "--set", Msg: fmt.Sprintf("%q: want field.path=value, such as datasets.train.files=128", secret.Redact(s))}}
	}
	var labels []ast.Label
	// Spaces around a field name are a quoting slip (--set "seed = 5"):
	// no field name holds one.
	path := strings.Split(key, ".")
	for i, part := range path {
		part = strings.TrimSpace(part)
		path[i] = part
		if part == "" {
			return cue.Value{}, Errors{{Path: "--set", Msg: fmt.Sprintf("%q: empty element in field path %q", s, key)}}
		}
		labels = append(labels, ast.NewString(part))
	}
	expr, err := parser.ParseExpr(name, val)
	if err != nil || !isLiteral(expr) {
		// A bare word such as file:///data is meant as a string.
		expr = ast.NewString(val)
	}
	leaf := expr
	for j := len(labels) - 1; j >= 0; j-- {
		expr = &ast.StructLit{Elts: []ast.Decl{&ast.Field{Label: labels[j], Value: expr}}}
	}
	l.user[name] = true
	set := setArg{pos: posIn(name, []byte(s), 1, 1), path: path, arg: s}
	if err := l.checkSet(&set, leaf); err != nil {
		return cue.Value{}, Errors{err}
	}
	l.sets = append(l.sets, set)
	v := l.ctx.BuildExpr(expr, cue.Filename(name))
	if v.Err() != nil {
		return cue.Value{}, l.errors(v.Err())
	}
	return v, nil
}

// isLiteral accepts the values a --set may carry: numbers, strings, bools,
// null, lists and structs of them. Anything else (a reference, an
// expression) is taken as a plain string.
func isLiteral(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return x.Name == "true" || x.Name == "false" || x.Name == "null"
	case *ast.UnaryExpr:
		_, ok := x.X.(*ast.BasicLit)
		return ok && (x.Op == token.SUB || x.Op == token.ADD)
	case *ast.ListLit:
		for _, el := range x.Elts {
			if !isLiteral(el) {
				return false
			}
		}
		return true
	case *ast.StructLit:
		for _, d := range x.Elts {
			f, ok := d.(*ast.Field)
			if !ok || !isLiteral(f.Value) {
				return false
			}
		}
		return true
	}
	return false
}

// preferUserDefaults resolves fields where the workload and the schema both
// give a default. CUE drops conflicting defaults, leaving the field
// incomplete; the workload's default is the more specific intent (a shipped
// workload saying epochs: *2 over the schema's *1), so it wins.
func preferUserDefaults(w, user cue.Value) cue.Value {
	var fill []cue.Path
	var walk func(v cue.Value, p []cue.Selector)
	walk = func(v cue.Value, p []cue.Selector) {
		switch v.IncompleteKind() {
		case cue.StructKind:
			it, err := v.Fields()
			if err != nil {
				return
			}
			for it.Next() {
				walk(it.Value(), append(p[:len(p):len(p)], it.Selector()))
			}
			return
		case cue.ListKind:
			it, err := v.List()
			if err != nil {
				return
			}
			for i := 0; it.Next(); i++ {
				walk(it.Value(), append(p[:len(p):len(p)], cue.Index(i)))
			}
			return
		}
		if _, ok := v.Default(); ok || v.IsConcrete() {
			return
		}
		fill = append(fill, cue.MakePath(p...))
	}
	walk(w, nil)
	for _, p := range fill {
		if d, ok := user.LookupPath(p).Default(); ok && d.IsConcrete() {
			w = w.FillPath(p, d)
		}
	}
	return w
}

func findModule(dir string) (root, module string) {
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "cue.mod", "module.cue"))
		if err == nil {
			return d, moduleName(data)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ""
		}
		d = parent
	}
}

var moduleRE = regexp.MustCompile(`(?m)^\s*module:\s*"([^"]+)"`)

func moduleName(modfile []byte) string {
	m := moduleRE.FindSubmatch(modfile)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func addOverlay(overlay map[string]load.Source, files fs.FS, dir string) error {
	return fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".cue" {
			return err
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		overlay[filepath.Join(dir, filepath.FromSlash(p))] = load.FromBytes(bytes.Clone(data))
		return nil
	})
}

// ExtractYAML is cue's YAML decoder for a user's file, made safe: the
// decoder panics on some inputs (lone carriage returns as line ends, found
// by fuzzing), and a panic there would end mlps without saying which file
// or why. It comes back as an error naming the file instead.
func ExtractYAML(filename string, data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: the YAML decoder cannot read this file (it failed with: %v); check that it is YAML with \\n or \\r\\n line ends", filename, r)
		}
	}()
	return cueyaml.Extract(filename, data)
}
