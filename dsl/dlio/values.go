package dlio

import (
	"fmt"
	"math"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"mlps.dev/mlps/dsl"
)

// converter walks the DLIO tree, records errors and warnings, and marks
// every node it maps or reports.
type converter struct {
	filename string
	opts     Options
	ctx      *cue.Context
	root     *node
	// prefix is stripped from reported paths: "workload." when the file
	// is DLIO's saved Hydra config, which nests the workload under it.
	prefix string
	// sections caches section lookups, so a malformed section is
	// reported once.
	sections map[string]*node
	errs     dsl.Errors
	warnings []Warning
}

func (c *converter) rel(path string) string { return strings.TrimPrefix(path, c.prefix) }

// errorf records an error about n's value.
func (c *converter) errorf(n *node, format string, args ...any) {
	n.used = true
	pos := n.vpos
	if !pos.IsValid() {
		pos = n.pos
	}
	c.errs = append(c.errs, dsl.Errorf(pos, c.rel(n.path), format, args...))
}

// warn reports n as not mapped. A nil n is ignored, so callers can pass a
// field that may be missing.
func (c *converter) warn(n *node, format string, args ...any) {
	if n == nil {
		return
	}
	n.used = true
	c.warnings = append(c.warnings, Warning{Pos: n.pos, Path: c.rel(n.path), Reason: fmt.Sprintf(format, args...)})
}

// warnAll reports every field below n that is not mapped yet.
func (c *converter) warnAll(n *node, format string, args ...any) {
	if n == nil {
		return
	}
	if !n.isMap {
		if !n.used {
			c.warn(n, format, args...)
		}
		return
	}
	n.used = true
	for _, f := range n.fields {
		c.warnAll(f, format, args...)
	}
}

// get returns the field key of the mapping sec, marked used, or nil when
// it is missing or null: DLIO treats a null as not given.
func (c *converter) get(sec *node, key string) *node {
	n := sec.child(key)
	if n == nil {
		return nil
	}
	n.used = true
	if lit, ok := n.value.(*ast.BasicLit); ok && lit.Kind == token.NULL {
		return nil
	}
	return n
}

// section returns the mapping key of the workload, or nil. A section that
// is not a mapping is an error.
func (c *converter) section(key string) *node {
	if n, done := c.sections[key]; done {
		return n
	}
	n := c.get(c.root, key)
	if n != nil && !n.isMap {
		c.errorf(n, "want a mapping of %s fields, got %s", key, kindName(n))
		n = nil
	}
	if c.sections == nil {
		c.sections = map[string]*node{}
	}
	c.sections[key] = n
	return n
}

// pick returns the field given under key, or else under its older name
// alias. When both are given the newer name wins and the other is
// reported.
func (c *converter) pick(sec *node, key, alias string) *node {
	n, old := c.get(sec, key), c.get(sec, alias)
	if n != nil && old != nil {
		c.warn(old, "%s is given too and takes precedence", key)
		return n
	}
	if n == nil {
		return old
	}
	return n
}

// value is n's value for the readers below to check its kind. A mapping
// has no value of its own; it reads as an empty struct, which every
// reader rejects as "a mapping".
func (c *converter) value(n *node) cue.Value {
	if n.isMap || n.value == nil {
		return c.ctx.BuildExpr(ast.NewStruct())
	}
	return c.ctx.BuildExpr(n.value)
}

// number reads n as a float.
func (c *converter) number(n *node, lo, hi float64) (float64, bool) {
	v := c.value(n)
	switch v.Kind() {
	case cue.IntKind, cue.FloatKind:
		f, err := v.Float64()
		if err != nil {
			c.errorf(n, "%v", err)
			return 0, false
		}
		if f < lo || f > hi {
			c.errorf(n, "%g is out of range: want %g to %g", f, lo, hi)
			return 0, false
		}
		return f, true
	}
	c.errorf(n, "want a number, got %s", kindName(n))
	return 0, false
}

// integer reads n as a whole number in [lo, hi]. With round, a fraction
// is rounded to the nearest integer (DLIO writes mean record lengths
// such as 114660.07) and rounded reports it.
func (c *converter) integer(n *node, lo, hi int64, round bool) (i int64, rounded, ok bool) {
	v := c.value(n)
	switch v.Kind() {
	case cue.IntKind:
		x, err := v.Int64()
		if err != nil {
			c.errorf(n, "%s is out of range: %s", kindName(n), want(lo, hi))
			return 0, false, false
		}
		i = x
	case cue.FloatKind:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<62 {
			c.errorf(n, "%s is out of range: %s", kindName(n), want(lo, hi))
			return 0, false, false
		}
		if f != math.Trunc(f) {
			if !round {
				c.errorf(n, "want a whole number, got %s", kindName(n))
				return 0, false, false
			}
			rounded = true
		}
		i = int64(math.Round(f))
	default:
		c.errorf(n, "want a whole number, got %s", kindName(n))
		return 0, false, false
	}
	if i < lo || i > hi {
		c.errorf(n, "%d is out of range: %s", i, want(lo, hi))
		return 0, false, false
	}
	return i, rounded, true
}

func want(lo, hi int64) string {
	if hi == math.MaxInt64 {
		return fmt.Sprintf("want at least %d", lo)
	}
	return fmt.Sprintf("want %d to %d", lo, hi)
}

// intOr reads the whole number sec.key, or returns def when it is not
// given.
func (c *converter) intOr(sec *node, key string, def, lo, hi int64) (int64, bool) {
	n := c.get(sec, key)
	if n == nil {
		return def, true
	}
	i, _, ok := c.integer(n, lo, hi, false)
	return i, ok
}

// str reads n as a string.
func (c *converter) str(n *node) (string, bool) {
	v := c.value(n)
	if v.Kind() != cue.StringKind {
		c.errorf(n, "want a string, got %s", kindName(n))
		return "", false
	}
	s, _ := v.String()
	return s, true
}

// strOr reads the string sec.key, or returns def.
func (c *converter) strOr(sec *node, key, def string) string {
	n := c.get(sec, key)
	if n == nil {
		return def
	}
	s, ok := c.str(n)
	if !ok {
		return def
	}
	return s
}

// boolean reads n as a bool. DLIO reads its YAML with PyYAML, which takes
// yes, no, on and off for booleans too, so those are accepted as well.
func (c *converter) boolean(n *node) (bool, bool) {
	v := c.value(n)
	switch v.Kind() {
	case cue.BoolKind:
		b, _ := v.Bool()
		return b, true
	case cue.StringKind:
		s, _ := v.String()
		switch strings.ToLower(s) {
		case "yes", "on", "true", "y":
			return true, true
		case "no", "off", "false", "n":
			return false, true
		}
	}
	c.errorf(n, "want true or false, got %s", kindName(n))
	return false, false
}

// flag reads the bool sec.key, or returns def.
func (c *converter) flag(sec *node, key string, def bool) bool {
	n := c.get(sec, key)
	if n == nil {
		return def
	}
	b, ok := c.boolean(n)
	if !ok {
		return def
	}
	return b
}

// isZero reports whether n is the number 0, a value DLIO treats as not
// set.
func (c *converter) isZero(n *node) bool {
	v := c.value(n)
	if k := v.Kind(); k != cue.IntKind && k != cue.FloatKind {
		return false
	}
	f, err := v.Float64()
	return err == nil && f == 0
}
