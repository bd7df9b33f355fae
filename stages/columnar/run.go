package columnar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/format/parquet"
	"mlps.dev/mlps/stages/measure"
)

// openFile is a file's footer and what the query selects in it.
type openFile struct {
	pf   *parquet.File
	cols []int // the projection's column chunks, the predicate's included
	pred int   // the predicate's column chunk, or -1
}

// counts are one worker's figures, summed at the end.
type counts struct {
	queries, rows          int64
	bytes, footerBytes     int64
	fileBytes              int64
	groupsRead, groupsSkip int64
	noStats                int64 // row groups read for want of statistics
	hits, misses           int64
	reads                  int64
}

func (c *counts) add(o *counts) {
	c.queries += o.queries
	c.rows += o.rows
	c.bytes += o.bytes
	c.footerBytes += o.footerBytes
	c.fileBytes += o.fileBytes
	c.groupsRead += o.groupsRead
	c.groupsSkip += o.groupsSkip
	c.noStats += o.noStats
	c.hits += o.hits
	c.misses += o.misses
	c.reads += o.reads
}

// worker runs queries one after the other with its own buffer, meter
// and figures.
type worker struct {
	t      *task
	b      backends.Backend
	rec    *measure.Worker
	cache  *footerCache
	buf    []byte
	rng    *rand.Rand
	pcg    *rand.PCG
	lat    *measure.Histogram
	counts counts
}

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.layout.Target)
	if err != nil {
		return nil, err
	}
	cache := newFooterCache(t.spec.CacheBytes)
	workers := make([]*worker, min(int64(t.spec.Workers), t.spec.Queries))
	for i := range workers {
		pcg := rand.NewPCG(0, 0)
		workers[i] = &worker{t: t, b: b, rec: env.Meter.Worker(), cache: cache, buf: make([]byte, readBytes),
			pcg: pcg, rng: rand.New(pcg), lat: measure.NewHistogram()}
	}
	var next atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error {
			for {
				q := next.Add(1) - 1
				if q >= t.spec.Queries {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := w.query(gctx, q); err != nil {
					return err
				}
			}
		})
	}
	err = g.Wait()
	secs := time.Since(start).Seconds()

	var c counts
	lat := measure.NewHistogram()
	for _, w := range workers {
		c.add(&w.counts)
		lat.Merge(w.lat)
	}
	ms := func(q float64) float64 { return float64(lat.Quantile(q)) / 1e6 }
	m := stages.Metrics{
		"queries":             c.queries,
		"throughput_qps":      perSecond(float64(c.queries), secs),
		"mean_latency_ms":     float64(lat.Mean()) / 1e6,
		"p50_latency_ms":      ms(0.50),
		"p95_latency_ms":      ms(0.95),
		"p99_latency_ms":      ms(0.99),
		"p999_latency_ms":     ms(0.999),
		"rows_read":           c.rows,
		"rows_per_second":     perSecond(float64(c.rows), secs),
		"bytes_read":          c.bytes,
		"footer_bytes_read":   c.footerBytes,
		"file_bytes":          c.fileBytes,
		"bytes_read_fraction": 0.0,
		"reads":               c.reads,
		"row_groups_read":     c.groupsRead,
		"row_groups_skipped":  c.groupsSkip,
		"footer_cache_hits":   c.hits,
		"footer_cache_misses": c.misses,
	}
	if c.fileBytes > 0 {
		m["bytes_read_fraction"] = float64(c.bytes) / float64(c.fileBytes)
	}
	if t.pred != nil {
		m["row_groups_without_statistics"] = c.noStats
	}
	return m, err
}

func perSecond(x, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return x / secs
}

// query runs query q: its file is drawn from the workload's seed and the
// query's number, so that a run's queries are the same whatever the
// workers' timing.
func (w *worker) query(ctx context.Context, q int64) error {
	t := w.t
	start := time.Now()
	w.pcg.Seed(t.seed, content.Stream("columnar-query/"+t.id, q))
	file := w.rng.Int64N(t.layout.Files)
	name := t.layout.FileName(file)
	of, hit, err := w.cache.get(file, func() (*openFile, int64, error) { return w.open(ctx, file, name) })
	if err != nil {
		return fmt.Errorf("query %d: %s: %w", q, name, err)
	}
	if hit {
		w.counts.hits++
	} else {
		w.counts.misses++
	}
	fetch := func(off, n int64) (io.ReadCloser, error) { return w.fetch(ctx, name, off, n) }
	for g := range of.pf.NumRowGroups() {
		if of.pred >= 0 {
			skip, known := t.pred.skip(of.pf, g, of.pred)
			if !known {
				w.counts.noStats++
			}
			if skip {
				w.counts.groupsSkip++
				continue
			}
		}
		if _, err := of.pf.ReadRowGroupFrom(g, of.cols, w.buf, fetch); err != nil {
			return fmt.Errorf("query %d: %s: %w", q, name, err)
		}
		w.counts.groupsRead++
		w.counts.rows += of.pf.RowGroupRows(g)
	}
	w.lat.Record(time.Since(start))
	w.counts.queries++
	w.counts.fileBytes += t.fileBytes
	return nil
}

// open reads file's footer and selects the projection in it; it returns
// the bytes the footer holds in memory, for the cache.
func (w *worker) open(ctx context.Context, file int64, name string) (*openFile, int64, error) {
	rr := &rangeReader{ctx: ctx, w: w, name: name}
	pf, err := parquet.Open(rr, w.t.layout.FileSize(file))
	rr.w = nil // the cached File must not keep this worker
	if err != nil {
		return nil, 0, err
	}
	of := &openFile{pf: pf, pred: -1}
	names := w.t.names
	if names == nil {
		names = pf.Columns()
	}
	if of.cols, err = pf.Select(names); err != nil {
		return nil, 0, err
	}
	if p := w.t.pred; p != nil {
		c, err := pf.Select([]string{p.column})
		if err != nil {
			return nil, 0, err
		}
		if len(c) != 1 {
			return nil, 0, fmt.Errorf("the predicate's column %s is %d column chunks in the file, not one", p.column, len(c))
		}
		of.pred = c[0]
	}
	return of, pf.MemoryBytes() + int64(cap(of.cols))*8, nil
}

// fetch opens one ranged read of n bytes at off of the file, metered as
// one operation that ends when the reader is closed.
func (w *worker) fetch(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	op := w.rec.Begin(measure.Read, w.t.layout.Target)
	rc, err := w.b.Open(ctx, name, off, n)
	if err != nil {
		w.ended(op, err, false)
		return nil, err
	}
	return &meteredReader{w: w, op: op, rc: rc, r: op.Reader(rc, nil)}, nil
}

// ended records op, a read of data or of the footer, into the worker's
// figures.
func (w *worker) ended(op *measure.Operation, err error, footer bool) {
	op.End(err)
	w.counts.reads++
	w.counts.bytes += op.Bytes()
	if footer {
		w.counts.footerBytes += op.Bytes()
	}
}

type meteredReader struct {
	w  *worker
	op *measure.Operation
	rc io.ReadCloser
	r  io.Reader
}

func (m *meteredReader) Read(p []byte) (int, error) { return m.r.Read(p) }

func (m *meteredReader) Close() error {
	err := m.rc.Close()
	m.w.ended(m.op, errors.Join(m.op.Err(), err), false)
	return err
}

// rangeReader is a file as the io.ReaderAt parquet.Open reads its footer
// through: each ReadAt is one ranged read, metered as one operation.
type rangeReader struct {
	ctx  context.Context
	w    *worker
	name string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	w := r.w
	if w == nil {
		return 0, errors.New("columnar: the footer's reader is closed")
	}
	op := w.rec.Begin(measure.Read, w.t.layout.Target)
	rc, err := w.b.Open(r.ctx, r.name, off, int64(len(p)))
	var n int
	if err == nil {
		n, err = io.ReadFull(op.Reader(rc, nil), p)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	w.ended(op, err, true)
	return n, err
}
