package vectorsearch

import (
	"context"
	"fmt"
	"time"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

// indexTask is a planned index stage.
type indexTask struct{ b *built }

func (t *indexTask) Reads() []string  { return []string{t.b.coll.Name} }
func (t *indexTask) Writes() []string { return []string{t.b.Output()} }

func (t *indexTask) Work() stages.Work {
	if t.b.spec.IndexType == "FLAT" {
		return stages.Work{}
	}
	// Both builds read the collection once through: DISKANN into memory,
	// IVF_FLAT a block at a time in a few passes, of which the first is
	// counted here.
	n := t.b.coll.TotalBytes()
	eng, _ := engineOf(t.b.spec.IndexType)
	w, objects, _ := eng.size(t.b)
	return stages.Work{ReadBytes: n, WriteBytes: w, Files: t.b.coll.Files + objects, Ops: t.b.coll.Files + objects}
}

func (t *indexTask) Concurrency() int { return t.b.spec.Workers }

// Warnings says when a DISKANN build, which holds the collection and its
// graph in memory, needs more memory than the host has: the build would
// fail for want of it.
func (t *indexTask) Warnings(h stages.Host) []string {
	if t.b.spec.IndexType != "DISKANN" || h.MemoryBytes <= 0 {
		return nil
	}
	if _, _, need := (diskannEngine{}).size(t.b); need > h.MemoryBytes {
		return []string{fmt.Sprintf("the DISKANN build of %d vectors holds %s in memory (the vectors, the graph and the PQ codes), more than this host's %s: build it on a larger host or index fewer vectors",
			t.b.coll.Collection(), measure.IEC(need), measure.IEC(h.MemoryBytes))}
	}
	return nil
}

func (t *indexTask) Describe() string {
	b := t.b
	c := b.coll
	v := c.Dataset.Vectors
	what := fmt.Sprintf("%d vectors of dimension %d (%s, %s) in %d shards of dataset %s", c.Collection(), v.Dimension, v.Metric, v.Distribution, c.Files, c.Name)
	switch b.spec.IndexType {
	case "FLAT":
		return fmt.Sprintf("FLAT over %s: no index is built; queries read every shard", what)
	case "IVF_FLAT":
		return fmt.Sprintf("builds IVF_FLAT (nlist %d) over %s, into %s:%s/", b.nlist(), what, b.target, b.dir)
	case "DISKANN":
		s := b.spec
		return fmt.Sprintf("builds DISKANN (max_degree %d, search_list_size %d, alpha %g) over %s, into %s:%s/", s.MaxDegree, s.SearchListSize, s.Alpha, what, b.target, b.dir)
	}
	return "builds " + b.spec.IndexType + " over " + what
}

func (t *indexTask) Run(ctx context.Context, env *stages.Env) (stages.Metrics, error) {
	b := t.b
	eng, err := engineOf(b.spec.IndexType)
	if err != nil {
		return nil, err
	}
	src, err := env.Target(b.coll.Target)
	if err != nil {
		return nil, err
	}
	dst, err := env.Target(b.target)
	if err != nil {
		return nil, err
	}
	// A build that cannot fit fails here, with what it needs, rather than
	// at the allocation, where the kernel would kill the run unreported.
	if _, _, need := eng.size(b); env.Host.MemoryBytes > 0 && need > env.Host.MemoryBytes {
		return nil, fmt.Errorf("the %s build of %d vectors holds %s in memory, more than this host's %s: build it on a larger host or index fewer vectors",
			b.spec.IndexType, b.coll.Collection(), measure.IEC(need), measure.IEC(env.Host.MemoryBytes))
	}
	in := newBlobs(src, b.coll.Target, "", env.Meter)
	out := newBlobs(dst, b.target, b.dir, env.Meter)
	start := time.Now()
	st, err := eng.build(ctx, b, shards(b.coll, in), out)
	secs := time.Since(start).Seconds()
	read, _ := in.take()
	written := out.written.Load()
	m := stages.Metrics{
		"index_type":            b.spec.IndexType,
		"vectors":               b.coll.Collection(),
		"dimension":             b.coll.Dataset.Vectors.Dimension,
		"build_seconds":         secs,
		"collection_bytes_read": read,
		"index_bytes_written":   written,
		"build_memory_bytes":    st.memoryBytes,
	}
	return m, err
}

// upstreamFactor is MLPerf Storage's overhead of each index type over the
// raw vectors, which its datasize multiplies by.
var upstreamFactor = map[string]float64{"DISKANN": 1.3, "HNSW": 1.5, "AISAQ": 0.15, "IVF_FLAT": 1.05, "IVF_SQ8": 0.40, "FLAT": 1.0}

// IndexSize says what the index will store, beside upstream's estimate.
func (t *indexTask) IndexSize() stages.IndexSize {
	c := t.b.coll
	eng, _ := engineOf(t.b.spec.IndexType)
	stored, _, mem := eng.size(t.b)
	raw := c.Collection() * c.Dataset.Vectors.Dimension * 4
	f := upstreamFactor[t.b.spec.IndexType]
	return stages.IndexSize{Stage: t.b.id, Type: t.b.spec.IndexType, Vectors: c.Collection(), Dimension: c.Dataset.Vectors.Dimension,
		RawBytes: raw, UpstreamFactor: f, UpstreamBytes: int64(f * float64(raw)), StoredBytes: stored, BuildMemoryBytes: mem}
}

// Headline says the build's key figures in one line.
func (t *indexTask) Headline(m stages.Metrics) string {
	if t.b.spec.IndexType == "FLAT" {
		return "FLAT: no index; queries scan the collection"
	}
	secs, _ := m["build_seconds"].(float64)
	n, _ := m["index_bytes_written"].(int64)
	return fmt.Sprintf("built %s in %.1f s: %s stored", t.b.spec.IndexType, secs, measure.IEC(n))
}

// Check tells whether the index this stage builds is on its target, for a
// run that leaves the build out (mlps exec --only, --skip, --repeat): it
// opens the index as a query does, reading what a search keeps in memory,
// and stats every object the opened index names. The objects' sizes
// come from the build, not the plan, so a check of names is what a plan
// can do; an index built over another collection fails when its header
// disagrees with the plan's.
func (t *indexTask) Check(ctx context.Context, env *stages.Env) error {
	b := t.b
	eng, err := engineOf(b.spec.IndexType)
	if err != nil {
		return err
	}
	// FLAT's index is the collection itself, where a query reads it.
	where, dir := b.target, b.dir
	if !eng.stored() {
		where, dir = b.coll.Target, ""
	}
	dst, err := env.Target(where)
	if err != nil {
		return err
	}
	bl := newBlobs(dst, where, dir, env.Meter)
	x, err := eng.open(ctx, b, bl)
	if err != nil {
		return fmt.Errorf("index %s cannot be opened: %w", b.Output(), err)
	}
	for _, name := range x.objects() {
		if _, err := dst.Stat(ctx, bl.name(name)); err != nil {
			return fmt.Errorf("index %s is not all there: %s: %w", b.Output(), bl.name(name), err)
		}
	}
	return nil
}
