package ckpt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/measure"
)

// Set is what every rank saves per checkpoint, and how: where, in what
// chunks, with fsync or O_DIRECT, verifying loads or not.
type Set struct {
	// Target names the target, for the records; Path is the directory of
	// the checkpoints below the target's root.
	Target string
	Path   string
	// Dir starts the name of each checkpoint's directory, which ends in
	// its number: "global_step" (the default) or "global_epoch".
	Dir string
	// Ranks is the number of ranks, and RankFiles gives the files a rank
	// saves, which each rank asks for when it starts: a plan holds no
	// per-rank lists.
	Ranks      int64
	RankFiles  func(rank int64) []File
	ChunkBytes int64
	Fsync      bool
	ODirect    bool
	Verify     bool
	// Exact is set when the target makes up as many bytes as a load asks
	// (Traits.Discards): the last chunk then asks what was saved, not the
	// one byte more that tells a longer file.
	Exact bool
}

// Name is the object of rank file f in checkpoint k (counted from 1).
func (s *Set) Name(k int, f string) string {
	d := s.Dir
	if d == "" {
		d = "global_step"
	}
	dir := fmt.Sprintf("%s%d", d, k)
	if s.Path != "" {
		dir = s.Path + "/" + dir
	}
	return dir + "/" + f
}

// stream is the content identity of file f of checkpoint k.
func (s *Set) stream(k int, f string) uint64 {
	return content.Stream("checkpoint:"+s.Path+"/"+f, int64(k))
}

// RankResult is one rank's part of one save or load.
type RankResult struct {
	Phase      string  `json:"phase"`
	Checkpoint int     `json:"checkpoint"`
	Rank       int64   `json:"rank"`
	Files      int     `json:"files"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

// PhaseResult is one save or load: the slowest rank's time, and the bytes
// of all ranks.
type PhaseResult struct {
	Bytes   int64
	Seconds float64
}

// Phase is the save or load of the ranks in rs: the slowest rank's time
// and the bytes of all.
func Phase(rs []RankResult) PhaseResult {
	var pr PhaseResult
	for _, rr := range rs {
		pr.Bytes += rr.Bytes
		pr.Seconds = max(pr.Seconds, rr.Seconds)
	}
	return pr
}

// PoolSize is the number of chunks to allocate for s: chunks, but no more
// than its ranks can have in flight at once, saving only or loading too.
// A saving rank holds two, one being filled while the other is written;
// a loading rank one per ranged read in flight. More would only be more
// memory that every write copies from: on a virtual machine, a save from
// 48 chunks of 32 MiB took 1.1-1.9x as long as the same save from 16.
func (s *Set) PoolSize(chunks int, loads bool) int {
	per := int64(saveDepth)
	if loads {
		per = pipeDepth
	}
	return int(min(int64(chunks), s.ranks()*per))
}

func (s *Set) ranks() int64 { return s.Ranks }

// Concurrency is how many storage calls the set's ranks make at once: a
// writer per rank saving, pipeDepth ranged reads per rank loading.
func (s *Set) Concurrency(loads bool) int {
	if loads {
		return int(s.ranks() * pipeDepth)
	}
	return int(s.ranks())
}

// pipeDepth is how many ranged reads a rank has in flight loading.
const pipeDepth = 4

// saveDepth is how many chunks a rank holds saving: the filler's and the
// writer's. One core fills at 24-78 GB/s (BenchmarkFillVsCopy), ten
// times the fastest save measured here (2.3 GB/s with O_DIRECT), so a
// deeper queue would not keep the writer busier.
const saveDepth = 2

// Evict drops the files of checkpoints ks from the host's page cache; on a
// backend without a host cache (an object store) it does nothing and
// returns "".
func (s *Set) Evict(ctx context.Context, b backends.Backend, ks []int) (string, error) {
	return s.EvictShare(ctx, b, ks, 0, s.ranks())
}

// EvictShare is Evict of the files of ranks first to first+count-1: a
// process's share of the ranks, whose files are in its host's cache.
func (s *Set) EvictShare(ctx context.Context, b backends.Backend, ks []int, first, count int64) (string, error) {
	e, ok := backends.As[backends.Evicter](b)
	if !ok {
		return "", nil
	}
	for _, k := range ks {
		for r := first; r < first+count; r++ {
			for _, f := range s.RankFiles(r) {
				if err := e.Evict(ctx, s.Name(k, f.Name)); err != nil {
					return "", fmt.Errorf("dropping checkpoint files from the page cache so that loads come from storage: %w (set drop_cache: false, or odirect: true, to load without it)", err)
				}
			}
		}
	}
	return "dropped between saves and loads (fdatasync and posix_fadvise DONTNEED per file)", nil
}

// Run runs one save or load ("save", "load") of checkpoint k on every
// rank at once, as the ranks of a training job start a checkpoint
// together, recording one operation per file into meter. It returns each
// rank's part, and the bytes of all ranks over the slowest rank's time.
func (s *Set) Run(ctx context.Context, meter *measure.Meter, b backends.Backend, pool *Pool, gen *content.Generator, phase string, k int) ([]RankResult, PhaseResult, error) {
	return s.RunShare(ctx, meter, b, pool, gen, phase, k, 0, s.ranks())
}

// RunShare is Run of ranks first to first+count-1: a process's share of
// the ranks of a run across processes.
func (s *Set) RunShare(ctx context.Context, meter *measure.Meter, b backends.Backend, pool *Pool, gen *content.Generator, phase string, k int, first, count int64) ([]RankResult, PhaseResult, error) {
	results := make([]RankResult, count)
	g, gctx := errgroup.WithContext(ctx)
	for i := range count {
		r := first + i
		g.Go(func() error {
			rec := meter.Worker()
			rr := RankResult{Phase: phase, Checkpoint: k, Rank: r}
			start := time.Now()
			var err error
			for _, f := range s.RankFiles(r) {
				var n int64
				if phase == "save" {
					n, err = s.save(gctx, b, pool, gen, rec, k, f)
				} else {
					n, err = s.load(gctx, b, pool, gen, rec, k, r, f)
				}
				rr.Bytes += n
				if err != nil {
					break
				}
				rr.Files++
			}
			rr.Seconds = time.Since(start).Seconds()
			results[i] = rr
			return err
		})
	}
	err := g.Wait()
	pr := Phase(results)
	if err != nil {
		return results, pr, fmt.Errorf("%s of checkpoint %d: %w", phase, k, err)
	}
	return results, pr, nil
}

// save writes file f of checkpoint k: a filler fills chunks from the
// pool with the file's content while the writer drains them, so
// generating and writing overlap; with fsync the file is synced before
// it is closed. It records one write operation per file.
func (s *Set) save(ctx context.Context, b backends.Backend, pool *Pool, gen *content.Generator, rec *measure.Worker, k int, f File) (int64, error) {
	name, size, stream := s.Name(k, f.Name), f.Bytes(), s.stream(k, f.Name)
	op := rec.Begin(measure.Write, s.Target)
	var w backends.Writer
	var err error
	if d, ok := backends.As[backends.DirectCreator](b); ok && s.ODirect {
		w, err = d.CreateDirect(ctx, name, size)
	} else if s.ODirect {
		// The plan refused odirect on targets without the trait.
		err = fmt.Errorf("target %s cannot write with O_DIRECT", s.Target)
	} else {
		w, err = b.Create(ctx, name, size)
	}
	if err != nil {
		return 0, op.End(err)
	}
	out := op.Writer(w)
	// Unbuffered: the filler's next chunk waits in its hands, so that a
	// rank holds no more than saveDepth chunks.
	filled := make(chan chunk)
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(filled)
		for off := int64(0); off < size; off += s.ChunkBytes {
			c, ok := pool.get(fctx)
			if !ok {
				return
			}
			n := min(s.ChunkBytes, size-off)
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
			if _, err = out.Write(c.c.buf[:c.n]); err != nil {
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
	if err == nil && s.Fsync {
		if s, ok := backends.As[backends.Syncer](w); ok {
			err = s.Sync()
		}
	}
	if err == nil {
		err = w.Close()
	} else {
		w.Abort()
	}
	if op.End(err) != nil {
		return 0, err
	}
	return op.Bytes(), nil
}

type chunk struct {
	c *buffer
	n int
}

// load reads file f of checkpoint k back in ranged reads of one chunk,
// pipeDepth at a time, into chunks from the pool; with verify every byte
// is checked. It records one read operation per file, from the first
// request to the last byte.
func (s *Set) load(ctx context.Context, b backends.Backend, pool *Pool, gen *content.Generator, rec *measure.Worker, k int, rank int64, f File) (int64, error) {
	name, size, stream := s.Name(k, f.Name), f.Bytes(), s.stream(k, f.Name)
	op := rec.Begin(measure.Read, s.Target)
	var mu sync.Mutex // serialises op among the ranged reads
	var next int64
	g, gctx := errgroup.WithContext(ctx)
	workers := min(int64(pipeDepth), (size+s.ChunkBytes-1)/s.ChunkBytes)
	for range workers {
		g.Go(func() error {
			for {
				mu.Lock()
				off := next
				next += s.ChunkBytes
				mu.Unlock()
				if off >= size {
					return nil
				}
				n := min(s.ChunkBytes, size-off)
				got, rc, err := s.readChunk(gctx, b, pool, gen, name, stream, rank, off, n, size)
				mu.Lock()
				op.Moved(got)
				op.Via(rc)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
		})
	}
	err := g.Wait()
	return op.Bytes(), op.End(err)
}

// readChunk reads [off, off+n) of name into a pooled chunk and checks it
// when verifying. It returns the reader it read from, for its endpoint.
func (s *Set) readChunk(ctx context.Context, b backends.Backend, pool *Pool, gen *content.Generator, name string, stream uint64, rank, off, n, size int64) (int64, io.Reader, error) {
	c, ok := pool.get(ctx)
	if !ok {
		return 0, nil, ctx.Err()
	}
	defer pool.put(c)
	// The last chunk asks for one byte more, to tell a file longer than
	// its rank saved from a complete one.
	want := n
	if off+n == size && !s.Exact {
		want++
	}
	var rc io.ReadCloser
	var err error
	if d, ok := backends.As[backends.DirectOpener](b); ok && s.ODirect {
		rc, err = d.OpenDirect(ctx, name, off, want)
	} else {
		rc, err = b.Open(ctx, name, off, want)
	}
	if err != nil {
		return 0, nil, s.short(ctx, b, name, rank, size, err)
	}
	got, err := io.ReadFull(rc, c.buf[:n])
	if err == nil && want > n {
		var extra [1]byte
		if k, _ := io.ReadFull(rc, extra[:]); k > 0 {
			err = fmt.Errorf("%s goes on past the %d bytes rank %d saved: it is not this checkpoint's file", name, size, rank)
		}
	}
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = s.short(ctx, b, name, rank, size, err)
	}
	if err == nil && s.Verify {
		if bad, ok := gen.Verify(c.buf[:n], stream, off); !ok {
			err = fmt.Errorf("verify: rank %d, file %s: byte %d differs from what was saved", rank, name, bad)
		}
	}
	return int64(got), rc, err
}

// short turns the error of a read that found less than was saved into
// one that says so, with the file's size, whichever chunk met it first.
func (s *Set) short(ctx context.Context, b backends.Backend, name string, rank, size int64, err error) error {
	info, serr := b.Stat(ctx, name)
	if serr != nil || info.Size >= size {
		return err
	}
	return fmt.Errorf("%s is %d bytes, but rank %d saved %d: the checkpoint is short", name, info.Size, rank, size)
}
