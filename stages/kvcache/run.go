package kvcache

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/kvcache/llm"
	"mlps.dev/mlps/stages/kvcache/tiers"
	"mlps.dev/mlps/stages/kvcache/trace"
	"mlps.dev/mlps/stages/measure"
)

// freeShare is the share of a file target's free space the storage tier
// fills when storage_bytes is 0, as upstream's default.
const freeShare = 0.95

// cleanupTimeout bounds deleting what the storage tier still holds once
// the run has ended, Ctrl-C or not.
const cleanupTimeout = 5 * time.Minute

func (t *task) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b, err := env.Target(t.spec.Target)
	if err != nil {
		return nil, err
	}
	limit := t.spec.StorageBytes
	if limit == 0 {
		if sp, ok := backends.As[backends.Spacer](b); ok {
			free, err := sp.Free(ctx)
			if err != nil {
				return nil, fmt.Errorf("reading the free space of target %s, which storage_bytes 0 fills to %.0f%% of: %w (set storage_bytes)", t.spec.Target, 100*freeShare, err)
			}
			limit = int64(freeShare * float64(free) / float64(t.spec.Ranks))
			if limit < t.maxEntry {
				return nil, fmt.Errorf("target %s has %s free, %s per rank at %.0f%%: less than the largest entry a request writes, %s; free space or set storage_bytes",
					t.spec.Target, measure.IEC(free), measure.IEC(limit), 100*freeShare, measure.IEC(t.maxEntry))
			}
		}
	}
	detail, err := env.Create("requests.jsonl")
	if err != nil {
		return nil, err
	}
	defer detail.Close()
	log := &requestLog{enc: json.NewEncoder(detail)}
	perToken, _ := llm.Generation(t.spec.Generation).PerToken()
	gen := content.New(t.seed)
	// Across processes, this process runs its share of the ranks, every
	// trial starting on all processes together; the lead adds up every
	// rank's figures. A rank does the same whichever process runs it: its
	// requests are drawn from its own source and its entries are named
	// by its number.
	group := env.Group()
	_, local := group.(stages.LocalGroup)
	first, count := group.Share(t.spec.Ranks)
	var all []rankFigures
	var walls []time.Duration
	var runErr error
	for trial := range t.spec.Trials {
		ranks := make([]*rank, count)
		for i := range ranks {
			r, err := t.newRank(trial, first+i, b, env.Meter, gen, limit, perToken)
			if err != nil {
				return nil, err
			}
			r.log = log
			ranks[i] = r
		}
		if !local {
			if err := group.Sync(ctx, fmt.Sprintf("kvcache/%s/trial%d", env.Stage, trial)); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		for _, r := range ranks {
			g.Go(func() error { return r.run(gctx) })
		}
		runErr = g.Wait()
		walls = append(walls, time.Since(start))
		// The entries the storage tier still holds go; every rank named
		// its own, so nothing is listed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		rec := env.Meter.Worker()
		for _, r := range ranks {
			if err := r.cleanup(cctx, rec); err != nil && runErr == nil {
				runErr = fmt.Errorf("deleting the cache entries rank %d left on target %s: %w", r.n, t.spec.Target, err)
			}
			all = append(all, r.figures())
		}
		cancel()
		if runErr != nil {
			break
		}
	}
	if runErr == nil && !local {
		var err error
		if all, walls, err = t.gather(ctx, group, env.Stage, all, walls); err != nil {
			return nil, err
		}
	}
	m := t.metrics(all, walls, limit)
	if err := t.writeRanks(env, all); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		// What finished is reported; a run that did not finish has no
		// verdict.
		m["partial"] = true
		delete(m, "verdict")
	}
	return m, runErr
}

// part is what a process of a run across processes sends the lead: its
// ranks' figures and its wall time per trial.
type part struct {
	Ranks []rankFigures   `json:"ranks"`
	Walls []time.Duration `json:"walls"`
}

// gather sends this process's figures to the lead and returns, on the
// lead, every process's ranks, in rank order within each trial, and per
// trial the slowest process's wall time: a trial lasts until its last
// rank is done. Elsewhere it returns this process's own.
func (t *task) gather(ctx context.Context, group stages.Group, stage string, own []rankFigures, walls []time.Duration) ([]rankFigures, []time.Duration, error) {
	parts, err := group.Gather(ctx, "kvcache/"+stage, part{Ranks: own, Walls: walls})
	if err != nil || !group.Lead() {
		return own, walls, err
	}
	var all []rankFigures
	slowest := make([]time.Duration, t.spec.Trials)
	seen := map[[2]int]bool{}
	for i, raw := range parts {
		var p part
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, nil, fmt.Errorf("process %d's figures: %w", i, err)
		}
		if len(p.Walls) != t.spec.Trials {
			return nil, nil, fmt.Errorf("process %d ran %d trials of %d", i, len(p.Walls), t.spec.Trials)
		}
		for k, w := range p.Walls {
			slowest[k] = max(slowest[k], w)
		}
		for _, f := range p.Ranks {
			if err := t.check(&f); err != nil {
				return nil, nil, fmt.Errorf("process %d's figures: %w", i, err)
			}
			key := [2]int{f.Trial, f.Rank}
			if seen[key] {
				return nil, nil, fmt.Errorf("process %d's figures: rank %d of trial %d twice", i, f.Rank, f.Trial)
			}
			seen[key] = true
			all = append(all, f)
		}
	}
	if len(all) != t.spec.Trials*t.spec.Ranks {
		return nil, nil, fmt.Errorf("figures of %d ranks gathered, %d ran", len(all), t.spec.Trials*t.spec.Ranks)
	}
	slices.SortFunc(all, func(a, b rankFigures) int { return cmp.Or(cmp.Compare(a.Trial, b.Trial), cmp.Compare(a.Rank, b.Rank)) })
	return all, slowest, nil
}

// rankLine is a rank's line in ranks.jsonl: its own figures, so that one
// slow client shows rather than averaging away.
type rankLine struct {
	Trial               int     `json:"trial"`
	Rank                int     `json:"rank"`
	Requests            int64   `json:"requests_completed"`
	Abandoned           int64   `json:"requests_abandoned"`
	Tokens              int64   `json:"tokens"`
	HitRate             float64 `json:"cache_hit_rate"`
	EndToEnd            latency `json:"end_to_end_latency_ms"`
	StorageReadBytes    int64   `json:"storage_read_bytes"`
	StorageWriteBytes   int64   `json:"storage_write_bytes"`
	StorageReadLatency  latency `json:"storage_read_latency_ms"`
	StorageWriteLatency latency `json:"storage_write_latency_ms"`
}

// writeRanks writes ranks.jsonl, a line per rank and trial: in a run
// across processes, the lead's holds every process's ranks.
func (t *task) writeRanks(env *stages.Env, ranks []rankFigures) error {
	f, err := env.Create("ranks.jsonl")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range ranks {
		all, st := &r.Classes[len(llm.Classes)], &r.Tiers[len(r.Tiers)-1]
		l := rankLine{Trial: r.Trial + 1, Rank: r.Rank, Requests: all.Requests, Abandoned: r.Abandoned, Tokens: all.Tokens,
			HitRate: ratio(r.Hits, r.Hits+r.Misses), EndToEnd: latencyOf(all.Latency[0]),
			StorageReadBytes: st.ReadBytes, StorageWriteBytes: st.WriteBytes, StorageReadLatency: latencyOf(st.Read), StorageWriteLatency: latencyOf(st.Write)}
		if err := enc.Encode(l); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Ranks are the stage's clients: across processes, each runs its share.
func (t *task) Ranks() int { return t.spec.Ranks }

// rank is one client: its users, its queue, its tiers and its entries.
type rank struct {
	t *task
	// trial and n number the rank's trial and the rank, from 0.
	trial, n int
	b        backends.Backend
	meter    *measure.Meter
	gen      *content.Generator
	perToken float64
	// streams names the content streams of the rank's entries, one per
	// entry id.
	streams string
	// io are the rank's tiers, fastest first; the last is the target.
	io []*tierIO

	mu       sync.Mutex // guards cache, entries, nextID and prefixes
	cache    *tiers.Cache
	entries  map[uint64]*entry
	nextID   uint64
	prefixes []prefix
	// orphans are entries whose demotion or deletion failed: they may
	// still hold bytes on the target, which cleanup deletes.
	orphans []*entry

	// queues hold the requests waiting for service, one per class,
	// highest priority first; within a class, in order of arrival.
	queues [3]chan *request
	// stop is closed at the deadline; usersDone once every user has sent
	// its last request.
	stop, usersDone chan struct{}
	haltOnce        sync.Once

	stats rankStats
	log   *requestLog
}

// prefix is a shared system prompt: its tokens and its entry, 0 when none
// is cached.
type prefix struct {
	tokens int
	id     uint64
}

// tierIO is a tier as a rank moves bytes in it.
type tierIO struct {
	name    string
	limit   int64
	storage bool
	st      tierStats
}

// entry is one cached entry's bytes. want is where the cache placed it
// (written under the rank's lock); loc is where its bytes are, changed
// only under mu, which a reader holds shared while it reads them.
type entry struct {
	id     uint64
	bytes  int64
	stream uint64
	want   atomic.Int32 // tier index; -1 once the entry left the cache

	mu      sync.RWMutex
	written chan struct{} // closed once the first write ended, stored or not
	done    bool          // set under mu with written
	loc     int           // tier index, -1 when nowhere
	mem     []byte        // the bytes, while loc is an in-process tier
}

// worker is one of a rank's servers of requests: its meter, the buffer
// every entry it writes or reads streams through, and the storage
// operations of the request it serves, for the request's record.
type worker struct {
	id  int
	rec *measure.Worker
	buf []byte
	ops []opRecord
}

// opRecord is one operation of a request on the storage tier, as
// requests.jsonl lists it: enough to replay the request's storage I/O.
type opRecord struct {
	Op    string `json:"op"` // "write", "read" or "delete"
	Entry uint64 `json:"entry"`
	Bytes int64  `json:"bytes"`
}

// request is one request of a user, as queued.
type request struct {
	user *user
	turn llm.Turn
	// newConv starts a conversation: the entries of the last are not
	// read.
	newConv bool
	prefix  int // index in prefixes, -1 for none
	arrival time.Time
	done    chan struct{}
}

// user is one emulated user: what it drew, its random source and the
// entries of its conversation so far, oldest first.
type user struct {
	llm.User
	rng  *rand.Rand
	conv []turnEntry
	// next is the next scheduled arrival, open loop.
	next time.Time
	// quota is the requests u still sends, -1 for as many as the
	// duration holds.
	quota int64
	// play and turn are the trace conversation u plays and its next turn.
	play, turn int
	// inbox receives u's requests of an arrival trace.
	inbox chan trace.Arrival
}

type turnEntry struct {
	id     uint64
	tokens int
}

func (t *task) newRank(trial, n int, b backends.Backend, meter *measure.Meter, gen *content.Generator, storage int64, perToken float64) (*rank, error) {
	r := &rank{t: t, trial: trial, n: n, b: b, streams: fmt.Sprintf("kvcache:%s/rank%d", t.spec.Path, n), meter: meter, gen: gen, perToken: perToken,
		entries: map[uint64]*entry{}, stop: make(chan struct{}), usersDone: make(chan struct{})}
	var ts []tiers.Tier
	for _, tr := range []struct {
		name  string
		limit int64
	}{{"gpu", t.spec.GPUBytes}, {"cpu", t.spec.CPUBytes}} {
		if tr.limit > 0 {
			ts = append(ts, tiers.Tier{Name: tr.name, Limit: tr.limit})
			r.io = append(r.io, &tierIO{name: tr.name, limit: tr.limit})
		}
	}
	ts = append(ts, tiers.Tier{Name: "storage", Limit: storage})
	r.io = append(r.io, &tierIO{name: "storage", limit: storage, storage: true})
	for _, tio := range r.io {
		tio.st.init(tio.storage)
	}
	c, err := tiers.New(ts)
	if err != nil {
		return nil, err
	}
	r.cache = c
	for i := range r.queues {
		r.queues[i] = make(chan *request, t.spec.Users)
	}
	r.stats.init()
	// Each rank draws from its own source, so that adding ranks does not
	// change what rank 0 does.
	rng := rand.New(rand.NewPCG(t.seed, uint64(trial)<<32|uint64(n)))
	for range t.spec.Prefixes {
		r.prefixes = append(r.prefixes, prefix{tokens: prefixMin + rng.IntN(prefixMax-prefixMin+1)})
	}
	return r, nil
}

// name is entry id's object on the target.
func (r *rank) name(id uint64) string {
	return fmt.Sprintf("%s/rank%d/%d.kv", r.t.spec.Path, r.n, id)
}

func (r *rank) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// halt closes stop, once.
func (r *rank) halt() { r.haltOnce.Do(func() { close(r.stop) }) }

// run serves the rank's users until the deadline or the last request: the
// users send requests into the queues, max_concurrent_allocs workers
// serve them. A worker's failure ends the rank.
func (r *rank) run(ctx context.Context) error {
	s := r.t.spec
	rng := rand.New(rand.NewPCG(r.t.seed, 1<<63|uint64(r.trial)<<32|uint64(r.n)))
	start := time.Now()
	users := make([]*user, s.Users)
	for i := range users {
		users[i] = &user{User: llm.NewUser(rng), rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), next: start, quota: -1}
		if n := len(r.t.conversations); n > 0 {
			users[i].play = i % n
		}
		if s.Requests > 0 {
			// Each user its share, so that which requests a run makes
			// does not depend on which user is quicker.
			users[i].quota = s.Requests / int64(s.Users)
			if int64(i) < s.Requests%int64(s.Users) {
				users[i].quota++
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	var traceErr error
	var tg sync.WaitGroup
	if tr := s.Trace; tr != nil && tr.Arrivals != "" {
		for _, u := range users {
			u.inbox = make(chan trace.Arrival, 4)
		}
		tg.Go(func() {
			if traceErr = r.arrive(gctx, users); traceErr != nil {
				r.halt()
			}
		})
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() { r.user(gctx, u, start) })
	}
	go func() {
		wg.Wait()
		close(r.usersDone)
	}()
	if s.Requests == 0 {
		tm := time.AfterFunc(time.Duration(s.Duration*float64(time.Second)), r.halt)
		defer tm.Stop()
	}
	for i := range s.MaxConcurrentAllocs {
		g.Go(func() error {
			return r.serve(gctx, &worker{id: i, rec: r.meter.Worker(), buf: make([]byte, s.ChunkBytes)})
		})
	}
	err := g.Wait()
	// A failure, or the last request served: the users stop.
	r.halt()
	wg.Wait()
	tg.Wait()
	if err == nil && traceErr != nil {
		err = fmt.Errorf("trace.arrivals %s: %w", s.Trace.Arrivals, traceErr)
	}
	return err
}

// arrive reads the arrival trace and hands row k to user k mod users,
// until the trace ends or the rank stops; then it closes the inboxes.
func (r *rank) arrive(ctx context.Context, users []*user) error {
	defer func() {
		for _, u := range users {
			close(u.inbox)
		}
	}()
	f, err := os.Open(r.t.spec.Trace.Arrivals)
	if err != nil {
		return err
	}
	defer f.Close()
	a, err := trace.NewArrivals(f)
	if err != nil {
		return err
	}
	for k := 0; ; k++ {
		x, err := a.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case users[k%len(users)].inbox <- x:
		case <-r.stop:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// user sends u's requests one at a time: closed loop, the next once the
// last has been served and u has thought; open loop, at its scheduled
// arrivals, each once the last has been served.
func (r *rank) user(ctx context.Context, u *user, start time.Time) {
	s := r.t.spec
	for {
		if u.quota == 0 {
			return
		}
		u.quota--
		turn := u.Draw(u.rng)
		p := -1
		if s.PrefixShare > 0 && u.rng.Float64() < s.PrefixShare {
			p = u.rng.IntN(len(r.prefixes))
		}
		arrival := time.Now()
		switch {
		case u.inbox != nil:
			var x trace.Arrival
			var ok bool
			select {
			case x, ok = <-u.inbox:
				if !ok {
					return
				}
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			}
			arrival = start.Add(time.Duration(x.At / s.Trace.Speedup * float64(time.Second)))
			if !r.sleep(ctx, time.Until(arrival)) {
				return
			}
			turn.Context, turn.Gen = x.Context, x.Gen
		case s.Rate > 0:
			// Each user's arrivals are a Poisson process of rate ÷ users:
			// together, the rank's of rate.
			u.next = u.next.Add(time.Duration(u.rng.ExpFloat64() * float64(s.Users) / s.Rate * float64(time.Second)))
			if !r.sleep(ctx, time.Until(u.next)) {
				return
			}
			arrival = u.next
		}
		req := &request{user: u, turn: turn, prefix: p, arrival: arrival, done: make(chan struct{})}
		if cs := r.t.conversations; len(cs) > 0 {
			c := cs[u.play]
			req.turn.Context, req.turn.Gen = c[u.turn].Context, c[u.turn].Gen
			req.newConv = u.turn == 0
			if u.turn++; u.turn == len(c) {
				u.turn, u.play = 0, (u.play+s.Users)%len(cs)
			}
		}
		select {
		case r.queues[u.Class] <- req:
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		}
		select {
		case <-req.done:
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		}
		if u.quota == 0 {
			return // no think time after the last request
		}
		if s.Rate == 0 && u.inbox == nil && !r.sleep(ctx, time.Duration(turn.Think*float64(time.Second))) {
			return
		}
	}
}

// sleep waits d and reports whether the rank goes on.
func (r *rank) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return !r.stopped() && ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-r.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// next is the request to serve: the highest class's first waiting, or
// nil when the rank stops, or when the users are done and none waits.
func (r *rank) next(ctx context.Context) *request {
	if r.stopped() {
		return nil
	}
	for _, q := range r.queues {
		select {
		case req := <-q:
			return req
		default:
		}
	}
	select {
	case req := <-r.queues[0]:
		return req
	case req := <-r.queues[1]:
		return req
	case req := <-r.queues[2]:
		return req
	case <-r.stop:
		return nil
	case <-ctx.Done():
		return nil
	case <-r.usersDone:
		// Those sent before the last user ended.
		for _, q := range r.queues {
			select {
			case req := <-q:
				return req
			default:
			}
		}
		return nil
	}
}

// serve is one worker: it serves requests through its buffer until the rank
// stops.
func (r *rank) serve(ctx context.Context, w *worker) error {
	for {
		req := r.next(ctx)
		if req == nil {
			return nil
		}
		err := r.handle(ctx, w, req)
		close(req.done)
		if err != nil {
			return err
		}
	}
}

// errCut says that an entry's write or read stopped between two chunks:
// the cache evicted the entry while it was written, or the run ended.
var errCut = errors.New("cut short")

// handle serves one request: its I/O as llm.Request.IOs lists it, the
// prefix entry written instead of read when it is not cached, decode's
// generation time spread between its reads. A request the deadline cuts
// is abandoned, between two operations or within one between two chunks,
// so that a run ends within a chunk's time of its duration, not an
// entry's.
func (r *rank) handle(ctx context.Context, w *worker, req *request) error {
	u := req.user
	begin := time.Now()
	w.ops = w.ops[:0]
	if req.newConv || (r.t.conversations == nil && len(u.conv) >= r.t.spec.Turns) {
		u.conv = u.conv[:0] // the conversation ends; the next begins
	}
	q := llm.Request{Context: req.turn.Context, Gen: req.turn.Gen}
	var storage, generation time.Duration
	rec := requestRecord{Trial: r.trial, Rank: r.n, Worker: w.id, Class: llm.Classes[u.Class].Name, Template: u.Template.Name,
		Context: q.Context, Gen: q.Gen}
	abandon := func() error {
		r.stats.abandoned.Add(1)
		rec.Abandoned = true
		return r.log.write(&rec, w.ops)
	}
	if req.prefix >= 0 {
		hit, d, err := r.prefix(ctx, w, req.prefix)
		storage += d
		if errors.Is(err, errCut) {
			return abandon()
		}
		if err != nil {
			return err
		}
		if hit {
			q.PrefixTokens = r.prefixes[req.prefix].tokens
		}
	}
	for _, e := range u.conv {
		q.EarlierTokens = append(q.EarlierTokens, e.tokens)
	}
	ios := q.IOs(r.t.bpt, nil)
	reads := llm.DecodeReads(q.Gen)
	perRead := time.Duration(float64(q.Gen) * r.perToken / float64(reads) * float64(time.Second))
	var own uint64
	rec.PrefixTokens, rec.EarlierTurns = q.PrefixTokens, len(q.EarlierTokens)
	for _, op := range ios {
		if r.stopped() {
			return abandon()
		}
		var d time.Duration
		var err error
		switch {
		case op.Entry == llm.Prefix:
			// Read when it was found: prefix reports the read it made.
			continue
		case op.Kind == llm.Write:
			own, d, err = r.write(ctx, w, op.Bytes)
			u.conv = append(u.conv, turnEntry{id: own, tokens: q.Context})
		case op.Entry == llm.Earlier:
			d, err = r.read(ctx, w, u.conv[op.Turn].id, true)
		default:
			d, err = r.read(ctx, w, own, false)
			if err == nil && perRead > 0 {
				g := time.Now()
				if !r.sleep(ctx, perRead) {
					if err := ctx.Err(); err != nil {
						return err
					}
					return abandon()
				}
				generation += time.Since(g)
			}
		}
		storage += d
		if errors.Is(err, errCut) {
			return abandon()
		}
		if err != nil {
			return err
		}
	}
	if r.stopped() {
		// The last operation was cut at the deadline.
		return abandon()
	}
	e2e := time.Since(req.arrival)
	r.stats.request(u.Class, q.Context+q.Gen, e2e, storage, generation, time.Since(begin))
	rec.EndToEndMs, rec.StorageMs, rec.GenerationMs = ms(e2e), ms(storage), ms(generation)
	return r.log.write(&rec, w.ops)
}

// requestRecord is one line of requests.jsonl: a request served, or
// abandoned at the deadline, and its operations on the storage tier in
// order (the in-process tiers' are not listed).
type requestRecord struct {
	Trial        int        `json:"trial"`
	Rank         int        `json:"rank"`
	Worker       int        `json:"worker"`
	Class        string     `json:"class"`
	Template     string     `json:"template"`
	Context      int        `json:"context_tokens"`
	Gen          int        `json:"generated_tokens"`
	PrefixTokens int        `json:"prefix_tokens_read,omitempty"`
	EarlierTurns int        `json:"earlier_turns_read,omitempty"`
	Abandoned    bool       `json:"abandoned,omitempty"`
	EndToEndMs   float64    `json:"end_to_end_ms,omitempty"`
	StorageMs    float64    `json:"storage_ms,omitempty"`
	GenerationMs float64    `json:"generation_ms,omitempty"`
	Ops          []opRecord `json:"storage_ops"`
}

// requestLog writes requests.jsonl as the requests end, so that records
// stay on disk, not in memory. A nil log writes nothing.
type requestLog struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *requestLog) write(rec *requestRecord, ops []opRecord) error {
	if l == nil {
		return nil
	}
	rec.Ops = ops
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.enc.Encode(rec); err != nil {
		return fmt.Errorf("writing requests.jsonl: %w", err)
	}
	return nil
}

// prefix serves shared prefix p: a cached entry is read; otherwise the
// request writes it, as the prefill that computes the prefix would, for
// the requests after it. It reports whether it was a hit.
func (r *rank) prefix(ctx context.Context, w *worker, p int) (bool, time.Duration, error) {
	r.mu.Lock()
	if id := r.prefixes[p].id; id != 0 {
		if _, _, ok := r.cache.Get(id); ok {
			e := r.entries[id]
			r.mu.Unlock()
			d, hit, err := r.readEntry(ctx, w, e)
			r.stats.lookup(true, hit)
			return hit, d, err
		}
	}
	e, victims, err := r.place(int64(r.prefixes[p].tokens) * r.t.bpt)
	if err == nil {
		r.prefixes[p].id = e.id
	}
	r.mu.Unlock()
	if err != nil {
		return false, 0, err
	}
	r.stats.lookup(true, false)
	d, err := r.fill(ctx, w, e, victims)
	return false, d, err
}

// read reads entry id whole, if the cache still holds it; reuse says it
// is an earlier turn's entry, not the request's own.
func (r *rank) read(ctx context.Context, w *worker, id uint64, reuse bool) (time.Duration, error) {
	r.mu.Lock()
	_, _, ok := r.cache.Get(id)
	e := r.entries[id]
	r.mu.Unlock()
	if !ok {
		r.stats.lookup(reuse, false)
		return 0, nil
	}
	d, hit, err := r.readEntry(ctx, w, e)
	r.stats.lookup(reuse, hit)
	return d, err
}

// write places a new entry of n bytes and writes it: the demotions and
// deletions that make room first, then its own bytes, in the tier the
// cache has for it by then.
func (r *rank) write(ctx context.Context, w *worker, n int64) (uint64, time.Duration, error) {
	r.mu.Lock()
	e, victims, err := r.place(n)
	r.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	d, err := r.fill(ctx, w, e, victims)
	return e.id, d, err
}

// place records a new entry of n bytes in the cache and returns it with
// the entries its placement moves, in the cache's order. r.mu is held.
func (r *rank) place(n int64) (*entry, []*entry, error) {
	r.nextID++
	id := r.nextID
	moves, err := r.cache.Put(id, n, nil)
	if err != nil {
		return nil, nil, err
	}
	e := &entry{id: id, bytes: n, stream: content.Stream(r.streams, int64(id)), written: make(chan struct{}), loc: -1}
	r.entries[id] = e
	var victims []*entry
	for _, m := range moves {
		switch m.Kind {
		case tiers.Write:
			e.want.Store(int32(m.To))
		case tiers.Demote:
			v := r.entries[m.Entry]
			v.want.Store(int32(m.To))
			victims = append(victims, v)
		case tiers.Delete:
			v := r.entries[m.Entry]
			v.want.Store(-1)
			delete(r.entries, m.Entry)
			victims = append(victims, v)
		}
	}
	return e, victims, nil
}

// fill carries out the moves that made room for e, then writes e. Whatever
// happens, e is marked written, so that no reader waits for it forever.
func (r *rank) fill(ctx context.Context, w *worker, e *entry, victims []*entry) (time.Duration, error) {
	var d time.Duration
	var err error
	for i, v := range victims {
		var dv time.Duration
		if dv, err = r.settle(ctx, w, v); err != nil {
			r.orphan(victims[i:])
			break
		}
		d += dv
	}
	e.mu.Lock()
	if dst := int(e.want.Load()); err == nil && dst >= 0 {
		var dw time.Duration
		dw, err = r.store(ctx, w, e, dst, nil)
		d += dw
		if err == nil {
			e.loc = dst
		} else if errors.Is(err, errCut) {
			err = nil // stored nowhere: its reads miss
		}
	}
	e.done = true
	e.mu.Unlock()
	close(e.written)
	return d, err
}

// orphan keeps entries whose moves were not carried out, for cleanup.
func (r *rank) orphan(es []*entry) {
	r.mu.Lock()
	r.orphans = append(r.orphans, es...)
	r.mu.Unlock()
}

// settle moves v's bytes to where the cache wants them now: another tier,
// or out. Any number of settles of one entry, in any order, leave it
// where the cache's last decision put it; an entry not yet written is
// left to its writer, which writes it there.
func (r *rank) settle(ctx context.Context, w *worker, v *entry) (time.Duration, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	dst := int(v.want.Load())
	if !v.done || v.loc < 0 || dst == v.loc {
		return 0, nil
	}
	start := time.Now()
	from := r.io[v.loc]
	if dst < 0 {
		if err := r.drop(ctx, w, v); err != nil {
			return time.Since(start), err
		}
		v.loc = -1
		return time.Since(start), nil
	}
	// A demotion: only an in-process tier gives entries to one below.
	_, err := r.store(ctx, w, v, dst, v.mem)
	if errors.Is(err, errCut) {
		// Deleted from the tier below while demoted to it.
		v.mem, v.loc = nil, -1
		return time.Since(start), nil
	}
	if err != nil {
		return time.Since(start), err
	}
	from.st.demotedOut.Add(1)
	from.st.demotedOutBytes.Add(v.bytes)
	if r.io[dst].storage {
		v.mem = nil
	}
	v.loc = dst
	return time.Since(start), nil
}

// store writes e's bytes into tier dst: from src, the bytes of the tier
// it is demoted from, or else from the generator. An in-process tier
// holds them in a slice of its own; the storage tier streams them through
// the worker's buffer as one object, synced when fsync is set.
func (r *rank) store(ctx context.Context, w *worker, e *entry, dst int, src []byte) (time.Duration, error) {
	ti := r.io[dst]
	start := time.Now()
	if !ti.storage {
		mem := make([]byte, e.bytes)
		if src != nil {
			copy(mem, src)
		} else {
			r.gen.Fill(mem, e.stream, 0)
		}
		e.mem = mem
		d := time.Since(start)
		ti.st.wrote(d, e.bytes)
		return d, nil
	}
	name := r.name(e.id)
	op := w.rec.Begin(measure.Write, r.t.spec.Target)
	// device is the time inside the target's calls; the rest is this
	// host's: filling the buffer with the entry's content.
	var device, fsync time.Duration
	call := time.Now()
	wr, err := r.b.Create(ctx, name, e.bytes)
	device += time.Since(call)
	if err != nil {
		return time.Since(start), op.End(err)
	}
	out := op.Writer(wr)
	cut := false
	for off := int64(0); off < e.bytes && err == nil; off += int64(len(w.buf)) {
		if off > 0 && (e.want.Load() != int32(dst) || r.stopped()) {
			// Evicted while written (a tier smaller than its entries in
			// flight): the rest would be written only to be deleted, and
			// the target would hold more than its limit meanwhile. Or the
			// run is over: an entry of gigabytes is not waited for.
			cut = true
			break
		}
		n := min(int64(len(w.buf)), e.bytes-off)
		p := w.buf[:n]
		if src != nil {
			p = src[off : off+n]
		} else {
			r.gen.Fill(p, e.stream, off)
		}
		call = time.Now()
		_, err = out.Write(p)
		device += time.Since(call)
	}
	if err == nil && cut {
		wr.Abort()
		// What moved is recorded: it went to the target.
		op.End(nil)
		ti.st.cut.Add(1)
		ti.st.cutBytes.Add(op.Bytes())
		return time.Since(start), errCut
	}
	if err == nil && r.t.spec.Fsync {
		if sy, ok := backends.As[backends.Syncer](wr); ok {
			call = time.Now()
			err = sy.Sync()
			fsync = time.Since(call)
			device += fsync
		}
	}
	call = time.Now()
	if err == nil {
		err = wr.Close()
	} else {
		wr.Abort()
	}
	device += time.Since(call)
	if op.End(err) != nil {
		return time.Since(start), fmt.Errorf("writing cache entry %s: %w", name, err)
	}
	d := time.Since(start)
	ti.st.wrote(d, e.bytes)
	ti.st.wroteDevice(device, fsync, r.t.spec.Fsync)
	w.ops = append(w.ops, opRecord{Op: "write", Entry: e.id, Bytes: e.bytes})
	return d, nil
}

// readEntry reads e whole from the tier its bytes are in, through the
// worker's buffer,
// checking them when verify is set. It reports a miss when e's bytes are
// nowhere (its write failed, or it was deleted before the read). The
// storage tier's entry is first dropped from the host's page cache when
// drop_cache is set, outside the timing, as upstream does before its
// reads.
func (r *rank) readEntry(ctx context.Context, w *worker, e *entry) (time.Duration, bool, error) {
	select {
	case <-e.written:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.loc < 0 {
		return 0, false, nil
	}
	ti := r.io[e.loc]
	verify := r.t.spec.Verify
	check := func(p []byte, off int64) error {
		if bad, ok := r.gen.Verify(p, e.stream, off); !ok {
			return fmt.Errorf("verify: rank %d, cache entry %d (%s tier): byte %d differs from what was written", r.n, e.id, ti.name, off+bad)
		}
		return nil
	}
	if !ti.storage {
		start := time.Now()
		for off := int64(0); off < e.bytes; off += int64(len(w.buf)) {
			n := copy(w.buf, e.mem[off:])
			if verify {
				if err := check(w.buf[:n], off); err != nil {
					return time.Since(start), false, err
				}
			}
		}
		d := time.Since(start)
		ti.st.read(d, e.bytes)
		return d, true, nil
	}
	name := r.name(e.id)
	if r.t.spec.DropCache {
		if ev, ok := backends.As[backends.Evicter](r.b); ok {
			if err := ev.Evict(ctx, name); err != nil {
				return 0, false, fmt.Errorf("dropping cache entry %s from the page cache so that its read comes from storage: %w (set drop_cache: false to read without it)", name, err)
			}
		}
	}
	start := time.Now()
	op := w.rec.Begin(measure.Read, r.t.spec.Target)
	var device time.Duration
	call := time.Now()
	rc, err := r.b.Open(ctx, name, 0, e.bytes)
	device += time.Since(call)
	if err != nil {
		return time.Since(start), false, op.End(fmt.Errorf("reading cache entry %s: %w", name, err))
	}
	op.Via(rc)
	for off := int64(0); off < e.bytes && err == nil; {
		if off > 0 && r.stopped() {
			// The run is over; what moved is recorded.
			rc.Close()
			op.End(nil)
			return time.Since(start), false, errCut
		}
		n := min(int64(len(w.buf)), e.bytes-off)
		call = time.Now()
		var got int
		got, err = io.ReadFull(rc, w.buf[:n])
		device += time.Since(call)
		op.Moved(int64(got))
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("cache entry %s ends after %d of its %d bytes", name, off+int64(got), e.bytes)
		}
		if err == nil && verify {
			err = check(w.buf[:n], off)
		}
		off += n
	}
	call = time.Now()
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	device += time.Since(call)
	if op.End(err) != nil {
		return time.Since(start), false, fmt.Errorf("reading cache entry %s: %w", name, err)
	}
	d := time.Since(start)
	ti.st.read(d, e.bytes)
	ti.st.readDevice(device)
	w.ops = append(w.ops, opRecord{Op: "read", Entry: e.id, Bytes: e.bytes})
	return d, true, nil
}

// drop deletes v's bytes from the tier they are in.
func (r *rank) drop(ctx context.Context, w *worker, v *entry) error {
	ti := r.io[v.loc]
	ti.st.deletes.Add(1)
	ti.st.deletedBytes.Add(v.bytes)
	if !ti.storage {
		v.mem = nil
		return nil
	}
	name := r.name(v.id)
	op := w.rec.Begin(measure.Delete, r.t.spec.Target)
	if err := op.End(r.b.Delete(ctx, name)); err != nil {
		return fmt.Errorf("deleting cache entry %s: %w", name, err)
	}
	w.ops = append(w.ops, opRecord{Op: "delete", Entry: v.id})
	return nil
}

// cleanup deletes the entries whose bytes are on the target: the rank
// knows each by name.
func (r *rank) cleanup(ctx context.Context, rec *measure.Worker) error {
	r.mu.Lock()
	es := make([]*entry, 0, len(r.entries)+len(r.orphans))
	for _, e := range r.entries {
		es = append(es, e)
	}
	es = append(es, r.orphans...)
	r.mu.Unlock()
	var first error
	for _, e := range es {
		e.mu.Lock()
		if e.loc >= 0 && r.io[e.loc].storage {
			name := r.name(e.id)
			op := rec.Begin(measure.Delete, r.t.spec.Target)
			if err := op.End(r.b.Delete(ctx, name)); err != nil && !backends.IsNotExist(err) && first == nil {
				first = err
			}
		}
		e.loc, e.mem = -1, nil
		e.mu.Unlock()
	}
	return first
}
