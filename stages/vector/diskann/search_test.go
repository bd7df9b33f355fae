package diskann

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/file"
	_ "mlps.dev/mlps/backends/mem"
	"mlps.dev/mlps/stages/vector"
)

// collection is n vectors of src, row-major.
func collection(src *vector.Source, n int) []float32 {
	d := src.Dim()
	data := make([]float32, n*d)
	for i := range n {
		src.Vector(int64(i), data[i*d:(i+1)*d])
	}
	return data
}

// groundTruth is the exact top-k ids of each query over the whole
// collection, by brute force.
func groundTruth(data []float32, dim int, queries [][]float32, k int, metric vector.Metric) [][]int64 {
	out := make([][]int64, len(queries))
	var wg sync.WaitGroup
	for qi, q := range queries {
		wg.Go(func() {
			top := vector.NewTopK(k)
			for i := 0; i*dim < len(data); i++ {
				top.Push(int64(i), metric.Distance(q, data[i*dim:(i+1)*dim]))
			}
			for _, n := range top.Sorted(nil) {
				out[qi] = append(out[qi], n.ID)
			}
		})
	}
	wg.Wait()
	return out
}

func recall(got []vector.Neighbor, want []int64) float64 {
	hit := 0
	for _, n := range got {
		if slices.Contains(want, n.ID) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func openBackend(t testing.TB, uri string) backends.Backend {
	t.Helper()
	b, err := backends.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func fileURI(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// countingBlobs passes every call to the real Blobs beneath and counts
// the batches and reads, as the stage's meter will.
type countingBlobs struct {
	vector.Blobs
	batches, reads, bytes atomic.Int64
}

func (c *countingBlobs) ReadBatch(ctx context.Context, reads []vector.Read) error {
	c.batches.Add(1)
	c.reads.Add(int64(len(reads)))
	for _, r := range reads {
		c.bytes.Add(int64(len(r.Buf)))
	}
	return c.Blobs.ReadBatch(ctx, reads)
}

// fixture is a built index of a test-sized clustered collection with its
// queries and their exact answers.
type fixture struct {
	blobs   *countingBlobs
	stats   BuildStats
	dim     int
	metric  vector.Metric
	queries [][]float32
	truth   [][]int64
}

const testK = 10

func newFixture(t testing.TB, blobs vector.Blobs, n, dim, nq int, metric vector.Metric, p BuildParams) *fixture {
	t.Helper()
	src := vector.NewSource(dim, vector.Clustered, 100, 11)
	data := collection(src, n)
	f := &fixture{blobs: &countingBlobs{Blobs: blobs}, dim: dim, metric: metric}
	for i := range nq {
		q := make([]float32, dim)
		src.Query(int64(i), q)
		f.queries = append(f.queries, q)
	}
	f.truth = groundTruth(data, dim, f.queries, testK, metric)
	p.Metric = metric
	st, err := Build(t.Context(), f.blobs, "idx", data, dim, p)
	if err != nil {
		t.Fatal(err)
	}
	f.stats = st
	return f
}

// search runs every query and returns the mean recall and the summed
// counts.
func (f *fixture) search(t testing.TB, ix *Index, p SearchParams) (float64, SearchStats) {
	t.Helper()
	s := ix.NewSearcher(p)
	var sum float64
	var all SearchStats
	var res []vector.Neighbor
	for i, q := range f.queries {
		var st SearchStats
		var err error
		res, st, err = s.Search(t.Context(), q, testK, res[:0])
		if err != nil {
			t.Fatal(err)
		}
		sum += recall(res, f.truth[i])
		all.Add(st)
	}
	return sum / float64(len(f.queries)), all
}

var (
	mainOnce    sync.Once
	mainFixture *fixture
)

// main is the test collection most tests share: 10,000 × 32, clustered,
// L2, built with the defaults on mem://.
func mainIndex(t *testing.T) *fixture {
	mainOnce.Do(func() {
		// Not openBackend: the store outlives the test that builds it.
		be, err := backends.Open(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		mainFixture = newFixture(t, vector.OnBackend(be, "ix"), 10_000, 32, 200, vector.L2, BuildParams{Seed: 1, MaxDegree: 32, SearchListSize: 64})
	})
	if mainFixture == nil {
		t.Fatal("the shared index failed to build")
	}
	return mainFixture
}

// TestRecall: at the default search settings the index finds at least 95%
// of the exact top 10, reading a small share of the collection per query.
func TestRecall(t *testing.T) {
	f := mainIndex(t)
	ix, err := Open(t.Context(), f.blobs, "idx", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, st := f.search(t, ix, SearchParams{})
	nq := float64(len(f.queries))
	t.Logf("recall@10 %.4f; per query %.1f hops, %.1f reads, %.1f KiB, %.0f PQ and %.0f full distances; graph degree %.1f",
		r, float64(st.Hops)/nq, float64(st.Reads)/nq, float64(st.BytesRead)/nq/1024, float64(st.PQDistances)/nq, float64(st.FullDistances)/nq, f.stats.AvgDegree)
	if r < 0.95 {
		t.Errorf("recall@10 %.4f at the defaults, want at least 0.95", r)
	}
	// A query expands about L of the 10,000 nodes; its reads are whole
	// sectors of 15 nodes, so its bytes are a larger share of the index.
	if perQuery := float64(st.FullDistances) / nq; perQuery > float64(f.stats.N)/20 {
		t.Errorf("a query expands %.0f of %d nodes", perQuery, f.stats.N)
	}
	if perQuery := float64(st.BytesRead) / nq; perQuery > float64(f.stats.IndexBytes)/4 {
		t.Errorf("a query reads %.0f bytes of a %d-byte index", perQuery, f.stats.IndexBytes)
	}
	// A smaller list finds less: recall is measured, not assumed.
	if r1, _ := f.search(t, ix, SearchParams{ListSize: testK, BeamWidth: 1}); r1 >= r {
		t.Errorf("recall %.4f with L=10, W=1, not below %.4f at the defaults", r1, r)
	}
}

// TestEveryHopIsOneBatch counts, beneath the index, the batches and reads
// a search issues: one ReadBatch per hop, at most W reads in it, and the
// counts the search reports are the counts storage saw.
func TestEveryHopIsOneBatch(t *testing.T) {
	f := mainIndex(t)
	ix, err := Open(t.Context(), f.blobs, "idx", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := int64(ix.Meta().ReadBytes())
	for _, p := range []SearchParams{{BeamWidth: 1}, {}, {ListSize: 200, BeamWidth: 8}} {
		s := ix.NewSearcher(p)
		w := p.withDefaults().BeamWidth
		for _, q := range f.queries[:20] {
			b0, r0, y0 := f.blobs.batches.Load(), f.blobs.reads.Load(), f.blobs.bytes.Load()
			_, st, err := s.Search(t.Context(), q, testK, nil)
			if err != nil {
				t.Fatal(err)
			}
			batches, reads, bytes := f.blobs.batches.Load()-b0, f.blobs.reads.Load()-r0, f.blobs.bytes.Load()-y0
			if batches != int64(st.Hops) || reads != int64(st.Reads) || bytes != st.BytesRead || bytes != reads*rb {
				t.Fatalf("%+v: storage saw %d batches, %d reads, %d bytes; the search reports %d hops, %d reads, %d bytes",
					p, batches, reads, bytes, st.Hops, st.Reads, st.BytesRead)
			}
			if st.Reads > st.Hops*w || st.Hops == 0 {
				t.Fatalf("%+v: %d reads in %d hops of beam %d", p, st.Reads, st.Hops, w)
			}
			if st.FullDistances < st.Reads || st.FullDistances > st.Hops*w {
				t.Fatalf("%+v: %d nodes expanded from %d reads in %d hops", p, st.FullDistances, st.Reads, st.Hops)
			}
		}
	}
}

// TestCache: nodes cached at Open change where bytes come from, never
// what a search finds.
func TestCache(t *testing.T) {
	f := mainIndex(t)
	plain, err := Open(t.Context(), f.blobs, "idx", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cached, err := Open(t.Context(), f.blobs, "idx", OpenOptions{CacheNodes: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(cached.cache) != 500 {
		t.Fatalf("cached %d nodes, want 500", len(cached.cache))
	}
	a, b := plain.NewSearcher(SearchParams{}), cached.NewSearcher(SearchParams{})
	var hits, readsA, readsB int
	for _, q := range f.queries[:50] {
		ra, sa, err := a.Search(t.Context(), q, testK, nil)
		if err != nil {
			t.Fatal(err)
		}
		rb, sb, err := b.Search(t.Context(), q, testK, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ra, rb) || sa.Hops != sb.Hops {
			t.Fatalf("cached search found %v in %d hops, uncached %v in %d", rb, sb.Hops, ra, sa.Hops)
		}
		hits, readsA, readsB = hits+sb.CacheHits, readsA+sa.Reads, readsB+sb.Reads
	}
	if hits == 0 || readsB >= readsA {
		t.Errorf("with 500 nodes cached: %d cache hits, %d reads against %d", hits, readsB, readsA)
	}
}

// TestMetrics builds and searches IP and COSINE indexes (and L2 with a
// dimension whose nodes span sectors) on a file backend: the objects on
// disk have the sizes the metadata states, and recall holds. The L2 case
// is also the one that needs entry points: its 100 clusters in 1,100
// dimensions keep no edges between them, and from the medoid alone a
// search found 0.20 of the top 10.
func TestMetrics(t *testing.T) {
	for _, tc := range []struct {
		metric   vector.Metric
		n, dim   int
		p        BuildParams
		min      float64
		sectorsN int
	}{
		{vector.IP, 3000, 16, BuildParams{Seed: 2}, 0.95, 1},
		{vector.Cosine, 3000, 16, BuildParams{Seed: 3}, 0.95, 1},
		{vector.L2, 600, 1100, BuildParams{Seed: 4, MaxDegree: 32, SearchListSize: 64}, 0.95, 2},
	} {
		t.Run(tc.metric.String(), func(t *testing.T) {
			be := openBackend(t, fileURI(t.TempDir()))
			f := newFixture(t, vector.OnBackend(be, "ix"), tc.n, tc.dim, 50, tc.metric, tc.p)
			for name, want := range map[string]int64{"ix/idx_disk.index": f.stats.IndexBytes, "ix/idx_pq.bin": f.stats.PQBytes} {
				info, err := be.Stat(t.Context(), name)
				if err != nil || info.Size != want {
					t.Errorf("%s: %v, %d bytes; want %d", name, err, info.Size, want)
				}
			}
			ix, err := Open(t.Context(), f.blobs, "idx", OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ix.Meta().SectorsPerNode != tc.sectorsN || ix.Meta().Metric != tc.metric {
				t.Errorf("%d sectors per node, metric %v", ix.Meta().SectorsPerNode, ix.Meta().Metric)
			}
			r, st := f.search(t, ix, SearchParams{})
			if r < tc.min {
				t.Errorf("recall@10 %.4f, want at least %.2f", r, tc.min)
			}
			if want := int64(st.Reads) * int64(tc.sectorsN) * SectorSize; st.BytesRead != want {
				t.Errorf("%d reads of %d sectors read %d bytes", st.Reads, tc.sectorsN, st.BytesRead)
			}
		})
	}
}

// readObject reads a whole object of blobs.
func readObject(t *testing.T, be backends.Backend, name string) []byte {
	t.Helper()
	rc, err := be.Open(t.Context(), name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeObject(t *testing.T, be backends.Backend, name string, b []byte) {
	t.Helper()
	w, err := be.Create(t.Context(), name, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDeterministic: with one worker, the same data and seed write the
// same bytes; another seed writes another graph.
func TestDeterministic(t *testing.T) {
	be := openBackend(t, "mem://")
	blobs := vector.OnBackend(be, "")
	src := vector.NewSource(8, vector.Clustered, 8, 5)
	for _, name := range []string{"a", "b", "c"} {
		seed := uint64(1)
		if name == "c" {
			seed = 2
		}
		p := BuildParams{Metric: vector.L2, MaxDegree: 16, SearchListSize: 32, Workers: 1, Seed: seed}
		if _, err := Build(t.Context(), blobs, name, collection(src, 1500), 8, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range []func(string) string{IndexObject, PQObject} {
		a, b, c := readObject(t, be, obj("a")), readObject(t, be, obj("b")), readObject(t, be, obj("c"))
		if !bytes.Equal(a, b) {
			t.Errorf("%s and %s differ", obj("a"), obj("b"))
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s is the same under another seed", obj("c"))
		}
	}
}

// TestGraph: every node has between 1 and R neighbours, none of them
// itself or repeated, and every node is reachable from the entry points,
// whatever the worker count; in 12 dimensions, from the medoid alone.
func TestGraph(t *testing.T) {
	src := vector.NewSource(12, vector.Clustered, 10, 9)
	data := collection(src, 3000)
	for _, tc := range []struct{ workers, entries int }{{1, 1}, {4, 1}, {2, 16}} {
		g, entries, err := buildGraph(t.Context(), newSpace(data, 12, vector.L2), 24, 48, 1.2, tc.entries, 1, tc.workers)
		if err != nil {
			t.Fatal(err)
		}
		workers := tc.workers
		if len(entries) != tc.entries || len(slices.Compact(slices.Sorted(slices.Values(entries)))) != tc.entries {
			t.Fatalf("entry points %v, want %d distinct", entries, tc.entries)
		}
		seen := make([]bool, 3000)
		queue := slices.Clone(entries)
		for _, e := range entries {
			seen[e] = true
		}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			l := g.list(p)
			if len(l) < 1 || len(l) > 24 || slices.Contains(l, p) || len(slices.Compact(slices.Sorted(slices.Values(l)))) != len(l) {
				t.Fatalf("%d workers: node %d has neighbours %v", workers, p, l)
			}
			for _, u := range l {
				if !seen[u] {
					seen[u] = true
					queue = append(queue, u)
				}
			}
		}
		if i := slices.Index(seen, false); i >= 0 {
			t.Errorf("%d workers: node %d is unreachable from the entry points %v", workers, i, entries)
		}
	}
}

// TestOpenRefuses: a corrupt metadata sector, a PQ object of another
// build, a truncated PQ object and a corrupt node are errors, not
// searches.
func TestOpenRefuses(t *testing.T) {
	be := openBackend(t, "mem://")
	blobs := vector.OnBackend(be, "")
	src := vector.NewSource(8, vector.Clustered, 4, 3)
	for _, name := range []string{"a", "b"} {
		p := BuildParams{Metric: vector.L2, MaxDegree: 8, SearchListSize: 16, EntryPoints: 1, Seed: uint64(len(name)) + uint64(name[0])}
		if _, err := Build(t.Context(), blobs, name, collection(src, 400), 8, p); err != nil {
			t.Fatal(err)
		}
	}
	idx, pqb := readObject(t, be, IndexObject("a")), readObject(t, be, PQObject("a"))
	restore := func() {
		writeObject(t, be, IndexObject("a"), idx)
		writeObject(t, be, PQObject("a"), pqb)
	}
	for _, tc := range []struct {
		name, want string
		spoil      func()
	}{
		{"metadata byte", "metadata sector is corrupt", func() {
			b := bytes.Clone(idx)
			b[metaEnd] ^= 0x10 // the first entry point
			writeObject(t, be, IndexObject("a"), b)
		}},
		{"metadata zeroed", "not a disk index", func() {
			b := bytes.Clone(idx)
			clear(b[:SectorSize])
			writeObject(t, be, IndexObject("a"), b)
		}},
		{"another build's PQ", "is not the PQ object of", func() {
			writeObject(t, be, PQObject("a"), readObject(t, be, PQObject("b")))
		}},
		{"truncated PQ", "a_pq.bin", func() { writeObject(t, be, PQObject("a"), pqb[:len(pqb)-9]) }},
		{"missing PQ", "a_pq.bin", func() { be.Delete(t.Context(), PQObject("a")) }},
	} {
		restore()
		tc.spoil()
		_, err := Open(t.Context(), blobs, "a", OpenOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	restore()
	ix, err := Open(t.Context(), blobs, "a", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The entry point's neighbour count beyond R: the search refuses the
	// node instead of reading past it.
	b := bytes.Clone(idx)
	off, in := ix.Meta().Locate(ix.Meta().EntryPoints[0])
	b[off+int64(in)+int64(4*ix.Meta().Dim)] = 200
	writeObject(t, be, IndexObject("a"), b)
	q := make([]float32, 8)
	if _, _, err := ix.NewSearcher(SearchParams{}).Search(t.Context(), q, 5, nil); err == nil || !strings.Contains(err.Error(), "max_degree") {
		t.Errorf("searching a corrupt node: %v", err)
	}
}

func TestSearchRefuses(t *testing.T) {
	f := mainIndex(t)
	ix, err := Open(t.Context(), f.blobs, "idx", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := ix.NewSearcher(SearchParams{})
	if _, _, err := s.Search(t.Context(), make([]float32, 31), 10, nil); err == nil {
		t.Error("searched with a query of the wrong dimension")
	}
	if _, _, err := s.Search(t.Context(), f.queries[0], 0, nil); err == nil {
		t.Error("searched for the top 0")
	}
	// k above L widens the list to k.
	res, _, err := s.Search(t.Context(), f.queries[0], 150, nil)
	if err != nil || len(res) != 150 {
		t.Errorf("top 150: %d results, %v", len(res), err)
	}
}

func TestBuildRefuses(t *testing.T) {
	blobs := vector.OnBackend(openBackend(t, "mem://"), "")
	data := make([]float32, 64)
	for _, tc := range []struct {
		name string
		dim  int
		p    BuildParams
	}{
		{"no metric", 8, BuildParams{}},
		{"ragged", 7, BuildParams{Metric: vector.L2}},
		{"alpha below 1", 8, BuildParams{Metric: vector.L2, Alpha: 0.5}},
		{"degree", 8, BuildParams{Metric: vector.L2, MaxDegree: MaxDegree + 1}},
		{"PQ subspaces", 8, BuildParams{Metric: vector.L2, PQSubspaces: 9}},
	} {
		if _, err := Build(t.Context(), blobs, "x", data, tc.dim, tc.p); err == nil {
			t.Errorf("%s: built", tc.name)
		}
	}
}

// TestSearchAllocatesNothing: with every node cached, a search touches no
// storage, so every allocation would be the searcher's own: there is
// none once its buffers have grown.
func TestSearchAllocatesNothing(t *testing.T) {
	f := mainIndex(t)
	ix, err := Open(t.Context(), f.blobs, "idx", OpenOptions{CacheNodes: int(f.stats.N)})
	if err != nil {
		t.Fatal(err)
	}
	s := ix.NewSearcher(SearchParams{})
	res := make([]vector.Neighbor, 0, testK)
	ctx := t.Context()
	for _, q := range f.queries {
		res, _, _ = s.Search(ctx, q, testK, res[:0])
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		var st SearchStats
		res, st, err = s.Search(ctx, f.queries[i%len(f.queries)], testK, res[:0])
		if err != nil || st.Reads != 0 {
			t.Fatalf("search: %v, %d reads", err, st.Reads)
		}
		i++
	}); n != 0 {
		t.Errorf("a search allocates %v times", n)
	}
}
