package readepoch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.layout.Target)
	if err != nil {
		return nil, err
	}
	var per [][]rankEpoch
	for e := range t.spec.Epochs {
		res := make([]rankEpoch, t.spec.Accelerators)
		world := stages.NewLocalWorld(t.spec.Accelerators)
		g, gctx := errgroup.WithContext(ctx)
		for r := range t.spec.Accelerators {
			g.Go(func() error {
				var err error
				res[r], err = t.runRankEpoch(gctx, env, b, world, r, e)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			// A partial epoch is left out of the figures: its AU and
			// throughput would describe a different amount of work.
			return t.metrics(per), err
		}
		per = append(per, res)
	}
	return t.metrics(per), nil
}

// batch is what a loader worker hands the accelerator: the batch's data is
// not kept, only what reading it cost.
type batch struct {
	bytes, files int64
	err          error
}

// runRankEpoch runs one epoch of rank r: read_threads loader workers take
// the rank's batches round-robin (worker w loads batches w, w+T, ...), each
// keeping up to prefetchPerWorker finished batches ahead, and the
// accelerator consumes them in order, as PyTorch's DataLoader does.
func (t *task) runRankEpoch(ctx context.Context, env *stages.Env, b backends.Backend, world stages.World, r, epoch int) (rankEpoch, error) {
	re := rankEpoch{Rank: r, Epoch: epoch, Steps: t.steps}
	if err := world.Barrier(ctx); err != nil {
		return re, err
	}
	threads := t.spec.ReadThreads
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	chans := make([]chan batch, threads)
	start := time.Now()
	for w := range threads {
		chans[w] = make(chan batch, t.prefetchPerWorker())
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chans[w])
			buf := make([]byte, t.spec.TransferBytes)
			rec := env.Meter.Worker()
			for bi := int64(w); bi < t.steps; bi += int64(threads) {
				res := t.loadBatch(lctx, b, rec, buf, int64(r), bi)
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

	compute := time.Duration(t.spec.ComputationTime * float64(time.Second))
	var excluded, computed, waited time.Duration
	for bi := range t.steps {
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
		if compute > 0 {
			c0 := time.Now()
			if err := sleep(ctx, compute); err != nil {
				return re, err
			}
			c = time.Since(c0)
		}
		if err := world.Barrier(ctx); err != nil {
			return re, err
		}
		step := time.Since(s0)
		re.BytesRead += res.bytes
		re.FilesRead += res.files
		if bi < int64(t.spec.ExcludeStartSteps) || bi >= t.steps-int64(t.spec.ExcludeEndSteps) {
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
		re.SamplesPerSecond = float64(re.MeasuredSteps*t.spec.BatchSize) / measured.Seconds()
	}
	return re, nil
}

// loadBatch reads the files that hold batch bi of rank r, each whole.
func (t *task) loadBatch(ctx context.Context, b backends.Backend, rec *measure.Worker, buf []byte, r, bi int64) batch {
	spf := t.layout.SamplesPerFile
	first := r*t.share + bi*t.spec.BatchSize
	last := first + t.spec.BatchSize - 1
	var res batch
	for f := first / spf; f <= last/spf; f++ {
		n, err := t.readFile(ctx, b, rec, buf, f)
		res.bytes += n
		res.files++
		if err != nil {
			res.err = err
			return res
		}
	}
	return res
}

// readFile reads file i to its end in transfer_bytes calls and records it
// as one read operation.
func (t *task) readFile(ctx context.Context, b backends.Backend, rec *measure.Worker, buf []byte, i int64) (int64, error) {
	name := t.layout.FileName(i)
	r := measure.Record{Op: measure.Read, Target: t.layout.Target, Start: time.Now()}
	rc, err := b.Open(ctx, name, 0, -1)
	if err == nil {
		for {
			var n int
			n, err = rc.Read(buf)
			if n > 0 && r.FirstByte.IsZero() {
				r.FirstByte = time.Now()
			}
			r.Bytes += int64(n)
			if err != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	if want := t.layout.FileSize(i); err == nil && r.Bytes != want {
		err = fmt.Errorf("read %d bytes, the dataset defines %d: regenerate the dataset or fix its definition", r.Bytes, want)
	}
	r.End = time.Now()
	if err != nil {
		r.Err = err
		err = fmt.Errorf("read %s: %w", name, err)
	}
	rec.Observe(r)
	return r.Bytes, err
}

// sleep stands in for the accelerator's compute; it returns early when the
// run is cancelled so that Ctrl-C is prompt.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
