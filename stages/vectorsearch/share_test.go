package vectorsearch

import "testing"

// However a stage's workers are split into processes' runs of workers,
// the processes' query numbers are apart and together those of one
// process running every worker: the first n of them are exactly 0..n-1,
// each process asking its part of them before any later number, and one
// process alone numbers its queries 0, 1, 2, ...
func TestQueryShare(t *testing.T) {
	for all := int64(1); all <= 6; all++ {
		// Each subset of the gaps between workers cuts them into one
		// split: every split of all workers into processes, in order.
		for cuts := 0; cuts < 1<<(all-1); cuts++ {
			var shares []queryShare
			first := int64(0)
			for w := int64(1); w <= all; w++ {
				if w == all || cuts&(1<<(w-1)) != 0 {
					shares = append(shares, queryShare{first: first, count: w - first, all: all})
					first = w
				}
			}
			for n := int64(0); n <= 3*all+2; n++ {
				seen := make([]int, n)
				for _, s := range shares {
					c := s.of(n)
					// The numbers a timed run goes on to ask after its
					// first c are past n.
					for i := range c + 2*s.count {
						j := s.number(i)
						switch {
						case i < c && (j < 0 || j >= n):
							t.Fatalf("%d workers split %v: query %d of %+v is number %d, not below %d", all, shares, i, s, j, n)
						case i < c:
							seen[j]++
						case j < n:
							t.Fatalf("%d workers split %v: query %d of %+v, past its %d of %d, is number %d", all, shares, i, s, c, n, j)
						}
					}
				}
				for j, k := range seen {
					if k != 1 {
						t.Fatalf("%d workers split %v: number %d of %d asked %d times", all, shares, j, n, k)
					}
				}
			}
		}
	}
	one := queryShare{count: 4, all: 4}
	for i := range int64(20) {
		if j := one.number(i); j != i {
			t.Fatalf("one process: query %d is number %d", i, j)
		}
	}
	if c := one.of(1000); c != 1000 {
		t.Fatalf("one process asks %d of 1000 queries", c)
	}
}
