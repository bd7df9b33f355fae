package generate

import (
	"sync"
	"testing"
)

// Every file is claimed exactly once, however many workers claim at once;
// a worker takes its own stride first, so with as many workers as folders
// it stays in one folder until its stride is done.
func TestStrides(t *testing.T) {
	for _, tc := range []struct{ workers, files int64 }{
		{1, 1}, {1, 10}, {8, 8}, {8, 12000}, {8, 12001}, {3, 100}, {7, 5},
	} {
		claim := strides(tc.workers, tc.files)
		seen := make([]int, tc.files)
		// early[w] counts the files of its own stride that worker w took
		// after it had begun to help the others.
		early := make([]int, tc.workers)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range tc.workers {
			wg.Go(func() {
				strideDone := false
				for {
					i, ok := claim(w)
					if !ok {
						return
					}
					mu.Lock()
					seen[i]++
					if i%tc.workers != w {
						strideDone = true
					} else if strideDone {
						early[w]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("%d workers, %d files: file %d claimed %d times", tc.workers, tc.files, i, n)
			}
		}
		for w, n := range early {
			if n != 0 {
				t.Errorf("%d workers, %d files: worker %d went back to its own stride %d times after helping another", tc.workers, tc.files, w, n)
			}
		}
	}
}
