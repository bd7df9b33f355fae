package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/internal/ckpt"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#Checkpoint.
type Spec struct {
	dsl.Common
	Target      string           `json:"target"`
	Path        string           `json:"path"`
	Model       ckpt.Model       `json:"model"`
	Parallelism ckpt.Parallelism `json:"parallelism"`
	Ranks       *int64           `json:"ranks"`
	Writes      int              `json:"writes"`
	Reads       int              `json:"reads"`
	Fsync       bool             `json:"fsync"`
	ODirect     bool             `json:"odirect"`
	DropCache   bool             `json:"drop_cache"`
	Pause       float64          `json:"pause"`
	ChunkBytes  int64            `json:"chunk_bytes"`
	Chunks      int              `json:"chunks"`
	Verify      bool             `json:"verify"`
}

func init() {
	stages.Register(stages.Kind{Name: "checkpoint", Plan: plan})
}

func plan(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(f ...any) []any { return append([]any{"stages", id}, f...) }
	target, err := in.Target(s.Target, at("target")...)
	if err != nil {
		return nil, err
	}
	sz := ckpt.Sizing{Model: s.Model, Par: s.Parallelism}
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
	if s.ODirect {
		if err := in.ODirect(s.Target, true, at("odirect")...); err != nil {
			return nil, err
		}
	}
	if s.ODirect && s.ChunkBytes%backends.DirectAlign != 0 {
		return nil, w.ErrorAt(at("chunk_bytes"), "odirect needs chunk_bytes to be a multiple of %d, not %d", backends.DirectAlign, s.ChunkBytes)
	}
	if s.Verify && s.Reads > 0 {
		if err := in.Stores(s.Target, "verify has nothing saved to check the loads against: drop verify or use a target that stores", at("verify")...); err != nil {
			return nil, err
		}
	}
	t := &task{spec: s, sizing: sz, ranks: ranks, full: full, seed: w.Seed, pageCache: target.Traits.PageCache,
		set: &ckpt.Set{Target: s.Target, Path: s.Path, Ranks: ranks, RankFiles: sz.Files,
			ChunkBytes: s.ChunkBytes, Fsync: s.Fsync, ODirect: s.ODirect, Verify: s.Verify,
			Exact: target.Traits.Discards},
		lo: math.MaxInt64}
	// Ranks that save the same are counted once per group: the plan
	// costs the pipeline's stages and the layers, not the ranks.
	for _, g := range sz.Groups(ranks) {
		n := g.Model + g.Optimizer
		t.bytes += g.Ranks * n
		t.nfiles += g.Ranks * g.Files
		t.lo, t.hi = min(t.lo, n), max(t.hi, n)
	}
	fm, fo := sz.Totals(full)
	t.fullBytes = fm + fo
	if n := int64(s.Writes + s.Reads); n > 0 && t.bytes > math.MaxInt64/n {
		return nil, w.ErrorAt(at("writes"), "%d saves and %d loads of %s each move more than 8 EiB: lower writes or reads, or the model",
			s.Writes, s.Reads, measure.IEC(t.bytes))
	}
	// Each save keeps its checkpoint: all of them stay on the target.
	if err := in.Fits(s.Target, int64(s.Writes)*t.bytes, plural(s.Writes, "the checkpoint this stage saves", "the %d checkpoints this stage saves"), at("writes")...); err != nil {
		return nil, err
	}
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

type task struct {
	spec   Spec
	sizing ckpt.Sizing
	// ranks run, and the ranks of the full run.
	ranks, full int64
	seed        uint64
	set         *ckpt.Set // what the ranks run save
	// bytes and nfiles are one checkpoint's, over the ranks run.
	bytes, nfiles int64
	// lo and hi are the least and most one rank saves.
	lo, hi    int64
	fullBytes int64
	// pageCache is set when the target's files pass through the host's
	// page cache, which could then serve the loads.
	pageCache bool
}

func (t *task) Reads() []string  { return nil }
func (t *task) Writes() []string { return nil }

func (t *task) Concurrency() int { return t.set.Concurrency(t.spec.Reads > 0) }

func (t *task) Work() stages.Work {
	w, r := int64(t.spec.Writes), int64(t.spec.Reads)
	return stages.Work{WriteBytes: w * t.bytes, ReadBytes: r * t.bytes,
		Files: (w + r) * t.nfiles, Ops: (w + r) * t.nfiles}
}

func (t *task) Describe() string {
	s := t.spec
	p := s.Parallelism
	name := s.Model.Name
	if name == "" {
		name = fmt.Sprintf("a %d-layer model", s.Model.Layers)
	}
	lo, hi := t.lo, t.hi
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

// Ranks is the ranks the stage runs: a checkpoint spreads them over the
// run's processes (stages.Spread).
func (t *task) Ranks() int { return int(t.ranks) }

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.spec.Target)
	if err != nil {
		return nil, err
	}
	detail, err := env.Create("ranks.jsonl")
	if err != nil {
		return nil, err
	}
	defer detail.Close()
	enc := json.NewEncoder(detail)

	pool := ckpt.NewPool(t.set.PoolSize(t.spec.Chunks, t.spec.Reads > 0), int(t.spec.ChunkBytes), t.spec.ODirect)
	gen := content.New(t.seed)
	var saves, loads []ckpt.PhaseResult
	// Across processes each runs its share of the ranks; they start each
	// save and load together, and the lead gathers every rank's part.
	group := env.Group()
	_, local := group.(stages.LocalGroup)
	first, count := group.Share(int(t.ranks))
	seq := 0
	phase := func(name string, k int) error {
		seq++
		tag := fmt.Sprintf("checkpoint/%s/%d/%s/%d", env.Stage, seq, name, k)
		if err := group.Sync(ctx, tag); err != nil {
			return err
		}
		ranks, pr, err := t.set.RunShare(ctx, env.Meter, b, pool, gen, name, k, int64(first), int64(count))
		if err == nil && !local {
			var parts []json.RawMessage
			if parts, err = group.Gather(ctx, tag, ranks); err == nil && group.Lead() {
				ranks, err = t.gathered(parts)
				pr = ckpt.Phase(ranks)
			}
		}
		for _, rr := range ranks {
			if werr := enc.Encode(rr); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			// A partial save or load is left out of the figures: it
			// describes less than a checkpoint.
			return err
		}
		if name == "save" {
			saves = append(saves, pr)
		} else {
			loads = append(loads, pr)
		}
		return nil
	}
	var runErr error
	for k := 1; k <= t.spec.Writes && runErr == nil; k++ {
		if k > 1 && t.spec.Pause > 0 {
			if runErr = stages.Sleep(ctx, time.Duration(t.spec.Pause*float64(time.Second))); runErr != nil {
				break
			}
		}
		runErr = phase("save", k)
	}
	// Loads cycle through the checkpoints saved; without saves they load
	// checkpoints an earlier run saved, 1, 2, ...
	load := func(i int) int {
		if t.spec.Writes > 0 {
			return i%t.spec.Writes + 1
		}
		return i + 1
	}
	var dropped string
	if runErr == nil && t.spec.Reads > 0 && t.spec.DropCache {
		var ks []int
		for i := range t.spec.Reads {
			if k := load(i); !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
		dropped, runErr = t.set.EvictShare(ctx, b, ks, int64(first), int64(count))
	}
	for i := 0; i < t.spec.Reads && runErr == nil; i++ {
		runErr = phase("load", load(i))
	}
	m := t.metrics(saves, loads)
	if runErr != nil {
		// The figures are of the saves and loads that finished.
		m["partial"] = true
		m["checkpoints_planned_saves"] = t.spec.Writes
		m["checkpoints_planned_loads"] = t.spec.Reads
	}
	if dropped != "" {
		m["page_cache"] = dropped
	} else if t.pageCache && !t.spec.ODirect && len(loads) > 0 {
		// The rules want caches dropped, or O_DIRECT, when a client's
		// checkpoint is under 3 × its memory: then loads may be served
		// from memory, not storage. Across hosts a client's checkpoint
		// is its share, against the largest host's memory.
		hosts := env.Hosts()
		var mem int64
		for _, h := range hosts {
			mem = max(mem, h.MemoryBytes)
		}
		m["potential_caching"] = t.bytes/int64(len(hosts)) < 3*mem
	}
	return m, runErr
}

// gathered is every process's rank results of a save or load, in process
// order, each process's checked to be its share of the ranks: a phase
// whose figures lack a rank would describe less than a checkpoint.
func (t *task) gathered(parts []json.RawMessage) ([]ckpt.RankResult, error) {
	var all []ckpt.RankResult
	for i, p := range parts {
		var rs []ckpt.RankResult
		if err := json.Unmarshal(p, &rs); err != nil {
			return nil, fmt.Errorf("process %d's ranks: %w", i, err)
		}
		first, count := stages.ShareOf(i, len(parts), int(t.ranks))
		if len(rs) != count {
			return nil, fmt.Errorf("process %d sent %d ranks' results, its share is %d", i, len(rs), count)
		}
		for j, rr := range rs {
			if rr.Rank != int64(first+j) {
				return nil, fmt.Errorf("process %d sent rank %d's results where its share has rank %d", i, rr.Rank, first+j)
			}
		}
		all = append(all, rs...)
	}
	return all, nil
}

// plural is one when n is 1, and many with n otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}
