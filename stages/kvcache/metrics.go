package kvcache

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/kvcache/llm"
	"mlps.dev/mlps/stages/measure"
)

// hist is a histogram that any worker of a rank records into: a record
// is one per request or per entry moved, megabytes apart, so a lock costs
// nothing beside it, where a histogram per worker would cost 18 KiB per
// worker and kind.
type hist struct {
	mu sync.Mutex
	h  *measure.Histogram
}

func newHist() *hist { return &hist{h: measure.NewHistogram()} }

func (h *hist) record(d time.Duration) {
	h.mu.Lock()
	h.h.Record(d)
	h.mu.Unlock()
}

// classStats are the requests of one QoS class, or of all.
type classStats struct {
	requests, tokens atomic.Int64
	// storageNanos sums the requests' storage latencies: tokens from
	// storage divides by it.
	storageNanos                      atomic.Int64
	e2e, storage, generation, service *hist
}

func (c *classStats) init() {
	c.e2e, c.storage, c.generation, c.service = newHist(), newHist(), newHist(), newHist()
}

// rankStats are one rank's figures.
type rankStats struct {
	classes [3]classStats // by index in llm.Classes
	all     classStats
	// hits and misses count every entry a request asked to read; reuse
	// counts those of entries it did not write itself (a shared prefix,
	// an earlier turn).
	hits, misses, reuseHits, reuseMisses atomic.Int64
	// abandoned counts requests the deadline cut between two operations.
	abandoned atomic.Int64
}

func (s *rankStats) init() {
	for i := range s.classes {
		s.classes[i].init()
	}
	s.all.init()
}

func (s *rankStats) lookup(reuse, hit bool) {
	if hit {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	if reuse {
		if hit {
			s.reuseHits.Add(1)
		} else {
			s.reuseMisses.Add(1)
		}
	}
}

// request records a completed request of class c.
func (s *rankStats) request(c, tokens int, e2e, storage, generation, service time.Duration) {
	for _, cs := range []*classStats{&s.classes[c], &s.all} {
		cs.requests.Add(1)
		cs.tokens.Add(int64(tokens))
		cs.storageNanos.Add(int64(storage))
		cs.e2e.record(e2e)
		cs.storage.record(storage)
		cs.generation.record(generation)
		cs.service.record(service)
	}
}

// tierStats are one tier's figures in one rank. Latencies are per entry
// read or written whole; on the storage tier device latencies are the
// time inside the target's calls (open, read, create, write, sync,
// close), the whole latency adding this host's work (filling and checking
// the buffers).
type tierStats struct {
	reads, writes, deletes, demotedOut, cut atomic.Int64
	// cutBytes are the bytes of writes cut short by eviction.
	cutBytes                                             atomic.Int64
	readBytes, writeBytes, deletedBytes, demotedOutBytes atomic.Int64
	read_, write_, readDevice_, writeDevice_, fsync_     *hist
}

func (t *tierStats) init(storage bool) {
	t.read_, t.write_ = newHist(), newHist()
	if storage {
		t.readDevice_, t.writeDevice_, t.fsync_ = newHist(), newHist(), newHist()
	}
}

func (t *tierStats) read(d time.Duration, n int64) {
	t.reads.Add(1)
	t.readBytes.Add(n)
	t.read_.record(d)
}

func (t *tierStats) wrote(d time.Duration, n int64) {
	t.writes.Add(1)
	t.writeBytes.Add(n)
	t.write_.record(d)
}

func (t *tierStats) readDevice(d time.Duration) {
	t.readDevice_.record(d)
}

func (t *tierStats) wroteDevice(d, fsync time.Duration, synced bool) {
	t.writeDevice_.record(d)
	if synced {
		t.fsync_.record(fsync)
	}
}

// latency is a histogram's figures in milliseconds, with the reference's
// percentiles.
type latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	P9999 float64 `json:"p99_99"`
	Max   float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyOf(h *measure.Histogram) latency {
	return latency{Count: h.Count(), Mean: ms(h.Mean()), P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), P9999: ms(h.Quantile(0.9999)), Max: ms(h.Max())}
}

// worst is, figure by figure, the largest of the ranks' own: device and
// tier latencies are never pooled over ranks, as upstream aggregates
// them, so that one slow client is not averaged away.
func worst(ls []latency) latency {
	var w latency
	for _, l := range ls {
		w.Count += l.Count
		w.Mean, w.P50, w.P95 = max(w.Mean, l.Mean), max(w.P50, l.P50), max(w.P95, l.P95)
		w.P99, w.P999, w.P9999 = max(w.P99, l.P99), max(w.P999, l.P999), max(w.P9999, l.P9999)
		w.Max = max(w.Max, l.Max)
	}
	return w
}

// pooled merges the ranks' histograms of one kind: request latencies are
// of requests, wherever they were served.
func pooled(hs []*measure.Histogram) latency {
	m := measure.NewHistogram()
	for _, h := range hs {
		m.Merge(h)
	}
	return latencyOf(m)
}

// check is one pass/fail check of the profile.
type check struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Limit is the bound Value must be under (Below) or above.
	Limit float64 `json:"limit"`
	Below bool    `json:"below"`
	Pass  bool    `json:"pass"`
	// Skipped says why a check does not apply to this run (a tier it is
	// about is disabled); a skipped check neither passes nor fails.
	Skipped string `json:"skipped,omitempty"`
	// Unmeasured says that the latency a check is about has no sample (no
	// entry was read from the storage tier, say): it fails, as nothing
	// shows the bound held.
	Unmeasured string `json:"unmeasured,omitempty"`
}

// verdict is the profile's checks and whether all that apply pass.
type verdict struct {
	Profile string  `json:"profile"`
	Pass    bool    `json:"pass"`
	Checks  []check `json:"checks"`
}

// rankFigures are one rank's figures as plain values, once the rank has
// run: what the figures are computed from, and what a process of a run
// across processes sends the lead for each of its ranks (aggregates, never
// a record per request).
type rankFigures struct {
	Trial int `json:"trial"`
	Rank  int `json:"rank"`
	// Classes are the requests of each QoS class, in the order of
	// llm.Classes, and then of all together.
	Classes     []classFigures `json:"classes"`
	Hits        int64          `json:"hits"`
	Misses      int64          `json:"misses"`
	ReuseHits   int64          `json:"reuse_hits"`
	ReuseMisses int64          `json:"reuse_misses"`
	Abandoned   int64          `json:"abandoned"`
	// Tiers are the rank's tiers, fastest first; the last is storage.
	Tiers []tierFigures `json:"tiers"`
}

type classFigures struct {
	Requests     int64 `json:"requests"`
	Tokens       int64 `json:"tokens"`
	StorageNanos int64 `json:"storage_nanos"`
	// Latencies: end to end, storage, generation and service.
	Latency [4]*measure.Histogram `json:"latency"`
}

type tierFigures struct {
	Name            string `json:"name"`
	Limit           int64  `json:"limit"`
	Storage         bool   `json:"storage"`
	Reads           int64  `json:"reads"`
	Writes          int64  `json:"writes"`
	Deletes         int64  `json:"deletes"`
	DemotedOut      int64  `json:"demoted_out"`
	Cut             int64  `json:"cut"`
	CutBytes        int64  `json:"cut_bytes"`
	ReadBytes       int64  `json:"read_bytes"`
	WriteBytes      int64  `json:"write_bytes"`
	DeletedBytes    int64  `json:"deleted_bytes"`
	DemotedOutBytes int64  `json:"demoted_out_bytes"`
	// Read and Write are whole-entry latencies; the device latencies and
	// fsync are the storage tier's alone (nil on the others).
	Read        *measure.Histogram `json:"read"`
	Write       *measure.Histogram `json:"write"`
	ReadDevice  *measure.Histogram `json:"read_device,omitempty"`
	WriteDevice *measure.Histogram `json:"write_device,omitempty"`
	Fsync       *measure.Histogram `json:"fsync,omitempty"`
}

// figures returns r's figures. The rank has stopped: its histograms are
// shared, not copied.
func (r *rank) figures() rankFigures {
	s := &r.stats
	f := rankFigures{Trial: r.trial, Rank: r.n, Hits: s.hits.Load(), Misses: s.misses.Load(),
		ReuseHits: s.reuseHits.Load(), ReuseMisses: s.reuseMisses.Load(), Abandoned: s.abandoned.Load()}
	for c := range len(llm.Classes) + 1 {
		cs := &s.all
		if c < len(llm.Classes) {
			cs = &s.classes[c]
		}
		f.Classes = append(f.Classes, classFigures{Requests: cs.requests.Load(), Tokens: cs.tokens.Load(), StorageNanos: cs.storageNanos.Load(),
			Latency: [4]*measure.Histogram{cs.e2e.h, cs.storage.h, cs.generation.h, cs.service.h}})
	}
	for _, ti := range r.io {
		st := &ti.st
		tf := tierFigures{Name: ti.name, Limit: ti.limit, Storage: ti.storage,
			Reads: st.reads.Load(), Writes: st.writes.Load(), Deletes: st.deletes.Load(), DemotedOut: st.demotedOut.Load(),
			Cut: st.cut.Load(), CutBytes: st.cutBytes.Load(), ReadBytes: st.readBytes.Load(), WriteBytes: st.writeBytes.Load(),
			DeletedBytes: st.deletedBytes.Load(), DemotedOutBytes: st.demotedOutBytes.Load(), Read: st.read_.h, Write: st.write_.h}
		if ti.storage {
			tf.ReadDevice, tf.WriteDevice, tf.Fsync = st.readDevice_.h, st.writeDevice_.h, st.fsync_.h
		}
		f.Tiers = append(f.Tiers, tf)
	}
	return f
}

// check says whether f could be a rank of this stage: its classes and
// tiers are the stage's, and its histograms are there. The lead of a run
// across processes checks each part it is sent before it adds it up.
func (t *task) check(f *rankFigures) error {
	if f.Rank < 0 || f.Rank >= t.spec.Ranks || f.Trial < 0 || f.Trial >= t.spec.Trials {
		return fmt.Errorf("rank %d of trial %d: the stage has ranks 0 to %d and %d trials", f.Rank, f.Trial, t.spec.Ranks-1, t.spec.Trials)
	}
	if len(f.Classes) != len(llm.Classes)+1 {
		return fmt.Errorf("rank %d: %d classes, want %d", f.Rank, len(f.Classes), len(llm.Classes)+1)
	}
	for _, c := range f.Classes {
		if slices.Contains(c.Latency[:], nil) {
			return fmt.Errorf("rank %d: a class without its latencies", f.Rank)
		}
	}
	want := 1
	if t.spec.GPUBytes > 0 {
		want++
	}
	if t.spec.CPUBytes > 0 {
		want++
	}
	if len(f.Tiers) != want || !f.Tiers[len(f.Tiers)-1].Storage {
		return fmt.Errorf("rank %d: %d tiers, want %d ending with storage", f.Rank, len(f.Tiers), want)
	}
	for _, ti := range f.Tiers {
		if ti.Read == nil || ti.Write == nil || ti.Storage && (ti.ReadDevice == nil || ti.WriteDevice == nil || ti.Fsync == nil) {
			return fmt.Errorf("rank %d: tier %s without its latencies", f.Rank, ti.Name)
		}
	}
	return nil
}

// label names a rank in the figures: "rank 3", or "trial 2 rank 3" when
// the stage runs several trials.
func (t *task) label(f *rankFigures) string {
	if t.spec.Trials > 1 {
		return fmt.Sprintf("trial %d rank %d", f.Trial+1, f.Rank)
	}
	return fmt.Sprintf("rank %d", f.Rank)
}

// metrics are the figures of every trial's ranks together over the
// trials' summed wall time, and each trial's own when there are several.
func (t *task) metrics(ranks []rankFigures, walls []time.Duration, storageLimit int64) stages.Metrics {
	var wall time.Duration
	for _, w := range walls {
		wall += w
	}
	m := t.figures(ranks, wall, storageLimit)
	if len(walls) > 1 {
		var each []stages.Metrics
		for i, w := range walls {
			var rs []rankFigures
			for _, r := range ranks {
				if r.Trial == i {
					rs = append(rs, r)
				}
			}
			each = append(each, t.figures(rs, w, storageLimit))
		}
		m["trials"] = each
	}
	return m
}

// figures are the figures of ranks over wall.
func (t *task) figures(ranks []rankFigures, wall time.Duration, storageLimit int64) stages.Metrics {
	sec := wall.Seconds()
	m := stages.Metrics{
		"model":                  t.modelName(),
		"bytes_per_token":        t.bpt,
		"ranks":                  t.spec.Ranks,
		"users_per_rank":         t.spec.Users,
		"run_seconds":            sec,
		"storage_bytes_per_rank": storageLimit,
	}
	var reqs, tokens, storageNanos, abandoned, hits, misses, rh, rm int64
	classHists := make([][4][]*measure.Histogram, len(llm.Classes)+1)
	classCounts := make([][2]int64, len(llm.Classes)+1)
	for _, r := range ranks {
		all := &r.Classes[len(llm.Classes)]
		reqs += all.Requests
		tokens += all.Tokens
		storageNanos += all.StorageNanos
		abandoned += r.Abandoned
		hits, misses = hits+r.Hits, misses+r.Misses
		rh, rm = rh+r.ReuseHits, rm+r.ReuseMisses
		for c, cs := range r.Classes {
			for k, h := range cs.Latency {
				classHists[c][k] = append(classHists[c][k], h)
			}
			classCounts[c][0] += cs.Requests
			classCounts[c][1] += cs.Tokens
		}
	}
	m["requests_completed"] = reqs
	m["requests_abandoned"] = abandoned
	m["tokens"] = tokens
	m["tokens_per_second"] = rate(tokens, sec)
	m["requests_per_second"] = rate(reqs, sec)
	m["storage_tokens_per_second"] = rate(tokens, time.Duration(storageNanos).Seconds())
	names := []string{"end_to_end_latency_ms", "storage_latency_ms", "generation_latency_ms", "service_latency_ms"}
	all := len(llm.Classes)
	for k, n := range names {
		m[n] = pooled(classHists[all][k])
	}
	classes := map[string]any{}
	for c, cl := range llm.Classes {
		cm := map[string]any{
			"requests":   classCounts[c][0],
			"tokens":     classCounts[c][1],
			"targets_ms": map[string]float64{"p95": cl.P95, "p99": cl.P99, "p99_9": cl.P999, "p99_99": cl.P9999},
		}
		for k, n := range names {
			cm[n] = pooled(classHists[c][k])
		}
		classes[cl.Name] = cm
	}
	m["classes"] = classes
	m["cache_hit_rate"] = ratio(hits, hits+misses)
	m["reuse_hit_rate"] = ratio(rh, rh+rm)
	m["cache_reads_requested"] = hits + misses

	// The tiers, summed (bytes, operations, bandwidth) or at their worst
	// rank (latency) over the ranks.
	tiersOut := map[string]any{}
	var never []string
	var storageRead, storageWrite, cpuP95 float64
	var storageReadP95, storageWriteP95 float64
	var storageReads, storageWrites int64
	var cpuOps int64
	cpu := false
	for i, ti := range ranks[0].Tiers {
		var reads, writes, deletes, demoted, rb, wb, db, dob, cut, cutBytes int64
		var rl, wl, rdl, wdl, fl []latency
		for _, r := range ranks {
			st := &r.Tiers[i]
			reads, writes, deletes, demoted = reads+st.Reads, writes+st.Writes, deletes+st.Deletes, demoted+st.DemotedOut
			rb, wb, db, dob = rb+st.ReadBytes, wb+st.WriteBytes, db+st.DeletedBytes, dob+st.DemotedOutBytes
			cut, cutBytes = cut+st.Cut, cutBytes+st.CutBytes
			rl, wl = append(rl, latencyOf(st.Read)), append(wl, latencyOf(st.Write))
			if ti.Storage {
				rdl, wdl, fl = append(rdl, latencyOf(st.ReadDevice)), append(wdl, latencyOf(st.WriteDevice)), append(fl, latencyOf(st.Fsync))
				if st.Reads+st.Writes == 0 {
					never = append(never, t.label(&r))
				}
			}
		}
		tm := map[string]any{
			"limit_bytes_per_rank":   ti.Limit,
			"reads":                  reads,
			"writes":                 writes,
			"read_bytes":             rb,
			"write_bytes":            wb,
			"read_bytes_per_second":  rate(rb, sec),
			"write_bytes_per_second": rate(wb, sec),
			"read_ops_per_second":    rate(reads, sec),
			"write_ops_per_second":   rate(writes, sec),
			"deletes":                deletes,
			"deleted_bytes":          db,
			"demotions_out":          demoted,
			"demoted_out_bytes":      dob,
			"read_latency_ms":        worst(rl),
			"write_latency_ms":       worst(wl),
		}
		if ti.Storage {
			tm["writes_cut"] = cut
			tm["writes_cut_bytes"] = cutBytes
			tm["read_device_latency_ms"] = worst(rdl)
			tm["write_device_latency_ms"] = worst(wdl)
			if t.spec.Fsync {
				tm["fsync_latency_ms"] = worst(fl)
			}
			storageRead, storageWrite = rate(rb, sec), rate(wb, sec)
			storageReadP95, storageWriteP95 = worst(rl).P95, worst(wl).P95
			storageReads, storageWrites = reads, writes
			m["read_iops"] = rate(reads, sec)
			m["write_iops"] = rate(writes, sec)
		}
		if ti.Name == "cpu" {
			cpu = true
			cpuP95 = max(worst(rl).P95, worst(wl).P95)
			cpuOps = reads + writes
		}
		tiersOut[ti.Name] = tm
	}
	m["tiers"] = tiersOut
	if len(never) > 0 {
		m["ranks_without_storage"] = never
	}
	v := verdict{Profile: t.spec.Profile, Pass: true}
	// A run that completed no request has nothing to judge.
	v.Checks = append(v.Checks, check{Name: "requests_completed", Value: float64(reqs), Limit: 0})
	if t.spec.Profile == "throughput" {
		v.Checks = append(v.Checks, []check{
			{Name: "storage_read_bytes_per_second", Value: storageRead, Limit: 0},
			{Name: "storage_write_bytes_per_second", Value: storageWrite, Limit: 0},
		}...)
	} else {
		v.Checks = append(v.Checks, []check{
			{Name: "storage_write_latency_p95_ms", Value: storageWriteP95, Limit: 500, Below: true},
			{Name: "storage_read_latency_p95_ms", Value: storageReadP95, Limit: 200, Below: true},
			{Name: "cpu_tier_latency_p95_ms", Value: cpuP95, Limit: 150, Below: true},
			{Name: "cache_hit_rate", Value: ratio(hits, hits+misses), Limit: 0.30},
		}...)
		if storageWrites == 0 {
			v.Checks[1].Unmeasured = "no entry was written to the storage tier"
		}
		if storageReads == 0 {
			v.Checks[2].Unmeasured = "no entry was read from the storage tier"
		}
		if !cpu {
			v.Checks[3].Skipped = "no cpu tier (cpu_bytes is 0)"
		} else if cpuOps == 0 {
			v.Checks[3].Unmeasured = "no entry was written to or read from the cpu tier"
		}
	}
	for i := range v.Checks {
		c := &v.Checks[i]
		if c.Skipped != "" {
			continue
		}
		c.Pass = c.Value > c.Limit
		if c.Below {
			c.Pass = c.Value < c.Limit && c.Unmeasured == ""
		}
		v.Pass = v.Pass && c.Pass
	}
	m["verdict"] = v
	return m
}

func rate(n int64, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / sec
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// SummaryKeys are the keys this stage puts at the top of summary.json.
func (t *task) SummaryKeys() []string {
	return []string{"tokens_per_second", "storage_tokens_per_second", "requests_per_second",
		"end_to_end_latency_ms", "storage_latency_ms", "generation_latency_ms", "classes",
		"cache_hit_rate", "read_iops", "write_iops", "tiers", "verdict"}
}

// Units says what each figure divides, where its name alone could be
// read two ways.
func (t *task) Units() map[string]string {
	return map[string]string{
		"tokens_per_second":                     "tokens/s: the context and generated tokens of the requests completed ÷ run_seconds, the wall time of the run",
		"storage_tokens_per_second":             "tokens/s: the same tokens ÷ the sum of the requests' storage latencies (upstream's storage throughput); not a rate of the wall clock",
		"requests_per_second":                   "requests completed ÷ run_seconds",
		"end_to_end_latency_ms":                 "ms: a request's arrival (scheduled, open loop) to its last operation, queueing included; pooled over ranks",
		"storage_latency_ms":                    "ms: the sum of a request's cache operations, every tier, the moves that made room for its entries included; pooled over ranks",
		"service_latency_ms":                    "ms: a request's first operation to its last, without queueing; pooled over ranks",
		"cache_hit_rate":                        "the entries requests asked to read that a tier still held ÷ all asked for, decode's reads of the request's own entry included (the pass/fail hit rate)",
		"reuse_hit_rate":                        "as cache_hit_rate, over the entries a request did not write itself: shared prefixes and earlier turns",
		"read_iops":                             "entries read from the storage tier ÷ run_seconds, summed over ranks (an entry is one operation, whatever its size)",
		"write_iops":                            "entries written to the storage tier ÷ run_seconds, summed over ranks",
		"tiers.*.read_bytes_per_second":         "bytes/s: the bytes requests read from the tier ÷ run_seconds, summed over ranks",
		"tiers.*.write_bytes_per_second":        "bytes/s: the bytes written into the tier (new entries and demotions) ÷ run_seconds, summed over ranks",
		"tiers.*.read_latency_ms":               "ms: one entry read whole, this host's work included; each figure the largest of the ranks' own",
		"tiers.storage.read_device_latency_ms":  "ms: the time inside the target's calls of one entry's read (open, reads, close), without verification; the largest of the ranks' own",
		"tiers.storage.write_device_latency_ms": "ms: the time inside the target's calls of one entry's write (create, writes, sync, close), without filling the buffers; the largest of the ranks' own",
		"tiers.storage.fsync_latency_ms":        "ms: the sync of one entry's file alone; the largest of the ranks' own",
		"tiers.storage.writes_cut":              "entry writes stopped and aborted because the entry was evicted while written (the tier is small beside the entries in flight); their bytes that moved, writes_cut_bytes, are in the stage's measured bytes but not in write_bytes",
	}
}

// Headline says the stage's key figures in one line.
func (t *task) Headline(m stages.Metrics) string {
	f := func(k string) float64 { v, _ := m[k].(float64); return v }
	s := fmt.Sprintf("%.0f tokens/s, %.1f requests/s", f("tokens_per_second"), f("requests_per_second"))
	if e2e, ok := m["end_to_end_latency_ms"].(latency); ok {
		s += fmt.Sprintf(", end-to-end p95 %.1f ms", e2e.P95)
	}
	if ts, ok := m["tiers"].(map[string]any); ok {
		if st, ok := ts["storage"].(map[string]any); ok {
			rb, _ := st["read_bytes_per_second"].(float64)
			wb, _ := st["write_bytes_per_second"].(float64)
			s += fmt.Sprintf("; storage reads %s, writes %s", measure.Rate(rb), measure.Rate(wb))
		}
	}
	s += fmt.Sprintf("; hit rate %.1f%%", 100*f("cache_hit_rate"))
	if v, ok := m["verdict"].(verdict); ok {
		var failed []string
		for _, c := range v.Checks {
			if c.Skipped == "" && !c.Pass {
				failed = append(failed, c.Name)
			}
		}
		if v.Pass {
			s += "; " + v.Profile + " profile: pass"
		} else {
			slices.Sort(failed)
			s += "; " + v.Profile + " profile: FAIL (" + strings.Join(failed, ", ") + ")"
		}
	}
	if n, _ := m["ranks_without_storage"].([]string); len(n) > 0 {
		s += "; never reached storage: " + strings.Join(n, ", ")
	}
	return s
}
