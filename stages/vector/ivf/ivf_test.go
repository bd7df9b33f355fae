package ivf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/file"
	_ "mlps.dev/mlps/backends/mem"
	"mlps.dev/mlps/stages/vector"
)

// openBackend opens a real backend of the kind named: "mem", or "file"
// on a temporary directory.
func openBackend(t testing.TB, kind string) backends.Backend {
	t.Helper()
	uri := "mem://"
	if kind == "file" {
		uri = (&url.URL{Scheme: "file", Path: filepath.ToSlash(t.TempDir())}).String()
	}
	b, err := backends.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// exact is the brute-force top-k of q over the first n vectors of src,
// with the index's arithmetic: L2Sq, −Dot, or 1 − Dot of unit vectors
// for COSINE, so that an exhaustive search must match it bit for bit.
func exact(src *vector.Source, n int64, m vector.Metric, q []float32, k int) []vector.Neighbor {
	return exactAll(src, n, m, [][]float32{q}, k)[0]
}

// exactAll is exact for many queries at once: each block of the
// collection is made once and scanned for every query, in parallel
// over the queries.
func exactAll(src *vector.Source, n int64, m vector.Metric, queries [][]float32, k int) [][]vector.Neighbor {
	d := src.Dim()
	qs := make([][]float32, len(queries))
	tops := make([]*vector.TopK, len(queries))
	for i, q := range queries {
		qs[i] = slices.Clone(q)
		if m == vector.Cosine {
			vector.Normalize(qs[i])
		}
		tops[i] = vector.NewTopK(k)
	}
	const per = 4096
	block := make([]float32, per*d)
	gen := FromSource(src, n)
	for first := int64(0); first < n; first += per {
		b := block[:min(per, n-first)*int64(d)]
		if err := gen.ReadBlock(context.Background(), first, b); err != nil {
			panic(err)
		}
		if m == vector.Cosine {
			for v := 0; v < len(b); v += d {
				vector.Normalize(b[v : v+d])
			}
		}
		parallel(len(qs), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				for v := 0; v < len(b); v += d {
					x := b[v : v+d]
					var dist float32
					switch m {
					case vector.L2:
						dist = vector.L2Sq(qs[i], x)
					case vector.IP:
						dist = -vector.Dot(qs[i], x)
					case vector.Cosine:
						dist = 1 - vector.Dot(qs[i], x)
					}
					tops[i].Push(first+int64(v/d), dist)
				}
			}
		})
	}
	out := make([][]vector.Neighbor, len(queries))
	for i, t := range tops {
		out[i] = t.Sorted(nil)
	}
	return out
}

// recall is the share of want's ids that got holds.
func recall(got, want []vector.Neighbor) float64 {
	hit := 0
	for _, w := range want {
		if slices.ContainsFunc(got, func(g vector.Neighbor) bool { return g.ID == w.ID }) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

// With every list probed the search is exhaustive, so it must return
// exactly the brute-force answer, distances and order included, on both
// backends and for every metric.
func TestAllListsProbedIsExact(t *testing.T) {
	const n, dim, k, queries = 2000, 16, 10, 20
	for _, kind := range []string{"mem", "file"} {
		for _, m := range []vector.Metric{vector.L2, vector.IP, vector.Cosine} {
			t.Run(kind+"/"+m.String(), func(t *testing.T) {
				ctx := context.Background()
				src := vector.NewSource(dim, vector.Clustered, 8, 7)
				blobs := vector.OnBackend(openBackend(t, kind), "idx")
				if _, err := Build(ctx, Params{Metric: m, NList: 30, Seed: 1}, FromSource(src, n), blobs, "ivf"); err != nil {
					t.Fatal(err)
				}
				x, err := Open(ctx, blobs, "ivf")
				if err != nil {
					t.Fatal(err)
				}
				s := x.NewSearcher()
				q := make([]float32, dim)
				for i := range int64(queries) {
					src.Query(i, q)
					want := exact(src, n, m, q, k)
					for _, nprobe := range []int{x.NList, x.NList + 5} { // more than nlist probes all
						got, st, err := s.Search(ctx, q, k, nprobe)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(got, want) {
							t.Fatalf("query %d nprobe %d: got %v, want %v", i, nprobe, got, want)
						}
						if st.Distances != n || st.BytesRead != x.Bytes() {
							t.Fatalf("query %d: %d distances and %d bytes, want %d and %d", i, st.Distances, st.BytesRead, n, x.Bytes())
						}
					}
				}
			})
		}
	}
}

// At the defaults (COSINE, nlist and nprobe), a clustered collection
// reaches the recall the defaults promise while reading a small share
// of it.
func TestDefaultsReachRecall(t *testing.T) {
	const n, dim, k, queries = 20000, 32, 10, 100
	ctx := context.Background()
	src := vector.NewSource(dim, vector.Clustered, testClusters, 3)
	blobs := vector.OnBackend(openBackend(t, "mem"), "")
	bs, err := Build(ctx, Params{Seed: 42}, FromSource(src, n), blobs, "")
	if err != nil {
		t.Fatal(err)
	}
	if bs.NList != DefaultNList(n) {
		t.Errorf("nlist %d, want the default %d", bs.NList, DefaultNList(n))
	}
	x, err := Open(ctx, blobs, "")
	if err != nil {
		t.Fatal(err)
	}
	s := x.NewSearcher()
	qs := make([][]float32, queries)
	for i := range qs {
		qs[i] = make([]float32, dim)
		src.Query(int64(i), qs[i])
	}
	truth := exactAll(src, n, vector.Cosine, qs, k)
	var sum float64
	var read int64
	for i, q := range qs {
		got, st, err := s.Search(ctx, q, k, 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.ListsProbed != DefaultNProbe(x.NList) {
			t.Fatalf("probed %d lists, want the default %d", st.ListsProbed, DefaultNProbe(x.NList))
		}
		sum += recall(got, truth[i])
		read += st.BytesRead
	}
	mean, share := sum/queries, float64(read)/queries/float64(x.Bytes())
	t.Logf("recall@%d %.4f reading %.1f%% of the lists' bytes per query (nlist %d, nprobe %d, %d iterations)",
		k, mean, 100*share, x.NList, DefaultNProbe(x.NList), bs.Iterations)
	if mean < 0.95 {
		t.Errorf("recall@%d %.4f at the defaults, want at least 0.95", k, mean)
	}
	if share > 0.25 {
		t.Errorf("a query reads %.1f%% of the collection, want far less", 100*share)
	}
}

// testClusters is the clustered collections' cluster count in tests.
const testClusters = 64

// meteredBlobs counts what passes through a real Blobs, as the stage's
// meter does.
type meteredBlobs struct {
	vector.Blobs
	mu      sync.Mutex
	batches int
	reads   int
	bytes   int64
}

func (m *meteredBlobs) reset() {
	m.mu.Lock()
	m.batches, m.reads, m.bytes = 0, 0, 0
	m.mu.Unlock()
}

func (m *meteredBlobs) ReadBatch(ctx context.Context, reads []vector.Read) error {
	m.mu.Lock()
	m.batches++
	m.reads += len(reads)
	for _, r := range reads {
		m.bytes += int64(len(r.Buf))
	}
	m.mu.Unlock()
	return m.Blobs.ReadBatch(ctx, reads)
}

// A query reads, in one batch, exactly the objects of the nprobe lists
// whose centroids are nearest, each whole: the bytes the index's list
// sizes say, which are also what the backend stored.
func TestQueryReadsTheProbedLists(t *testing.T) {
	const n, dim, nlist = 3000, 24, 40
	ctx := context.Background()
	for _, m := range []vector.Metric{vector.L2, vector.Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			be := openBackend(t, "file")
			src := vector.NewSource(dim, vector.Clustered, 10, 11)
			plain := vector.OnBackend(be, "")
			if _, err := Build(ctx, Params{Metric: m, NList: nlist, Seed: 5}, FromSource(src, n), plain, "v"); err != nil {
				t.Fatal(err)
			}
			mb := &meteredBlobs{Blobs: plain}
			x, err := Open(ctx, mb, "v")
			if err != nil {
				t.Fatal(err)
			}
			for j := range nlist {
				info, err := be.Stat(ctx, ListName("v", j))
				if err != nil {
					t.Fatal(err)
				}
				if info.Size != x.ListBytes(j) {
					t.Fatalf("list %d: %d bytes stored, the index says %d", j, info.Size, x.ListBytes(j))
				}
			}
			s := x.NewSearcher()
			q := make([]float32, dim)
			for i, nprobe := range []int{1, 3, 10, nlist} {
				src.Query(int64(i), q)
				// The lists a search must probe, found apart from it.
				qq := slices.Clone(q)
				if m == vector.Cosine {
					vector.Normalize(qq)
				}
				top := vector.NewTopK(nprobe)
				for j := range nlist {
					if m == vector.L2 {
						top.Push(int64(j), vector.L2Sq(qq, x.Centroid(j)))
					} else {
						top.Push(int64(j), -vector.Dot(qq, x.Centroid(j)))
					}
				}
				var want int64
				wantReads := 0
				for _, p := range top.Sorted(nil) {
					if x.ListLen(int(p.ID)) > 0 {
						want += x.ListBytes(int(p.ID))
						wantReads++
					}
				}
				mb.reset()
				_, st, err := s.Search(ctx, q, 10, nprobe)
				if err != nil {
					t.Fatal(err)
				}
				if st.BytesRead != want || mb.bytes != want || st.Reads != wantReads || mb.reads != wantReads || mb.batches != 1 {
					t.Errorf("nprobe %d: stats say %d bytes in %d reads, Blobs saw %d bytes in %d reads and %d batches; want %d bytes in %d reads, one batch",
						nprobe, st.BytesRead, st.Reads, mb.bytes, mb.reads, mb.batches, want, wantReads)
				}
			}
		})
	}
}

// objects reads every object of an index in dir back from b.
func objects(t *testing.T, b backends.Backend, dir string, nlist int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	names := []string{IndexName(dir)}
	for j := range nlist {
		names = append(names, ListName(dir, j))
	}
	for _, name := range names {
		r, err := b.Open(context.Background(), name, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

// A build is a function of the collection and the seed: bounding its
// memory changes its passes, never its objects (the sample here is
// small enough for every bound, as the sample is the one thing the
// bound may shrink); and what it reports having written is what the
// backend holds.
func TestBuildIsReproducibleUnderAnyMemoryBound(t *testing.T) {
	const n, dim, nlist = 1500, 8, 12
	ctx := context.Background()
	// Uniform, so that every list holds about n/nlist vectors, more than
	// the smallest bound below, whatever the clustered model's weights.
	src := vector.NewSource(dim, vector.Uniform, 0, 9)
	var ref map[string][]byte
	for _, tc := range []struct {
		name      string
		seed      uint64
		memory    int64
		minPasses int
		same      bool
	}{
		{"whole", 1, 0, 3, true},
		{"again", 1, 0, 3, true},
		{"groups", 1, 24 << 10, 5, true},          // several lists a group, several groups
		{"streamed", 1, 1 << 10, 2 + nlist, true}, // every list larger than the bound
		{"other seed", 2, 0, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openBackend(t, "file")
			st, err := Build(ctx, Params{Metric: vector.L2, NList: nlist, Seed: tc.seed, MemoryBytes: tc.memory, SamplePerList: 2},
				FromSource(src, n), vector.OnBackend(b, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			if st.Passes < tc.minPasses {
				t.Errorf("%d passes over the source, want at least %d", st.Passes, tc.minPasses)
			}
			got := objects(t, b, "", nlist)
			var total int64
			for _, data := range got {
				total += int64(len(data))
			}
			if st.Objects != nlist+1 || st.BytesWritten != total {
				t.Errorf("stats say %d objects of %d bytes, the backend holds %d of %d", st.Objects, st.BytesWritten, len(got), total)
			}
			if ref == nil {
				ref = got
				return
			}
			differ := 0
			for name, data := range got {
				if !bytes.Equal(data, ref[name]) {
					differ++
				}
			}
			if tc.same && differ > 0 {
				t.Errorf("%d of %d objects differ from the first build's", differ, len(got))
			}
			if !tc.same && differ == 0 {
				t.Errorf("another seed made the same objects")
			}
		})
	}
}

// The memory a build reports follows its bound: a build held to a
// small bound reports a smaller peak than one that gathers every list
// at once, and never more than its formula's parts allow.
func TestBuildPeakFollowsTheBound(t *testing.T) {
	const n, dim, nlist = 4000, 16, 20
	ctx := context.Background()
	src := vector.NewSource(dim, vector.Normal, 0, 1)
	peak := map[int64]int64{}
	for _, memory := range []int64{0, 64 << 10} {
		st, err := Build(ctx, Params{Metric: vector.L2, NList: nlist, MemoryBytes: memory}, FromSource(src, n), vector.OnBackend(openBackend(t, "mem"), ""), "")
		if err != nil {
			t.Fatal(err)
		}
		peak[memory] = st.PeakBytes
		if memory > 0 {
			// Training holds the sample (bounded by MemoryBytes) and the
			// centroids; writing holds the assignments and one group;
			// every pass the block it reads: nothing grows with N × D.
			bound := 4*n + memory + int64(st.Sample)*8 + nlist*(12*dim+24) + st.IndexBytes + 4*int64(runtime.GOMAXPROCS(0))*(dim+nlist) + min(blockBytes, 4*n*dim)
			if st.PeakBytes > bound {
				t.Errorf("bound %d: peak %d, want at most %d", memory, st.PeakBytes, bound)
			}
			if st.Sample > int(memory/(4*dim)) {
				t.Errorf("bound %d: a sample of %d vectors of %d bytes", memory, st.Sample, 4*dim)
			}
		}
	}
	if whole := int64(n) * (8 + 4*dim); peak[0] < whole || peak[64<<10] >= peak[0] {
		t.Errorf("peaks %v: want the unbounded build to hold the collection (%d bytes) and the bounded one less", peak, whole)
	}
}

// A source that fails fails the build, which says which vectors it was
// reading, and leaves no index object behind.
func TestBuildStopsOnASourceError(t *testing.T) {
	be := openBackend(t, "mem")
	src := failingSource{FromSource(vector.NewSource(4, vector.Uniform, 0, 1), 100_000), 70_000}
	_, err := Build(context.Background(), Params{NList: 4}, src, vector.OnBackend(be, ""), "")
	if !errors.Is(err, errShard) || !strings.Contains(err.Error(), "read vectors 65536 to 99999") {
		t.Errorf("error %v, want errShard while reading vectors 65536 to 99999", err)
	}
	if _, err := be.Stat(context.Background(), IndexName("")); !backends.IsNotExist(err) {
		t.Errorf("index object after a failed build: %v", err)
	}
}

var errShard = errors.New("shard unreadable")

// failingSource is a real source whose reads of vectors from bad on fail.
type failingSource struct {
	VectorSource
	bad int64
}

func (f failingSource) ReadBlock(ctx context.Context, first int64, dst []float32) error {
	if first+int64(len(dst)/f.Dim()) > f.bad {
		return errShard
	}
	return f.VectorSource.ReadBlock(ctx, first, dst)
}

func TestParamsRefused(t *testing.T) {
	src := FromSource(vector.NewSource(4, vector.Uniform, 0, 1), 50)
	for _, tc := range []struct {
		p     Params
		error string
	}{
		{Params{NList: 51}, "at most one list per vector"},
		{Params{NList: MaxNList + 1}, "nlist"},
		{Params{Metric: 9}, "metric"},
		{Params{Writers: -1}, "must be positive"},
	} {
		_, err := Build(context.Background(), tc.p, src, vector.OnBackend(openBackend(t, "mem"), ""), "")
		if err == nil || !strings.Contains(err.Error(), tc.error) {
			t.Errorf("%+v: error %v, want one saying %q", tc.p, err, tc.error)
		}
	}
}

// A damaged index object is refused at Open with an error that says
// what is wrong, and a damaged list at the search that reads it.
func TestDamageRefused(t *testing.T) {
	const n, dim, nlist = 600, 8, 6
	ctx := context.Background()
	b := openBackend(t, "mem")
	blobs := vector.OnBackend(b, "")
	src := vector.NewSource(dim, vector.Clustered, 3, 2)
	if _, err := Build(ctx, Params{Metric: vector.L2, NList: nlist}, FromSource(src, n), blobs, "d"); err != nil {
		t.Fatal(err)
	}
	good := objects(t, b, "d", nlist)
	put := func(name string, data []byte) {
		w, err := b.Create(ctx, name, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	index := good[IndexName("d")]
	centroidByte := indexHeader + 5
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		error  string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
		{"version", func(b []byte) []byte { b[8] = 2; return b }, "version 2"},
		{"metric", func(b []byte) []byte { b[12] = 7; return b }, "metric 7"},
		{"dimension", func(b []byte) []byte { b[16], b[17] = 0, 0; return b }, "dimension 0"},
		{"nlist", func(b []byte) []byte { b[20] = 0; return b }, "nlist 0"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-9] }, "read"},
		{"header only", func(b []byte) []byte { return b[:40] }, "read 64 bytes"},
		{"centroid", func(b []byte) []byte { b[centroidByte] ^= 0x10; return b }, "checksum"},
	} {
		t.Run("index/"+tc.name, func(t *testing.T) {
			put(IndexName("d"), tc.damage(slices.Clone(index)))
			_, err := Open(ctx, blobs, "d")
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("error %v, want one saying %q", err, tc.error)
			}
			if !strings.Contains(tc.error, "read") && !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		})
	}
	put(IndexName("d"), index)
	x, err := Open(ctx, blobs, "d")
	if err != nil {
		t.Fatal(err)
	}
	var big int
	for j := range nlist {
		if x.ListLen(j) > x.ListLen(big) {
			big = j
		}
	}
	list := good[ListName("d", big)]
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		error  string
	}{
		{"list number", func(b []byte) []byte { b[12]++; return b }, "the index expects list"},
		{"count", func(b []byte) []byte { b[24]--; return b }, "take"},
		{"id order", func(b []byte) []byte { copy(b[listHeader:], b[listHeader+8:listHeader+16]); return b }, "ascending"},
		{"short", func(b []byte) []byte { return b[:len(b)-4] }, "read"},
	} {
		t.Run("list/"+tc.name, func(t *testing.T) {
			put(ListName("d", big), tc.damage(slices.Clone(list)))
			_, _, err := x.NewSearcher().Search(ctx, x.Centroid(big), 5, 1)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("error %v, want one saying %q", err, tc.error)
			}
		})
	}
}

// A Searcher reuses its buffers: once warm, a query allocates nothing
// beyond what the Blobs' own read of the same objects allocates.
func TestSearchAllocatesNothingOfItsOwn(t *testing.T) {
	const n, dim, nlist = 2000, 16, 20
	ctx := context.Background()
	src := vector.NewSource(dim, vector.Clustered, 5, 4)
	blobs := vector.OnBackend(openBackend(t, "mem"), "")
	if _, err := Build(ctx, Params{NList: nlist}, FromSource(src, n), blobs, ""); err != nil {
		t.Fatal(err)
	}
	x, err := Open(ctx, blobs, "")
	if err != nil {
		t.Fatal(err)
	}
	s := x.NewSearcher()
	q := make([]float32, dim)
	src.Query(0, q)
	for _, nprobe := range []int{1, 4} {
		if _, _, err := s.Search(ctx, q, 10, nprobe); err != nil { // warm
			t.Fatal(err)
		}
		reads := slices.Clone(s.reads)
		for i := range reads {
			reads[i].Buf = make([]byte, len(reads[i].Buf))
		}
		search := testing.AllocsPerRun(50, func() { s.Search(ctx, q, 10, nprobe) })
		read := testing.AllocsPerRun(50, func() { blobs.ReadBatch(ctx, reads) })
		if search > read {
			t.Errorf("nprobe %d: a search allocates %.1f times, reading its lists alone %.1f", nprobe, search, read)
		}
	}
}
