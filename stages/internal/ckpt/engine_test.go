package ckpt

import (
	"context"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/mem"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/measure"
)

func TestPoolSize(t *testing.T) {
	for _, tc := range []struct {
		ranks  int64
		chunks int
		loads  bool
		want   int
	}{
		{8, 64, false, 16}, // saves: the filler's chunk and the writer's
		{8, 64, true, 32},  // loads: four ranged reads in flight
		{8, 10, false, 10}, // chunks bounds both
		{8, 10, true, 10},
		{1, 64, false, 2},
		{100, 64, true, 64},
	} {
		s := &Set{Ranks: tc.ranks}
		if got := s.PoolSize(tc.chunks, tc.loads); got != tc.want {
			t.Errorf("%d ranks, %d chunks, loads %v: pool of %d, want %d", tc.ranks, tc.chunks, tc.loads, got, tc.want)
		}
	}
}

// A saving rank holds no more than saveDepth chunks however many the pool
// has free, and what it saves loads back verified.
func TestSaveHoldsTwoChunksPerRank(t *testing.T) {
	ctx := context.Background()
	b, err := backends.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const chunk = 4096
	files := []File{{Name: "model", Tensors: []Tensor{{"w", 10*chunk + 17}}}, {Name: "optim", Tensors: []Tensor{{"m", 3 * chunk}}}}
	s := &Set{Target: "t", Path: "ck", Ranks: 1, RankFiles: func(int64) []File { return files }, ChunkBytes: chunk, Verify: true}
	gen := content.New(1)
	pool := NewPool(16, chunk, false)
	meter := measure.NewMeter("c")
	_, pr, err := s.Run(ctx, meter, b, pool, gen, "save", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(13*chunk + 17); pr.Bytes != want {
		t.Fatalf("saved %d bytes, want %d", pr.Bytes, want)
	}
	if got := pool.peak.Load(); got > saveDepth {
		t.Errorf("the saving rank held %d chunks at once, want at most %d", got, saveDepth)
	}
	if _, _, err := s.Run(ctx, meter, b, pool, gen, "load", 1); err != nil {
		t.Fatalf("loading what was saved: %v", err)
	}
	if out := cap(pool.free) - len(pool.free); out != 0 {
		t.Errorf("%d chunks not put back", out)
	}
}
