package tiers

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// show renders moves compactly: "w1@0" writes entry 1 to tier 0, "d1:0>1"
// demotes it from tier 0 to 1, "x1@2" deletes it from tier 2.
func show(ms []Move) string {
	var s []string
	for _, m := range ms {
		switch m.Kind {
		case Write:
			s = append(s, fmt.Sprintf("w%d@%d", m.Entry, m.To))
		case Demote:
			s = append(s, fmt.Sprintf("d%d:%d>%d", m.Entry, m.From, m.To))
		case Delete:
			s = append(s, fmt.Sprintf("x%d@%d", m.Entry, m.From))
		}
	}
	return strings.Join(s, " ")
}

// step is one call on the cache: a Put of bytes (get false) or a Get.
type step struct {
	id    uint64
	bytes int64
	get   bool
	want  string // the moves, for a Put; the tier, for a Get
}

func TestPlacement(t *testing.T) {
	gpu, cpu := Tier{"gpu", 1000}, Tier{"cpu", 1000}
	for _, tc := range []struct {
		name  string
		tiers []Tier
		steps []step
		// lru is each tier's entries at the end, least recently used first.
		lru [][]uint64
	}{
		{
			name:  "the fastest tier fills to 80% and then demotes its least recently used",
			tiers: []Tier{gpu, cpu, {"storage", 0}},
			steps: []step{
				{id: 1, bytes: 300, want: "w1@0"},
				{id: 2, bytes: 300, want: "w2@0"},
				{id: 3, bytes: 300, want: "d1:0>1 w3@0"}, // 900 > 800
				{id: 2, get: true, want: "0"},
				{id: 4, bytes: 300, want: "d3:0>1 w4@0"}, // 3, not 2, which was read
				{id: 1, get: true, want: "1"},            // read where it is: no promotion
			},
			lru: [][]uint64{{2, 4}, {3, 1}, {}},
		},
		{
			name:  "a full middle tier makes room below before it takes a demoted entry",
			tiers: []Tier{gpu, {"cpu", 500}, {"storage", 0}},
			steps: []step{
				{id: 1, bytes: 400, want: "w1@0"},
				{id: 2, bytes: 400, want: "w2@0"},
				{id: 3, bytes: 400, want: "d1:0>1 w3@0"},
				{id: 4, bytes: 400, want: "d1:1>2 d2:0>1 w4@0"},
			},
			lru: [][]uint64{{3, 4}, {2}, {1}},
		},
		{
			name:  "an entry above 95% of a tier skips it",
			tiers: []Tier{gpu, {"cpu", 4000}, {"storage", 0}},
			steps: []step{
				{id: 1, bytes: 951, want: "w1@1"},
				{id: 2, bytes: 950, want: "w2@0"}, // alone, it may pass the 80% mark
				{id: 3, bytes: 10, want: "d2:0>1 w3@0"},
			},
			lru: [][]uint64{{3}, {1, 2}, {}},
		},
		{
			name:  "a disabled tier takes nothing",
			tiers: []Tier{{"gpu", 0}, {"cpu", 0}, {"storage", 0}},
			steps: []step{
				{id: 1, bytes: 1 << 40, want: "w1@2"},
				{id: 1, get: true, want: "2"},
			},
			lru: [][]uint64{{}, {}, {1}},
		},
		{
			name:  "the storage tier deletes its least recently used at its capacity",
			tiers: []Tier{{"gpu", 0}, {"cpu", 0}, {"storage", 1000}},
			steps: []step{
				{id: 1, bytes: 400, want: "w1@2"},
				{id: 2, bytes: 400, want: "w2@2"},
				{id: 1, get: true, want: "2"},
				{id: 3, bytes: 400, want: "x2@2 w3@2"},
				{id: 2, get: true, want: "-1"},
				{id: 4, bytes: 1000, want: "x1@2 x3@2 w4@2"},
			},
			lru: [][]uint64{{}, {}, {4}},
		},
		{
			name:  "an entry no tier below takes leaves the cache from where it is",
			tiers: []Tier{{"gpu", 1000}, {"storage", 500}},
			steps: []step{
				{id: 1, bytes: 700, want: "w1@0"},
				{id: 2, bytes: 200, want: "x1@0 w2@0"},
			},
			lru: [][]uint64{{2}, {}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.tiers)
			if err != nil {
				t.Fatal(err)
			}
			for k, s := range tc.steps {
				if s.get {
					tier, _, _ := c.Get(s.id)
					if got := fmt.Sprint(tier); got != s.want {
						t.Errorf("step %d: entry %d in tier %s, want %s", k, s.id, got, s.want)
					}
					continue
				}
				ms, err := c.Put(s.id, s.bytes, nil)
				if err != nil {
					t.Fatalf("step %d: %v", k, err)
				}
				if got := show(ms); got != s.want {
					t.Errorf("step %d: put %d (%d bytes): moves %q, want %q", k, s.id, s.bytes, got, s.want)
				}
			}
			for i, want := range tc.lru {
				if got := c.LRU(i); !slices.Equal(got, want) {
					t.Errorf("tier %d holds %v, least recent first; want %v", i, got, want)
				}
			}
		})
	}
}

func TestPutRefuses(t *testing.T) {
	c, err := New([]Tier{{"gpu", 100}, {"storage", 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(1, 10, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    uint64
		bytes int64
		want  string
	}{
		{1, 10, "entry 1 is already cached"},
		{2, 0, "entry 2 of 0 bytes; want at least 1"},
		{3, 1001, "entry 3 of 1001 bytes is larger than the storage tier's 1000"},
	} {
		ms, err := c.Put(tc.id, tc.bytes, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(ms) != 0 {
			t.Errorf("Put(%d, %d) = %v, %v; want no moves and an error with %q", tc.id, tc.bytes, show(ms), err, tc.want)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New with no tiers: no error")
	}
	if _, err := New([]Tier{{"storage", -1}}); err == nil {
		t.Error("New with a negative limit: no error")
	}
}

// TestAccounts replays many random puts and gets, carrying out every move
// on a model of the tiers as the caller would: each move must be possible
// where it happens (the entry is in From, not yet in To), no tier may
// hold more than its limit after any move, and the model must end equal
// to the cache, whose tiers hold what was written less what was deleted.
func TestAccounts(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		ts := []Tier{{"gpu", r.Int64N(5000)}, {"cpu", r.Int64N(20000)}, {"storage", r.Int64N(200000)}}
		if seed%3 == 0 {
			ts[2].Limit = 0
		}
		c, err := New(ts)
		if err != nil {
			t.Fatal(err)
		}
		model := make([]map[uint64]int64, len(ts))
		for i := range model {
			model[i] = map[uint64]int64{}
		}
		used := func(i int) (n int64) {
			for _, b := range model[i] {
				n += b
			}
			return n
		}
		var ids []uint64
		for k := range 3000 {
			if len(ids) > 0 && r.IntN(3) == 0 {
				c.Get(ids[r.IntN(len(ids))])
				continue
			}
			id, n := uint64(k), 1+r.Int64N(2000)
			ms, err := c.Put(id, n, nil)
			if err != nil {
				if ts[2].Limit != 0 && n > ts[2].Limit {
					continue
				}
				t.Fatalf("seed %d: put %d (%d bytes): %v", seed, id, n, err)
			}
			ids = append(ids, id)
			for _, m := range ms {
				switch m.Kind {
				case Write:
					model[m.To][m.Entry] = m.Bytes
				case Demote:
					if model[m.From][m.Entry] != m.Bytes || m.To <= m.From {
						t.Fatalf("seed %d: %s: entry not in tier %d, or not moving down", seed, show([]Move{m}), m.From)
					}
					delete(model[m.From], m.Entry)
					model[m.To][m.Entry] = m.Bytes
				case Delete:
					if model[m.From][m.Entry] != m.Bytes {
						t.Fatalf("seed %d: %s: entry not in tier %d", seed, show([]Move{m}), m.From)
					}
					delete(model[m.From], m.Entry)
				}
				for i, tr := range ts {
					if tr.Limit > 0 && used(i) > tr.Limit {
						t.Fatalf("seed %d: after %s tier %s holds %d bytes, over its %d", seed, show([]Move{m}), tr.Name, used(i), tr.Limit)
					}
				}
			}
		}
		var total int64
		for i := range ts {
			if used(i) != c.Used(i) || len(model[i]) != c.Entries(i) {
				t.Fatalf("seed %d: tier %d: the moves leave %d bytes in %d entries, the cache counts %d in %d",
					seed, i, used(i), len(model[i]), c.Used(i), c.Entries(i))
			}
			for _, id := range c.LRU(i) {
				if _, ok := model[i][id]; !ok || c.Where(id) != i {
					t.Fatalf("seed %d: tier %d lists entry %d that the moves put elsewhere", seed, i, id)
				}
			}
			total += c.Used(i)
		}
		if total != c.Written()-c.Deleted() {
			t.Fatalf("seed %d: the tiers hold %d bytes; %d written less %d deleted is %d", seed, total, c.Written(), c.Deleted(), c.Written()-c.Deleted())
		}
	}
}
