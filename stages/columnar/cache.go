package columnar

import (
	"container/list"
	"sync"
)

// footerCache keeps decoded footers between queries, at most limit bytes
// of them (as their MemoryBytes count), the least recently used leaving
// first. A file's footer is read once while it stays: queries that want
// a footer being read wait for that read instead of making their own.
// A footer larger than the whole cache is read for every query that
// wants it. Memory is limit, plus one footer a worker in flight.
type footerCache struct {
	limit int64

	mu     sync.Mutex
	used   int64
	lru    list.List // of *footer, most recent first
	byFile map[int64]*footer
}

// footer is one file's footer as the queries use it: what the
// projection and the predicate select in it.
type footer struct {
	file  int64
	open  *openFile
	bytes int64 // what it holds in memory

	elem  *list.Element // in the LRU list, nil while loading or when not kept
	ready chan struct{} // closed once loaded
	err   error
}

func newFooterCache(limit int64) *footerCache {
	return &footerCache{limit: limit, byFile: map[int64]*footer{}}
}

// get returns file's footer, from the cache (hit) or by load, which
// returns it with the bytes it holds in memory. Without a cache every
// get loads.
func (c *footerCache) get(file int64, load func() (*openFile, int64, error)) (of *openFile, hit bool, err error) {
	if c.limit <= 0 {
		of, _, err := load()
		return of, false, err
	}
	c.mu.Lock()
	if f, ok := c.byFile[file]; ok {
		if f.elem != nil {
			c.lru.MoveToFront(f.elem)
		}
		c.mu.Unlock()
		<-f.ready
		return f.open, true, f.err
	}
	f := &footer{file: file, ready: make(chan struct{})}
	c.byFile[file] = f
	c.mu.Unlock()

	f.open, f.bytes, f.err = load()

	c.mu.Lock()
	if f.err != nil || f.bytes > c.limit {
		// A failed read is not remembered: the next query tries again.
		delete(c.byFile, file)
	} else {
		f.elem = c.lru.PushFront(f)
		c.used += f.bytes
		for c.used > c.limit {
			old := c.lru.Remove(c.lru.Back()).(*footer)
			old.elem = nil
			delete(c.byFile, old.file)
			c.used -= old.bytes
		}
	}
	c.mu.Unlock()
	close(f.ready)
	return f.open, false, f.err
}

// held returns the number of footers kept and their bytes.
func (c *footerCache) held() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}
