// Package kvcache implements the kvcache stage kind: LLM inference that
// keeps its attention key/value cache in tiers (accelerator memory and
// host memory in this process, then any target as the storage tier), as
// MLPerf Storage's KV-cache benchmark emulates it. Users of the reference's
// templates and service classes send requests; each request reads the
// entries it can reuse, writes its own and reads it back while decoding.
// Placement is tiers' waterfall LRU; the facts of a request are llm's.
// Every entry streams through a buffer of chunk_bytes per request served
// at once, so memory is the in-process tiers plus those buffers, never a
// function of the entries' sizes.
package kvcache

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/kvcache/llm"
	"mlps.dev/mlps/stages/kvcache/trace"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#KVCache.
type Spec struct {
	dsl.Common
	Target              string  `json:"target"`
	Path                string  `json:"path"`
	Model               string  `json:"model"`
	BytesPerToken       int64   `json:"bytes_per_token,omitempty"`
	Ranks               int     `json:"ranks"`
	Users               int     `json:"users"`
	Duration            float64 `json:"duration,omitempty"`
	Requests            int64   `json:"requests,omitempty"`
	Trials              int     `json:"trials"`
	Generation          string  `json:"generation"`
	Rate                float64 `json:"rate,omitempty"`
	Turns               int     `json:"turns"`
	PrefixShare         float64 `json:"prefix_share"`
	Prefixes            int     `json:"prefixes"`
	GPUBytes            int64   `json:"gpu_bytes"`
	CPUBytes            int64   `json:"cpu_bytes"`
	StorageBytes        int64   `json:"storage_bytes"`
	MaxConcurrentAllocs int     `json:"max_concurrent_allocs"`
	ChunkBytes          int64   `json:"chunk_bytes"`
	Fsync               bool    `json:"fsync"`
	DropCache           bool    `json:"drop_cache"`
	Verify              bool    `json:"verify"`
	Profile             string  `json:"profile"`
	Trace               *Trace  `json:"trace,omitempty"`
}

// Trace mirrors schema.#KVCache.trace.
type Trace struct {
	Conversations    string  `json:"conversations,omitempty"`
	MaxConversations int     `json:"max_conversations"`
	Arrivals         string  `json:"arrivals,omitempty"`
	Speedup          float64 `json:"speedup"`
}

// defaultDuration is the run's length when neither duration nor requests
// is set.
const defaultDuration = 60

// prefixMin and prefixMax bound a shared prefix's tokens.
const prefixMin, prefixMax = 256, 2048

func init() {
	stages.Register(stages.Kind{Name: "kvcache", Plan: plan})
}

func plan(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	at := func(f ...any) []any { return append([]any{"stages", id}, f...) }
	target, err := in.Target(s.Target, at("target")...)
	if err != nil {
		return nil, err
	}
	t := &task{spec: s, seed: w.Seed, pageCache: target.Traits.PageCache}
	if s.BytesPerToken > 0 {
		t.bpt = s.BytesPerToken
	} else {
		m, err := llm.LookupModel(s.Model)
		if err != nil {
			return nil, w.ErrorAt(at("model"), "%v", err)
		}
		t.bpt = m.BytesPerToken()
	}
	if s.Duration > 0 && s.Requests > 0 {
		return nil, w.ErrorAt(at("requests"), "the run ends after duration (%g s) or after requests (%d per rank), not both: drop one", s.Duration, s.Requests)
	}
	if s.Duration == 0 && s.Requests == 0 {
		t.spec.Duration = defaultDuration
	}
	if _, err := llm.Generation(s.Generation).PerToken(); err != nil {
		return nil, w.ErrorAt(at("generation"), "%v", err)
	}
	// The largest entry a request can write: the longest context of any
	// template, every token of it.
	var maxCtx int
	for _, tm := range llm.Templates {
		maxCtx = max(maxCtx, tm.ContextMax)
	}
	if t.bpt > math.MaxInt64/int64(maxCtx) {
		return nil, w.ErrorAt(at("bytes_per_token"), "%d bytes per token make an entry of %d tokens larger than 8 EiB: lower bytes_per_token", t.bpt, maxCtx)
	}
	t.maxEntry = int64(maxCtx) * t.bpt
	if s.StorageBytes > 0 && s.StorageBytes < t.maxEntry {
		return nil, w.ErrorAt(at("storage_bytes"), "%s per rank cannot hold the largest entry a request writes, %s (%d tokens of context × %d bytes per token): set storage_bytes to at least %d, or 0",
			measure.IEC(s.StorageBytes), measure.IEC(t.maxEntry), maxCtx, t.bpt, t.maxEntry)
	}
	if s.StorageBytes == 0 && target.Traits.InMemory {
		return nil, w.ErrorAt(at("storage_bytes"), "target %s (%s) holds the storage tier in this process's memory, and an unlimited tier would take all of it: set storage_bytes, the bytes it may hold per rank (at least %d)",
			s.Target, target.URI, t.maxEntry)
	}
	if err := in.Fits(s.Target, int64(s.Ranks)*s.StorageBytes, "the storage tier's storage_bytes × ranks", at("storage_bytes")...); err != nil {
		return nil, err
	}
	if s.Verify {
		if err := in.Stores(s.Target, "verify has no stored entry to check the reads against: drop verify or use a target that stores", at("verify")...); err != nil {
			return nil, err
		}
	}
	// Memory: the in-process tiers and the buffers, per rank.
	mem := int64(s.Ranks) * (s.GPUBytes + s.CPUBytes + int64(s.MaxConcurrentAllocs)*s.ChunkBytes)
	if h := in.Host.MemoryBytes; h > 0 && mem > h {
		return nil, w.ErrorAt(at("cpu_bytes"), "%d ranks × (gpu_bytes %s + cpu_bytes %s + max_concurrent_allocs %d × chunk_bytes %s) is %s of this process's memory, more than this host has: lower them, or the ranks",
			s.Ranks, measure.IEC(s.GPUBytes), measure.IEC(s.CPUBytes), s.MaxConcurrentAllocs, measure.IEC(s.ChunkBytes), measure.IEC(mem))
	}
	if tr := s.Trace; tr != nil {
		tr.Conversations = resolve(w, tr.Conversations, at("trace", "conversations"))
		tr.Arrivals = resolve(w, tr.Arrivals, at("trace", "arrivals"))
		t.spec.Trace = tr
		if tr.Conversations != "" {
			f, err := os.Open(tr.Conversations)
			if err != nil {
				return nil, w.ErrorAt(at("trace", "conversations"), "%v", err)
			}
			t.conversations, err = trace.ReadConversations(f, tr.MaxConversations)
			f.Close()
			if err != nil {
				return nil, w.ErrorAt(at("trace", "conversations"), "%s: %v", tr.Conversations, err)
			}
		}
		if tr.Arrivals != "" {
			// Every row now, a row at a time, so that a bad one fails the
			// plan, not the run; the run reads them again as it goes.
			f, err := os.Open(tr.Arrivals)
			if err != nil {
				return nil, w.ErrorAt(at("trace", "arrivals"), "%v", err)
			}
			a, err := trace.NewArrivals(f)
			for err == nil {
				var x trace.Arrival
				if x, err = a.Next(); err == nil {
					t.arrivals++
					t.traceSeconds = x.At
				}
			}
			if err == io.EOF {
				err = nil
			}
			f.Close()
			if err != nil {
				return nil, w.ErrorAt(at("trace", "arrivals"), "%s: %v", tr.Arrivals, err)
			}
			if s.Rate > 0 {
				return nil, w.ErrorAt(at("rate"), "requests arrive as trace.arrivals says, or at rate, not both: drop one")
			}
		}
	}
	return t, nil
}

// resolve makes a relative path p, set at the field path at, relative to
// the directory of the file that sets it; a value from --set, or from a
// file that is not on disk, stays relative to the current directory.
func resolve(w *dsl.Workload, p string, at []any) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if f := w.Pos(at...).Filename(); f != "" {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(filepath.Dir(f), p)
		}
	}
	return p
}

type task struct {
	spec Spec
	seed uint64
	// bpt is the bytes per token; maxEntry the largest entry a request
	// writes.
	bpt, maxEntry int64
	// pageCache is set when the target's files pass through the host's
	// page cache.
	pageCache bool
	// conversations are the trace's, when it gives them; arrivals counts
	// the requests of its arrival trace, the last at traceSeconds.
	conversations [][]trace.Turn
	arrivals      int64
	traceSeconds  float64
}

func (t *task) Reads() []string  { return nil }
func (t *task) Writes() []string { return nil }

// Work is not known before the run: how many requests a duration holds is
// what the stage measures. With a request count, the planned operations
// are the requests.
func (t *task) Work() stages.Work {
	return stages.Work{Ops: int64(t.spec.Ranks) * t.spec.Requests}
}

// Concurrency is every rank's requests in service at once.
func (t *task) Concurrency() int { return t.spec.Ranks * t.spec.MaxConcurrentAllocs }

func (t *task) modelName() string {
	if t.spec.BytesPerToken > 0 {
		return fmt.Sprintf("%d bytes per token", t.bpt)
	}
	return fmt.Sprintf("%s (%s per token)", t.spec.Model, measure.IEC(t.bpt))
}

func (t *task) Describe() string {
	s := t.spec
	end := fmt.Sprintf("for %g s", s.Duration)
	if s.Requests > 0 {
		end = fmt.Sprintf("until each rank has served %d requests", s.Requests)
	}
	load := "closed-loop users with think time"
	if s.Rate > 0 {
		load = fmt.Sprintf("%g requests/s per rank, open loop", s.Rate)
	}
	if tr := s.Trace; tr != nil && tr.Arrivals != "" {
		load = fmt.Sprintf("the %d arrivals of %s over %.0f s at %g× speed, open loop", t.arrivals, tr.Arrivals, t.traceSeconds, tr.Speedup)
	}
	if len(t.conversations) > 0 {
		load += fmt.Sprintf(", playing %d conversations of %s", len(t.conversations), s.Trace.Conversations)
	}
	var tiers []string
	for _, tr := range []struct {
		name string
		n    int64
	}{{"gpu", s.GPUBytes}, {"cpu", s.CPUBytes}} {
		if tr.n > 0 {
			tiers = append(tiers, fmt.Sprintf("%s %s", tr.name, measure.IEC(tr.n)))
		}
	}
	storage := "95% of its free space"
	switch {
	case s.StorageBytes > 0:
		storage = measure.IEC(s.StorageBytes)
	case !t.pageCache:
		storage = "no limit"
	}
	tiers = append(tiers, fmt.Sprintf("storage %s:%s/ (%s)", s.Target, s.Path, storage))
	desc := fmt.Sprintf("serves LLM inference of %s to %d ranks × %d users (%s) %s, generation %s, %d-turn conversations, %.0f%% of requests on %d shared prefixes; tiers per rank: %s; %d requests at once per rank through %s buffers",
		t.modelName(), s.Ranks, s.Users, load, end, s.Generation, s.Turns, 100*s.PrefixShare, s.Prefixes,
		strings.Join(tiers, ", "), s.MaxConcurrentAllocs, measure.IEC(s.ChunkBytes))
	var opts []string
	if s.Fsync {
		opts = append(opts, "fsync")
	}
	if s.DropCache && t.pageCache {
		opts = append(opts, "page cache dropped before each read")
	}
	if s.Verify {
		opts = append(opts, "verifying every byte read")
	}
	if len(opts) > 0 {
		desc += " (" + strings.Join(opts, ", ") + ")"
	}
	return desc
}

// Warnings says when the storage tier's reads may come from the host's
// page cache.
func (t *task) Warnings(stages.Host) []string {
	var ws []string
	if t.pageCache && !t.spec.DropCache {
		ws = append(ws, "drop_cache is off on a target with a page cache: the storage tier's reads may come from this host's memory, not the device")
	}
	return ws
}
