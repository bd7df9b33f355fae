package diskann

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"mlps.dev/mlps/stages/vector"
)

// space is the collection as the graph build sees it: distances between
// its own vectors. For IP the vectors are lifted to dim+1 dimensions by
// extra[i] = sqrt(maxNorm² − |x_i|²), under which the L2 order to a query
// lifted by 0 is the inner-product order; the graph is then a graph for
// maximum inner product, built with L2's triangle-like pruning. Only the
// N extra floats are stored, never the lifted vectors.
type space struct {
	data  []float32
	dim   int
	extra []float32 // IP only
}

func (s *space) vec(i uint32) []float32 {
	o := int(i) * s.dim
	return s.data[o : o+s.dim : o+s.dim]
}

func (s *space) dist(a, b uint32) float32 {
	d := vector.L2Sq(s.vec(a), s.vec(b))
	if s.extra != nil {
		e := s.extra[a] - s.extra[b]
		d += e * e
	}
	return d
}

func newSpace(data []float32, dim int, metric vector.Metric) *space {
	s := &space{data: data, dim: dim}
	if metric != vector.IP {
		return s
	}
	n := len(data) / dim
	s.extra = make([]float32, n)
	var maxNorm float64
	for i := range n {
		nn := float64(vector.Dot(s.vec(uint32(i)), s.vec(uint32(i))))
		s.extra[i] = float32(nn)
		maxNorm = max(maxNorm, nn)
	}
	for i, nn := range s.extra {
		s.extra[i] = float32(math.Sqrt(max(0, maxNorm-float64(nn))))
	}
	return s
}

// medoid is the vector nearest the collection's centroid: the DiskANN
// paper's entry point, and the first of ours.
func (s *space) medoid() uint32 {
	n := len(s.data) / s.dim
	sum := make([]float64, s.dim)
	for i := range n {
		for j, v := range s.vec(uint32(i)) {
			sum[j] += float64(v)
		}
	}
	c := make([]float32, s.dim)
	for j := range c {
		c[j] = float32(sum[j] / float64(n))
	}
	best, bestD := uint32(0), float32(math.Inf(1))
	for i := range n {
		if d := vector.L2Sq(c, s.vec(uint32(i))); d < bestD {
			best, bestD = uint32(i), d
		}
	}
	return best
}

// entryPoints picks up to k entry points: the medoid, then, over a
// seeded sample of at most sample vectors, the one farthest from every
// pick so far, and so on (farthest-first traversal). A cluster far from
// all picks is picked before any cluster gets a second one, so every
// well-separated cluster gets an entry of its own. Upstream's disk index
// keeps several medoids for the same reason, one per shard it merged.
func (s *space) entryPoints(k, sample int, seed uint64) []uint32 {
	n := len(s.data) / s.dim
	entries := []uint32{s.medoid()}
	ids := make([]uint32, 0, min(n, sample))
	r := rand.New(rand.NewPCG(seed, 0x656e747279))
	for i := 0; i < n && len(ids) < cap(ids); i++ {
		if r.IntN(n-i) < cap(ids)-len(ids) {
			ids = append(ids, uint32(i))
		}
	}
	far := make([]float32, len(ids)) // distance to the nearest pick
	for i, id := range ids {
		far[i] = s.dist(id, entries[0])
	}
	for len(entries) < min(k, len(ids)) {
		best := 0
		for i, d := range far {
			if d > far[best] {
				best = i
			}
		}
		if far[best] == 0 {
			break // every sampled vector is a pick or a copy of one
		}
		e := ids[best]
		entries = append(entries, e)
		for i, id := range ids {
			far[i] = min(far[i], s.dist(id, e))
		}
	}
	return entries
}

// nearestEntry is the entry point nearest p, and its distance.
func (b *builder) nearestEntry(p uint32) (uint32, float32) {
	best, bestD := b.entries[0], float32(math.Inf(1))
	for _, e := range b.entries {
		if d := b.sp.dist(p, e); d < bestD {
			best, bestD = e, d
		}
	}
	return best, bestD
}

// slack is how far a neighbour list may outgrow R with back edges before
// it is pruned back to R, as upstream lets it grow (by 1.3): pruning a
// full list on every back edge would cost R² distances per edge.
const slackNum, slackDen = 13, 10

// lockStripes guard the neighbour lists: a node's list is guarded by
// stripe id mod lockStripes, so locks cost a constant, not N mutexes.
const lockStripes = 1 << 12

// graph is the Vamana graph being built: n lists of up to cap ids.
type graph struct {
	r, cap int
	adj    []uint32 // n × cap
	deg    []uint32
	locks  [lockStripes]sync.Mutex
}

func newGraph(n, r int) *graph {
	c := (r*slackNum + slackDen - 1) / slackDen
	return &graph{r: r, cap: c, adj: make([]uint32, n*c), deg: make([]uint32, n)}
}

func (g *graph) list(i uint32) []uint32 {
	o := int(i) * g.cap
	return g.adj[o : o+int(g.deg[i])]
}

func (g *graph) set(i uint32, ids []uint32) {
	o := int(i) * g.cap
	copy(g.adj[o:o+g.cap], ids)
	g.deg[i] = uint32(len(ids))
}

// neighbours copies i's list into dst under its lock.
func (g *graph) neighbours(i uint32, dst []uint32) []uint32 {
	mu := &g.locks[i%lockStripes]
	mu.Lock()
	dst = append(dst[:0], g.list(i)...)
	mu.Unlock()
	return dst
}

// cand is a node met by a search, at its distance to the query.
type cand struct {
	id       uint32
	dist     float32
	expanded bool
}

func candLess(a, b cand) bool { return a.dist < b.dist || (a.dist == b.dist && a.id < b.id) }

func candCmp(a, b cand) int {
	if c := cmp.Compare(a.dist, b.dist); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// candList is a search's list of the L nearest candidates met, nearest
// first, and where the nearest not yet expanded is.
type candList struct {
	items []cand
	size  int
	next  int // no item before next is unexpanded
}

func (l *candList) reset(size int) {
	l.size, l.next = size, 0
	if cap(l.items) < size+1 {
		l.items = make([]cand, 0, size+1)
	}
	l.items = l.items[:0]
}

// insert adds c unless the list is full of nearer ones.
func (l *candList) insert(c cand) {
	n := len(l.items)
	if n == l.size && !candLess(c, l.items[n-1]) {
		return
	}
	lo, hi := 0, n
	for lo < hi {
		m := (lo + hi) / 2
		if candLess(l.items[m], c) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if n < l.size {
		l.items = l.items[:n+1]
	}
	copy(l.items[lo+1:], l.items[lo:])
	l.items[lo] = c
	l.next = min(l.next, lo)
}

// take marks up to w of the nearest unexpanded candidates expanded and
// appends them to dst.
func (l *candList) take(w int, dst []cand) []cand {
	for i := l.next; i < len(l.items) && w > 0; i++ {
		if l.items[i].expanded {
			continue
		}
		l.items[i].expanded = true
		dst = append(dst, l.items[i])
		w--
	}
	for l.next < len(l.items) && l.items[l.next].expanded {
		l.next++
	}
	return dst
}

// idSet is a set of node ids for one search: open addressing with
// linear probing, emptied in one clear, and grown only when a search
// meets more nodes than any before it, so its size follows L, R and the
// beam, never N.
type idSet struct {
	slots []uint32 // id+1; 0 is empty
	n     int
}

func (s *idSet) reset() {
	if s.slots == nil {
		s.slots = make([]uint32, 1<<12)
	}
	clear(s.slots)
	s.n = 0
}

// add inserts id and reports whether it was absent.
func (s *idSet) add(id uint32) bool {
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]uint32, 2*len(old))
		s.n = 0
		for _, v := range old {
			if v != 0 {
				s.add(v - 1)
			}
		}
	}
	mask := uint32(len(s.slots) - 1)
	h := id * 0x9e3779b1 // Fibonacci hashing: its high bits are the mixed ones
	for i := (h ^ h>>16) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = id + 1
			s.n++
			return true
		case id + 1:
			return false
		}
	}
}

// maxPruneCands bounds the candidates robust prune weighs, as upstream
// does (750): the nearest of them are all it could keep.
const maxPruneCands = 750

// builder holds what every build worker shares.
type builder struct {
	sp      *space
	g       *graph
	entries []uint32
	l       int
}

// buildWorker holds one worker's buffers, reused for every insertion.
type buildWorker struct {
	b        *builder
	list     candList
	seen     idSet
	expanded []cand
	nbrs     []uint32
	pool     []cand
	removed  []bool
	out      []uint32
}

func (b *builder) newWorker() *buildWorker {
	return &buildWorker{b: b, nbrs: make([]uint32, 0, b.g.cap+1), out: make([]uint32, 0, b.g.cap+1)}
}

// greedy searches the graph for node p with a list of L from node start
// and appends to w.expanded every node it expanded: the paper's
// GreedySearch, whose visited set is robust prune's candidate pool. It
// returns the distance of the nearest node it found.
func (w *buildWorker) greedy(p, start uint32) float32 {
	sp, g := w.b.sp, w.b.g
	w.list.reset(w.b.l)
	w.seen.reset()
	w.seen.add(start)
	w.list.insert(cand{id: start, dist: sp.dist(p, start)})
	var one [1]cand
	for {
		next := w.list.take(1, one[:0])
		if len(next) == 0 {
			return w.list.items[0].dist
		}
		w.expanded = append(w.expanded, next[0])
		w.nbrs = g.neighbours(next[0].id, w.nbrs)
		for _, u := range w.nbrs {
			if w.seen.add(u) {
				w.list.insert(cand{id: u, dist: sp.dist(p, u)})
			}
		}
	}
}

// search fills w.expanded with p's candidate pool: the nodes a greedy
// search from the medoid expanded, as the paper builds, so that the pool
// holds the long edges of the path from the middle of the collection.
// When an entry point is nearer p than anything that search found, the
// search did not reach p's part of the collection (a cluster the graph
// does not link to yet), and a second search from that entry point adds
// p's own neighbourhood to the pool.
func (w *buildWorker) search(p uint32) {
	w.expanded = w.expanded[:0]
	found := w.greedy(p, w.b.entries[0])
	if len(w.b.entries) == 1 {
		return
	}
	e, d := w.b.nearestEntry(p)
	if d < found {
		w.greedy(p, e)
	}
}

// prune is the paper's RobustPrune: from the pool (distances to p), keep
// the nearest, drop every candidate that it covers (alpha × its distance
// to the kept one is at most its distance to p), and repeat until R are
// kept or none is left. The kept ids are appended to w.out[:0].
func (w *buildWorker) prune(p uint32, pool []cand, alpha float32) []uint32 {
	sp := w.b.sp
	slices.SortFunc(pool, candCmp)
	pool = slices.CompactFunc(pool, func(a, b cand) bool { return a.id == b.id })
	if i := slices.IndexFunc(pool, func(c cand) bool { return c.id == p }); i >= 0 {
		pool = slices.Delete(pool, i, i+1)
	}
	pool = pool[:min(len(pool), maxPruneCands)]
	if cap(w.removed) < len(pool) {
		w.removed = make([]bool, maxPruneCands)
	}
	removed := w.removed[:len(pool)]
	clear(removed)
	out := w.out[:0]
	for i, c := range pool {
		if removed[i] {
			continue
		}
		out = append(out, c.id)
		if len(out) == w.b.g.r {
			break
		}
		for k := i + 1; k < len(pool); k++ {
			if !removed[k] && alpha*sp.dist(c.id, pool[k].id) <= pool[k].dist {
				removed[k] = true
			}
		}
	}
	w.out = out
	return out
}

// insert links p into the graph with pruning factor alpha: search for p,
// prune its pool into its list, then add the back edges, pruning a
// neighbour's list back to R when it outgrows its slack.
func (w *buildWorker) insert(p uint32, alpha float32) {
	sp, g := w.b.sp, w.b.g
	w.search(p)
	w.pool = append(w.pool[:0], w.expanded...)
	w.nbrs = g.neighbours(p, w.nbrs)
	for _, u := range w.nbrs {
		w.pool = append(w.pool, cand{id: u, dist: sp.dist(p, u)})
	}
	out := w.prune(p, w.pool, alpha)
	mu := &g.locks[p%lockStripes]
	mu.Lock()
	g.set(p, out)
	mu.Unlock()
	// out is w.out, which pruning a neighbour reuses: walk a copy.
	w.nbrs = append(w.nbrs[:0], out...)
	for _, j := range w.nbrs {
		w.addEdge(j, p, alpha)
	}
}

// addEdge adds the edge j → p unless j has it; a list that outgrows its
// slack is pruned back to R, under j's lock so that no edge is lost.
func (w *buildWorker) addEdge(j, p uint32, alpha float32) {
	sp, g := w.b.sp, w.b.g
	mu := &g.locks[j%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	l := g.list(j)
	if slices.Contains(l, p) {
		return
	}
	if len(l) < g.cap {
		g.adj[int(j)*g.cap+len(l)] = p
		g.deg[j]++
		return
	}
	pool := w.pool[:0]
	for _, u := range l {
		pool = append(pool, cand{id: u, dist: sp.dist(j, u)})
	}
	pool = append(pool, cand{id: p, dist: sp.dist(j, p)})
	w.pool = pool
	g.set(j, w.prune(j, pool, alpha))
}

// trim prunes a list still longer than R (it took back edges after its
// last prune) down to R.
func (w *buildWorker) trim(j uint32, alpha float32) {
	sp, g := w.b.sp, w.b.g
	l := g.list(j)
	if len(l) <= g.r {
		return
	}
	pool := w.pool[:0]
	for _, u := range l {
		pool = append(pool, cand{id: u, dist: sp.dist(j, u)})
	}
	w.pool = pool
	g.set(j, w.prune(j, pool, alpha))
}

// entrySample is the sample per entry point that entryPoints picks from:
// a cluster holding a thousandth of the collection is in a sample of 64
// per entry with odds of 1 − e^-16 for 256 entries.
const entrySample = 64

// buildGraph builds the Vamana graph of sp: two passes over the nodes in
// a seeded random order, the first with alpha 1 (a sparse graph of short
// edges), the second with alpha (adding the long edges that make few
// hops enough), as the paper does, then every list trimmed to R.
// workers insert at once; with one worker the graph is a function of the
// data and the seed.
func buildGraph(ctx context.Context, sp *space, r, l int, alpha float32, entries int, seed uint64, workers int) (*graph, []uint32, error) {
	n := len(sp.data) / sp.dim
	b := &builder{sp: sp, g: newGraph(n, r), entries: sp.entryPoints(entries, entrySample*entries, seed), l: l}
	order := make([]uint32, n)
	for i := range order {
		order[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x76616d616e61))
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	ws := make([]*buildWorker, workers)
	for i := range ws {
		ws[i] = b.newWorker()
	}
	// chunk is small enough that workers end a pass together and large
	// enough that the shared counter is not contended.
	const chunk = 64
	run := func(each func(w *buildWorker, p uint32)) error {
		var next atomic.Int64
		g, gctx := errgroup.WithContext(ctx)
		for _, w := range ws {
			g.Go(func() error {
				for {
					if err := gctx.Err(); err != nil {
						return err
					}
					lo := int(next.Add(chunk)) - chunk
					if lo >= n {
						return nil
					}
					for _, p := range order[lo:min(lo+chunk, n)] {
						each(w, p)
					}
				}
			})
		}
		return g.Wait()
	}
	for _, a := range []float32{1, alpha} {
		if err := run(func(w *buildWorker, p uint32) { w.insert(p, a) }); err != nil {
			return nil, nil, err
		}
	}
	// Trimming touches each node's own list only: no locks needed.
	if err := run(func(w *buildWorker, p uint32) { w.trim(p, alpha) }); err != nil {
		return nil, nil, err
	}
	return b.g, b.entries, nil
}
