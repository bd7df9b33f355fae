package generate

import (
	"sync"
	"testing"
)

// Every file is claimed exactly once, however many workers claim at once;
// until it begins to help the others, a worker creates only in folders of
// its own (when there are at least as many folders as workers), in file
// order.
func TestDeal(t *testing.T) {
	for _, tc := range []struct{ workers, files, folders int64 }{
		{1, 1, 1}, {1, 10, 1}, {8, 8, 8}, {8, 12000, 8}, {8, 12001, 8},
		{8, 12000, 118}, {8, 1000, 118}, {8, 100, 118}, {8, 5, 118}, {3, 100, 7},
		{8, 1000, 1}, {8, 1000, 3}, {7, 5, 1},
	} {
		claim := deal(tc.workers, tc.files, tc.folders)
		seen := make([]int, tc.files)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range tc.workers {
			wg.Go(func() {
				helping, last := false, int64(-1)
				for {
					i, ok := claim(w)
					if !ok {
						return
					}
					mu.Lock()
					seen[i]++
					mu.Unlock()
					own := i%tc.workers == w
					if tc.folders >= tc.workers {
						own = i%tc.folders%tc.workers == w
					}
					switch {
					case !own:
						helping = true
					case helping:
						t.Errorf("%+v: worker %d took its own file %d after helping the others", tc, w, i)
					case i <= last:
						t.Errorf("%+v: worker %d took file %d after %d", tc, w, i, last)
					default:
						last = i
					}
				}
			})
		}
		wg.Wait()
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("%+v: file %d claimed %d times", tc, i, n)
			}
		}
	}
}
