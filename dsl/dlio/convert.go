package dlio

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"

	"mlps.dev/mlps/dsl"
)

func newConverter(filename string, opts Options) *converter {
	return &converter{filename: filename, opts: opts, ctx: cuecontext.New()}
}

// Reasons shared by several fields.
const (
	whyCheckpointOff = "workflow.checkpoint is off, so DLIO does not checkpoint and neither does the converted workload"
	whyModelOff      = "the model only sizes DLIO's checkpoints, and workflow.checkpoint is off"
	whyNoData        = "the workflow neither generates nor trains, so the converted workload has no dataset"
	whyLoader        = "mlps emulates the data loader of any framework the same way: read_threads workers per accelerator, prefetch_size batches in flight"
	whyNoTrain       = "workflow.train is off, so DLIO does not read the dataset and the converted workload has no read-epoch stage"
	whyNoEval        = "workflow.evaluation is off"
	whyProfiling     = "mlps has no profiler integration; run iostat or a tracer alongside mlps exec"
	whyResize        = "DLIO reshapes each sample to this size after loading it, which moves no storage bytes"
)

// mlpsFormats are the formats of schema.#Dataset.
var mlpsFormats = []string{"hdf5", "jpeg", "npy", "npz", "parquet", "png", "tfrecord"}

// dlioFormats are the formats DLIO knows, mapped or not.
var dlioFormats = []string{"csv", "hdf5", "hdf5_opt", "indexed_binary", "jpeg", "mmap_indexed_binary", "npy", "npz", "parquet", "png", "synthetic", "tfrecord"}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// convert maps the workload and returns the mlps workload to print.
func (c *converter) convert(root *node) *obj {
	c.root = root
	// DLIO saves the configuration it ran as a Hydra config.yaml with the
	// workload nested under "workload:"; take that as well.
	if wl := root.child("workload"); wl != nil && wl.isMap && root.child("dataset") == nil {
		wl.used = true
		c.root, c.prefix = wl, "workload."
	}

	wf := c.section("workflow")
	generate := c.flag(wf, "generate_data", false)
	train := c.flag(wf, "train", true)
	evaluation := c.flag(wf, "evaluation", false)
	checkpoint := c.flag(wf, "checkpoint", false)
	if c.flag(wf, "profiling", false) {
		c.warn(wf.child("profiling"), whyProfiling)
	}
	if evaluation && !train {
		c.warn(wf.child("evaluation"), "DLIO evaluates only between training epochs, and workflow.train is off")
		evaluation = false
	}

	w := &obj{}
	name, nameDoc := c.name()
	w.set("name", strLit(name), nameDoc...)
	w.set("description", strLit(fmt.Sprintf("%s, converted by mlps import dlio from the DLIO workload %s", name, filepath.Base(c.filename))))
	if tr := c.section("train"); tr != nil {
		if n := c.get(tr, "seed"); n != nil {
			if seed, _, ok := c.integer(n, 0, math.MaxInt64, false); ok {
				w.set("seed", intLit(seed), "train.seed: seeds generated data and shuffles (mlps and DLIO draw differently from the same seed)")
			}
		}
	}
	c.warn(c.get(c.root, "framework"), whyLoader)

	targets := &obj{}
	w.set("targets", targets)
	stages := &obj{}
	if generate || train {
		c.data(w, targets, stages, generate, train, evaluation)
	} else {
		c.warnAll(c.section("dataset"), whyNoData)
		c.warnAll(c.section("storage"), whyNoData)
		c.warnAll(c.readerSection(), whyNoTrain)
		c.warnAll(c.section("train"), whyNoTrain)
		c.warnAll(c.section("evaluation"), whyNoTrain)
		c.warnAll(c.section("metric"), whyNoTrain)
	}
	if checkpoint {
		c.checkpoint(targets, stages, train)
	} else {
		c.warnAll(c.section("checkpoint"), whyCheckpointOff)
		c.warnAll(c.get(c.root, "model"), whyModelOff)
	}
	if len(stages.fields) == 0 && len(c.errs) == 0 {
		at := wf
		if at == nil {
			at = c.root
		}
		c.errs = append(c.errs, dsl.Errorf(at.pos, c.rel(at.path),
			"nothing to convert: the workflow neither generates data, nor trains, nor checkpoints"))
	}
	w.set("stages", stages)

	c.warnAll(c.section("profiling"), whyProfiling)
	if out := c.section("output"); out != nil {
		c.warn(c.get(out, "folder"), "mlps exec writes its results to --results DIR")
		c.warn(c.get(out, "log_file"), "mlps exec writes its progress to stderr and its results to --results DIR")
	}
	return w
}

// data maps the dataset, and the generate and read-epoch stages of the
// workflow, into w.
func (c *converter) data(w, targets, stages *obj, generate, train, evaluation bool) {
	wf := c.section("workflow")
	uri, uriDoc := c.target()
	targets.set("data", &obj{fields: []field{{label: "uri", value: strLit(uri), doc: uriDoc}}})

	ds := c.section("dataset")
	trainSet, readColumns := c.dataset(ds)
	datasets := &obj{}
	datasets.set("train", trainSet, "DLIO's {data_folder}/train")

	// The evaluation files: DLIO generates them whenever there are any and
	// reads them when evaluation is on.
	nEval, _ := c.intOr(ds, "num_files_eval", 0, 0, 1<<40)
	subEval, _ := c.intOr(ds, "num_subfolders_eval", 0, 0, 1000000)
	if evaluation && nEval == 0 {
		c.warn(wf.child("evaluation"), "dataset.num_files_eval is 0, so DLIO evaluates nothing")
		evaluation = false
	}
	withValid := nEval > 0 && (generate || (train && evaluation))
	if withValid {
		valid := &obj{}
		for _, f := range trainSet.fields {
			switch f.label {
			case "path":
				valid.set("path", strLit("valid"))
			case "files":
				valid.set("files", intLit(nEval), "dataset.num_files_eval")
			case "subfolders":
			default:
				valid.set(f.label, f.value)
			}
		}
		if subEval > 0 {
			valid.set("subfolders", intLit(subEval), "dataset.num_subfolders_eval")
		}
		datasets.set("valid", valid, "DLIO's {data_folder}/valid, the evaluation files")
	} else if nEval > 0 {
		why := "neither workflow.generate_data nor workflow.evaluation uses the evaluation files"
		c.warn(ds.child("num_files_eval"), "%s", why)
		c.warn(ds.child("num_subfolders_eval"), "%s", why)
	}
	w.set("datasets", datasets)

	if generate {
		stages.set("datagen", &obj{fields: []field{{label: "kind", value: strLit("generate")}, {label: "dataset", value: strLit("train")}}},
			"workflow.generate_data: write the training files")
		if withValid {
			stages.set("datagen-valid", &obj{fields: []field{{label: "kind", value: strLit("generate")}, {label: "dataset", value: strLit("valid")}}},
				"workflow.generate_data: write the evaluation files")
		}
	}
	if train {
		stages.set("train", c.readEpoch(evaluation, readColumns), "workflow.train")
	} else {
		c.warnAll(c.readerSection(), whyNoTrain)
		c.warnAll(c.section("train"), whyNoTrain)
		c.warnAll(c.section("evaluation"), whyNoTrain)
		c.warnAll(c.section("metric"), whyNoTrain)
		if out := c.section("output"); out != nil {
			c.warnAll(out.child("metric"), whyNoTrain)
		}
	}
}

// name maps model.name (or a bare "model: name") to the workload name.
func (c *converter) name() (string, []string) {
	raw, from := "", "model.name"
	if m := c.get(c.root, "model"); m != nil {
		if m.isMap {
			if n := c.get(m, "name"); n != nil {
				raw, _ = c.str(n)
			}
		} else {
			raw, _ = c.str(m)
			from = "model"
		}
	}
	if raw == "" {
		base := filepath.Base(c.filename)
		raw, from = strings.TrimSuffix(base, filepath.Ext(base)), "the file name"
	}
	name := mlpsName(raw)
	if name != raw {
		return name, []string{fmt.Sprintf("from %s %q, made a valid mlps name", from, raw)}
	}
	return name, []string{"from " + from}
}

// mlpsName makes s a schema.#Name: lower case letters, digits, '_' and
// '-', starting with a letter, at most 63 characters.
func mlpsName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-_")
	if n == "" || n[0] < 'a' || n[0] > 'z' {
		n = "dlio-" + n
	}
	return strings.TrimRight(n[:min(len(n), 63)], "-_")
}

// target maps storage and dataset.data_folder to the URI of the target
// holding the data: DLIO keeps a dataset in {storage_root}/{data_folder}.
func (c *converter) target() (string, []string) {
	st := c.section("storage")
	kind := c.strOr(st, "storage_type", "local_fs")
	root := c.strOr(st, "storage_root", "./")
	ds := c.section("dataset")
	folder := c.strOr(ds, "data_folder", "./data/")
	if trimmed := strings.TrimRight(folder, "/"); trimmed != "" {
		folder = trimmed
	}
	c.warnAll(childOf(st, "storage_options"), "options of object stores; mlps backends read endpoints and credentials from the environment")

	dir := folder
	var doc string
	switch kind {
	case "local_fs", "parallel_fs":
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		doc = fmt.Sprintf("DLIO's storage_root %q and dataset.data_folder %q", root, folder)
	default:
		c.warn(st.child("storage_type"), "mlps has no %s backend yet, so the data target stays file://, at the local directory data_folder names", kind)
		c.warn(st.child("storage_root"), "it names the bucket or container of storage_type %s, which is not mapped", kind)
		doc = fmt.Sprintf("DLIO's dataset.data_folder %q, which DLIO reads from %s storage %q: mlps has no %s backend yet", folder, kind, root, kind)
	}
	if !filepath.IsAbs(dir) {
		base, err := filepath.Abs(c.opts.BaseDir) // "" is the working directory
		if err != nil {
			base = c.opts.BaseDir
		}
		doc += fmt.Sprintf(", resolved against %s as DLIO resolves a relative path against the directory it runs in", base)
		dir = filepath.Join(base, dir)
	}
	dir = filepath.ToSlash(filepath.Clean(dir))
	if !strings.HasPrefix(dir, "/") { // a Windows drive path
		dir = "/" + dir
	}
	return "file://" + dir, []string{doc}
}

func childOf(n *node, key string) *node {
	if n == nil {
		return nil
	}
	return n.child(key)
}

// dataset maps the dataset section to the training dataset. It returns
// the parquet columns the loader reads when DLIO skips some.
func (c *converter) dataset(ds *node) (*obj, []string) {
	d := &obj{}
	d.set("target", strLit("data"))
	d.set("path", strLit("train"))

	format, formatDoc := c.format(ds)
	d.set("format", strLit(format), formatDoc...)

	files, _ := c.intOr(ds, "num_files_train", 8, 1, 1<<40)
	filesDoc := []string{"dataset.num_files_train"}
	if ds.child("num_files_train") == nil {
		filesDoc = []string{"DLIO's default num_files_train"}
	}
	d.set("files", intLit(files), filesDoc...)
	spf, _ := c.intOr(ds, "num_samples_per_file", 1, 1, 1<<40)
	d.set("samples_per_file", intLit(spf))

	rec, recDoc := c.recordBytes(ds)
	var stdev int64
	stdevNode := c.pick(ds, "record_length_bytes_stdev", "record_length_stdev")
	if n := stdevNode; n != nil {
		s, rounded, ok := c.integer(n, 0, 1<<40, true)
		if ok {
			stdev = s
			if rounded {
				recDoc = append(recDoc, fmt.Sprintf("%s %s, rounded", c.rel(n.path), lit(n)))
			}
		}
	}
	c.warn(c.pick(ds, "record_length_bytes_resize", "record_length_resize"), whyResize)

	var readColumns []string
	var parquet *obj
	if format == "parquet" {
		parquet, rec, readColumns = c.parquet(ds, rec)
		if stdev > 0 {
			c.warn(stdevNode, "every row of a parquet file has the same columns, so records do not vary in size")
			stdev = 0
		}
	} else {
		c.warnAll(childOf(ds, "parquet"), "format is %s, not parquet", format)
	}
	d.set("record_bytes", intLit(rec), recDoc...)
	if stdev > 0 {
		d.set("record_bytes_stdev", intLit(stdev))
	}
	if sub, _ := c.intOr(ds, "num_subfolders_train", 0, 0, 1000000); sub > 0 {
		d.set("subfolders", intLit(sub), "dataset.num_subfolders_train")
	}
	if n := c.get(ds, "file_prefix"); n != nil {
		if p, ok := c.str(n); ok {
			if !prefixRE.MatchString(p) {
				c.errorf(n, "file prefix %q: want letters, digits, '_', '.' and '-', starting with a letter or digit", p)
			} else {
				d.set("prefix", strLit(p))
			}
		}
	}
	if parquet != nil {
		d.set("parquet", parquet)
	}

	if n := c.get(ds, "keep_files"); n != nil {
		if keep, ok := c.boolean(n); ok && !keep {
			c.warn(n, "DLIO deletes the data after the run; mlps keeps file:// data (a tmp:// target is removed after the run)")
		}
	}
	c.warn(c.get(ds, "generation_buffer_size"), "mlps generates each file in pieces of the generate stage's write_bytes")
	chunked := false
	if n := c.get(ds, "enable_chunking"); n != nil {
		if chunked, _ = c.boolean(n); chunked {
			c.warn(n, "mlps writes hdf5 files unchunked")
		}
	}
	if n := c.get(ds, "chunk_size"); n != nil && chunked {
		c.warn(n, "mlps writes hdf5 files unchunked")
	}
	compression := "none"
	if n := c.get(ds, "compression"); n != nil {
		if compression, _ = c.str(n); compression != "none" {
			c.warn(n, "mlps writes uncompressed files")
		}
	}
	if n := c.get(ds, "compression_level"); n != nil && compression != "none" {
		c.warn(n, "mlps writes uncompressed files")
	}
	c.warnAll(childOf(ds, "hdf5"), "mlps lays out hdf5 files itself, one dataset of records per file")
	return d, readColumns
}

func lit(n *node) string {
	s := kindName(n)
	return strings.TrimPrefix(s, "the number ")
}

// format maps dataset.format.
func (c *converter) format(ds *node) (string, []string) {
	n := c.get(ds, "format")
	if n == nil {
		return "tfrecord", []string{"DLIO's default format"}
	}
	f, ok := c.str(n)
	if !ok {
		return "npz", nil
	}
	switch {
	case slices.Contains(mlpsFormats, f):
		return f, nil
	case f == "hdf5_opt":
		return "hdf5", []string{"DLIO's hdf5_opt reads hdf5 files with an optimised reader"}
	case f == "synthetic":
		c.errorf(n, "format synthetic reads no files, so there is no storage workload to convert")
	case slices.Contains(dlioFormats, f):
		c.errorf(n, "format %q has no mlps equivalent (mlps formats: %s)", f, strings.Join(mlpsFormats, ", "))
	default:
		c.errorf(n, "unknown format %q (DLIO formats: %s)", f, strings.Join(dlioFormats, ", "))
	}
	return "npz", nil
}

// elementBytes are the sizes of the numpy element types DLIO's
// record_element_type takes.
var elementBytes = map[string]int64{
	"bool": 1, "int8": 1, "uint8": 1,
	"int16": 2, "uint16": 2, "float16": 2, "bfloat16": 2,
	"int32": 4, "uint32": 4, "float32": 4,
	"int64": 8, "uint64": 8, "float64": 8,
}

// recordBytes maps the record length: record_length_bytes (record_length
// in older DLIO), or with DLIO's newer record_dims the product of the
// dimensions times the element size.
func (c *converter) recordBytes(ds *node) (int64, []string) {
	lenNode := c.pick(ds, "record_length_bytes", "record_length")
	dims := c.get(ds, "record_dims")
	typ := c.get(ds, "record_element_type")
	c.warn(c.get(ds, "record_element_bytes"), "DLIO derives the element size from record_element_type")
	if dims != nil {
		elem, typName := int64(1), "uint8"
		if typ != nil {
			if t, ok := c.str(typ); ok {
				if b, known := elementBytes[t]; known {
					elem, typName = b, t
				} else {
					c.errorf(typ, "unknown element type %q", t)
				}
			}
		}
		v := c.value(dims)
		it, err := v.List()
		if err != nil {
			c.errorf(dims, "want a list of dimensions, got %s", kindName(dims))
			return 1, nil
		}
		total := elem
		var parts []string
		for it.Next() {
			d, err := it.Value().Int64()
			if err != nil || d < 1 || total > (1<<40)/d {
				c.errorf(dims, "want positive dimensions whose product times the element size is at most 2^40 bytes")
				return 1, nil
			}
			total *= d
			parts = append(parts, fmt.Sprint(d))
		}
		c.warn(lenNode, "record_dims gives the record size")
		return total, []string{fmt.Sprintf("record_dims [%s] of %s (%d bytes each)", strings.Join(parts, ", "), typName, elem)}
	}
	c.warn(typ, "it sizes records only together with record_dims")
	if lenNode == nil {
		return 65536, []string{"DLIO's default record length"}
	}
	r, rounded, ok := c.integer(lenNode, 1, 1<<40, true)
	if !ok {
		return 1, nil
	}
	if rounded {
		return r, []string{fmt.Sprintf("%s %s, rounded", c.rel(lenNode.path), lit(lenNode))}
	}
	return r, nil
}

// parquetTypes maps DLIO's parquet column dtypes to mlps column types.
var parquetTypes = map[string]string{"float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64"}

// parquet maps dataset.parquet: the column layout, or without one a
// single binary column of the record length. It returns the layout, the
// record length the columns add up to, and the columns the loader reads
// when DLIO marks some read: false.
func (c *converter) parquet(ds *node, rec int64) (*obj, int64, []string) {
	p := childOf(ds, "parquet")
	if p != nil && !p.isMap {
		c.errorf(p, "want a mapping of parquet fields, got %s", kindName(p))
		return nil, rec, nil
	}
	out := &obj{}
	var cols []*obj
	var read []string
	skipped := false
	if p != nil {
		p.used = true
	}
	colsNode := c.get(p, "columns")
	if colsNode == nil {
		col := &obj{}
		col.set("name", strLit("data"))
		col.set("type", strLit("bytes"))
		col.set("width", intLit(rec))
		out.set("columns", []*obj{col}, "DLIO gives no columns: one binary column of the record length")
	} else {
		it, err := c.value(colsNode).List()
		if err != nil {
			c.errorf(colsNode, "want a list of columns, got %s", kindName(colsNode))
			return nil, rec, nil
		}
		rec = 0
		for it.Next() {
			v := it.Value()
			var spec struct {
				Name  string `json:"name"`
				Dtype string `json:"dtype"`
				Size  int64  `json:"size"`
				Read  *bool  `json:"read"`
			}
			if err := v.Decode(&spec); err != nil || spec.Name == "" {
				c.errs = append(c.errs, dsl.Errorf(v.Pos(), c.rel(colsNode.path), "want a column {name, dtype, size, read}"))
				continue
			}
			typ, ok := parquetTypes[spec.Dtype]
			if !ok {
				c.errs = append(c.errs, dsl.Errorf(v.Pos(), c.rel(colsNode.path),
					"column %s: dtype %q has no mlps equivalent (mlps: float32, float64, int32, int64)", spec.Name, spec.Dtype))
				continue
			}
			if spec.Size < 1 {
				spec.Size = 1
			}
			col := &obj{}
			col.set("name", strLit(spec.Name))
			col.set("type", strLit(typ))
			if spec.Size > 1 {
				col.set("elements", intLit(spec.Size))
			}
			cols = append(cols, col)
			rec += elementBytes[typ] * spec.Size
			if spec.Read != nil && !*spec.Read {
				skipped = true
			} else {
				read = append(read, spec.Name)
			}
		}
		out.set("columns", cols)
	}
	if n := c.get(p, "row_group_size"); n != nil {
		if rows, _, ok := c.integer(n, 1, 1073741824, false); ok {
			out.set("row_group_rows", intLit(rows))
		}
	}
	c.warnAll(p, "a detail of DLIO's parquet generator or reader")
	if !skipped {
		read = nil
	}
	return out, rec, read
}

// readerSection is DLIO's reader section, which it also takes under the
// older name data_reader (which wins when both are given).
func (c *converter) readerSection() *node {
	if c.root.child("data_reader") != nil {
		return c.section("data_reader")
	}
	return c.section("reader")
}

// readEpoch maps reader, train, evaluation and metric to the read-epoch
// stage.
func (c *converter) readEpoch(evaluation bool, columns []string) *obj {
	rd := c.readerSection()
	tr := c.section("train")
	ev := c.section("evaluation")
	mt := c.section("metric")
	out := c.section("output")
	s := &obj{}
	s.set("kind", strLit("read-epoch"))
	s.set("dataset", strLit("train"))

	epochs, _ := c.intOr(tr, "epochs", 1, 1, 100000)
	s.set("epochs", intLit(epochs))
	s.set("accelerators", intLit(int64(c.opts.Accelerators)), "DLIO's mpirun -np: set with mlps import --accelerators")
	batch, _ := c.intOr(rd, "batch_size", 1, 1, 1<<40)
	s.set("batch_size", intLit(batch))

	threads := int64(1)
	if n := c.get(rd, "read_threads"); n != nil {
		if t, _, ok := c.integer(n, 0, 1024, false); ok {
			threads = t
			if t == 0 {
				c.warn(n, "0 makes DLIO load in the training process, without overlap; mlps always uses loader workers, so it uses 1")
				threads = 1
			}
		}
	}
	s.set("read_threads", intLit(threads))
	if n := c.get(rd, "prefetch_size"); n != nil {
		if p, _, ok := c.integer(n, 0, 65536, false); ok {
			s.set("prefetch_size", intLit(p))
		}
	} else {
		s.set("prefetch_size", intLit(2), "DLIO's default prefetch_size")
	}
	if ct, ok := c.duration(c.get(tr, "computation_time"), c.get(tr, "computation_time_stdev")); ok {
		s.set("computation_time", ct)
	}

	fileShuffle := c.shuffle(c.get(rd, "file_shuffle"))
	sampleShuffle := c.shuffle(c.get(rd, "sample_shuffle"))
	s.set("file_shuffle", strLit(fileShuffle))
	s.set("sample_shuffle", strLit(sampleShuffle))
	// Only DLIO's tensorflow loader shuffles within a buffer of
	// shuffle_size samples; its pytorch loader shuffles each rank's share.
	loader := c.strOr(rd, "data_loader", c.strOr(c.root, "framework", "tensorflow"))
	c.warn(rd.child("data_loader"), whyLoader)
	if n := c.get(rd, "shuffle_size"); loader == "tensorflow" && sampleShuffle != "off" {
		size := int64(1024)
		doc := []string{"DLIO's default shuffle buffer of its tensorflow loader"}
		if n != nil {
			size, _, _ = c.integer(n, 1, 1<<40, false)
			doc = nil
		}
		s.set("shuffle_size", intLit(size), doc...)
	} else if n != nil {
		if sampleShuffle == "off" {
			c.warn(n, "reader.sample_shuffle is off")
		} else {
			c.warn(n, "only DLIO's tensorflow loader shuffles within a buffer; its %s loader shuffles each accelerator's whole share", loader)
		}
	}
	if columns != nil {
		s.set("columns", strList(columns), "the parquet columns DLIO reads (read: true)")
	}
	if n := c.get(rd, "odirect"); n != nil {
		if b, ok := c.boolean(n); ok {
			s.set("odirect", boolLit(b))
		}
	}
	if n := c.get(rd, "transfer_size"); n != nil {
		if t, _, ok := c.integer(n, 512, 1073741824, false); ok {
			s.set("transfer_bytes", intLit(t), "reader.transfer_size")
		}
	}

	if om := childOf(out, "metric"); om != nil {
		if !om.isMap {
			c.errorf(om, "want a mapping, got %s", kindName(om))
		} else {
			om.used = true
			if n := c.get(om, "exclude_start_steps"); n != nil {
				if v, _, ok := c.integer(n, 0, math.MaxInt32, false); ok {
					s.set("exclude_start_steps", intLit(v))
				}
			}
			if n := c.get(om, "exclude_end_steps"); n != nil {
				if v, _, ok := c.integer(n, 0, math.MaxInt32, false); ok {
					s.set("exclude_end_steps", intLit(v))
				}
			}
		}
	}
	au := 0.9
	auDoc := []string{"DLIO's default metric.au"}
	if n := c.get(mt, "au"); n != nil {
		if v, ok := c.number(n, 0, 1); ok {
			if v == 0 {
				c.errorf(n, "want a fraction above 0 and at most 1, got 0")
			}
			au, auDoc = v, []string{"metric.au"}
		}
	}
	s.set("au_minimum", floatLit(au), auDoc...)

	if evaluation {
		e := &obj{}
		e.set("dataset", strLit("valid"))
		if n := c.get(rd, "batch_size_eval"); n != nil {
			if b, _, ok := c.integer(n, 1, 1<<40, false); ok {
				e.set("batch_size", intLit(b), "reader.batch_size_eval")
			}
		}
		if et, ok := c.duration(c.get(ev, "eval_time"), c.get(ev, "eval_time_stdev")); ok {
			e.set("computation_time", et, "evaluation.eval_time")
		}
		if n := c.get(ev, "eval_after_epoch"); n != nil {
			if v, _, ok := c.integer(n, 1, 100000, false); ok {
				e.set("after_epoch", intLit(v))
			}
		}
		if n := c.get(ev, "epochs_between_evals"); n != nil {
			if v, _, ok := c.integer(n, 1, 100000, false); ok {
				e.set("every", intLit(v), "evaluation.epochs_between_evals")
			}
		}
		s.set("evaluation", e, "workflow.evaluation")
	} else {
		c.warn(rd.child("batch_size_eval"), whyNoEval)
		c.warnAll(ev, whyNoEval)
	}

	// Fields of DLIO's loader that mlps has no counterpart for.
	c.warn(c.get(rd, "computation_threads"), "only DLIO's tensorflow loader uses it, to parallelise preprocessing; mlps emulates compute as computation_time per step")
	if n := c.get(rd, "read_type"); n != nil {
		if t, _ := c.str(n); t != "on_demand" {
			c.warn(n, "mlps reads the dataset from storage every epoch (DLIO's on_demand)")
		}
	}
	if n := c.get(rd, "file_access"); n != nil {
		if a, _ := c.str(n); a != "multi" {
			c.warn(n, "mlps reads a dataset of many files (DLIO's multi)")
		}
	}
	for _, k := range []string{"preprocess_time", "preprocess_time_stdev"} {
		if n := c.get(rd, k); n != nil && !c.isZero(n) {
			c.warnAll(n, "mlps has no per-sample preprocessing delay; fold it into train.computation_time per batch if it matters")
		}
	}
	for _, k := range []string{"reader_classname", "data_loader_classname", "data_loader_sampler"} {
		c.warnAll(childOf(rd, k), "a plug-in of DLIO's python loader; mlps has its own loader")
	}
	for _, k := range []string{"multiprocessing_context", "pin_memory", "dont_use_mmap"} {
		c.warnAll(childOf(rd, k), "a detail of DLIO's python loader that moves no storage bytes")
	}
	for _, k := range []string{"transformed_record_dims", "transformed_record_element_type"} {
		c.warnAll(childOf(rd, k), "DLIO transforms samples after loading them, which moves no storage bytes")
	}

	if n := c.get(tr, "total_training_steps"); n != nil {
		if v, _, ok := c.integer(n, math.MinInt64, math.MaxInt64, false); ok && v > 0 {
			c.warn(n, "mlps reads whole epochs; to read less, make datasets.train.files smaller")
		}
	}
	if n := c.get(tr, "seed_change_epoch"); n != nil {
		if b, ok := c.boolean(n); ok && !b {
			c.warn(n, "mlps seeds shuffles with the epoch, as DLIO does with seed_change_epoch: true")
		}
	}
	return s
}

// shuffle maps DLIO's shuffle mode: off, seed or random. A boolean, as
// PyYAML reads "off", is taken as off (false) or seed (true).
func (c *converter) shuffle(n *node) string {
	if n == nil {
		return "off"
	}
	v := c.value(n)
	if b, err := v.Bool(); err == nil {
		if b {
			return "seed"
		}
		return "off"
	}
	if s, err := v.String(); err == nil {
		switch s := strings.ToLower(s); s {
		case "off", "seed", "random":
			return s
		}
	}
	c.errorf(n, "want off, seed or random, got %s", kindName(n))
	return "off"
}

// duration maps DLIO's time per step, n: a number of seconds, or a
// distribution {type, ...} as DLIO's sleep draws it, to a number or an
// mlps #Distribution. stdev is DLIO's separate *_stdev field.
func (c *converter) duration(n, stdev *node) (any, bool) {
	if n == nil && stdev == nil {
		return nil, false
	}
	var sd float64
	hasSD := false
	if stdev != nil {
		v, ok := c.number(stdev, 0, 3600)
		if !ok {
			return nil, false
		}
		sd, hasSD = v, true
	}
	if n == nil || !n.isMap {
		mean := 0.0
		if n != nil {
			v, ok := c.number(n, 0, 3600)
			if !ok {
				return nil, false
			}
			mean = v
		}
		if hasSD && sd > 0 {
			return normal(mean, sd), true
		}
		return floatLit(mean), true
	}

	num := func(key string, required bool) (float64, bool) {
		f := c.get(n, key)
		if f == nil {
			if required {
				c.errorf(n, "a distribution of type %s needs %s", c.strOr(n, "type", "normal"), key)
			}
			return 0, false
		}
		return c.number(f, 0, 3600)
	}
	typ := ""
	if t := c.get(n, "type"); t != nil {
		typ, _ = c.str(t)
	}
	var out *obj
	switch typ {
	case "":
		mean, _ := num("mean", false)
		if s, ok := num("stdev", false); ok && !hasSD {
			sd, hasSD = s, true
		}
		if !hasSD || sd == 0 {
			c.warnAll(n, "without a type DLIO uses only mean and stdev")
			return floatLit(mean), true
		}
		out = normal(mean, sd)
	case "normal":
		mean, ok1 := num("mean", true)
		s, ok2 := num("stdev", !hasSD)
		if !ok1 || !ok2 && !hasSD {
			return nil, false
		}
		if !hasSD {
			sd = s
		}
		out = normal(mean, sd)
	case "uniform":
		lo, ok1 := num("min", true)
		hi, ok2 := num("max", true)
		if !ok1 || !ok2 {
			return nil, false
		}
		if hi < lo {
			c.errorf(n, "uniform distribution with max %g below min %g", hi, lo)
			return nil, false
		}
		out = dist("uniform", (lo+hi)/2, (hi-lo)/(2*math.Sqrt(3)), fmt.Sprintf("DLIO's uniform over [%g, %g]", lo, hi))
	case "gamma":
		shape, ok1 := num("shape", true)
		scale, ok2 := num("scale", true)
		if !ok1 || !ok2 {
			return nil, false
		}
		out = dist("gamma", shape*scale, math.Sqrt(shape)*scale, fmt.Sprintf("DLIO's gamma with shape %g and scale %g", shape, scale))
	case "exponential":
		scale, ok := num("scale", true)
		if !ok {
			return nil, false
		}
		out = dist("exponential", scale, 0, fmt.Sprintf("DLIO's exponential with scale %g", scale))
	case "poisson":
		lam, ok := num("lam", true)
		if !ok {
			return nil, false
		}
		out = dist("poisson", lam, math.Sqrt(lam), fmt.Sprintf("DLIO's poisson with lam %g", lam))
	default:
		c.errorf(n.child("type"), "unknown distribution %q (DLIO: normal, uniform, gamma, exponential, poisson)", typ)
		return nil, false
	}
	if hasSD && typ != "" && typ != "normal" {
		c.warn(stdev, "a %s distribution takes no stdev", typ)
	}
	if typ == "" {
		typ = "normal"
	}
	c.warnAll(n, "DLIO's %s distribution does not use it", typ)
	for _, f := range out.fields[1:] {
		if v, _ := strconv.ParseFloat(f.value.(*ast.BasicLit).Value, 64); v > 3600 {
			c.errorf(n, "the %s distribution's %s is %g seconds: want at most 3600", typ, f.label, v)
			return nil, false
		}
	}
	return out, true
}

func normal(mean, sd float64) *obj {
	return dist("normal", mean, sd, "DLIO takes the absolute value of a negative draw; mlps clips it to 0")
}

func dist(typ string, mean, sd float64, doc string) *obj {
	o := &obj{}
	o.set("type", strLit(typ), doc)
	o.set("mean", floatLit(mean))
	if sd > 0 {
		o.set("stdev", floatLit(sd))
	}
	return o
}

// reportUnused reports every field the conversion neither mapped nor
// reported: a field mlps import does not know, a misspelling or a field of
// a DLIO version it has not seen.
func (c *converter) reportUnused(n *node) {
	for _, f := range n.fields {
		if f.isMap {
			c.reportUnused(f)
			continue
		}
		if f.used {
			continue
		}
		why := "not a DLIO field mlps import knows (DLIO ignores fields it does not read)"
		if s := suggest(c.rel(f.path)); s != "" {
			why += "; did you mean " + s + "?"
		}
		c.warn(f, "%s", why)
	}
}
