package diskann

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mlps.dev/mlps/stages/vector"
	"mlps.dev/mlps/stages/vector/diskann/pq"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestLayout checks the sector maths for nodes that fit a sector several
// times, exactly fill it, fill half of it, and span two sectors, just
// over and exactly.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		dim, degree                   int
		nodeBytes, perSector, perNode int
		n                             int64
		indexBytes                    int64
	}{
		{32, 64, 388, 10, 1, 25, (1 + 3) * SectorSize},
		{128, 64, 772, 5, 1, 11, (1 + 3) * SectorSize},
		{495, 16, 2048, 2, 1, 3, (1 + 2) * SectorSize},                  // two fill a sector
		{1007, 16, 4096, 1, 1, 3, (1 + 3) * SectorSize},                 // one fills a sector
		{1008, 16, 4100, 0, 2, 3, (1 + 6) * SectorSize},                 // 4 bytes over: two sectors
		{2031, 16, 8192, 0, 2, 1, (1 + 2) * SectorSize},                 // exactly two sectors
		{1536, 64, 6404, 0, 2, 1_000_000, (1 + 2_000_000) * SectorSize}, // upstream's default: 8 KiB per node
	} {
		l, err := NewLayout(tc.dim, tc.degree)
		if err != nil {
			t.Fatal(err)
		}
		if l.NodeBytes != tc.nodeBytes || l.NodesPerSector != tc.perSector || l.SectorsPerNode != tc.perNode {
			t.Errorf("dim %d degree %d: node %d bytes, %d per sector, %d sectors per node; want %d, %d, %d",
				tc.dim, tc.degree, l.NodeBytes, l.NodesPerSector, l.SectorsPerNode, tc.nodeBytes, tc.perSector, tc.perNode)
		}
		if got := l.IndexBytes(tc.n); got != tc.indexBytes {
			t.Errorf("dim %d degree %d: %d nodes take %d bytes, want %d", tc.dim, tc.degree, tc.n, got, tc.indexBytes)
		}
		if l.ReadBytes() != tc.perNode*SectorSize {
			t.Errorf("dim %d degree %d: a node's read is %d bytes", tc.dim, tc.degree, l.ReadBytes())
		}
		// Every node lies inside its read, reads are sector-aligned, and
		// no two nodes overlap.
		var prevEnd int64 = SectorSize
		for id := range uint32(min(tc.n, 40)) {
			off, in := l.Locate(id)
			if off%SectorSize != 0 || in+l.NodeBytes > l.ReadBytes() || off+int64(in) < prevEnd {
				t.Errorf("dim %d degree %d: node %d at read %d + %d", tc.dim, tc.degree, id, off, in)
			}
			prevEnd = off + int64(in+l.NodeBytes)
			if prevEnd > l.IndexBytes(int64(id)+1) {
				t.Errorf("dim %d degree %d: node %d ends at %d, past the index of %d nodes", tc.dim, tc.degree, id, prevEnd, id+1)
			}
		}
	}
	for _, tc := range []struct{ dim, degree int }{{0, 64}, {MaxDim + 1, 64}, {128, 0}, {128, MaxDegree + 1}} {
		if _, err := NewLayout(tc.dim, tc.degree); err == nil {
			t.Errorf("NewLayout(%d, %d) accepted", tc.dim, tc.degree)
		}
	}
}

func TestLocate(t *testing.T) {
	small, _ := NewLayout(128, 64)  // 5 nodes per sector
	large, _ := NewLayout(1536, 64) // 2 sectors per node
	for _, tc := range []struct {
		l      Layout
		id     uint32
		off    int64
		inRead int
	}{
		{small, 0, SectorSize, 0},
		{small, 4, SectorSize, 4 * 772},
		{small, 5, 2 * SectorSize, 0},
		{small, 12, 3 * SectorSize, 2 * 772},
		{large, 0, SectorSize, 0},
		{large, 1, 3 * SectorSize, 0},
		{large, 999_999, (1 + 2*999_999) * SectorSize, 0},
	} {
		if off, in := tc.l.Locate(tc.id); off != tc.off || in != tc.inRead {
			t.Errorf("node %d of %d-byte nodes: read at %d, node at %d in it; want %d, %d", tc.id, tc.l.NodeBytes, off, in, tc.off, tc.inRead)
		}
	}
}

func sampleMeta() Meta {
	l, _ := NewLayout(128, 64)
	return Meta{
		Metric: vector.Cosine, N: 100_000, Layout: l, EntryPoints: []uint32{4242, 17, 99_999},
		IndexBytes: l.IndexBytes(100_000), PQSubspaces: 64, PQBytes: PQObjectBytes(100_000, 128, 64),
		PQChecksum: 0xdeadbeef, Alpha: 1.2, BuildListSize: 200, Seed: 7, MaxDegreeBuilt: 64,
	}
}

// The metadata sector's bytes are pinned by a golden file: a change to
// the format must be deliberate (a new Version), never a side effect.
func TestMetaGolden(t *testing.T) {
	b, err := sampleMeta().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "meta.golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("the metadata sector differs from %s (run with -update only if the format changed on purpose)", path)
	}
	m, err := ParseMeta(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, sampleMeta()) {
		t.Fatalf("read back %+v, want %+v", m, sampleMeta())
	}
}

// reseal rewrites a sector's checksum, so that a test reaches the field
// checks behind it.
func reseal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[offChecksum:], crc32.Checksum(b[:offChecksum], castagnoli))
	return b
}

func TestParseMetaRefuses(t *testing.T) {
	good, _ := sampleMeta().MarshalBinary()
	edit := func(f func(b []byte), seal bool) []byte {
		b := bytes.Clone(good)
		f(b)
		if seal {
			reseal(b)
		}
		return b
	}
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"short", "metadata of", good[:100]},
		{"flipped bit", "checksum", edit(func(b []byte) { b[offN] ^= 1 }, false)},
		{"magic", "not a disk index", edit(func(b []byte) { b[0] = 'X' }, true)},
		{"version", "version 2", edit(put32(offVersion, 2), true)},
		{"metric", "metric 9", edit(put32(offMetric, 9), true)},
		{"no nodes", "0 nodes", edit(put64(offN, 0), true)},
		{"too many nodes", "nodes", edit(put64(offN, 1<<40), true)},
		{"no entry points", "0 entry points", edit(put32(offEntries, 0), true)},
		{"too many entry points", "entry points; want", edit(put32(offEntries, MaxEntryPoints+1), true)},
		{"entry point", "entry point 100000 of", edit(put32(metaEnd+4, 100_000), true)},
		{"node bytes", "node bytes", edit(put32(offNodeBytes, 800), true)},
		{"per sector", "nodes per sector", edit(put32(offNPS, 4), true)},
		{"dimension", "dimension", edit(put32(offDim, 0), true)},
		{"huge dimension", "dimension", edit(put32(offDim, 1<<30), true)},
		{"index size", "index of", edit(put64(offIndexBytes, 4096), true)},
		{"PQ subspaces", "PQ subspaces", edit(put32(offPQM, 129), true)},
		{"PQ size", "PQ object of", edit(put64(offPQBytes, 12), true)},
		{"degree built", "max_degree", edit(put32(offMaxBuilt, 65), true)},
		{"reserved", "want 0", edit(func(b []byte) { b[metaEnd+4*3] = 1 }, true)},
	} {
		_, err := ParseMeta(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParseMeta: whatever the sector holds, the parser answers without a
// panic, and a sector it accepts is exactly the one its Meta writes.
func FuzzParseMeta(f *testing.F) {
	good, _ := sampleMeta().MarshalBinary()
	f.Add(good)
	f.Add(good[:64])
	l, _ := NewLayout(1536, 64)
	big := Meta{Metric: vector.L2, N: 3, Layout: l, EntryPoints: []uint32{2}, IndexBytes: l.IndexBytes(3), PQSubspaces: 768, PQBytes: PQObjectBytes(3, 1536, 768)}
	b, _ := big.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			m, err := ParseMeta(b)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "diskann: ") {
					t.Fatalf("refused with %q", err)
				}
				return
			}
			back, err := m.MarshalBinary()
			if err != nil || !bytes.Equal(back, b[:SectorSize]) {
				t.Fatalf("accepted a sector that its metadata does not write back (%v)", err)
			}
		}
		check(b)
		// A random sector rarely has the right checksum: resealed, it
		// reaches the field checks behind it.
		if len(b) >= SectorSize {
			check(reseal(bytes.Clone(b[:SectorSize])))
		}
	})
}

// marshalPQ is the PQ object of d, as writePQ streams it.
func marshalPQ(d PQData) []byte {
	b, _ := d.Codebook.AppendBinary(appendPQHeader(nil, d.Metric, d.N))
	b = append(b, d.Codes...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func samplePQ(t testing.TB, n, dim, m int) PQData {
	data := make([]float32, n*dim)
	src := vector.NewSource(dim, vector.Clustered, 4, 1)
	for i := range n {
		src.Vector(int64(i), data[i*dim:(i+1)*dim])
	}
	cb, err := pq.Train(t.Context(), data, dim, pq.TrainConfig{M: m, Iterations: 2})
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]byte, n*m)
	if err := cb.EncodeAll(t.Context(), data, codes, 1); err != nil {
		t.Fatal(err)
	}
	return PQData{Metric: vector.L2, N: int64(n), Codebook: cb, Codes: codes}
}

func TestParsePQ(t *testing.T) {
	d := samplePQ(t, 50, 6, 3)
	good := marshalPQ(d)
	if int64(len(good)) != PQObjectBytes(50, 6, 3) {
		t.Fatalf("PQ object of %d bytes, PQObjectBytes says %d", len(good), PQObjectBytes(50, 6, 3))
	}
	back, err := ParsePQ(good)
	if err != nil {
		t.Fatal(err)
	}
	if back.N != 50 || back.Metric != vector.L2 || !bytes.Equal(back.Codes, d.Codes) || back.Codebook.M() != 3 {
		t.Fatalf("read back N %d metric %v M %d", back.N, back.Metric, back.Codebook.M())
	}
	seal := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		return b
	}
	edit := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return seal(b)
	}
	other := marshalPQ(samplePQ(t, 50, 6, 2))
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"short", "shorter", good[:10]},
		{"flipped bit", "checksum", func() []byte { b := bytes.Clone(good); b[40] ^= 4; return b }()},
		{"magic", "not a PQ object", func() []byte { b := bytes.Clone(good); b[7] = 'X'; return seal(b) }()},
		{"version", "version", edit(8, 9)},
		{"metric", "metric", edit(12, 0)},
		{"no codes", "0 codes", edit(16, 0)},
		{"more codes than bytes", "take", edit(16, 51)},
		{"codebook dimension", "codebook", edit(pqHeaderBytes, 7)},
		{"zero dimension", "dimension", edit(pqHeaderBytes, 0)},
		{"subspaces", "subspaces", edit(pqHeaderBytes+4, 7)},
		{"truncated", "take", seal(bytes.Clone(good[:len(good)-5]))},
		{"codebook cut", "inside its codebook", seal(bytes.Clone(other[:pqHeaderBytes+100]))},
	} {
		_, err := ParsePQ(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParsePQ: whatever the object holds, the parser answers without a
// panic, and an object it accepts is exactly what its parts write.
func FuzzParsePQ(f *testing.F) {
	f.Add(marshalPQ(samplePQ(f, 20, 4, 2)))
	f.Add(marshalPQ(samplePQ(f, 3, 1, 1)))
	f.Add([]byte("MLPSDAPQ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			d, err := ParsePQ(b)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "diskann: ") {
					t.Fatalf("refused with %q", err)
				}
				return
			}
			if !bytes.Equal(marshalPQ(d), b) {
				t.Fatal("accepted an object that its parts do not write back")
			}
		}
		check(b)
		if len(b) >= 4 { // resealed, to reach the checks behind the checksum
			r := bytes.Clone(b)
			binary.LittleEndian.PutUint32(r[len(r)-4:], crc32.Checksum(r[:len(r)-4], castagnoli))
			check(r)
		}
	})
}
