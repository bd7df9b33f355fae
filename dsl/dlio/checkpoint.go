package dlio

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Reasons for checkpoint fields without an mlps equivalent.
const (
	whyCkptUnmapped = "mlps saves every rank's own files, synchronised, with seeded content; this DLIO option changes nothing mlps measures"
	whyCkptEpochs   = "DLIO reads it only while training; this workflow only checkpoints"
)

// get returns the field label of o, or nil.
func (o *obj) get(label string) *obj {
	for _, f := range o.fields {
		if f.label == label {
			if v, ok := f.value.(*obj); ok {
				return v
			}
		}
	}
	return nil
}

// checkpoint maps workflow.checkpoint. A transformer model becomes a
// checkpoint stage sized from its shape and parallelism; another model of
// model_size bytes becomes read-epoch's checkpoint, saved by rank 0 at the
// end of epochs as DLIO saves it.
func (c *converter) checkpoint(targets, stages *obj, train bool) {
	ck := c.section("checkpoint")
	m := c.get(c.root, "model")
	if m != nil && !m.isMap {
		m = nil
	}
	transformer := m != nil && (c.strOr(m, "type", "") == "transformer" || m.child("transformer") != nil)
	uri, path, doc := c.checkpointFolder(ck)
	target := &obj{fields: []field{{label: "uri", value: strLit(uri), doc: doc}}}
	switch {
	case transformer:
		targets.set("ckpt", target)
		stages.set("checkpoint", c.checkpointStage(m, ck, path), "workflow.checkpoint: save and load the model's checkpoint")
	case train && stages.get("train") != nil:
		size := c.modelBytes(m, ck)
		if size == 0 {
			c.errorf(c.section("workflow").child("checkpoint"),
				"workflow.checkpoint is on, but neither model.model_size nor a transformer model says how large the checkpoint is")
			break
		}
		targets.set("ckpt", target)
		e := &obj{}
		e.set("target", strLit("ckpt"))
		e.set("path", strLit(path))
		e.set("model_bytes", intLit(size), "model.model_size: rank 0 saves the model, as DLIO does for a model that is not a transformer")
		after, _ := c.intOr(ck, "checkpoint_after_epoch", 1, 1, 100000)
		e.set("after_epoch", intLit(after), "checkpoint.checkpoint_after_epoch")
		every, _ := c.intOr(ck, "epochs_between_checkpoints", 1, 1, 100000)
		e.set("every", intLit(every), "checkpoint.epochs_between_checkpoints")
		e.set("fsync", boolLit(c.flag(ck, "fsync", false)), "checkpoint.fsync (DLIO's default is off)")
		if n := c.get(ck, "steps_between_checkpoints"); n != nil && !c.isZero(n) {
			if v, _, ok := c.integer(n, -1, 1<<40, false); ok && v > 0 {
				c.warn(n, "mlps checkpoints at the end of epochs, not every N steps")
			}
		}
		stages.get("train").set("checkpoint", e, "workflow.checkpoint: save a checkpoint between epochs")
	default:
		c.errorf(c.section("workflow").child("checkpoint"),
			"workflow.checkpoint is on without training, but the model is not a transformer: DLIO checkpoints such a model only between training epochs")
	}
	c.warnAll(ck, whyCkptUnmapped)
	if m != nil {
		c.warnAll(m, "not used to size the checkpoint")
	}
}

// checkpointFolder maps checkpoint.checkpoint_folder to the URI of a
// target and the path below it: its parent directory and its last
// element, resolved as DLIO resolves a relative folder.
func (c *converter) checkpointFolder(ck *node) (string, string, []string) {
	folder := c.strOr(ck, "checkpoint_folder", "./checkpoints/")
	dir := filepath.Clean(folder)
	doc := []string{fmt.Sprintf("DLIO's checkpoint.checkpoint_folder %q", folder)}
	if !filepath.IsAbs(dir) {
		base, err := filepath.Abs(c.opts.BaseDir)
		if err != nil {
			base = c.opts.BaseDir
		}
		doc[0] += ", resolved against " + base
		dir = filepath.Join(base, dir)
	}
	parent, path := filepath.Dir(dir), filepath.Base(dir)
	if path == "/" || path == "." {
		path = "checkpoints"
	}
	parent = filepath.ToSlash(parent)
	if !strings.HasPrefix(parent, "/") {
		parent = "/" + parent
	}
	return "file://" + parent, path, doc
}

// modelBytes is the size of a model that is not a transformer.
func (c *converter) modelBytes(m, ck *node) int64 {
	for _, at := range []struct {
		sec *node
		key string
	}{{m, "model_size"}, {m, "model_size_bytes"}, {ck, "model_size"}} {
		if at.sec == nil {
			continue
		}
		if n := c.get(at.sec, at.key); n != nil {
			if v, _, ok := c.integer(n, 0, 1<<50, true); ok && v > 0 {
				return v
			}
		}
	}
	return 0
}

// checkpointStage maps a transformer model and the checkpoint section to
// a checkpoint stage.
func (c *converter) checkpointStage(m, ck *node, path string) *obj {
	s := &obj{}
	s.set("kind", strLit("checkpoint"))
	s.set("target", strLit("ckpt"))
	s.set("path", strLit(path))

	tr := c.get(m, "transformer")
	if tr != nil && !tr.isMap {
		tr = nil
	}
	model := &obj{}
	if n := c.get(m, "name"); n != nil {
		if name, ok := c.str(n); ok {
			model.set("name", strLit(name))
		}
	}
	need := func(sec *node, key, field string, def int64) {
		n := c.get(sec, key)
		if n == nil {
			if def > 0 {
				model.set(field, intLit(def), fmt.Sprintf("DLIO's default %s", key))
				return
			}
			at := m
			if sec != nil {
				at = sec
			}
			c.errorf(at, "%s is needed to size the checkpoint of a transformer", key)
			return
		}
		if v, _, ok := c.integer(n, 1, 1<<40, false); ok {
			model.set(field, intLit(v))
		}
	}
	need(m, "num_layers", "layers", 0)
	need(tr, "hidden_size", "hidden", 0)
	need(tr, "ffn_hidden_size", "ffn", 0)
	need(tr, "num_attention_heads", "heads", 0)
	heads, _ := c.intOr(tr, "num_attention_heads", 1, 1, 1<<40)
	need(tr, "num_kv_heads", "kv_heads", heads)
	need(tr, "vocab_size", "vocab", 0)
	for _, dt := range []struct{ key, def string }{{"model_datatype", "fp16"}, {"optimizer_datatype", "fp32"}} {
		v := c.strOr(m, dt.key, dt.def)
		switch v {
		case "fp16", "bf16", "fp32", "fp64", "int8", "uint8":
			model.set(dt.key, strLit(v))
		default:
			c.errorf(m.child(dt.key), "datatype %q: want fp16, bf16, fp32, fp64, int8 or uint8", v)
		}
	}
	s.set("model", model)

	par := c.get(m, "parallelism")
	if par != nil && !par.isMap {
		par = nil
	}
	tp, _ := c.intOr(par, "tensor", 1, 1, 65536)
	pp, _ := c.intOr(par, "pipeline", 1, 1, 65536)
	zero, _ := c.intOr(par, "zero_stage", 0, -1, 3)
	if zero < 0 {
		zero = 0 // DLIO's -1: no ZeRO
	}
	procs := int64(max(c.opts.Accelerators, 1))
	p := &obj{}
	p.set("tensor", intLit(tp))
	p.set("pipeline", intLit(pp))
	data, _ := c.intOr(par, "data", 0, 0, 65536)
	ranks := int64(0)
	switch {
	case data > 0:
		p.set("data", intLit(data), "model.parallelism.data: the full run's replicas")
		if full := tp * pp * data; procs < full {
			ranks = procs // DLIO's subset mode: mpirun -np below the full run
		} else if procs > full {
			c.errorf(par.child("data"), "mpirun -np (--accelerators %d) is more than tensor × pipeline × data = %d", procs, full)
		}
	case procs%(tp*pp) != 0:
		c.errorf(m, "mpirun -np (--accelerators %d) is not a multiple of tensor × pipeline = %d, so DLIO has no whole data-parallel replica", procs, tp*pp)
	default:
		p.set("data", intLit(procs/(tp*pp)), fmt.Sprintf("mpirun -np (--accelerators %d) ÷ (tensor × pipeline)", procs))
	}
	p.set("zero", intLit(zero), "model.parallelism.zero_stage")
	s.set("parallelism", p)
	if ranks > 0 {
		s.set("ranks", intLit(ranks), "a subset run: mpirun -np (--accelerators) ranks of the full-size model")
	}

	if n := c.get(ck, "num_checkpoints_write"); n != nil {
		if v, _, ok := c.integer(n, -1, 100000, false); ok && v >= 0 {
			s.set("writes", intLit(v), "checkpoint.num_checkpoints_write")
		}
	}
	if n := c.get(ck, "num_checkpoints_read"); n != nil {
		if v, _, ok := c.integer(n, -1, 100000, false); ok && v >= 0 {
			s.set("reads", intLit(v), "checkpoint.num_checkpoints_read")
		}
	}
	s.set("fsync", boolLit(c.flag(ck, "fsync", false)), "checkpoint.fsync (DLIO's default is off; DLIO never applies it, mlps does)")
	if n := c.get(ck, "time_between_checkpoints"); n != nil {
		if v, ok := c.number(n, 0, 86400); ok && v > 0 {
			s.set("pause", floatLit(v), "checkpoint.time_between_checkpoints")
		}
	}
	for _, key := range []string{"checkpoint_after_epoch", "epochs_between_checkpoints", "steps_between_checkpoints"} {
		c.warn(c.get(ck, key), whyCkptEpochs)
	}
	return s
}
