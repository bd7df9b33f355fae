package columnar

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestFooterCache: footers are kept within the bound, the least recently
// used leaving first; one larger than the bound, or whose read failed, is
// not kept; with no bound every get reads.
func TestFooterCache(t *testing.T) {
	errRead := errors.New("read failed")
	type get struct {
		file  int64
		bytes int64 // what loading it gives
		fail  bool
		hit   bool // expected
	}
	for _, tt := range []struct {
		name  string
		limit int64
		gets  []get
		held  int
		used  int64
	}{
		{"kept", 100, []get{{1, 40, false, false}, {1, 40, false, true}, {2, 40, false, false}, {1, 40, false, true}}, 2, 80},
		// 3 evicts the least recently used, which is 2 (1 was used after it).
		{"evicts the oldest", 100, []get{{1, 40, false, false}, {2, 40, false, false}, {1, 40, false, true},
			{3, 40, false, false}, {1, 40, false, true}, {2, 40, false, false}}, 2, 80},
		{"too big", 100, []get{{1, 101, false, false}, {1, 101, false, false}}, 0, 0},
		{"failed", 100, []get{{1, 10, true, false}, {1, 10, false, false}, {1, 10, false, true}}, 1, 10},
		{"no cache", 0, []get{{1, 10, false, false}, {1, 10, false, false}}, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newFooterCache(tt.limit)
			for i, g := range tt.gets {
				loaded := false
				_, hit, err := c.get(g.file, func() (*openFile, int64, error) {
					loaded = true
					if g.fail {
						return nil, 0, errRead
					}
					return &openFile{}, g.bytes, nil
				})
				if hit != g.hit || loaded == hit || (err != nil) != g.fail {
					t.Fatalf("get %d of file %d: hit %v (loaded %v), error %v; want hit %v", i, g.file, hit, loaded, err, g.hit)
				}
			}
			if n, used := c.held(); n != tt.held || used != tt.used {
				t.Errorf("holds %d footers of %d bytes, want %d of %d", n, used, tt.held, tt.used)
			}
		})
	}
}

// Queries that want a footer being read wait for that read: a file's
// footer is read once however many ask for it at once.
func TestFooterCacheReadsOnce(t *testing.T) {
	c := newFooterCache(1 << 20)
	var loads, hits atomic.Int64
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			of, hit, err := c.get(7, func() (*openFile, int64, error) {
				loads.Add(1)
				<-release
				return &openFile{pred: 7}, 10, nil
			})
			if err != nil || of.pred != 7 {
				t.Errorf("get: %v, %+v", err, of)
			}
			if hit {
				hits.Add(1)
			}
		})
	}
	close(release)
	wg.Wait()
	if loads.Load() != 1 || hits.Load() != 7 {
		t.Errorf("%d loads and %d hits for 8 gets at once", loads.Load(), hits.Load())
	}
}
