package vectorsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/diskann"
	"mlps.dev/mlps/stages/vector/ivf"
)

// queryTask is a planned query stage.
type queryTask struct {
	spec      QuerySpec
	id        string
	b         *built
	pageCache bool // the index's target is cached by the host
}

func (t *queryTask) Reads() []string  { return []string{t.b.Output(), t.b.coll.Name} }
func (t *queryTask) Writes() []string { return nil }

func (t *queryTask) Work() stages.Work {
	if t.spec.Mode == "query_count" {
		return stages.Work{Ops: t.spec.QueryCount}
	}
	return stages.Work{}
}

// Concurrency is the reads in flight at once: every worker's batch, of
// nprobe lists (IVF_FLAT) or beam_width nodes (DISKANN), as set or by
// default.
func (t *queryTask) Concurrency() int {
	batch := 1
	switch p := t.params(); t.b.spec.IndexType {
	case "IVF_FLAT":
		batch = p.nprobe
		if batch == 0 {
			batch = ivf.DefaultNProbe(t.b.nlist())
		}
	case "DISKANN":
		batch = p.beamWidth
		if batch == 0 {
			batch = diskann.DefaultBeamWidth
		}
	}
	return t.spec.Concurrency * batch
}

// Ranks is the stage's query workers over all processes: a query stage
// spreads them over the run's processes (stages.Spread).
func (t *queryTask) Ranks() int { return t.spec.Concurrency }

func (t *queryTask) params() searchParams {
	return searchParams{nprobe: t.spec.Nprobe, searchList: t.spec.SearchListSize, beamWidth: t.spec.BeamWidth}
}

// distinct is the number of distinct query vectors the run uses: queries
// cycle through the collection's held-out set.
func (t *queryTask) distinct() int {
	q := t.b.coll.Dataset.Vectors.Queries
	if t.spec.Mode == "query_count" {
		q = min(q, t.spec.QueryCount)
	}
	return int(q)
}

func (t *queryTask) Describe() string {
	s := t.spec
	how := fmt.Sprintf("for %gs", s.Duration)
	if s.Mode == "query_count" {
		how = fmt.Sprintf("%d queries", s.QueryCount)
	}
	if sw := s.Sweep; sw != nil {
		how = fmt.Sprintf("%s, once for each %s in %v,", how, sw.Parameter, sw.Values)
	}
	return fmt.Sprintf("searches index %s (%s) %s at concurrency %d, top %d, %s cache; recall@%d against the exact neighbours of %d queries over all %d vectors",
		t.b.id, t.b.spec.IndexType, how, s.Concurrency, s.TopK, s.Cache, s.TopK, t.distinct(), t.b.coll.Collection())
}

// Warnings says when a timed run is too short to be a valid one.
func (t *queryTask) Warnings(stages.Host) []string {
	if t.spec.Mode == "timed" && t.spec.Duration < 30 {
		return []string{fmt.Sprintf("a timed query run of %gs is shorter than the 30 s the rules require: the result will be marked invalid", t.spec.Duration)}
	}
	return nil
}

func (t *queryTask) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b := t.b
	eng, err := engineOf(b.spec.IndexType)
	if err != nil {
		return nil, err
	}
	// FLAT's index is the collection itself.
	where, dir := b.target, b.dir
	if !eng.stored() {
		where, dir = b.coll.Target, ""
	}
	tgt, err := env.Target(where)
	if err != nil {
		return nil, err
	}
	src := b.coll.VectorSource()
	dim := int(b.coll.Dataset.Vectors.Dimension)
	k := t.spec.TopK
	m := stages.Metrics{"index_type": b.spec.IndexType, "top_k": k}

	// The exact answer comes first, from the collection's source, over
	// every vector: outside the timed loop and with no read of storage,
	// so that it neither costs the queries' time nor warms their cache.
	nq := t.distinct()
	queries := make([]float32, nq*dim)
	src.Queries(0, queries)
	gt0 := time.Now()
	truth, err := vector.GroundTruth(ctx, src.Collection(b.coll.Collection()), queries, k, b.metric, vector.GroundTruthOptions{})
	if err != nil {
		return m, fmt.Errorf("ground truth: %w", err)
	}
	m["ground_truth_seconds"] = time.Since(gt0).Seconds()
	m["ground_truth_coverage"] = truth.Coverage()

	setup := newBlobs(tgt, where, dir, env.Meter)
	if t.spec.Cache == "direct" {
		// The indexes that read through the Blobs they were opened with
		// (IVF_FLAT, DISKANN) then read around the cache too.
		setup.direct()
	}
	idx, err := eng.open(ctx, b, setup)
	if err != nil {
		return m, fmt.Errorf("open index %s: %w", b.id, err)
	}
	m["index_memory_bytes"] = idx.memoryBytes()

	r := &queryRun{t: t, tgt: tgt, where: where, dir: dir, env: env, idx: idx, queries: queries, truth: truth}
	if sw := t.spec.Sweep; sw != nil {
		return t.sweep(ctx, r, m)
	}
	pm, err := r.measure(ctx, t.params(), 0)
	maps.Copy(m, pm)
	return m, err
}

// queryRun is what every measured setting of a query stage shares: the
// opened index, the queries and their exact answers.
type queryRun struct {
	t          *queryTask
	tgt        backends.Backend
	where, dir string
	env        *stages.Env
	idx        index
	queries    []float32
	truth      *vector.Truth
}

// measure runs the stage's queries with search parameters p, after
// readying the cache as the stage says, and returns the figures. setting
// numbers the measurement among the stage's (a sweep's values): it names
// the measurement's meetings with the other processes of a run.
//
// Across processes each runs its share of the workers and of the query
// numbers (queryShare), all start the measured queries together, and the
// lead gathers every process's figures and answers, so that its metrics
// are of every worker and its recall of every distinct query answered,
// as in a run of one process.
func (r *queryRun) measure(ctx context.Context, p searchParams, setting int) (stages.Metrics, error) {
	t := r.t
	m := stages.Metrics{}
	nq := len(r.truth.Neighbors)
	k := t.spec.TopK
	group := r.env.Group()
	_, local := group.(stages.LocalGroup)
	first, mine := group.Share(t.spec.Concurrency)
	share := queryShare{first: int64(first), count: int64(mine), all: int64(t.spec.Concurrency)}
	workers := make([]*worker, mine)
	for w := range workers {
		bl := newBlobs(r.tgt, r.where, r.dir, r.env.Meter)
		if t.spec.Cache == "direct" {
			bl.direct()
		}
		workers[w] = &worker{s: r.idx.searcher(bl, p), lat: measure.NewHistogram()}
	}
	switch {
	case t.spec.Cache == "warm":
		// Every distinct query once, untimed, so that what the queries
		// read is in whatever cache the host keeps. Each process warms
		// them all: its host's cache must hold what its own queries
		// read, and in a timed run which distinct queries those are is
		// not known beforehand.
		own := queryShare{count: int64(mine), all: int64(mine)}
		if _, err := t.loop(ctx, workers, own, r.queries, int64(nq), 0, nil); err != nil {
			return m, fmt.Errorf("warming: %w", err)
		}
		for _, w := range workers {
			w.lat = measure.NewHistogram()
			w.bytes, w.reads = 0, 0
		}
	case t.pageCache:
		ev, ok := backends.As[backends.Evicter](r.tgt)
		if !ok {
			return m, fmt.Errorf("target %s cannot drop the index from the page cache for a cold run", r.where)
		}
		for _, name := range r.idx.objects() {
			if r.dir != "" {
				name = r.dir + "/" + name
			}
			if err := ev.Evict(ctx, name); err != nil {
				return m, fmt.Errorf("cold cache: %w", err)
			}
		}
	}

	results := make([][]vector.Neighbor, nq)
	count, dur := share.of(t.spec.QueryCount), time.Duration(0)
	if t.spec.Mode == "timed" {
		count, dur = 0, time.Duration(t.spec.Duration*float64(time.Second))
	}
	name := fmt.Sprintf("query/%s/%d", r.env.Stage, setting)
	if !local {
		// Every process readied its cache first, and its queries start
		// with the others', so that the slowest one's time spans them
		// all.
		if err := group.Sync(ctx, name); err != nil {
			return m, fmt.Errorf("starting the queries with the other processes: %w", err)
		}
	}
	start := time.Now()
	done, err := t.loop(ctx, workers, share, r.queries, count, dur, results)
	f := figures{Queries: done, Seconds: time.Since(start).Seconds(), Latency: measure.NewHistogram()}
	for _, w := range workers {
		f.Latency.Merge(w.lat)
		f.Bytes += w.bytes
		f.Reads += w.reads
	}
	if err == nil && !local {
		err = gather(ctx, group, name, &f, k, results)
	}
	f.into(m)
	if err != nil {
		return m, err
	}
	if !group.Lead() {
		// Recall is the lead's, over every process's answers.
		return m, nil
	}
	// Recall over the distinct queries answered; a timed run that did not
	// reach some of them is scored over those it reached.
	got, gt := results[:0:0], *r.truth
	gt.Neighbors = nil
	for j, res := range results {
		if res != nil {
			got = append(got, res)
			gt.Neighbors = append(gt.Neighbors, r.truth.Neighbors[j])
		}
	}
	rs, rerr := vector.Recall(&gt, got, k)
	m["recall_queries"] = rs.Queries
	m["recall_at_k_mean"] = rs.Mean
	m["recall_at_k_median"] = rs.Median
	m["recall_at_k_min"] = rs.Min
	m["recall_at_k_max"] = rs.Max
	m["recall_at_k_p95"] = rs.P95
	m["recall_at_k_p99"] = rs.P99
	m["recall_at_k_exact_mean"] = rs.StrictMean
	invalid := rs.Invalid
	if invalid == "" && t.spec.Mode == "timed" && t.spec.Duration < 30 {
		invalid = fmt.Sprintf("a timed run of %gs is shorter than the rules' 30 s", t.spec.Duration)
	}
	if invalid != "" {
		m["invalid"] = invalid
	}
	if rerr != nil && rs.Invalid == "" {
		return m, fmt.Errorf("recall: %w", rerr)
	}
	return m, nil
}

// figures are the measured queries of one process, or on the lead of
// every process once gathered: counts and a latency histogram, never a
// record per query.
type figures struct {
	Queries int64              `json:"queries"`
	Seconds float64            `json:"seconds"`
	Latency *measure.Histogram `json:"latency"`
	Bytes   int64              `json:"bytes"`
	Reads   int64              `json:"reads"`
}

// into sets the throughput, latency and per-query figures of m.
func (f *figures) into(m stages.Metrics) {
	m["queries"] = f.Queries
	m["query_seconds"] = f.Seconds
	if f.Queries > 0 && f.Seconds > 0 {
		s := f.Latency.Summarize()
		m["throughput_qps"] = float64(f.Queries) / f.Seconds
		m["mean_latency_ms"] = 1000 * s.Mean
		m["p50_latency_ms"] = 1000 * s.P50
		m["p95_latency_ms"] = 1000 * f.Latency.Quantile(0.95).Seconds()
		m["p99_latency_ms"] = 1000 * s.P99
		m["p999_latency_ms"] = 1000 * s.P999
		m["bytes_per_query"] = float64(f.Bytes) / float64(f.Queries)
		m["reads_per_query"] = float64(f.Reads) / float64(f.Queries)
	}
}

// gather sends this process's figures and answers of the measurement
// name to the lead, which makes f every process's (queries, bytes and
// reads summed, latencies merged, and the slowest one's seconds: the
// processes started together) and puts the others' answers in results.
func gather(ctx context.Context, group stages.Group, name string, f *figures, k int, results [][]vector.Neighbor) error {
	parts, err := group.Gather(ctx, name+"/figures", f)
	if err != nil {
		return fmt.Errorf("gathering the processes' figures: %w", err)
	}
	if group.Lead() {
		// Part 0 is the lead's own, already in f.
		for i, b := range parts[1:] {
			var o figures
			if err := json.Unmarshal(b, &o); err != nil {
				return fmt.Errorf("process %d's figures: %w", i+1, err)
			}
			if o.Latency == nil {
				return fmt.Errorf("process %d's figures: no latencies", i+1)
			}
			f.Queries += o.Queries
			f.Seconds = max(f.Seconds, o.Seconds)
			f.Latency.Merge(o.Latency)
			f.Bytes += o.Bytes
			f.Reads += o.Reads
		}
	}
	return gatherAnswers(ctx, group, name, k, results)
}

// answersPerGather bounds the neighbours one gather of answers carries
// from all processes together: a message to or from the coordinator
// holds a few MiB at most, and a neighbour is some 20 bytes of JSON.
const answersPerGather = 1 << 16

// answer is a process's answer to one distinct query: the neighbours it
// returned, nearest first.
type answer struct {
	Query int       `json:"q"`
	IDs   []int64   `json:"ids"`
	Dists []float32 `json:"dists"`
}

// gatherAnswers sends the lead this process's answers to distinct
// queries, results[j] for query j (nil where it asked none), and puts the
// other processes' into the lead's results, in rounds over the distinct
// queries of at most answersPerGather neighbours. Each distinct query is
// answered by one process only (queryShare), so that a round carries no
// more, however many the processes, and the lead holds no more than a
// run of one process does.
func gatherAnswers(ctx context.Context, group stages.Group, name string, k int, results [][]vector.Neighbor) error {
	per := max(1, answersPerGather/k)
	for lo := 0; lo < len(results); lo += per {
		hi := min(len(results), lo+per)
		var own []answer
		for j, got := range results[lo:hi] {
			if got == nil {
				continue
			}
			a := answer{Query: lo + j, IDs: make([]int64, len(got)), Dists: make([]float32, len(got))}
			for i, n := range got {
				a.IDs[i], a.Dists[i] = n.ID, n.Dist
			}
			own = append(own, a)
		}
		parts, err := group.Gather(ctx, fmt.Sprintf("%s/answers/%d", name, lo), own)
		if err != nil {
			return fmt.Errorf("gathering the answers to queries %d-%d: %w", lo, hi-1, err)
		}
		if !group.Lead() {
			continue
		}
		for i, b := range parts[1:] {
			var as []answer
			if err := json.Unmarshal(b, &as); err != nil {
				return fmt.Errorf("process %d's answers: %w", i+1, err)
			}
			for _, a := range as {
				if a.Query < lo || a.Query >= hi || len(a.IDs) != len(a.Dists) {
					return fmt.Errorf("process %d's answers: query %d (of %d-%d) with %d ids and %d distances", i+1, a.Query, lo, hi-1, len(a.IDs), len(a.Dists))
				}
				got := make([]vector.Neighbor, len(a.IDs))
				for n := range got {
					got[n] = vector.Neighbor{ID: a.IDs[n], Dist: a.Dists[n]}
				}
				results[a.Query] = got
			}
		}
	}
	return nil
}

// queryShare is one process's part of a query stage's numbered queries
// (query j asks query vector j mod the set's size). Its workers are
// first..first+count-1 of all the stage's workers, and of each run of
// all numbers, one a worker, it asks those of its workers. The
// processes' numbers are then apart, and together 0, 1, 2, ... as a
// process running every worker numbers them: in count mode exactly the
// first query_count, each process's share in proportion to its workers;
// in a timed run as far as each process got. Each distinct query is
// first asked under its own number, so by one process only.
type queryShare struct{ first, count, all int64 }

// number is the stage's number of this process's query i.
func (s queryShare) number(i int64) int64 { return i/s.count*s.all + s.first + i%s.count }

// of is how many of the stage's queries 0..n-1 are this process's.
func (s queryShare) of(n int64) int64 {
	runs, rest := n/s.all, n%s.all
	return runs*s.count + min(max(rest-s.first, 0), s.count)
}

// worker is one query worker: its searcher, latencies and reads.
type worker struct {
	s            searcher
	lat          *measure.Histogram
	bytes, reads int64
}

// loop runs this process's queries, numbered by share, on every worker:
// count of them (dur 0), or as many as start within dur. Each query's
// latency is its own, from the call to the answer. When results is not
// nil, the answer to each query numbered below the set's size, the first
// to each distinct query, is kept there for recall. It returns the
// queries answered.
func (t *queryTask) loop(ctx context.Context, workers []*worker, share queryShare, queries []float32, count int64, dur time.Duration, results [][]vector.Neighbor) (int64, error) {
	dim := int(t.b.coll.Dataset.Vectors.Dimension)
	nq := int64(len(queries) / dim)
	var next, done atomic.Int64
	var mu sync.Mutex
	end := time.Now().Add(dur)
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error {
			for {
				i := next.Add(1) - 1
				if dur == 0 && i >= count || dur > 0 && !time.Now().Before(end) {
					return nil
				}
				j := share.number(i)
				q := queries[(j%nq)*int64(dim):][:dim]
				t0 := time.Now()
				got, cost, err := w.s.search(gctx, q, t.spec.TopK)
				w.lat.Record(time.Since(t0))
				if err != nil {
					return fmt.Errorf("query %d: %w", j, err)
				}
				w.bytes += cost.bytes
				w.reads += cost.reads
				done.Add(1)
				if results != nil && j < nq {
					mu.Lock()
					results[j] = slices.Clone(got)
					mu.Unlock()
				}
			}
		})
	}
	err := g.Wait()
	return done.Load(), err
}

// Headline says the queries' key figures in one line.
func (t *queryTask) Headline(m stages.Metrics) string {
	if points, ok := m["sweep"].([]stages.Metrics); ok {
		var parts []string
		for _, p := range points {
			rec, _ := p["recall_at_k_mean"].(float64)
			qps, _ := p["throughput_qps"].(float64)
			bpq, _ := p["bytes_per_query"].(float64)
			parts = append(parts, fmt.Sprintf("%v: recall %.4f, %.1f q/s, %.1f KiB", p[t.spec.Sweep.Parameter], rec, qps, bpq/1024))
		}
		line := fmt.Sprintf("%s sweep of %s: %s", t.b.spec.IndexType, t.spec.Sweep.Parameter, strings.Join(parts, "; "))
		if v, ok := m["sweep_cheapest_value"]; ok {
			line += fmt.Sprintf("; cheapest at recall ≥ %g: %v", t.spec.Sweep.RecallTarget, v)
		} else if _, ok := m["sweep_target_reached"]; ok {
			line += fmt.Sprintf("; no value reaches recall %g", t.spec.Sweep.RecallTarget)
		}
		return line
	}
	qps, _ := m["throughput_qps"].(float64)
	p99, _ := m["p99_latency_ms"].(float64)
	rec, _ := m["recall_at_k_mean"].(float64)
	bpq, _ := m["bytes_per_query"].(float64)
	line := fmt.Sprintf("%s: %.1f queries/s, p99 %.2f ms, recall@%d %.4f, %.1f KiB read per query",
		t.b.spec.IndexType, qps, p99, t.spec.TopK, rec, bpq/1024)
	if inv, ok := m["invalid"].(string); ok {
		line += " (INVALID: " + inv + ")"
	}
	return line
}

// sweep measures the queries once per value of the swept parameter and
// reports the curve; with a recall target, the value that reaches it
// reading the fewest bytes per query.
func (t *queryTask) sweep(ctx context.Context, r *queryRun, m stages.Metrics) (stages.Metrics, error) {
	sw := t.spec.Sweep
	var points []stages.Metrics
	best, bestBytes := 0, 0.0
	for i, v := range sw.Values {
		p := t.params()
		switch sw.Parameter {
		case "nprobe":
			p.nprobe = v
		case "search_list_size":
			p.searchList = v
		case "beam_width":
			p.beamWidth = v
		}
		pm, err := r.measure(ctx, p, i)
		pm[sw.Parameter] = v
		points = append(points, pm)
		if err != nil {
			m["sweep"] = points
			return m, fmt.Errorf("sweep %s %d: %w", sw.Parameter, v, err)
		}
		rec, _ := pm["recall_at_k_mean"].(float64)
		bpq, _ := pm["bytes_per_query"].(float64)
		if sw.RecallTarget > 0 && rec >= sw.RecallTarget && (best == 0 || bpq < bestBytes) {
			best, bestBytes = v, bpq
		}
	}
	m["sweep_parameter"] = sw.Parameter
	m["sweep"] = points
	if sw.RecallTarget > 0 {
		m["sweep_recall_target"] = sw.RecallTarget
		if best > 0 {
			m["sweep_cheapest_value"] = best
			m["sweep_cheapest_bytes_per_query"] = bestBytes
		} else {
			m["sweep_target_reached"] = false
		}
	}
	return m, nil
}
