package content

import (
	"fmt"
	"hash/crc32"
	"testing"
)

// polys are the two CRCs content can give without hashing, each with what
// hash/crc32 says and the generator's own method.
var polys = []struct {
	name   string
	tab    *crc32.Table
	update func(g *Generator, crc uint32, stream uint64, off, n int64) uint32
}{
	{"IEEE", crc32.IEEETable, (*Generator).UpdateCRC32},
	{"Castagnoli", crc32.MakeTable(crc32.Castagnoli), (*Generator).UpdateCRC32C},
}

func TestUpdateCRC32MatchesHashOfFill(t *testing.T) {
	for _, poly := range polys {
		t.Run(poly.name, func(t *testing.T) { testUpdateCRC(t, poly.tab, poly.update) })
	}
}

func testUpdateCRC(t *testing.T, tab *crc32.Table, update func(g *Generator, crc uint32, stream uint64, off, n int64) uint32) {
	g := New(11)
	s := Stream("train", 2)
	tests := []struct {
		off int64
		n   int
	}{
		{0, 0}, {5, 0}, {0, 1}, {3, 5}, {0, BlockSize}, {1, BlockSize},
		{BlockSize - 1, 1}, {BlockSize - 1, 2}, {BlockSize, 2 * BlockSize},
		{7, 3*BlockSize - 7}, {100, 5*BlockSize + 33}, {0, 40 * BlockSize},
		{1<<44 + 4093, 9 * BlockSize}, {BlockSize / 2, BlockSize},
	}
	for _, tt := range tests {
		for _, init := range []uint32{0, 0xdeadbeef} {
			t.Run(fmt.Sprintf("off%d/len%d/crc%#x", tt.off, tt.n, init), func(t *testing.T) {
				want := crc32.Update(init, tab, fill(g, s, tt.off, tt.n))
				if got := update(g, init, s, tt.off, int64(tt.n)); got != want {
					t.Errorf("UpdateCRC32 = %#08x, hashing Fill's bytes gives %#08x", got, want)
				}
			})
		}
	}
}

// TestUpdateCRC32Splits: a range's CRC continued piece by piece equals the
// CRC of the whole, as a writer continuing across buffers relies on.
func TestUpdateCRC32Splits(t *testing.T) {
	g := New(12)
	s := Stream("valid", 4)
	const off, n = 333, 20*BlockSize + 5
	for _, poly := range polys {
		want := crc32.Checksum(fill(g, s, off, n), poly.tab)
		for _, piece := range []int64{1, 7, BlockSize - 1, BlockSize, BlockSize + 1, 1 << 16} {
			crc := uint32(0)
			for at := int64(0); at < n; at += piece {
				crc = poly.update(g, crc, s, off+at, min(piece, n-at))
			}
			if crc != want {
				t.Errorf("%s, pieces of %d: CRC %#08x, want %#08x", poly.name, piece, crc, want)
			}
		}
	}
}

func TestUpdateCRC32NoAllocations(t *testing.T) {
	g := New(1)
	for _, poly := range polys {
		poly.update(g, 0, 1, 0, 2*BlockSize) // the lazy tables
		if n := testing.AllocsPerRun(100, func() { poly.update(g, 0, 1, 5, 3*BlockSize) }); n != 0 {
			t.Errorf("%s: allocates %.0f times per call", poly.name, n)
		}
	}
}

// FuzzCRC32 holds both polynomials to hash/crc32 over Fill's bytes.
func FuzzCRC32(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(0), uint32(4096), uint32(0))
	f.Add(uint64(3), uint64(4), uint64(4095), uint32(9000), uint32(1))
	f.Fuzz(func(t *testing.T, seed, stream, off uint64, n, init uint32) {
		g := New(seed)
		o, k := int64(off>>2), int(n%(1<<18))
		p := fill(g, stream, o, k)
		for _, poly := range polys {
			want := crc32.Update(init, poly.tab, p)
			if got := poly.update(g, init, stream, o, int64(k)); got != want {
				t.Fatalf("%s, seed %d stream %d off %d len %d crc %#x: %#08x from tables, %#08x from the bytes", poly.name, seed, stream, o, k, init, got, want)
			}
		}
	})
}

// BenchmarkCRC32 quotes the CRCs from tables against hashing the same bytes
// with hash/crc32 (already filled, so only the hashing is timed).
func BenchmarkCRC32(b *testing.B) {
	g := New(1)
	const n = 1 << 20
	p := fill(g, 7, 0, n)
	for _, poly := range polys {
		b.Run(poly.name+"/tables", func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				poly.update(g, 0, 7, 0, n)
			}
		})
		b.Run(poly.name+"/hash", func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				crc32.Checksum(p, poly.tab)
			}
		})
	}
}
