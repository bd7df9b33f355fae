// Package tiers decides where the KV cache's entries live: a stack of
// capacity-limited tiers, fastest first (accelerator memory, host memory,
// then storage), as MLPerf Storage's KV-cache benchmark places them. A new
// entry goes to the fastest tier that takes it; a tier that has no room
// demotes its least-recently-used entries one tier down (the waterfall),
// and the last tier deletes its own. A read never promotes an entry back
// up: every later read of a demoted entry goes to the slower tier, which
// is what the benchmark is about.
//
// The package decides and accounts; it moves no bytes. Put returns the
// moves in the order the caller must carry them out, so that a tier never
// holds more than its limit at any step.
package tiers

import (
	"container/list"
	"errors"
	"fmt"
)

// Fill is the share of a non-final tier's limit it fills to before it
// demotes: past it, entries move down until the tier is back under it (or
// holds only the entry being placed).
const Fill = 0.80

// Large is the share of a non-final tier's limit above which an entry
// skips the tier altogether.
const Large = 0.95

// Tier is one level of the stack.
type Tier struct {
	// Name says what the tier is ("gpu", "cpu", "storage"): errors and
	// metrics name it.
	Name string
	// Limit is the tier's capacity in bytes. 0 disables a non-final tier;
	// for the last tier (storage) it is the bytes it may hold, and 0 means
	// no limit.
	Limit int64
}

// Kind is what a Move does.
type Kind uint8

const (
	// Write stores a new entry in tier To.
	Write Kind = iota
	// Demote moves an entry from tier From to tier To (further down):
	// read it from From, write it to To, then remove it from From.
	Demote
	// Delete removes an entry from tier From: it leaves the cache. From
	// is the last tier, or a faster one when no tier below takes the
	// entry (a storage limit below the entry's size).
	Delete
)

func (k Kind) String() string {
	switch k {
	case Write:
		return "write"
	case Demote:
		return "demote"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Move is one step of placing an entry.
type Move struct {
	Kind  Kind
	Entry uint64
	Bytes int64
	// From and To are tier indexes; From is -1 for a Write, To is -1 for
	// a Delete.
	From, To int
}

// entry is a cached entry: its size and where it sits.
type entry struct {
	id    uint64
	bytes int64
	tier  int
	elem  *list.Element // in its tier's LRU list; Value is *entry
}

type tier struct {
	Tier
	used int64
	// lru holds the tier's entries, most recently used at the front.
	lru list.List
}

// Cache is the placement of entries in tiers. It is not safe for
// concurrent use: the caller serialises decisions (they take
// microseconds) and carries out the moves they return outside its lock.
type Cache struct {
	tiers   []*tier
	entries map[uint64]*entry
	// written and deleted count the bytes that entered the cache and the
	// bytes the last tier deleted.
	written, deleted int64
}

// New returns an empty cache over ts, fastest first; the last is the
// storage tier. At least one tier is needed, the last enabled.
func New(ts []Tier) (*Cache, error) {
	if len(ts) == 0 {
		return nil, errors.New("tiers: no tiers")
	}
	c := &Cache{entries: map[uint64]*entry{}}
	for i, t := range ts {
		if t.Limit < 0 {
			return nil, fmt.Errorf("tiers: tier %s has a limit of %d bytes; want 0 or more", t.Name, t.Limit)
		}
		c.tiers = append(c.tiers, &tier{Tier: ts[i]})
	}
	return c, nil
}

// last is the index of the storage tier.
func (c *Cache) last() int { return len(c.tiers) - 1 }

// takes reports whether tier i would ever hold an entry of n bytes.
func (c *Cache) takes(i int, n int64) bool {
	t := c.tiers[i]
	if i == c.last() {
		return t.Limit == 0 || n <= t.Limit
	}
	return t.Limit > 0 && float64(n) <= Large*float64(t.Limit)
}

// full reports whether tier i, a non-final one, must demote before it
// takes n more bytes: it holds something, and would pass its fill mark.
func (c *Cache) full(i int, n int64) bool {
	t := c.tiers[i]
	return t.lru.Len() > 0 && float64(t.used+n) > Fill*float64(t.Limit)
}

// Put places a new entry of n bytes under id and returns the moves that
// do it, in order: the demotions and deletions that make room, deepest
// first, then the write. An id already cached is an error, as is an entry
// no tier takes.
func (c *Cache) Put(id uint64, n int64, moves []Move) ([]Move, error) {
	if _, ok := c.entries[id]; ok {
		return moves, fmt.Errorf("tiers: entry %d is already cached", id)
	}
	if n <= 0 {
		return moves, fmt.Errorf("tiers: entry %d of %d bytes; want at least 1", id, n)
	}
	i := c.first(0, n)
	if i < 0 {
		t := c.tiers[c.last()]
		return moves, fmt.Errorf("tiers: entry %d of %d bytes is larger than the %s tier's %d", id, n, t.Name, t.Limit)
	}
	e := &entry{id: id, bytes: n}
	moves = c.place(e, i, moves)
	moves = append(moves, Move{Kind: Write, Entry: id, Bytes: n, From: -1, To: e.tier})
	c.written += n
	return moves, nil
}

// first is the first tier from i down that takes n bytes, or -1.
func (c *Cache) first(i int, n int64) int {
	for ; i < len(c.tiers); i++ {
		if c.takes(i, n) {
			return i
		}
	}
	return -1
}

// place makes room for e in tier i, which takes it, and records it there
// as the most recently used, appending the moves that made room.
func (c *Cache) place(e *entry, i int, moves []Move) []Move {
	t := c.tiers[i]
	if i == c.last() {
		for t.Limit > 0 && t.used+e.bytes > t.Limit {
			v := t.lru.Back().Value.(*entry)
			c.remove(v)
			c.deleted += v.bytes
			delete(c.entries, v.id)
			moves = append(moves, Move{Kind: Delete, Entry: v.id, Bytes: v.bytes, From: i, To: -1})
		}
	} else {
		for c.full(i, e.bytes) {
			v := t.lru.Back().Value.(*entry)
			// The next tier that takes v; the last one takes whatever a
			// faster tier took, unless its limit is below this one's.
			j := c.first(i+1, v.bytes)
			if j < 0 {
				// Nowhere to go: it leaves the cache from here.
				c.remove(v)
				c.deleted += v.bytes
				delete(c.entries, v.id)
				moves = append(moves, Move{Kind: Delete, Entry: v.id, Bytes: v.bytes, From: i, To: -1})
				continue
			}
			// Room below first, so that the demoted bytes are never in two
			// tiers' accounts at once beyond what each allows.
			c.remove(v)
			moves = c.place(v, j, moves)
			moves = append(moves, Move{Kind: Demote, Entry: v.id, Bytes: v.bytes, From: i, To: j})
		}
	}
	e.tier = i
	e.elem = t.lru.PushFront(e)
	t.used += e.bytes
	c.entries[e.id] = e
	return moves
}

// remove takes e out of its tier's accounts.
func (c *Cache) remove(e *entry) {
	t := c.tiers[e.tier]
	t.lru.Remove(e.elem)
	t.used -= e.bytes
	e.elem = nil
}

// Get records a read of id and returns the tier it is in: the entry
// becomes the most recently used of that tier and stays there. ok is
// false when the cache no longer holds it.
func (c *Cache) Get(id uint64) (tier int, bytes int64, ok bool) {
	e, ok := c.entries[id]
	if !ok {
		return -1, 0, false
	}
	c.tiers[e.tier].lru.MoveToFront(e.elem)
	return e.tier, e.bytes, true
}

// Where is the tier id is in, without counting a use; -1 when not cached.
func (c *Cache) Where(id uint64) int {
	if e, ok := c.entries[id]; ok {
		return e.tier
	}
	return -1
}

// Used is the bytes tier i holds.
func (c *Cache) Used(i int) int64 { return c.tiers[i].used }

// Entries is the number of entries tier i holds.
func (c *Cache) Entries(i int) int { return c.tiers[i].lru.Len() }

// Written is the bytes of every entry Put placed; Deleted the bytes that
// left the cache. The tiers together hold Written - Deleted.
func (c *Cache) Written() int64 { return c.written }

// Deleted is the bytes of the entries that left the cache.
func (c *Cache) Deleted() int64 { return c.deleted }

// LRU returns tier i's entries, least recently used first: the order in
// which the tier gives them up.
func (c *Cache) LRU(i int) []uint64 {
	t := c.tiers[i]
	ids := make([]uint64, 0, t.lru.Len())
	for el := t.lru.Back(); el != nil; el = el.Prev() {
		ids = append(ids, el.Value.(*entry).id)
	}
	return ids
}
