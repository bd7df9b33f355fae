package kvcache

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/mem"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/kvcache/llm"
	"mlps.dev/mlps/stages/measure"
)

// bpt is the tests' bytes per token: small, so that entries are too.
const bpt = 256

// newTestRank is rank 0 of a stage of spec (defaults filled in) over a
// fresh mem:// target, with tiers of gpu and cpu bytes and storage.
func newTestRank(t *testing.T, spec Spec) (*rank, backends.Backend, *measure.Meter) {
	t.Helper()
	tg, err := backends.Resolve(backends.Config{URI: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tg.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if spec.Target == "" {
		spec.Target = "t"
	}
	if spec.Path == "" {
		spec.Path = "kv"
	}
	if spec.Users == 0 {
		spec.Users = 4
	}
	if spec.Turns == 0 {
		spec.Turns = 5
	}
	if spec.Prefixes == 0 {
		spec.Prefixes = 3
	}
	if spec.ChunkBytes == 0 {
		spec.ChunkBytes = 64 << 10
	}
	spec.Ranks, spec.Trials, spec.MaxConcurrentAllocs = 1, 1, 1
	tk := &task{spec: spec, seed: 7, bpt: bpt, maxEntry: 25000 * bpt}
	meter := measure.NewMeter("kv")
	r, err := tk.newRank(0, 0, b, meter, content.New(7), spec.StorageBytes, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r, b, meter
}

// counts is the operations of kind op the meter holds.
func counts(m *measure.Meter, op measure.Op) uint64 {
	var n uint64
	for _, s := range m.Snapshot().Ops {
		if s.Op == op.String() {
			n += s.Count
		}
	}
	return n
}

// TestRequestIO: a request reads a cached prefix's entry, each earlier
// turn's entry, writes its own entry once and reads it back 1 +
// ceil(gen/32) times, every byte as written; a prefix not yet cached is
// written instead of read. Counted on the storage tier of mem://.
func TestRequestIO(t *testing.T) {
	for _, tt := range []struct {
		name    string
		gen     int
		earlier int  // turns before this one
		prefix  bool // the request starts with a shared prefix
		cached  bool // ... which an earlier request cached
		// The reference's formula, written out: reads of earlier turns
		// and the cached prefix, plus 1 + ceil(gen/32); one write, two
		// when the prefix is written here.
		reads, writes uint64
	}{
		{name: "one token", gen: 1, reads: 2, writes: 1},
		{name: "32 tokens", gen: 32, reads: 2, writes: 1},
		{name: "33 tokens", gen: 33, reads: 3, writes: 1},
		{name: "800 tokens", gen: 800, reads: 26, writes: 1},
		{name: "third turn", gen: 50, earlier: 2, reads: 2 + 3, writes: 1},
		{name: "prefix cached", gen: 64, prefix: true, cached: true, reads: 1 + 3, writes: 1},
		{name: "prefix written", gen: 64, prefix: true, reads: 3, writes: 2},
		{name: "all of it", gen: 100, earlier: 4, prefix: true, cached: true, reads: 4 + 1 + 5, writes: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _, meter := newTestRank(t, Spec{Verify: true})
			ctx := context.Background()
			w := &worker{rec: meter.Worker(), buf: make([]byte, r.t.spec.ChunkBytes)}
			u := &user{User: llm.NewUser(rand.New(rand.NewPCG(1, 2))), rng: rand.New(rand.NewPCG(3, 4))}
			for i := range tt.earlier {
				id, _, err := r.write(ctx, w, int64(100+i)*bpt)
				if err != nil {
					t.Fatal(err)
				}
				u.conv = append(u.conv, turnEntry{id: id, tokens: 100 + i})
			}
			p := -1
			if tt.prefix {
				p = 1
				if tt.cached {
					if _, _, err := r.prefix(ctx, w, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			reads, writes, misses := counts(meter, measure.Read), counts(meter, measure.Write), r.stats.misses.Load()
			req := &request{user: u, turn: llm.Turn{Context: 300, Gen: tt.gen}, prefix: p, arrival: time.Now()}
			if err := r.handle(ctx, w, req); err != nil {
				t.Fatal(err)
			}
			if got := counts(meter, measure.Read) - reads; got != tt.reads {
				t.Errorf("%d reads, want %d", got, tt.reads)
			}
			if got := counts(meter, measure.Write) - writes; got != tt.writes {
				t.Errorf("%d writes, want %d", got, tt.writes)
			}
			if got := r.stats.all.requests.Load(); got != 1 {
				t.Errorf("%d requests recorded, want 1", got)
			}
			if got, want := r.stats.all.tokens.Load(), int64(300+tt.gen); got != want {
				t.Errorf("%d tokens recorded, want %d", got, want)
			}
			if miss := r.stats.misses.Load() - misses; miss != 0 && !(tt.prefix && !tt.cached) {
				t.Errorf("%d misses, want none", miss)
			}
		})
	}
}

// TestClassLatencies: each request's latencies go to its user's class
// and to all; the classes' counts add up to all's; end-to-end latency is
// never less than the storage and generation time within it.
func TestClassLatencies(t *testing.T) {
	r, _, meter := newTestRank(t, Spec{})
	ctx := context.Background()
	w := &worker{rec: meter.Worker(), buf: make([]byte, r.t.spec.ChunkBytes)}
	rng := rand.New(rand.NewPCG(5, 6))
	want := make([]int64, len(llm.Classes))
	for i := range 30 {
		u := &user{User: llm.NewUser(rng), rng: rng}
		u.Class = i % len(llm.Classes)
		want[u.Class]++
		req := &request{user: u, turn: llm.Turn{Context: 64 + i, Gen: 40}, prefix: -1, arrival: time.Now()}
		if err := r.handle(ctx, w, req); err != nil {
			t.Fatal(err)
		}
	}
	var sum int64
	for c, cl := range llm.Classes {
		cs := &r.stats.classes[c]
		if got := cs.requests.Load(); got != want[c] {
			t.Errorf("%s: %d requests, want %d", cl.Name, got, want[c])
		}
		if got := int64(cs.e2e.h.Count()); got != want[c] {
			t.Errorf("%s: %d end-to-end latencies, want %d", cl.Name, got, want[c])
		}
		sum += cs.requests.Load()
		e2e, st := latencyOf(cs.e2e.h), latencyOf(cs.storage.h)
		if e2e.Max < st.Max || e2e.Mean < st.Mean {
			t.Errorf("%s: end-to-end %+v below storage %+v", cl.Name, e2e, st)
		}
	}
	if all := r.stats.all.requests.Load(); all != sum || all != 30 {
		t.Errorf("all: %d requests, the classes %d, want 30", all, sum)
	}
}

// The rank's queues are one per class, in the classes' order of priority;
// next's select names three.
func TestQueuesPerClass(t *testing.T) {
	var r rank
	if n := len(llm.Classes); len(r.queues) != n {
		t.Errorf("%d queues for %d classes", len(r.queues), n)
	}
	if n := len(llm.Classes); len(r.stats.classes) != n {
		t.Errorf("%d class figures for %d classes", len(r.stats.classes), n)
	}
}

// A rank's figures cross to the lead of a run across processes as JSON:
// what arrives passes the lead's check and gives the same metrics as the
// figures sent, and a part with a rank outside the stage, or without its
// histograms, is refused.
func TestRankFiguresWire(t *testing.T) {
	r, _, meter := newTestRank(t, Spec{StorageBytes: 1 << 30, CPUBytes: 1 << 20})
	ctx := context.Background()
	w := &worker{rec: meter.Worker(), buf: make([]byte, r.t.spec.ChunkBytes)}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 40 {
		u := &user{User: llm.NewUser(rng), rng: rng}
		req := &request{user: u, turn: llm.Turn{Context: 64 + 7*i, Gen: 40}, prefix: i%3 - 1, arrival: time.Now()}
		if err := r.handle(ctx, w, req); err != nil {
			t.Fatal(err)
		}
	}
	sent := r.figures()
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one rank's figures: %d bytes of JSON (%d tiers)", len(b), len(sent.Tiers))
	var got rankFigures
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := r.t.check(&got); err != nil {
		t.Fatalf("the lead refuses what a rank sent: %v", err)
	}
	m1, err := json.Marshal(r.t.metrics([]rankFigures{sent}, []time.Duration{time.Second}, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := json.Marshal(r.t.metrics([]rankFigures{got}, []time.Duration{time.Second}, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1, m2) {
		t.Errorf("metrics of the figures received differ from the figures sent:\n%s\n%s", m2, m1)
	}

	bad := got
	bad.Rank = 1
	if err := r.t.check(&bad); err == nil || !strings.Contains(err.Error(), "rank 1 of trial 0") {
		t.Errorf("a rank outside the stage: %v", err)
	}
	bad = got
	bad.Tiers = append([]tierFigures(nil), got.Tiers...)
	bad.Tiers[len(bad.Tiers)-1].Fsync = nil
	if err := r.t.check(&bad); err == nil || !strings.Contains(err.Error(), "tier storage without its latencies") {
		t.Errorf("a tier without its histograms: %v", err)
	}
}
