// Package diskann is a DiskANN index that mlps builds itself and serves
// from any backend with the I/O pattern of the real engine (Subramanya et
// al., NeurIPS 2019). The build makes a Vamana graph in memory and writes
// two objects: the disk index, whose sector 0 is the metadata and whose
// 4 KiB sectors then hold every node's full vector and neighbour list
// (packed when a node fits in a sector, whole sectors each when it does
// not), and a small PQ object with the product-quantised codes that a
// search keeps in memory to steer. A search starts from the entry point
// nearest its query (the medoid and up to 255 nodes spread over the
// collection, as upstream keeps a medoid per merged shard) and walks the
// graph by beam search: each hop reads the sectors of the W nearest
// unexpanded candidates in one batch, ranks their neighbours by PQ
// distance, and the result is re-ranked on the full vectors that came
// with the sectors.
//
// Memory is a function of the configuration: BuildMemory gives the build's
// and Index.MemoryBytes a served index's.
package diskann

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"runtime"
	"time"

	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/diskann/pq"
)

// Build defaults, under upstream's names. DiskANN's own are max_degree 64
// and search_list_size 200, which MLPerf Storage's DiskANN workloads also
// use; Milvus's (MaxDegree 56, SearchListSize 100) are a setting away.
const (
	DefaultMaxDegree      = 64
	DefaultBuildListSize  = 200
	DefaultAlpha          = 1.2
	DefaultEntryPoints    = 256
	DefaultPQBudgetRatio  = pq.DefaultCodeBudgetRatio
	DefaultSearchListSize = 100
	DefaultBeamWidth      = 4
)

// IndexObject and PQObject name the two objects of the index called name.
func IndexObject(name string) string { return name + "_disk.index" }

// PQObject names the index's PQ object: codebook and codes.
func PQObject(name string) string { return name + "_pq.bin" }

// BuildParams configure Build. Zero values take the defaults.
type BuildParams struct {
	// Metric is the collection's metric (required).
	Metric vector.Metric
	// MaxDegree is R, the most neighbours a node keeps (max_degree).
	MaxDegree int
	// SearchListSize is L, the candidate list of the build's searches
	// (search_list_size): larger is a better graph, built slower.
	SearchListSize int
	// Alpha is the second pass's pruning factor (> 1 keeps long edges).
	Alpha float32
	// EntryPoints is how many nodes a search may start from (default
	// 256, at most MaxEntryPoints): the medoid and, by farthest-first
	// traversal of a sample, nodes spread over the collection. A search
	// starts from the one nearest its query by PQ distance, which costs
	// EntryPoints × M table look-ups and no read. One entry point (the
	// paper's medoid) serves a collection without separate clusters; with
	// clusters far apart in many dimensions, the pruning keeps no edges
	// between them (distances within a cluster are all alike, so none
	// covers another) and a search from one medoid never leaves its own:
	// on 10,000 vectors of dimension 768 in 100 clusters, one entry point
	// found 0.214 of the top 10 and 256 found 0.995, the graph and the
	// reads per query being the same.
	EntryPoints int
	// PQSubspaces is M, the bytes of a code; 0 derives it from
	// PQCodeBudgetRatio as pq.SubspacesFor does.
	PQSubspaces int
	// PQCodeBudgetRatio is Milvus's PQCodeBudgetGBRatio: codes take this
	// share of the raw vectors (default 0.125, so M = D/2).
	PQCodeBudgetRatio float64
	// PQSample bounds the vectors PQ training sees (default pq.DefaultSample).
	PQSample int
	// Seed makes the PQ sample and the insertion order.
	Seed uint64
	// Workers insert at once (0 means GOMAXPROCS). With one worker the
	// index is a function of the data and the parameters; with more it
	// may differ from run to run, and recall holds.
	Workers int
}

func (p BuildParams) withDefaults(dim int) BuildParams {
	if p.MaxDegree == 0 {
		p.MaxDegree = DefaultMaxDegree
	}
	if p.SearchListSize == 0 {
		p.SearchListSize = DefaultBuildListSize
	}
	if p.Alpha == 0 {
		p.Alpha = DefaultAlpha
	}
	if p.EntryPoints == 0 {
		p.EntryPoints = DefaultEntryPoints
	}
	if p.PQSubspaces == 0 {
		p.PQSubspaces = pq.SubspacesFor(dim, p.PQCodeBudgetRatio)
	}
	if p.Workers <= 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	return p
}

func (p BuildParams) check(dim int) error {
	switch {
	case p.Metric < vector.L2 || p.Metric > vector.Cosine:
		return fmt.Errorf("diskann: metric %v; want L2, IP or COSINE", p.Metric)
	case p.MaxDegree < 1 || p.MaxDegree > MaxDegree:
		return fmt.Errorf("diskann: max_degree %d; want 1 to %d", p.MaxDegree, MaxDegree)
	case p.SearchListSize < 1:
		return fmt.Errorf("diskann: search_list_size %d; want at least 1", p.SearchListSize)
	case !(p.Alpha >= 1) || math.IsInf(float64(p.Alpha), 0):
		return fmt.Errorf("diskann: alpha %v; want a number of at least 1", p.Alpha)
	case p.EntryPoints < 1 || p.EntryPoints > MaxEntryPoints:
		return fmt.Errorf("diskann: %d entry points; want 1 to %d", p.EntryPoints, MaxEntryPoints)
	case p.PQSubspaces < 1 || p.PQSubspaces > dim:
		return fmt.Errorf("diskann: %d PQ subspaces for dimension %d; want 1 to %d", p.PQSubspaces, dim, dim)
	}
	return nil
}

// BuildMemory is the memory Build holds for n vectors of dim dimensions,
// the vectors themselves (n × dim × 4, the caller's) included:
//
//	n × (4·dim + 4·ceil(1.3·R) + 4 + 4 + M)   vectors, neighbour lists with
//	                                          their slack, degrees, the
//	                                          insertion order, codes
//	+ n × 4                                   IP only: the lifting norms
//	+ workers × (16·L + 16·L·R + 13·750)      each worker's candidate list,
//	                                          visited set and prune pool
//	+ 8 × 64 × entry points                   the sample they are picked from
//	+ PQ training (pq.TrainMemory), the codebook (1 KiB × dim),
//	  the stripes' locks and the write buffer (1 MiB or one node).
//
// The visited set's term is a bound in practice (a search meets at most
// about 2L × R nodes); it grows past it only if a search does.
func BuildMemory(n, dim int, p BuildParams) int64 {
	p = p.withDefaults(dim)
	N, D, R, L, W := int64(n), int64(dim), int64(p.MaxDegree), int64(p.SearchListSize), int64(p.Workers)
	slack := (R*slackNum + slackDen - 1) / slackDen
	m := N * (4*D + 4*slack + 4 + 4 + int64(p.PQSubspaces))
	if p.Metric == vector.IP {
		m += 4 * N
	}
	m += W * (16*L + 16*L*R + 13*maxPruneCands)
	m += int64(8 * entrySample * p.EntryPoints) // the entry points' sample and distances
	m += pq.TrainMemory(n, dim, pq.TrainConfig{M: p.PQSubspaces, Sample: p.PQSample, Workers: p.Workers})
	m += pq.Centroids * 4 * D
	m += lockStripes*8 + max(writeBuffer, int64(4*D+4+4*R+SectorSize))
	return m
}

// BuildStats is what Build did.
type BuildStats struct {
	N, Dim int
	Meta   Meta
	// IndexBytes and PQBytes are the bytes written to each object.
	IndexBytes, PQBytes int64
	// MemoryBytes is BuildMemory's figure for this build.
	MemoryBytes int64
	// AvgDegree is the mean neighbour count of the graph written.
	AvgDegree float64
	// The phases' wall times.
	PQTime, GraphTime, WriteTime time.Duration
}

// Build builds the index of data, n = len(data)/dim row-major vectors
// whose ids are their rows, and writes its two objects, IndexObject(name)
// and PQObject(name), to blobs. For COSINE it normalises data in place:
// the index stores unit vectors and compares them by inner product, and
// a copy would double the build's largest term.
func Build(ctx context.Context, blobs vector.Blobs, name string, data []float32, dim int, p BuildParams) (BuildStats, error) {
	if dim < 1 || dim > MaxDim || len(data) == 0 || len(data)%dim != 0 {
		return BuildStats{}, fmt.Errorf("diskann: %d floats are no whole number of vectors of dimension %d (1 to %d)", len(data), dim, MaxDim)
	}
	n := len(data) / dim
	if int64(n) > MaxNodes {
		return BuildStats{}, fmt.Errorf("diskann: %d vectors; an index holds at most %d", n, int64(MaxNodes))
	}
	p = p.withDefaults(dim)
	if err := p.check(dim); err != nil {
		return BuildStats{}, err
	}
	layout, err := NewLayout(dim, p.MaxDegree)
	if err != nil {
		return BuildStats{}, fmt.Errorf("diskann: %w", err)
	}
	st := BuildStats{N: n, Dim: dim, MemoryBytes: BuildMemory(n, dim, p)}
	if p.Metric == vector.Cosine {
		for i := range n {
			vector.Normalize(data[i*dim : (i+1)*dim])
		}
	}

	start := time.Now()
	cb, err := pq.Train(ctx, data, dim, pq.TrainConfig{M: p.PQSubspaces, Sample: p.PQSample, Seed: p.Seed, Workers: p.Workers})
	if err != nil {
		return st, fmt.Errorf("diskann: training PQ: %w", err)
	}
	codes := make([]byte, n*cb.M())
	if err := cb.EncodeAll(ctx, data, codes, p.Workers); err != nil {
		return st, fmt.Errorf("diskann: encoding PQ: %w", err)
	}
	st.PQTime = time.Since(start)

	start = time.Now()
	g, entries, err := buildGraph(ctx, newSpace(data, dim, p.Metric), p.MaxDegree, p.SearchListSize, p.Alpha, p.EntryPoints, p.Seed, p.Workers)
	if err != nil {
		return st, fmt.Errorf("diskann: building the graph: %w", err)
	}
	st.GraphTime = time.Since(start)

	start = time.Now()
	pqBytes, pqSum, err := writePQ(ctx, blobs, PQObject(name), p.Metric, cb, codes)
	if err != nil {
		return st, err
	}
	maxDeg, edges := 0, 0
	for _, d := range g.deg {
		maxDeg = max(maxDeg, int(d))
		edges += int(d)
	}
	m := Meta{
		Metric: p.Metric, N: int64(n), Layout: layout, EntryPoints: entries,
		IndexBytes:  layout.IndexBytes(int64(n)),
		PQSubspaces: cb.M(), PQBytes: pqBytes, PQChecksum: pqSum,
		Alpha: p.Alpha, BuildListSize: p.SearchListSize, Seed: p.Seed, MaxDegreeBuilt: maxDeg,
	}
	if err := writeIndex(ctx, blobs, IndexObject(name), m, data, g); err != nil {
		return st, err
	}
	st.WriteTime = time.Since(start)
	st.Meta, st.IndexBytes, st.PQBytes = m, m.IndexBytes, pqBytes
	st.AvgDegree = float64(edges) / float64(n)
	return st, nil
}

// writeBuffer is what the writers hold: 256 sectors.
const writeBuffer = 256 * SectorSize

// writePQ streams the PQ object and returns its size and checksum.
func writePQ(ctx context.Context, blobs vector.Blobs, name string, metric vector.Metric, cb *pq.Codebook, codes []byte) (int64, uint32, error) {
	n := int64(len(codes) / cb.M())
	size := PQObjectBytes(n, cb.Dim(), cb.M())
	w, err := blobs.Create(ctx, name, size)
	if err != nil {
		return 0, 0, fmt.Errorf("diskann: creating %s: %w", name, err)
	}
	head, _ := cb.AppendBinary(appendPQHeader(make([]byte, 0, pqHeaderBytes+pq.BinarySize(cb.Dim())), metric, n))
	sum := crc32.Update(0, castagnoli, head)
	_, err = w.Write(head)
	for off := 0; err == nil && off < len(codes); off += writeBuffer {
		chunk := codes[off:min(off+writeBuffer, len(codes))]
		sum = crc32.Update(sum, castagnoli, chunk)
		_, err = w.Write(chunk)
	}
	if err == nil {
		_, err = w.Write(binary.LittleEndian.AppendUint32(nil, sum))
	}
	if err == nil {
		err = w.Close()
	} else {
		w.Abort()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("diskann: writing %s: %w", name, err)
	}
	return size, sum, nil
}

// writeIndex streams the disk index: sector 0, then the nodes' sectors,
// through one buffer of at least one node's read.
func writeIndex(ctx context.Context, blobs vector.Blobs, name string, m Meta, data []float32, g *graph) error {
	w, err := blobs.Create(ctx, name, m.IndexBytes)
	if err != nil {
		return fmt.Errorf("diskann: creating %s: %w", name, err)
	}
	err = func() error {
		head, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		if _, err := w.Write(head); err != nil {
			return err
		}
		unit := m.ReadBytes()
		perUnit := max(m.NodesPerSector, 1)
		units := int(m.NodeSectors(m.N)) / m.SectorsPerNode
		buf := make([]byte, max(writeBuffer/unit, 1)*unit)
		fill := 0
		for u := range units {
			if fill == len(buf) {
				if err := ctx.Err(); err != nil {
					return err
				}
				if _, err := w.Write(buf); err != nil {
					return err
				}
				fill = 0
			}
			b := buf[fill : fill+unit]
			clear(b)
			for slot := range perUnit {
				id := u*perUnit + slot
				if int64(id) == m.N {
					break
				}
				encodeNode(b[slot*m.NodeBytes:(slot+1)*m.NodeBytes], data[id*m.Dim:(id+1)*m.Dim], g.list(uint32(id)))
			}
			fill += unit
		}
		if _, err := w.Write(buf[:fill]); err != nil {
			return err
		}
		return w.Close()
	}()
	if err != nil {
		w.Abort()
		return fmt.Errorf("diskann: writing %s: %w", name, err)
	}
	return nil
}

// encodeNode writes a node: vector, neighbour count, neighbour ids; dst
// is zero, so unused id slots stay zero.
func encodeNode(dst []byte, vec []float32, nbrs []uint32) {
	le := binary.LittleEndian
	for i, v := range vec {
		le.PutUint32(dst[4*i:], math.Float32bits(v))
	}
	o := 4 * len(vec)
	le.PutUint32(dst[o:], uint32(len(nbrs)))
	for i, id := range nbrs {
		le.PutUint32(dst[o+4+4*i:], id)
	}
}
