package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#Checkpoint.
type Spec struct {
	dsl.Common
	Target      string      `json:"target"`
	Path        string      `json:"path"`
	Model       Model       `json:"model"`
	Parallelism Parallelism `json:"parallelism"`
	Ranks       *int64      `json:"ranks"`
	Writes      int         `json:"writes"`
	Reads       int         `json:"reads"`
	Fsync       bool        `json:"fsync"`
	ODirect     bool        `json:"odirect"`
	DropCache   bool        `json:"drop_cache"`
	Pause       float64     `json:"pause"`
	ChunkBytes  int64       `json:"chunk_bytes"`
	Chunks      int         `json:"chunks"`
	Verify      bool        `json:"verify"`
}

func init() {
	stages.Register(stages.Kind{Name: "checkpoint", Plan: plan})
}

func plan(w *dsl.Workload, id string) (stages.Task, error) {
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(f ...any) []any { return append([]any{"stages", id}, f...) }
	if _, ok := w.Targets[s.Target]; !ok {
		return nil, w.ErrorAt(at("target"), "no target %q: the workload's targets are %s", s.Target, targetNames(w))
	}
	sz := Sizing{Model: s.Model, Par: s.Parallelism}
	if field, err := sz.Check(); err != nil {
		return nil, w.ErrorAt(at(splitField(field)...), "%v", err)
	}
	full := s.Parallelism.Ranks()
	ranks := full
	if s.Ranks != nil {
		ranks = *s.Ranks
		if ranks > full {
			return nil, w.ErrorAt(at("ranks"), "%d ranks are more than the full run's %d (tensor %d × pipeline %d × data %d): set ranks at most %d, or raise parallelism.data",
				ranks, full, s.Parallelism.Tensor, s.Parallelism.Pipeline, s.Parallelism.Data, full)
		}
	}
	if uri := w.Targets[s.Target].URI; s.ODirect && !strings.HasPrefix(uri, "file://") && !strings.HasPrefix(uri, "tmp://") {
		return nil, w.ErrorAt(at("odirect"), "odirect is for file targets; target %s is %s", s.Target, uri)
	}
	if s.ODirect && s.ChunkBytes%backends.DirectAlign != 0 {
		return nil, w.ErrorAt(at("chunk_bytes"), "odirect needs chunk_bytes to be a multiple of %d, not %d", backends.DirectAlign, s.ChunkBytes)
	}
	t := &task{spec: s, sizing: sz, ranks: ranks, full: full, seed: w.Seed}
	t.files = make([][]File, ranks)
	for r := range ranks {
		t.files[r] = sz.Files(r)
		for _, f := range t.files[r] {
			t.bytes += f.Bytes()
			t.nfiles++
			t.chunks += (f.Bytes() + s.ChunkBytes - 1) / s.ChunkBytes
		}
	}
	fm, fo := sz.Totals(full)
	t.fullBytes = fm + fo
	return t, nil
}

func splitField(f string) []any {
	var out []any
	start := 0
	for i := 0; i <= len(f); i++ {
		if i == len(f) || f[i] == '.' {
			out = append(out, f[start:i])
			start = i + 1
		}
	}
	return out
}

func targetNames(w *dsl.Workload) string {
	b, _ := json.Marshal(sortedKeys(w.Targets))
	return string(b)
}

type task struct {
	spec   Spec
	sizing Sizing
	// ranks run, and the ranks of the full run.
	ranks, full int64
	seed        uint64
	files       [][]File // per rank run
	// bytes, nfiles and chunks are one checkpoint's, over the ranks run.
	bytes, nfiles, chunks int64
	fullBytes             int64
}

func (t *task) Reads() []string  { return nil }
func (t *task) Writes() []string { return nil }

func (t *task) Work() stages.Work {
	w, r := int64(t.spec.Writes), int64(t.spec.Reads)
	return stages.Work{WriteBytes: w * t.bytes, ReadBytes: r * t.bytes,
		Files: (w + r) * t.nfiles, Ops: (w + r) * t.chunks}
}

func (t *task) Describe() string {
	s := t.spec
	p := s.Parallelism
	name := s.Model.Name
	if name == "" {
		name = fmt.Sprintf("a %d-layer model", s.Model.Layers)
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for r := range t.ranks {
		var n int64
		for _, f := range t.files[r] {
			n += f.Bytes()
		}
		lo, hi = min(lo, n), max(hi, n)
	}
	per := measure.IEC(lo)
	if hi != lo {
		per = measure.IEC(lo) + "–" + measure.IEC(hi)
	}
	desc := fmt.Sprintf("saves %d and loads %d checkpoints of %s (TP %d × PP %d × DP %d, ZeRO-%d) on %d ranks to %s:%s/: %s each, %s per rank, in %d files",
		s.Writes, s.Reads, name, p.Tensor, p.Pipeline, p.Data, p.Zero, t.ranks, s.Target, s.Path,
		measure.IEC(t.bytes), per, t.nfiles)
	if t.ranks < t.full {
		desc += fmt.Sprintf("; a subset of the full run's %d ranks, which would save %s each", t.full, measure.IEC(t.fullBytes))
	}
	var opts []string
	if s.Fsync {
		opts = append(opts, "fsync")
	}
	if s.ODirect {
		opts = append(opts, "O_DIRECT")
	}
	if s.Verify {
		opts = append(opts, "verifying every byte loaded")
	}
	for i, o := range opts {
		if i == 0 {
			desc += " ("
		} else {
			desc += ", "
		}
		desc += o
		if i == len(opts)-1 {
			desc += ")"
		}
	}
	return desc
}

// name is the object of rank file f in checkpoint k (counted from 1).
func (t *task) name(k int, f string) string {
	dir := fmt.Sprintf("global_step%d", k)
	if t.spec.Path != "" {
		dir = t.spec.Path + "/" + dir
	}
	return dir + "/" + f
}

// stream is the content identity of file f of checkpoint k.
func (t *task) stream(k int, f string) uint64 {
	return content.Stream("checkpoint:"+t.spec.Path+"/"+f, int64(k))
}

// rankResult is one rank's part of one save or load.
type rankResult struct {
	Phase      string  `json:"phase"`
	Checkpoint int     `json:"checkpoint"`
	Rank       int64   `json:"rank"`
	Files      int     `json:"files"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

// phaseResult is one save or load: the slowest rank's time, and the bytes
// of all ranks.
type phaseResult struct {
	Bytes   int64
	Seconds float64
}

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.spec.Target)
	if err != nil {
		return nil, err
	}
	if t.spec.ODirect {
		if _, ok := b.(backends.DirectCreator); !ok {
			return nil, fmt.Errorf("target %s (%s) cannot write with O_DIRECT: odirect is for file targets", t.spec.Target, b.Properties().Scheme)
		}
	}
	detail, err := env.Create("ranks.jsonl")
	if err != nil {
		return nil, err
	}
	defer detail.Close()
	enc := json.NewEncoder(detail)

	pool := newPool(t.poolSize(), int(t.spec.ChunkBytes), t.spec.ODirect)
	gen := content.New(t.seed)
	var saves, loads []phaseResult
	var runErr error
	for k := 1; k <= t.spec.Writes && runErr == nil; k++ {
		if k > 1 && t.spec.Pause > 0 {
			if runErr = sleep(ctx, time.Duration(t.spec.Pause*float64(time.Second))); runErr != nil {
				break
			}
		}
		var pr phaseResult
		pr, runErr = t.phase(ctx, env, b, pool, gen, "save", k, enc)
		if pr.Seconds > 0 {
			saves = append(saves, pr)
		}
	}
	var dropped string
	if runErr == nil && t.spec.Reads > 0 && t.spec.Writes > 0 && t.spec.DropCache {
		dropped, runErr = t.evict(ctx, b)
	}
	for i := 0; i < t.spec.Reads && runErr == nil; i++ {
		k := i%max(t.spec.Writes, 1) + 1
		if t.spec.Writes == 0 {
			k = i + 1
		}
		var pr phaseResult
		pr, runErr = t.phase(ctx, env, b, pool, gen, "load", k, enc)
		if pr.Seconds > 0 {
			loads = append(loads, pr)
		}
	}
	m := t.metrics(saves, loads)
	if dropped != "" {
		m["page_cache"] = dropped
	}
	return m, runErr
}

// poolSize is the number of chunks the stage allocates: the workload's
// pool, but no more than the ranks can have in flight at once.
func (t *task) poolSize() int {
	return int(min(int64(t.spec.Chunks), t.ranks*(pipeDepth+2)))
}

// pipeDepth is how many filled chunks a rank's writer may have queued,
// and how many ranged reads a rank has in flight.
const pipeDepth = 4

// evict drops the files of every checkpoint from the host's page cache.
func (t *task) evict(ctx context.Context, b backends.Backend) (string, error) {
	e, ok := b.(backends.Evicter)
	if !ok {
		return "", nil // an object store: no client-side cache to drop
	}
	for k := 1; k <= t.spec.Writes; k++ {
		for r := range t.ranks {
			for _, f := range t.files[r] {
				if err := e.Evict(ctx, t.name(k, f.Name)); err != nil {
					return "", fmt.Errorf("dropping checkpoint files from the page cache so that loads come from storage: %w (set drop_cache: false, or odirect: true, to load without it)", err)
				}
			}
		}
	}
	return "dropped between saves and loads (fdatasync and posix_fadvise DONTNEED per file)", nil
}

// phase runs one save or load of checkpoint k on every rank at once, as
// the ranks of a training job start a checkpoint together, and returns
// the bytes of all ranks over the slowest rank's time.
func (t *task) phase(ctx context.Context, env *stages.Env, b backends.Backend, pool *pool, gen *content.Generator, phase string, k int, enc *json.Encoder) (phaseResult, error) {
	results := make([]rankResult, t.ranks)
	g, gctx := errgroup.WithContext(ctx)
	for r := range t.ranks {
		g.Go(func() error {
			rec := env.Meter.Worker()
			rr := rankResult{Phase: phase, Checkpoint: k, Rank: r}
			start := time.Now()
			var err error
			for _, f := range t.files[r] {
				var n int64
				if phase == "save" {
					n, err = t.save(gctx, b, pool, gen, rec, k, f)
				} else {
					n, err = t.load(gctx, b, pool, gen, rec, k, r, f)
				}
				rr.Bytes += n
				if err != nil {
					break
				}
				rr.Files++
			}
			rr.Seconds = time.Since(start).Seconds()
			results[r] = rr
			return err
		})
	}
	err := g.Wait()
	var pr phaseResult
	for _, rr := range results {
		pr.Bytes += rr.Bytes
		pr.Seconds = max(pr.Seconds, rr.Seconds)
		if werr := enc.Encode(rr); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return pr, fmt.Errorf("%s of checkpoint %d: %w", phase, k, err)
	}
	return pr, nil
}

// save writes file f of checkpoint k: a filler fills chunks from the
// pool with the file's content while the writer drains them, so
// generating and writing overlap; with fsync the file is synced before
// it is closed. It records one write operation per file.
func (t *task) save(ctx context.Context, b backends.Backend, pool *pool, gen *content.Generator, rec *measure.Worker, k int, f File) (int64, error) {
	name, size, stream := t.name(k, f.Name), f.Bytes(), t.stream(k, f.Name)
	r := measure.Record{Op: measure.Write, Target: t.spec.Target, Start: time.Now()}
	var w backends.Writer
	var err error
	if t.spec.ODirect {
		w, err = b.(backends.DirectCreator).CreateDirect(ctx, name, size)
	} else {
		w, err = b.Create(ctx, name, size)
	}
	if err != nil {
		r.End, r.Err = time.Now(), err
		rec.Observe(r)
		return 0, err
	}
	r.Endpoint = backends.EndpointOf(w)
	filled := make(chan chunk, pipeDepth)
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(filled)
		for off := int64(0); off < size; off += t.spec.ChunkBytes {
			c, ok := pool.get(fctx)
			if !ok {
				return
			}
			n := min(t.spec.ChunkBytes, size-off)
			gen.Fill(c.buf[:n], stream, off)
			select {
			case filled <- chunk{c: c, n: int(n)}:
			case <-fctx.Done():
				pool.put(c)
				return
			}
		}
	})
	for c := range filled {
		if err == nil {
			var n int
			n, err = w.Write(c.c.buf[:c.n])
			r.Bytes += int64(n)
			if r.FirstByte.IsZero() && n > 0 {
				r.FirstByte = time.Now()
			}
			if err != nil {
				stop()
			}
		}
		pool.put(c.c)
	}
	stop()
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && t.spec.Fsync {
		if s, ok := w.(backends.Syncer); ok {
			err = s.Sync()
		}
	}
	if err == nil {
		err = w.Close()
	} else {
		w.Abort()
	}
	r.End, r.Err = time.Now(), err
	rec.Observe(r)
	if err != nil {
		return 0, err
	}
	return r.Bytes, nil
}

type chunk struct {
	c *buffer
	n int
}

// load reads file f of checkpoint k back in ranged reads of one chunk,
// pipeDepth at a time, into chunks from the pool; with verify every byte
// is checked. It records one read operation per file, from the first
// request to the last byte.
func (t *task) load(ctx context.Context, b backends.Backend, pool *pool, gen *content.Generator, rec *measure.Worker, k int, rank int64, f File) (int64, error) {
	name, size, stream := t.name(k, f.Name), f.Bytes(), t.stream(k, f.Name)
	r := measure.Record{Op: measure.Read, Target: t.spec.Target, Start: time.Now()}
	var mu sync.Mutex
	var next int64
	g, gctx := errgroup.WithContext(ctx)
	workers := min(int64(pipeDepth), (size+t.spec.ChunkBytes-1)/t.spec.ChunkBytes)
	for range workers {
		g.Go(func() error {
			for {
				mu.Lock()
				off := next
				next += t.spec.ChunkBytes
				mu.Unlock()
				if off >= size {
					return nil
				}
				n := min(t.spec.ChunkBytes, size-off)
				got, ep, err := t.readChunk(gctx, b, pool, gen, name, stream, rank, off, n)
				mu.Lock()
				r.Bytes += got
				if got > 0 && r.FirstByte.IsZero() {
					r.FirstByte = time.Now()
				}
				if r.Endpoint == "" {
					r.Endpoint = ep
				}
				mu.Unlock()
				if err != nil {
					return err
				}
			}
		})
	}
	err := g.Wait()
	r.End, r.Err = time.Now(), err
	rec.Observe(r)
	return r.Bytes, err
}

// readChunk reads [off, off+n) of name into a pooled chunk and checks it
// when verifying.
func (t *task) readChunk(ctx context.Context, b backends.Backend, pool *pool, gen *content.Generator, name string, stream uint64, rank, off, n int64) (int64, string, error) {
	c, ok := pool.get(ctx)
	if !ok {
		return 0, "", ctx.Err()
	}
	defer pool.put(c)
	var rc io.ReadCloser
	var err error
	if t.spec.ODirect {
		if d, ok := b.(backends.DirectOpener); ok {
			rc, err = d.OpenDirect(ctx, name, off, n)
		} else {
			rc, err = b.Open(ctx, name, off, n)
		}
	} else {
		rc, err = b.Open(ctx, name, off, n)
	}
	if err != nil {
		return 0, "", err
	}
	ep := backends.EndpointOf(rc)
	got, err := io.ReadFull(rc, c.buf[:n])
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%s ends at byte %d, but rank %d saved %d bytes there: the checkpoint is short", name, off+int64(got), rank, off+n)
	}
	if err == nil && t.spec.Verify {
		if bad, ok := gen.Verify(c.buf[:n], stream, off); !ok {
			err = fmt.Errorf("verify: rank %d, file %s: byte %d differs from what was saved", rank, name, bad)
		}
	}
	return int64(got), ep, err
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
