// Package upload implements the upload stage: it copies every file of one
// dataset, index files included, into another dataset that describes the
// same files on another target or path, as data staged on one storage
// system is moved onto the one under test. Each worker streams a file
// through its one buffer, so memory does not grow with the files' sizes.
package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#Upload.
type Spec struct {
	dsl.Common
	From          string `json:"from"`
	To            string `json:"to"`
	Workers       int    `json:"workers"`
	TransferBytes int64  `json:"transfer_bytes"`
	Verify        bool   `json:"verify"`
}

func init() {
	stages.Register(stages.Kind{Name: "upload", Plan: plan})
}

func plan(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	src, err := dataset.Resolve(w, s.From, "stages", id, "from")
	if err != nil {
		return nil, err
	}
	dst, err := dataset.Resolve(w, s.To, "stages", id, "to")
	if err != nil {
		return nil, err
	}
	if err := in.Stores(src.Target, fmt.Sprintf("there are no files of dataset %s to upload: upload from a target that stores", src.Name), "stages", id, "from"); err != nil {
		return nil, err
	}
	if err := sameFiles(in, id, src, dst); err != nil {
		return nil, err
	}
	t := &task{spec: s, src: src, dst: dst, seed: w.Seed}
	if err := in.Fits(dst.Target, t.bytes(), "dataset "+dst.Name, "datasets", dst.Name, "files"); err != nil {
		return nil, err
	}
	return t, nil
}

// sameFiles checks that dst describes the files of src, elsewhere.
func sameFiles(in *stages.PlanInput, id string, src, dst *dataset.Layout) error {
	w := in.Workload
	at := []any{"stages", id, "to"}
	a, b := src.Dataset, dst.Dataset
	type field struct {
		name     string
		from, to any
	}
	fields := []field{
		{"format", a.Format, b.Format},
		{"files", a.Files, b.Files},
		{"samples_per_file", a.SamplesPerFile, b.SamplesPerFile},
		{"record_bytes", a.RecordBytes, b.RecordBytes},
		{"record_bytes_stdev", a.RecordBytesStdev, b.RecordBytesStdev},
		{"subfolders", a.Subfolders, b.Subfolders},
		{"prefix", a.Prefix, b.Prefix},
		{"parquet", a.Parquet, b.Parquet},
	}
	var diffs []string
	var also []string
	for _, f := range fields {
		if reflect.DeepEqual(f.from, f.to) {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%s is %s in %s and %s in %s",
			f.name, show(f.from), src.Name, show(f.to), dst.Name))
		also = append(also, f.name)
	}
	if len(diffs) > 0 {
		err := w.ErrorAt(at,
			"dataset %s must describe the same files as dataset %s, differing only in target and path: %s",
			dst.Name, src.Name, strings.Join(diffs, "; "))
		// Point at the differing fields too, where the user wrote them.
		var de *dsl.Error
		if errors.As(err, &de) {
			for _, f := range also {
				for _, ds := range []string{dst.Name, src.Name} {
					// A default's place is the schema's, not the user's.
					if p := w.Pos("datasets", ds, f); p.IsValid() &&
						!strings.HasSuffix(filepath.ToSlash(p.Filename()), "/schema/workload.cue") {
						de.Also = append(de.Also, p)
					}
				}
			}
		}
		return err
	}
	if a.Path == b.Path && (a.Target == b.Target || in.Targets[a.Target].SameStorage(in.Targets[b.Target])) {
		if src.Name == dst.Name {
			return w.ErrorAt(at, "upload copies dataset %s onto itself: name another dataset, on another target or path", src.Name)
		}
		where := "target " + b.Target
		if a.Target != b.Target {
			where = fmt.Sprintf("targets %s and %s are both %s", a.Target, b.Target, w.Targets[b.Target].URI)
		}
		return w.ErrorAt(at,
			"datasets %s and %s are the same files (%s, path %q): the upload would copy them onto themselves; give %s another target or path",
			src.Name, dst.Name, where, b.Path, dst.Name)
	}
	return nil
}

// show prints a dataset field's value for an error message.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case *dsl.Parquet:
		if v == nil {
			return "unset"
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%+v", *v)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

type task struct {
	spec     Spec
	src, dst *dataset.Layout
	seed     uint64
}

func (t *task) Reads() []string  { return []string{t.spec.From} }
func (t *task) Writes() []string { return []string{t.spec.To} }

// files is the number of files copied, index files included.
func (t *task) files() int64 {
	if _, ok := t.src.IndexName(0); ok {
		return 2 * t.src.Files
	}
	return t.src.Files
}

// bytes is the size of every file copied, index files included.
func (t *task) bytes() int64 {
	l := t.src
	return l.TotalBytes() + l.TotalIndexBytes()
}

func (t *task) Work() stages.Work {
	n := t.bytes()
	f := t.files()
	return stages.Work{ReadBytes: n, WriteBytes: n, Files: f, Ops: 2 * f, Expected: !t.src.ExactSizes()}
}

func (t *task) workers() int64 { return min(int64(t.spec.Workers), t.src.Files) }

func (t *task) Concurrency() int { return int(t.workers()) }

func (t *task) Describe() string {
	s, d := t.src, t.dst
	files := fmt.Sprintf("%d %s files", s.Files, s.Format)
	if _, ok := s.IndexName(0); ok {
		files += fmt.Sprintf(" and their %d index files", s.Files)
	}
	desc := fmt.Sprintf("uploads dataset %s to %s: %s (%s) from %s:%s/ to %s:%s/ with %d workers",
		s.Name, d.Name, files, measure.IEC(t.bytes()), s.Target, s.Path, d.Target, d.Path, t.workers())
	if t.spec.Verify {
		desc += ", verifying every byte read"
	}
	return desc
}

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	from, err := env.Target(t.src.Target)
	if err != nil {
		return nil, err
	}
	to, err := env.Target(t.dst.Target)
	if err != nil {
		return nil, err
	}
	var gen *content.Generator
	if t.spec.Verify {
		gen = content.New(t.seed)
	}
	start := time.Now()
	var next, files, bytes atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range t.workers() {
		g.Go(func() error {
			c := &copier{t: t, from: from, to: to, rec: env.Meter.Worker(),
				buf: make([]byte, t.spec.TransferBytes), gen: gen}
			for {
				i := next.Add(1) - 1
				if i >= t.src.Files {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				n, err := c.copy(ctx, i, false)
				if err != nil {
					return err
				}
				files.Add(1)
				bytes.Add(n)
				if _, ok := t.src.IndexName(i); ok {
					n, err := c.copy(ctx, i, true)
					if err != nil {
						return err
					}
					files.Add(1)
					bytes.Add(n)
				}
			}
		})
	}
	err = g.Wait()
	secs := time.Since(start).Seconds()
	m := stages.Metrics{"files_uploaded": files.Load(), "bytes_uploaded": bytes.Load()}
	if secs > 0 {
		// Bytes uploaded, each once, over the copy: the stage's
		// stage_MB_per_second counts every operation's bytes, the read
		// from the source and the write to the destination alike.
		m["upload_MB_per_second"] = measure.MBPerSecond(bytes.Load(), secs)
	}
	return m, err
}

// Headline says the stage's key figures in one line.
func (t *task) Headline(m stages.Metrics) string {
	files, _ := m["files_uploaded"].(int64)
	bytes, _ := m["bytes_uploaded"].(int64)
	rate, _ := m["upload_MB_per_second"].(float64)
	return fmt.Sprintf("uploaded %d files, %s, at %.1f MB/s over the copy (upload_MB_per_second)", files, measure.IEC(bytes), rate)
}

// copier is one worker: its buffer, its recorder and the two backends.
type copier struct {
	t        *task
	from, to backends.Backend
	rec      *measure.Worker
	buf      []byte
	gen      *content.Generator // set when verifying
}

// copy copies file i (with index, its index file) and records one read
// from the source and one write to the destination. It returns the bytes
// the destination committed: the file's size, or 0 on error.
func (c *copier) copy(ctx context.Context, i int64, index bool) (int64, error) {
	s, d := c.t.src, c.t.dst
	name, dname, size := s.FileName(i), d.FileName(i), s.FileSize(i)
	if index {
		name, _ = s.IndexName(i)
		dname, _ = d.IndexName(i)
		size = s.IndexSize(i)
	}
	rop := c.rec.Begin(measure.Read, s.Target)
	// A length, not "to the end", lets an object store split the read
	// into parallel ranged requests; one byte more than the dataset
	// defines tells a longer file from a complete one.
	rc, err := c.from.Open(ctx, name, 0, size+1)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", name, rop.End(err))
	}
	var check func([]byte) error
	if c.gen != nil {
		v := s.Verifier(i, 0, c.gen)
		if index {
			v = s.IndexVerifier(i, 0)
		}
		defer v.Close()
		check = v.Check
	}
	src := rop.Reader(rc, check)

	wop := c.rec.Begin(measure.Write, d.Target)
	w, err := c.to.Create(ctx, dname, size)
	if err != nil {
		rc.Close()
		rop.End(errAbandoned)
		wop.End(err)
		return 0, fmt.Errorf("upload %s to %s: %w", name, dname, err)
	}
	_, err = io.CopyBuffer(wop.Writer(w), src, c.buf)
	readErr := rop.Err()
	if err == nil && rop.Bytes() != size {
		err = fmt.Errorf("read %d bytes, dataset %s defines %d: regenerate it or fix its definition", rop.Bytes(), s.Name, size)
		if rop.Bytes() > size {
			err = fmt.Errorf("the file is longer than the %d bytes dataset %s defines: regenerate it or fix its definition", size, s.Name)
		}
		readErr = err
	}
	if cerr := rc.Close(); err == nil && cerr != nil {
		err, readErr = cerr, cerr
	}
	rop.End(readErr)

	if err == nil {
		err = wop.End(w.Close())
	} else {
		w.Abort()
		werr := wop.Err()
		if werr == nil {
			werr = errAborted
		}
		wop.End(werr)
	}
	if err != nil {
		var ce *dataset.CorruptError
		switch {
		case errors.As(err, &ce):
			return 0, err // it names the file and the offset
		case readErr != nil:
			return 0, fmt.Errorf("upload %s: %w", name, err)
		}
		return 0, fmt.Errorf("upload %s to %s: %w", name, dname, err)
	}
	return wop.Bytes(), nil
}

// errAborted marks a write abandoned because its source failed, and
// errAbandoned a read abandoned because its destination could not be
// created.
var (
	errAborted   = errors.New("aborted: reading the source failed")
	errAbandoned = errors.New("abandoned: creating the destination failed")
)
