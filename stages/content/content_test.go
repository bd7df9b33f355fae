package content

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// fill is Fill into a fresh slice, for tests that compare ranges.
func fill(g *Generator, stream uint64, off int64, n int) []byte {
	p := make([]byte, n)
	g.Fill(p, stream, off)
	return p
}

func TestFillRangeEqualsCutFromLargerFill(t *testing.T) {
	g := New(42)
	s := Stream("train", 3)
	// The whole window starts at base so that ranges far into a stream are
	// covered too; base itself is block-aligned, as a reader's would not
	// need to be.
	for _, base := range []int64{0, 1 << 40, 7 * BlockSize} {
		whole := fill(g, s, base, 5*BlockSize+100)
		tests := []struct{ off, n int }{
			{0, 0}, {0, 1}, {1, 1}, {1, 7}, {3, 8}, {7, 9}, {8, 8}, {5, 3},
			{0, BlockSize}, {1, BlockSize}, {BlockSize - 1, 2}, {BlockSize - 8, 16},
			{BlockSize - 3, BlockSize + 6}, {BlockSize, 3 * BlockSize},
			{13, 4*BlockSize + 77}, {2*BlockSize + 5, 123}, {100, 127}, {100, 129},
			{0, len(whole)}, {len(whole) - 1, 1},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("base%d/off%d/len%d", base, tt.off, tt.n), func(t *testing.T) {
				got := fill(g, s, base+int64(tt.off), tt.n)
				if want := whole[tt.off : tt.off+tt.n]; !bytes.Equal(got, want) {
					t.Errorf("Fill(off=%d, len=%d) differs from the same range of a larger Fill",
						base+int64(tt.off), tt.n)
				}
			})
		}
	}
}

func TestFillRandomRangesAndSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	g := New(r.Uint64())
	for i := range 300 {
		s := r.Uint64()
		base := r.Int64N(1 << 50)
		whole := fill(g, s, base, 1+r.IntN(64<<10))

		off := r.IntN(len(whole))
		n := r.IntN(len(whole) - off + 1)
		if got := fill(g, s, base+int64(off), n); !bytes.Equal(got, whole[off:off+n]) {
			t.Fatalf("case %d: Fill(stream %#x, off %d, len %d) differs from a larger Fill", i, s, base+int64(off), n)
		}

		// The same window filled in random pieces, as a reader with
		// arbitrary buffer sizes would see it.
		pieces := make([]byte, len(whole))
		for at := 0; at < len(pieces); {
			k := min(len(pieces)-at, 1+r.IntN(9000))
			g.Fill(pieces[at:at+k], s, base+int64(at))
			at += k
		}
		if !bytes.Equal(pieces, whole) {
			t.Fatalf("case %d: window filled piecewise differs from one Fill", i)
		}
	}
}

// TestXorWordsMatchesGeneric keeps the assembly (where there is one) honest
// against the portable loop: both must produce the same bytes for every
// length and destination alignment.
func TestXorWordsMatchesGeneric(t *testing.T) {
	g := New(9)
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 600 {
		for _, align := range []int{0, 1, 3, 8, 31} {
			w := r.Uint64()
			src := g.pool[r.IntN(starts):]
			got := make([]byte, align+n*8+8)
			want := make([]byte, len(got))
			xorWords(got[align:align+n*8], src, w)
			xorWordsGeneric(want[align:align+n*8], src, w)
			if !bytes.Equal(got, want) {
				t.Fatalf("xorWords(%d words, alignment %d) differs from xorWordsGeneric", n, align)
			}
		}
	}
}

func TestBlocksUniqueAcrossDataset(t *testing.T) {
	// 256 files of 256 blocks each from one dataset, plus the same indexes
	// of a second dataset and a seed's worth of far-away offsets: 196,608
	// blocks. A repeat would mean deduplicating storage could shrink the
	// dataset.
	type origin struct {
		dataset string
		index   int64
		off     int64
	}
	g := New(1)
	seeds := maphash.MakeSeed()
	seen := make(map[uint64]origin)
	buf := make([]byte, 256*BlockSize)
	for _, ds := range []struct {
		name string
		base int64
	}{{"train", 0}, {"valid", 0}, {"train", 1 << 40}} {
		for i := range int64(256) {
			s := Stream(ds.name, i)
			g.Fill(buf, s, ds.base)
			for b := range 256 {
				blk := buf[b*BlockSize : (b+1)*BlockSize]
				h := maphash.Bytes(seeds, blk)
				here := origin{ds.name, i, ds.base + int64(b*BlockSize)}
				if prev, dup := seen[h]; dup {
					t.Fatalf("block at %+v repeats block at %+v", here, prev)
				}
				seen[h] = here
			}
		}
	}
}

func TestIncompressible(t *testing.T) {
	g := New(5)
	// One stream end to end, then blocks of many streams interleaved: the
	// streams share one pool, so a compressor that could see through the
	// per-block XOR would find matches between neighbouring blocks here.
	one := fill(g, Stream("train", 0), 0, 4<<20)
	var mixed []byte
	for b := range int64(64) {
		for i := range int64(16) {
			mixed = append(mixed, fill(g, Stream("train", i), b*BlockSize, BlockSize)...)
		}
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"one stream", one}, {"interleaved streams", mixed}} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			zw, err := flate.NewWriter(&out, flate.BestCompression)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := zw.Write(tt.data); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if ratio := float64(out.Len()) / float64(len(tt.data)); ratio < 0.99 {
				t.Errorf("flate shrank %d bytes to %d (%.4f); want at most 1%% saved", len(tt.data), out.Len(), ratio)
			}
		})
	}
}

func TestVerifyFindsFlippedByte(t *testing.T) {
	g := New(77)
	s := Stream("valid", 12)
	tests := []struct {
		name string
		off  int64
		n    int
		at   int // index in p of the flipped byte
	}{
		{"first byte", 0, 4096, 0},
		{"last byte", 0, 4096, 4095},
		{"unaligned head", 5, 100, 1},
		{"unaligned tail", 5, 100, 99},
		{"middle word", 0, 1 << 16, 30001},
		{"across block boundary", BlockSize - 3, 10, 4},
		{"single byte", 1 << 33, 1, 0},
		{"far offset", 1<<45 + 3, 9000, 8999},
	}
	for _, tt := range tests {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			t.Run(fmt.Sprintf("%s/mask%#x", tt.name, mask), func(t *testing.T) {
				p := fill(g, s, tt.off, tt.n)
				if bad, ok := g.Verify(p, s, tt.off); !ok || bad != -1 {
					t.Fatalf("Verify of intact content = (%d, %v), want (-1, true)", bad, ok)
				}
				p[tt.at] ^= mask
				bad, ok := g.Verify(p, s, tt.off)
				if want := tt.off + int64(tt.at); ok || bad != want {
					t.Errorf("Verify = (%d, %v), want (%d, false)", bad, ok, want)
				}
			})
		}
	}

	// Every position of a range with unaligned ends that spans a block
	// boundary, so each code path of Verify is hit at each byte lane.
	const off, n = 2*BlockSize - 21, 300
	p := fill(g, s, off, n)
	for i := range p {
		p[i] ^= 0x10
		if bad, ok := g.Verify(p, s, off); ok || bad != off+int64(i) {
			t.Fatalf("flip at %d: Verify = (%d, %v), want (%d, false)", off+int64(i), bad, ok, off+int64(i))
		}
		p[i] ^= 0x10
	}

	// Only the first wrong byte is reported.
	p[200] ^= 1
	p[100] ^= 1
	if bad, _ := g.Verify(p, s, off); bad != off+100 {
		t.Errorf("two flips: Verify reported %d, want the first, %d", bad, off+100)
	}
}

func TestDifferentSeedsAndStreamsDiffer(t *testing.T) {
	tests := []struct {
		name           string
		seedA, seedB   uint64
		streamA, strmB uint64
	}{
		{"seeds", 1, 2, Stream("train", 0), Stream("train", 0)},
		{"seed 0 vs 1<<63", 0, 1 << 63, 5, 5},
		{"neighbouring indexes", 1, 1, Stream("train", 0), Stream("train", 1)},
		{"same index, other dataset", 1, 1, Stream("train", 9), Stream("valid", 9)},
		{"streams 0 and 1", 1, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ga, gb := New(tt.seedA), New(tt.seedB)
			for _, off := range []int64{0, 3, BlockSize, 1 << 30} {
				a, b := fill(ga, tt.streamA, off, 2*BlockSize), fill(gb, tt.strmB, off, 2*BlockSize)
				// Unrelated content agrees in about 1 byte in 256; a
				// partial relation (a shared block, a shared word
				// pattern) shows up as far more agreement.
				same := 0
				for i := range a {
					if a[i] == b[i] {
						same++
					}
				}
				if same > 3*len(a)/256+16 {
					t.Errorf("offset %d: %d of %d bytes agree; want unrelated content", off, same, len(a))
				}
			}
		})
	}
}

func TestStreamDistinctWithinDataset(t *testing.T) {
	seen := make(map[uint64]int64)
	for i := range int64(1 << 18) {
		s := Stream("train", i)
		if j, dup := seen[s]; dup {
			t.Fatalf("Stream(train, %d) == Stream(train, %d)", i, j)
		}
		seen[s] = i
	}
	if Stream("train", 0) == Stream("", 0) || Stream("a", 1) == Stream("b", 1) {
		t.Error("datasets with different names share a stream")
	}
}

// TestGolden pins the content itself: datasets written by one version of
// mlps must verify under the next, so any change to the generator that
// alters bytes has to be deliberate (and change this digest).
func TestGolden(t *testing.T) {
	g := New(0x5eed)
	p := fill(g, Stream("train", 7), 12345, 3*BlockSize+17)
	sum := sha256.Sum256(p)
	const want = "10befbfe2ab01f75b6dacf460102a5925ebcc8f5916185dccea94d02679b7844"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("content digest = %s, want %s", got, want)
	}
}

func TestNoAllocations(t *testing.T) {
	g := New(1)
	p := make([]byte, 3*BlockSize+5)
	s := Stream("train", 1)
	if n := testing.AllocsPerRun(100, func() { g.Fill(p[1:], s, 7) }); n != 0 {
		t.Errorf("Fill allocates %.0f times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { g.Verify(p[1:], s, 7) }); n != 0 {
		t.Errorf("Verify allocates %.0f times per call", n)
	}
}

func TestNegativeOffsetPanics(t *testing.T) {
	for name, f := range map[string]func(g *Generator){
		"Fill":   func(g *Generator) { g.Fill(make([]byte, 1), 0, -1) },
		"Verify": func(g *Generator) { g.Verify(make([]byte, 1), 0, -1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic for a negative offset")
				}
			}()
			f(New(1))
		})
	}
}

// TestStoreModesAgree holds the cache-bypassing and cached block loops to
// the portable one at every destination alignment (the non-temporal loop
// takes a different path when blocks do not start on 32 bytes) and at
// offsets and lengths that cut blocks anywhere.
func TestStoreModesAgree(t *testing.T) {
	g := New(31)
	s := Stream("train", 5)
	tests := []struct {
		off int64
		n   int
	}{
		{0, 0}, {0, BlockSize}, {0, 3 * BlockSize}, {1, 3 * BlockSize},
		{BlockSize - 1, BlockSize + 2}, {13, 70*BlockSize + 77},
		{7 * BlockSize, 65 * BlockSize}, {1<<40 + 9, 2*BlockSize + 31},
		{5, 129 * BlockSize},
	}
	for _, tt := range tests {
		for _, align := range []int{0, 1, 7, 8, 16, 24, 31, 32, 33} {
			want := make([]byte, align+tt.n+64)
			g.fill(want[align:align+tt.n], s, tt.off, storeGeneric)
			for _, m := range []storeMode{storeCached, storeNT} {
				got := make([]byte, len(want))
				g.fill(got[align:align+tt.n], s, tt.off, m)
				if !bytes.Equal(got, want) {
					t.Errorf("mode %d, off %d, len %d, alignment %d: differs from the portable loop", m, tt.off, tt.n, align)
				}
			}
		}
	}
}

// FuzzFill compares every store mode with the portable loop on random
// seeds, streams, offsets, lengths and alignments; the bytes beyond the
// range must stay untouched.
func FuzzFill(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(0), uint16(4096), uint8(0))
	f.Add(uint64(3), uint64(4), uint64(4095), uint16(9000), uint8(5))
	f.Add(uint64(5), uint64(6), uint64(1<<40+3), uint16(65535), uint8(31))
	f.Fuzz(func(t *testing.T, seed, stream, off uint64, n uint16, align uint8) {
		g := New(seed)
		o := int64(off >> 2) // non-negative, far offsets included
		a := int(align % 64)
		want := make([]byte, a+int(n)+64)
		for i := range want {
			want[i] = 0xa5
		}
		got := bytes.Clone(want)
		g.fill(want[a:a+int(n)], stream, o, storeGeneric)
		for _, m := range []storeMode{storeCached, storeNT} {
			copy(got, bytes.Repeat([]byte{0xa5}, len(got)))
			g.fill(got[a:a+int(n)], stream, o, m)
			if !bytes.Equal(got, want) {
				t.Fatalf("mode %d (seed %d, stream %d, off %d, len %d, alignment %d) differs from the portable loop", m, seed, stream, o, n, a)
			}
		}
	})
}
