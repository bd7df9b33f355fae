package kvcache

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"mlps.dev/mlps/backends"
)

// TestTierAccounts writes and reads entries through a rank with all three
// tiers on mem:// and checks, after every write, that each tier holds no
// more than its limit and exactly the bytes the cache says, that the
// target holds exactly the storage tier's entries, whole, and that the
// tiers together hold what was written less what was deleted.
func TestTierAccounts(t *testing.T) {
	r, b, meter := newTestRank(t, Spec{GPUBytes: 256 << 10, CPUBytes: 512 << 10, StorageBytes: 2 << 20, Verify: true})
	ctx := context.Background()
	w := &worker{rec: meter.Worker(), buf: make([]byte, 16<<10)}
	rng := rand.New(rand.NewPCG(9, 9))
	var ids []uint64
	gone := map[uint64]bool{}
	for i := range 200 {
		id, _, err := r.write(ctx, w, int64(50+rng.IntN(400))*bpt)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		// Reads of earlier entries, as later turns make.
		for range 2 {
			if _, err := r.read(ctx, w, ids[rng.IntN(len(ids))], true); err != nil {
				t.Fatal(err)
			}
		}
		used := make([]int64, len(r.io))
		for _, e := range r.entries {
			if e.loc < 0 {
				t.Fatalf("write %d: entry %d is cached but has no bytes", i, e.id)
			}
			if e.loc != int(e.want.Load()) {
				t.Fatalf("write %d: entry %d is in tier %d, the cache has it in %d", i, e.id, e.loc, e.want.Load())
			}
			used[e.loc] += e.bytes
			if r.io[e.loc].storage {
				info, err := b.Stat(ctx, r.name(e.id))
				if err != nil || info.Size != e.bytes {
					t.Fatalf("write %d: entry %d of %d bytes on the target: %+v, %v", i, e.id, e.bytes, info, err)
				}
			} else if int64(len(e.mem)) != e.bytes {
				t.Fatalf("write %d: entry %d holds %d bytes in tier %s, want %d", i, e.id, len(e.mem), r.io[e.loc].name, e.bytes)
			}
		}
		var total int64
		for j, ti := range r.io {
			if used[j] != r.cache.Used(j) {
				t.Fatalf("write %d: tier %s holds %d bytes, the cache says %d", i, ti.name, used[j], r.cache.Used(j))
			}
			if used[j] > ti.limit {
				t.Fatalf("write %d: tier %s holds %d bytes, above its limit %d", i, ti.name, used[j], ti.limit)
			}
			total += used[j]
		}
		if want := r.cache.Written() - r.cache.Deleted(); total != want {
			t.Fatalf("write %d: the tiers hold %d bytes, written - deleted is %d", i, total, want)
		}
		for _, id := range ids {
			if _, ok := r.entries[id]; !ok && !gone[id] {
				gone[id] = true
				if _, err := b.Stat(ctx, r.name(id)); !backends.IsNotExist(err) {
					t.Fatalf("write %d: entry %d left the cache, but the target still has it (%v)", i, id, err)
				}
			}
		}
	}
	if len(gone) == 0 || r.io[0].st.demotedOut.Load() == 0 || r.io[1].st.demotedOut.Load() == 0 {
		t.Fatalf("%d entries deleted, %d and %d demoted: the test did not fill the tiers", len(gone), r.io[0].st.demotedOut.Load(), r.io[1].st.demotedOut.Load())
	}
	if err := r.cleanup(ctx, w.rec); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := b.Stat(ctx, r.name(id)); !backends.IsNotExist(err) {
			t.Fatalf("after cleanup, entry %d is still on the target (%v)", id, err)
		}
	}
}

// TestEvictionOrder: the storage tier deletes its least recently used
// entry first, and a read makes an entry the most recently used: the one
// entry read after every write outlives all the others written before it.
func TestEvictionOrder(t *testing.T) {
	const size = 100 * bpt
	r, _, meter := newTestRank(t, Spec{StorageBytes: 10 * size})
	ctx := context.Background()
	w := &worker{rec: meter.Worker(), buf: make([]byte, 16<<10)}
	var ids []uint64
	for range 30 {
		id, _, err := r.write(ctx, w, size)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if _, err := r.read(ctx, w, ids[0], true); err != nil {
			t.Fatal(err)
		}
	}
	var held []uint64
	for _, id := range ids {
		if _, ok := r.entries[id]; ok {
			held = append(held, id)
		}
	}
	// The first entry and the last nine.
	want := append([]uint64{ids[0]}, ids[len(ids)-9:]...)
	if !slices.Equal(held, want) {
		t.Errorf("the tier holds %v, want %v", held, want)
	}
	if hits, misses := r.stats.hits.Load(), r.stats.misses.Load(); hits != 30 || misses != 0 {
		t.Errorf("%d hits and %d misses reading the first entry, want 30 and 0", hits, misses)
	}
}
