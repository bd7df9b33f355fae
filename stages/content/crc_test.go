package content

import (
	"fmt"
	"hash/crc32"
	"testing"
)

func TestUpdateCRC32MatchesHashOfFill(t *testing.T) {
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
				want := crc32.Update(init, crc32.IEEETable, fill(g, s, tt.off, tt.n))
				if got := g.UpdateCRC32(init, s, tt.off, int64(tt.n)); got != want {
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
	want := crc32.ChecksumIEEE(fill(g, s, off, n))
	for _, piece := range []int64{1, 7, BlockSize - 1, BlockSize, BlockSize + 1, 1 << 16} {
		crc := uint32(0)
		for at := int64(0); at < n; at += piece {
			crc = g.UpdateCRC32(crc, s, off+at, min(piece, n-at))
		}
		if crc != want {
			t.Errorf("pieces of %d: CRC %#08x, want %#08x", piece, crc, want)
		}
	}
}

func TestUpdateCRC32NoAllocations(t *testing.T) {
	g := New(1)
	g.UpdateCRC32(0, 1, 0, 2*BlockSize) // the lazy tables
	if n := testing.AllocsPerRun(100, func() { g.UpdateCRC32(0, 1, 5, 3*BlockSize) }); n != 0 {
		t.Errorf("UpdateCRC32 allocates %.0f times per call", n)
	}
}

func FuzzCRC32(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(0), uint32(4096), uint32(0))
	f.Add(uint64(3), uint64(4), uint64(4095), uint32(9000), uint32(1))
	f.Fuzz(func(t *testing.T, seed, stream, off uint64, n, init uint32) {
		g := New(seed)
		o, k := int64(off>>2), int(n%(1<<18))
		want := crc32.Update(init, crc32.IEEETable, fill(g, stream, o, k))
		if got := g.UpdateCRC32(init, stream, o, int64(k)); got != want {
			t.Fatalf("seed %d stream %d off %d len %d crc %#x: UpdateCRC32 = %#08x, hash of Fill = %#08x", seed, stream, o, k, init, got, want)
		}
	})
}

// BenchmarkCRC32 quotes UpdateCRC32 against hashing the same bytes with
// hash/crc32 (already filled, so only the hashing is timed) in one run.
func BenchmarkCRC32(b *testing.B) {
	g := New(1)
	const n = 1 << 20
	p := fill(g, 7, 0, n)
	b.Run("tables", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			g.UpdateCRC32(0, 7, 0, n)
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			crc32.ChecksumIEEE(p)
		}
	})
}
