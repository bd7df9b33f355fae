package diskann

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/diskann/pq"
)

// SectorSize is the unit of the disk index: the block an SSD reads at
// once, so that fetching a node costs whole sectors and nothing more.
const SectorSize = 4096

// Limits a stored index may claim. They keep a corrupt header from asking
// for absurd memory and keep node offsets within int64; all are far above
// what any real collection uses.
const (
	// MaxDim matches the PQ codebook's bound.
	MaxDim = pq.MaxDim
	// MaxDegree bounds R: upstream's defaults are 56 to 64, papers go to 128.
	MaxDegree = 1 << 12
	// MaxNodes: neighbour ids are uint32.
	MaxNodes = math.MaxUint32
)

// Layout is where nodes sit in the disk index. A node is its full vector
// (Dim float32), its neighbour count (uint32) and Degree neighbour ids
// (uint32, unused ones zero), little-endian. Sector 0 holds the metadata;
// nodes follow from sector 1. Nodes that fit in a sector are packed
// NodesPerSector to a sector and never straddle two, so one node is one
// sector read; a node larger than a sector starts a sector of its own and
// takes SectorsPerNode whole sectors.
type Layout struct {
	Dim, Degree int
	// NodeBytes is 4 × Dim + 4 + 4 × Degree.
	NodeBytes int
	// NodesPerSector is SectorSize / NodeBytes when a node fits in a
	// sector, else 0.
	NodesPerSector int
	// SectorsPerNode is what one node's read takes: 1 when it fits, else
	// ceil(NodeBytes / SectorSize).
	SectorsPerNode int
}

// NewLayout is the layout of dim-dimensional nodes of degree neighbours.
func NewLayout(dim, degree int) (Layout, error) {
	if dim < 1 || dim > MaxDim {
		return Layout{}, fmt.Errorf("dimension %d; want 1 to %d", dim, MaxDim)
	}
	if degree < 1 || degree > MaxDegree {
		return Layout{}, fmt.Errorf("max_degree %d; want 1 to %d", degree, MaxDegree)
	}
	l := Layout{Dim: dim, Degree: degree, NodeBytes: 4*dim + 4 + 4*degree}
	if l.NodeBytes <= SectorSize {
		l.NodesPerSector = SectorSize / l.NodeBytes
		l.SectorsPerNode = 1
	} else {
		l.SectorsPerNode = (l.NodeBytes + SectorSize - 1) / SectorSize
	}
	return l, nil
}

// NodeSectors is the sectors that n nodes take, the metadata sector not
// counted.
func (l Layout) NodeSectors(n int64) int64 {
	if l.NodesPerSector > 0 {
		return (n + int64(l.NodesPerSector) - 1) / int64(l.NodesPerSector)
	}
	return n * int64(l.SectorsPerNode)
}

// IndexBytes is the size of the disk index of n nodes: the metadata
// sector and the nodes' sectors.
func (l Layout) IndexBytes(n int64) int64 { return (1 + l.NodeSectors(n)) * SectorSize }

// ReadBytes is the bytes one node's read takes: its whole sectors.
func (l Layout) ReadBytes() int { return l.SectorsPerNode * SectorSize }

// Locate is where node id is: the offset in the index of the read that
// holds it (ReadBytes long) and its offset within that read.
func (l Layout) Locate(id uint32) (readOff int64, inRead int) {
	if l.NodesPerSector > 0 {
		s := int64(id) / int64(l.NodesPerSector)
		return (1 + s) * SectorSize, int(id%uint32(l.NodesPerSector)) * l.NodeBytes
	}
	return (1 + int64(id)*int64(l.SectorsPerNode)) * SectorSize, 0
}

// Version of the disk index and of the PQ object this package writes.
const Version = 1

// The objects' magic numbers name the format and which of the two an
// object is, so that swapping them is caught before anything else.
var (
	metaMagic = [8]byte{'M', 'L', 'P', 'S', 'D', 'A', 'N', 'N'}
	pqMagic   = [8]byte{'M', 'L', 'P', 'S', 'D', 'A', 'P', 'Q'}
)

// castagnoli checksums both objects: hardware-accelerated on amd64 and
// arm64, so the PQ object's check costs little beside reading it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Meta is the disk index's sector 0: what a search needs before its first
// node read, what ties the index to its PQ object, and how it was built.
type Meta struct {
	Metric vector.Metric
	// N is the number of nodes (vectors); ids are 0 to N-1.
	N int64
	Layout
	// EntryPoints are the nodes a search may start from, the medoid first;
	// each search starts from the one nearest its query.
	EntryPoints []uint32
	// IndexBytes is the disk index's size (Layout.IndexBytes(N)).
	IndexBytes int64
	// PQSubspaces is M, the bytes of a code; PQBytes and PQChecksum are the
	// PQ object's size and CRC-32C, so that an index is never served with
	// another build's codes.
	PQSubspaces int
	PQBytes     int64
	PQChecksum  uint32
	// How the graph was built: provenance, not needed to search.
	Alpha          float32
	BuildListSize  int
	Seed           uint64
	MaxDegreeBuilt int // the largest neighbour count written
}

// MaxEntryPoints is how many entry point ids sector 0 has room for.
const MaxEntryPoints = (offChecksum - metaEnd) / 4

// Byte offsets in sector 0: the fixed fields, then the entry points' ids.
// Everything after them up to the checksum is zero, so that a later
// version's fields are never misread as padding.
const (
	offMagic      = 0
	offVersion    = 8
	offMetric     = 12
	offN          = 16
	offDim        = 24
	offDegree     = 28
	offNodeBytes  = 32
	offNPS        = 36
	offSPN        = 40
	offEntries    = 44 // the number of entry points
	offIndexBytes = 48
	offPQM        = 56
	offPQBytes    = 60
	offPQSum      = 68
	offAlpha      = 72
	offBuildL     = 76
	offSeed       = 80
	offMaxBuilt   = 88
	metaEnd       = 92
	offChecksum   = SectorSize - 4
)

// MarshalBinary is m's sector 0, SectorSize bytes.
func (m Meta) MarshalBinary() ([]byte, error) {
	if len(m.EntryPoints) < 1 || len(m.EntryPoints) > MaxEntryPoints {
		return nil, fmt.Errorf("diskann: %d entry points; sector 0 holds 1 to %d", len(m.EntryPoints), MaxEntryPoints)
	}
	b := make([]byte, SectorSize)
	le := binary.LittleEndian
	copy(b[offMagic:], metaMagic[:])
	le.PutUint32(b[offVersion:], Version)
	le.PutUint32(b[offMetric:], uint32(m.Metric))
	le.PutUint64(b[offN:], uint64(m.N))
	le.PutUint32(b[offDim:], uint32(m.Dim))
	le.PutUint32(b[offDegree:], uint32(m.Degree))
	le.PutUint32(b[offNodeBytes:], uint32(m.NodeBytes))
	le.PutUint32(b[offNPS:], uint32(m.NodesPerSector))
	le.PutUint32(b[offSPN:], uint32(m.SectorsPerNode))
	le.PutUint32(b[offEntries:], uint32(len(m.EntryPoints)))
	for i, e := range m.EntryPoints {
		le.PutUint32(b[metaEnd+4*i:], e)
	}
	le.PutUint64(b[offIndexBytes:], uint64(m.IndexBytes))
	le.PutUint32(b[offPQM:], uint32(m.PQSubspaces))
	le.PutUint64(b[offPQBytes:], uint64(m.PQBytes))
	le.PutUint32(b[offPQSum:], m.PQChecksum)
	le.PutUint32(b[offAlpha:], math.Float32bits(m.Alpha))
	le.PutUint32(b[offBuildL:], uint32(m.BuildListSize))
	le.PutUint64(b[offSeed:], m.Seed)
	le.PutUint32(b[offMaxBuilt:], uint32(m.MaxDegreeBuilt))
	le.PutUint32(b[offChecksum:], crc32.Checksum(b[:offChecksum], castagnoli))
	return b, nil
}

// ParseMeta reads a disk index's sector 0 (its first SectorSize bytes of
// b), refusing any sector that this package could not have written: a
// wrong magic, version or checksum, or fields that disagree with each
// other. Every error names the field and the value.
func ParseMeta(b []byte) (Meta, error) {
	if len(b) < SectorSize {
		return Meta{}, fmt.Errorf("diskann: metadata of %d bytes; the sector is %d", len(b), SectorSize)
	}
	b = b[:SectorSize]
	le := binary.LittleEndian
	if [8]byte(b[offMagic:]) != metaMagic {
		return Meta{}, fmt.Errorf("diskann: not a disk index: magic %q, want %q", b[:8], metaMagic[:])
	}
	if v := le.Uint32(b[offVersion:]); v != Version {
		return Meta{}, fmt.Errorf("diskann: disk index version %d; this mlps reads version %d", v, Version)
	}
	if got, want := le.Uint32(b[offChecksum:]), crc32.Checksum(b[:offChecksum], castagnoli); got != want {
		return Meta{}, fmt.Errorf("diskann: metadata sector is corrupt: checksum %08x, computed %08x", got, want)
	}
	ne := le.Uint32(b[offEntries:])
	if ne < 1 || ne > MaxEntryPoints {
		return Meta{}, fmt.Errorf("diskann: %d entry points; want 1 to %d", ne, MaxEntryPoints)
	}
	idsEnd := metaEnd + 4*int(ne)
	for i, c := range b[idsEnd:offChecksum] {
		if c != 0 {
			return Meta{}, fmt.Errorf("diskann: metadata byte %d is %#x, want 0 (written by a newer version?)", idsEnd+i, c)
		}
	}
	mv := le.Uint32(b[offMetric:])
	if mv < uint32(vector.L2) || mv > uint32(vector.Cosine) {
		return Meta{}, fmt.Errorf("diskann: metric %d; want 1 (L2), 2 (IP) or 3 (COSINE)", mv)
	}
	m := Meta{
		Metric:         vector.Metric(mv),
		PQChecksum:     le.Uint32(b[offPQSum:]),
		Alpha:          math.Float32frombits(le.Uint32(b[offAlpha:])),
		Seed:           le.Uint64(b[offSeed:]),
		BuildListSize:  int(le.Uint32(b[offBuildL:])),
		MaxDegreeBuilt: int(le.Uint32(b[offMaxBuilt:])),
		PQSubspaces:    int(le.Uint32(b[offPQM:])),
	}
	n := le.Uint64(b[offN:])
	if n < 1 || n > MaxNodes {
		return Meta{}, fmt.Errorf("diskann: %d nodes; want 1 to %d", n, uint64(MaxNodes))
	}
	m.N = int64(n)
	dim, deg := le.Uint32(b[offDim:]), le.Uint32(b[offDegree:])
	if dim > MaxDim || deg > MaxDegree {
		return Meta{}, fmt.Errorf("diskann: dimension %d, max_degree %d; want at most %d and %d", dim, deg, MaxDim, MaxDegree)
	}
	l, err := NewLayout(int(dim), int(deg))
	if err != nil {
		return Meta{}, fmt.Errorf("diskann: %w", err)
	}
	stored := [3]uint32{le.Uint32(b[offNodeBytes:]), le.Uint32(b[offNPS:]), le.Uint32(b[offSPN:])}
	if want := [3]uint32{uint32(l.NodeBytes), uint32(l.NodesPerSector), uint32(l.SectorsPerNode)}; stored != want {
		return Meta{}, fmt.Errorf("diskann: node bytes, nodes per sector, sectors per node are %v; dimension %d and max_degree %d give %v",
			stored, dim, deg, want)
	}
	m.Layout = l
	m.EntryPoints = make([]uint32, ne)
	for i := range m.EntryPoints {
		e := le.Uint32(b[metaEnd+4*i:])
		if int64(e) >= m.N {
			return Meta{}, fmt.Errorf("diskann: entry point %d of %d nodes", e, m.N)
		}
		m.EntryPoints[i] = e
	}
	m.IndexBytes = int64(le.Uint64(b[offIndexBytes:]))
	if want := l.IndexBytes(m.N); m.IndexBytes != want {
		return Meta{}, fmt.Errorf("diskann: index of %d bytes; %d nodes of %d bytes take %d", m.IndexBytes, m.N, l.NodeBytes, want)
	}
	if m.PQSubspaces < 1 || m.PQSubspaces > l.Dim {
		return Meta{}, fmt.Errorf("diskann: %d PQ subspaces for dimension %d; want 1 to %d", m.PQSubspaces, l.Dim, l.Dim)
	}
	m.PQBytes = int64(le.Uint64(b[offPQBytes:]))
	if want := PQObjectBytes(m.N, l.Dim, m.PQSubspaces); m.PQBytes != want {
		return Meta{}, fmt.Errorf("diskann: PQ object of %d bytes; %d codes of %d bytes of dimension %d take %d", m.PQBytes, m.N, m.PQSubspaces, l.Dim, want)
	}
	if m.MaxDegreeBuilt > l.Degree {
		return Meta{}, fmt.Errorf("diskann: nodes of up to %d neighbours in a graph of max_degree %d", m.MaxDegreeBuilt, l.Degree)
	}
	return m, nil
}

// The PQ object is a header (magic, version, metric, N), the codebook in
// pq's stored form, the N codes of M bytes, and a CRC-32C of all that.
// It is what a search keeps in memory; Open reads it whole.
const pqHeaderBytes = 24

// PQObjectBytes is the size of the PQ object of n codes of m bytes for
// dim-dimensional vectors.
func PQObjectBytes(n int64, dim, m int) int64 {
	return pqHeaderBytes + int64(pq.BinarySize(dim)) + n*int64(m) + 4
}

// appendPQHeader appends the PQ object's header.
func appendPQHeader(b []byte, metric vector.Metric, n int64) []byte {
	b = append(b, pqMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint32(b, uint32(metric))
	return binary.LittleEndian.AppendUint64(b, uint64(n))
}

// PQData is a parsed PQ object. Codes is a slice of the parsed bytes, not
// a copy: the object is read once into the memory it is served from.
type PQData struct {
	Metric   vector.Metric
	N        int64
	Codebook *pq.Codebook
	// Codes holds N codes of Codebook.M() bytes, node by node.
	Codes []byte
}

// ParsePQ reads a whole PQ object, refusing one with a wrong magic,
// version, size or checksum or an invalid codebook.
func ParsePQ(b []byte) (PQData, error) {
	if len(b) < pqHeaderBytes+4 {
		return PQData{}, fmt.Errorf("diskann: PQ object of %d bytes is shorter than its header", len(b))
	}
	le := binary.LittleEndian
	if [8]byte(b) != pqMagic {
		return PQData{}, fmt.Errorf("diskann: not a PQ object: magic %q, want %q", b[:8], pqMagic[:])
	}
	if v := le.Uint32(b[8:]); v != Version {
		return PQData{}, fmt.Errorf("diskann: PQ object version %d; this mlps reads version %d", v, Version)
	}
	body := b[:len(b)-4]
	if got, want := le.Uint32(b[len(b)-4:]), crc32.Checksum(body, castagnoli); got != want {
		return PQData{}, fmt.Errorf("diskann: PQ object is corrupt: checksum %08x, computed %08x", got, want)
	}
	mv := le.Uint32(b[12:])
	if mv < uint32(vector.L2) || mv > uint32(vector.Cosine) {
		return PQData{}, fmt.Errorf("diskann: PQ object metric %d; want 1 (L2), 2 (IP) or 3 (COSINE)", mv)
	}
	d := PQData{Metric: vector.Metric(mv)}
	n := le.Uint64(b[16:])
	if n < 1 || n > MaxNodes {
		return PQData{}, fmt.Errorf("diskann: PQ object of %d codes; want 1 to %d", n, uint64(MaxNodes))
	}
	d.N = int64(n)
	rest := body[pqHeaderBytes:]
	if len(rest) < 8 {
		return PQData{}, errors.New("diskann: PQ object ends before its codebook")
	}
	dim := le.Uint32(rest)
	if dim < 1 || dim > pq.MaxDim {
		return PQData{}, fmt.Errorf("diskann: PQ codebook dimension %d; want 1 to %d", dim, pq.MaxDim)
	}
	cbBytes := pq.BinarySize(int(dim))
	if len(rest) < cbBytes {
		return PQData{}, fmt.Errorf("diskann: PQ object of %d bytes ends inside its codebook of %d", len(b), cbBytes)
	}
	d.Codebook = new(pq.Codebook)
	if err := d.Codebook.UnmarshalBinary(rest[:cbBytes]); err != nil {
		return PQData{}, fmt.Errorf("diskann: PQ object: %w", err)
	}
	if want := PQObjectBytes(d.N, int(dim), d.Codebook.M()); int64(len(b)) != want {
		return PQData{}, fmt.Errorf("diskann: PQ object of %d bytes; %d codes of %d bytes take %d", len(b), d.N, d.Codebook.M(), want)
	}
	d.Codes = rest[cbBytes:]
	return d, nil
}
