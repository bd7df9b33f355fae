package readepoch

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/internal/ckpt"
)

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.train.layout.Target)
	if err != nil {
		return nil, err
	}
	var eb backends.Backend
	if t.eval != nil {
		if eb, err = env.Target(t.eval.layout.Target); err != nil {
			return nil, err
		}
	}
	seed := t.runSeed
	if t.spec.FileShuffle == "random" || t.spec.SampleShuffle == "random" {
		var k [8]byte
		_, _ = rand.Read(k[:])
		seed = binary.LittleEndian.Uint64(k[:])
	}
	r := &run{task: t, env: env, seed: seed, start: time.Now()}
	if t.spec.Verify {
		r.gen = content.New(t.seed)
	}
	if r.steps, err = newStepLog(env); err != nil {
		return nil, err
	}
	defer r.steps.Close()
	if r.ranks, err = env.Create("ranks.jsonl"); err != nil {
		return nil, err
	}
	defer r.ranks.Close()
	var save func(e int) error
	if _, local := env.Group().(stages.LocalGroup); !local {
		// mlps exec refuses it before any process joins; this holds
		// for any other caller.
		if why := t.WhyNotSpread(); why != "" {
			return nil, errors.New(why)
		}
	}
	if t.checkpoints() > 0 {
		cb, err := env.Target(t.ckpt.Target)
		if err != nil {
			return nil, err
		}
		// Allocated and touched before the first epoch, so no epoch pays
		// for the checkpoint's buffers.
		pool := ckpt.NewPool(t.ckpt.PoolSize(64, false), int(t.ckpt.ChunkBytes), false)
		gen := content.New(t.seed)
		save = func(e int) error {
			_, pr, err := t.ckpt.Run(ctx, env.Meter, cb, pool, gen, "save", e)
			if err == nil {
				r.saved = append(r.saved, savedCheckpoint{epoch: e, PhaseResult: pr})
			}
			return err
		}
	}

	for e := range t.spec.Epochs {
		res, err := r.epoch(ctx, t.train, b, e)
		if err != nil {
			// A partial epoch is left out of the figures: its AU and
			// throughput would describe a different amount of work.
			return r.metrics(false), err
		}
		r.trained = append(r.trained, res)
		if err := r.epochDone(res); err != nil {
			return r.metrics(false), err
		}
		// DLIO checkpoints at the end of the epoch, before evaluating.
		if t.spec.Checkpoint.at(e + 1) {
			if err := save(e + 1); err != nil {
				return r.metrics(false), err
			}
		}
		if ev := t.spec.Evaluation; ev != nil && e+1 >= ev.AfterEpoch && (e+1-ev.AfterEpoch)%ev.Every == 0 {
			res, err := r.epoch(ctx, t.eval, eb, e)
			if err != nil {
				return r.metrics(false), err
			}
			r.evaluated = append(r.evaluated, res)
			if err := r.epochDone(res); err != nil {
				return r.metrics(false), err
			}
		}
	}
	r.end = time.Now()
	if err := r.steps.Close(); err != nil {
		return r.metrics(false), err
	}
	if err := r.ranks.Close(); err != nil {
		return r.metrics(false), err
	}
	return r.metrics(true), nil
}

// epochDone puts an epoch's per-rank figures and its steps on disk as
// soon as it ends, so that a run killed in a later epoch leaves them.
func (r *run) epochDone(ranks []rankEpoch) error {
	if err := r.steps.Flush(); err != nil {
		return err
	}
	enc := json.NewEncoder(r.ranks)
	for _, re := range ranks {
		if err := enc.Encode(re); err != nil {
			return err
		}
	}
	return nil
}

// run is one execution of the stage.
type run struct {
	*task
	env        *stages.Env
	seed       uint64
	gen        *content.Generator
	steps      *stepLog
	ranks      io.WriteCloser // ranks.jsonl, a line per rank and epoch
	trained    [][]rankEpoch  // per epoch, per rank
	evaluated  [][]rankEpoch  // per evaluation, per rank
	saved      []savedCheckpoint
	start, end time.Time
}

// savedCheckpoint is one checkpoint saved after epoch.
type savedCheckpoint struct {
	epoch int
	ckpt.PhaseResult
}

// epoch runs one epoch of ph on every rank.
// With the ranks spread over processes, this process runs its share,
// meeting the others at each step's barrier, and the lead process
// gathers every rank's figures of the epoch: its figures are of all
// ranks, as in a run of one process.
func (r *run) epoch(ctx context.Context, ph *phase, b backends.Backend, e int) ([]rankEpoch, error) {
	group := r.env.Group()
	first, count := group.Share(r.spec.Accelerators)
	res := make([]rankEpoch, count)
	name := fmt.Sprintf("read-epoch/%s/%s/%d", r.env.Stage, ph.name, e)
	world := group.World(name, r.spec.Accelerators)
	g, gctx := errgroup.WithContext(ctx)
	for i := range count {
		rank := first + i
		g.Go(func() error {
			var err error
			res[i], err = r.rankEpoch(backends.WithRank(gctx, rank), ph, b, world, rank, e)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	if _, ok := group.(stages.LocalGroup); ok {
		return res, nil
	}
	parts, err := group.Gather(ctx, name, res)
	if err != nil || !group.Lead() {
		return res, err
	}
	all := make([]rankEpoch, 0, r.spec.Accelerators)
	for _, p := range parts {
		var rs []rankEpoch
		if err := json.Unmarshal(p, &rs); err != nil {
			return res, fmt.Errorf("a process's figures of epoch %d: %w", e, err)
		}
		all = append(all, rs...)
	}
	if len(all) != r.spec.Accelerators {
		return res, fmt.Errorf("epoch %d: figures of %d ranks gathered, %d run", e, len(all), r.spec.Accelerators)
	}
	return all, nil
}

// rankEpoch runs one epoch of rank on ph: read_threads loader workers take
// the rank's batches round-robin (worker w loads batches w, w+T, ...), each
// keeping up to prefetchPerWorker finished batches ahead, and the
// accelerator consumes them in order, as PyTorch's DataLoader does.
func (r *run) rankEpoch(ctx context.Context, ph *phase, b backends.Backend, world stages.World, rank, epoch int) (rankEpoch, error) {
	re := rankEpoch{Phase: ph.name, Rank: rank, Epoch: epoch + 1, Steps: ph.steps}
	o := ph.order(shuffleKey(r.seed, epoch, rank), rank)
	threads := r.spec.ReadThreads
	loaders := make([]*loader, threads)
	for w := range threads {
		var err error
		if loaders[w], err = newLoader(ph, b, r.spec.ODirect, r.env.Meter.Worker(), r.spec.TransferBytes, r.gen); err != nil {
			return re, err
		}
	}
	if err := world.Barrier(ctx); err != nil {
		return re, err
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	chans := make([]chan batch, threads)
	start := time.Now()
	for w := range threads {
		chans[w] = make(chan batch, r.prefetchPerWorker())
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chans[w])
			for bi := int64(w); bi < ph.steps; bi += int64(threads) {
				res := loaders[w].load(lctx, o, bi*ph.batch, ph.batch)
				select {
				case chans[w] <- res:
				case <-lctx.Done():
					return
				}
				if res.err != nil {
					return
				}
			}
		}()
	}

	draws := ph.compute.sampler(r.seed, rank, epoch)
	var excluded, computed, waited time.Duration
	for bi := range ph.steps {
		s0 := time.Now()
		res, ok := <-chans[bi%int64(threads)]
		if !ok {
			return re, ctx.Err()
		}
		if res.err != nil {
			return re, res.err
		}
		wait := time.Since(s0)
		// Compute time is measured around the emulated compute, as DLIO
		// measures it, so a sleep that overshoots counts as compute.
		var c time.Duration
		if d := draws.next(); d > 0 {
			c0 := time.Now()
			if err := stages.Sleep(ctx, d); err != nil {
				return re, err
			}
			c = time.Since(c0)
		}
		if err := world.Barrier(ctx); err != nil {
			return re, err
		}
		step := time.Since(s0)
		re.BytesRead += res.bytes
		re.Reads += res.reads
		measured := bi >= ph.excludeStart && bi < ph.steps-ph.excludeEnd
		r.steps.add(ph.name, epoch+1, rank, bi, wait, c, step, res.bytes, measured)
		if !measured {
			excluded += step
			continue
		}
		re.MeasuredSteps++
		computed += c
		waited += wait
	}
	wall := time.Since(start)
	measured := wall - excluded
	re.WallSeconds = wall.Seconds()
	re.MeasuredSeconds = measured.Seconds()
	re.ComputeSeconds = computed.Seconds()
	re.LoadWaitSeconds = waited.Seconds()
	if measured > 0 {
		re.AUPercentage = 100 * computed.Seconds() / measured.Seconds()
		re.SamplesPerSecond = float64(re.MeasuredSteps*ph.batch) / measured.Seconds()
	}
	return re, nil
}

// stepLog writes one line per step of every rank to steps.csv: the
// per-step load and compute times behind the stage's figures. It is
// flushed at least every flushEvery and at the end of every epoch, so a
// killed run loses at most that much of it, at the cost of a write per
// flush rather than per step.
type stepLog struct {
	mu      sync.Mutex
	w       *bufio.Writer
	f       io.WriteCloser
	flushed time.Time
	err     error
}

const flushEvery = time.Second

func newStepLog(env *stages.Env) (*stepLog, error) {
	f, err := env.Create("steps.csv")
	if err != nil {
		return nil, err
	}
	l := &stepLog{f: f, w: bufio.NewWriterSize(f, 256<<10), flushed: time.Now()}
	_, l.err = l.w.WriteString("phase,epoch,rank,step,load_wait_seconds,compute_seconds,step_seconds,bytes_read,measured\n")
	return l, nil
}

func (l *stepLog) add(phase string, epoch, rank int, step int64, wait, compute, total time.Duration, bytes int64, measured bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.w, "%s,%d,%d,%d,%.9f,%.9f,%.9f,%d,%t\n", phase, epoch, rank, step,
			wait.Seconds(), compute.Seconds(), total.Seconds(), bytes, measured)
	}
	if l.err == nil && time.Since(l.flushed) >= flushEvery {
		l.flushLocked()
	}
}

// Flush writes the buffered lines to the file.
func (l *stepLog) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.err
}

func (l *stepLog) flushLocked() {
	if l.err == nil && l.f != nil {
		l.err = l.w.Flush()
		l.flushed = time.Now()
	}
}

// Close flushes and closes the file; it may be called more than once.
func (l *stepLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return l.err
	}
	if err := l.w.Flush(); l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	l.f = nil
	return l.err
}
