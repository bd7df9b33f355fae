// Package measure turns the operations of a stage into figures: one Record
// per backend operation, aggregated live by the worker that made it into
// its own counters and latency histograms, merged on demand for progress
// and at the end for results. Memory depends on the number of workers and
// operation kinds, never on the number of operations.
package measure

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Op is the kind of a backend operation.
type Op uint8

// The operations stages record.
const (
	Write Op = iota + 1
	Read
	Stat
	Delete
)

var opNames = [...]string{Write: "write", Read: "read", Stat: "stat", Delete: "delete"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}

// Record is one operation. Start and End are wall-clock instants with
// Go's monotonic reading, so durations are immune to clock steps.
type Record struct {
	Op Op
	// Target is the name of the storage target the operation went to;
	// Endpoint is the base URL of the object store endpoint that served
	// it ("" for local targets).
	Target   string
	Endpoint string
	// Bytes is the payload that actually moved.
	Bytes int64
	Start time.Time
	// FirstByte is when the first byte arrived (reads) or left (writes);
	// zero when the operation moved nothing.
	FirstByte time.Time
	End       time.Time
	Err       error
}

// Meter collects the records of one stage.
type Meter struct {
	stage string
	mu    sync.Mutex
	ws    []*Worker
}

// NewMeter returns a meter for the named stage.
func NewMeter(stage string) *Meter { return &Meter{stage: stage} }

// Stage is the name of the stage being measured.
func (m *Meter) Stage() string { return m.stage }

// Worker returns a new recorder for one goroutine. The goroutine that owns
// it is the only one that may call its Observe.
func (m *Meter) Worker() *Worker {
	w := &Worker{}
	m.mu.Lock()
	m.ws = append(m.ws, w)
	m.mu.Unlock()
	return w
}

// Worker aggregates the records of one goroutine without locks.
type Worker struct {
	mu    sync.Mutex // guards growth of stats against concurrent snapshots
	stats []*opStats
}

type opStats struct {
	op        Op
	target    string
	endpoint  string
	count     atomic.Uint64
	errors    atomic.Uint64
	bytes     atomic.Int64
	first     atomic.Int64 // earliest start, ns since the Unix epoch
	last      atomic.Int64 // latest end
	latency   *Histogram
	firstByte *Histogram
	errOnce   sync.Once
	errText   atomic.Value
}

// Observe aggregates one record.
func (w *Worker) Observe(r Record) {
	s := w.find(r.Op, r.Target, r.Endpoint)
	s.count.Add(1)
	s.bytes.Add(r.Bytes)
	if r.Err != nil {
		s.errors.Add(1)
		s.errOnce.Do(func() { s.errText.Store(r.Err.Error()) })
	}
	start, end := r.Start.UnixNano(), r.End.UnixNano()
	if f := s.first.Load(); f == 0 || start < f {
		s.first.Store(start)
	}
	if end > s.last.Load() {
		s.last.Store(end)
	}
	s.latency.Record(r.End.Sub(r.Start))
	if !r.FirstByte.IsZero() {
		s.firstByte.Record(r.FirstByte.Sub(r.Start))
	}
}

func (w *Worker) find(op Op, target, endpoint string) *opStats {
	for _, s := range w.stats {
		if s.op == op && s.target == target && s.endpoint == endpoint {
			return s
		}
	}
	s := &opStats{op: op, target: target, endpoint: endpoint, latency: NewHistogram(), firstByte: NewHistogram()}
	w.mu.Lock()
	w.stats = append(w.stats, s)
	w.mu.Unlock()
	return s
}

// OpStats are the merged figures of one operation kind against one target.
type OpStats struct {
	Op     string `json:"op"`
	Target string `json:"target"`
	// Endpoint is the base URL of an object store's endpoint; each
	// endpoint of a target has its own figures.
	Endpoint string `json:"endpoint,omitempty"`
	Count    uint64 `json:"count"`
	Errors   uint64 `json:"errors"`
	// FirstError is the text of one failed operation, when any failed.
	FirstError string `json:"first_error,omitempty"`
	Bytes      int64  `json:"bytes"`
	// Seconds is the wall time from the first operation's start to the
	// last one's end; MBPerSecond divides Bytes by it (MB = 10^6 bytes),
	// named span_MB_per_second apart from the stage's over its wall time.
	Seconds     float64 `json:"seconds"`
	MBPerSecond float64 `json:"span_MB_per_second"`
	// Latency is the time of whole operations, FirstByte the time to their
	// first byte, in seconds.
	Latency   Summary  `json:"latency_seconds"`
	FirstByte *Summary `json:"first_byte_seconds,omitempty"`
}

// Snapshot is a merged view of a meter.
type Snapshot struct {
	Ops    []OpStats `json:"ops"`
	Count  uint64    `json:"count"`
	Errors uint64    `json:"errors"`
	Bytes  int64     `json:"bytes"`
}

// stats are every worker's figures, one slice per worker, copied under
// the locks that guard their growth.
func (m *Meter) stats() [][]*opStats {
	m.mu.Lock()
	ws := append([]*Worker(nil), m.ws...)
	m.mu.Unlock()
	out := make([][]*opStats, len(ws))
	for i, w := range ws {
		w.mu.Lock()
		out[i] = append([]*opStats(nil), w.stats...)
		w.mu.Unlock()
	}
	return out
}

// Snapshot merges every worker's figures. It is safe to call while workers
// record: the counts are then a consistent-enough view for progress.
func (m *Meter) Snapshot() Snapshot {
	type key struct {
		op               Op
		target, endpoint string
	}
	merged := map[key]*opStats{}
	for _, stats := range m.stats() {
		for _, s := range stats {
			k := key{s.op, s.target, s.endpoint}
			t, ok := merged[k]
			if !ok {
				t = &opStats{op: s.op, target: s.target, endpoint: s.endpoint, latency: NewHistogram(), firstByte: NewHistogram()}
				t.first.Store(math.MaxInt64)
				merged[k] = t
			}
			t.count.Add(s.count.Load())
			t.errors.Add(s.errors.Load())
			t.bytes.Add(s.bytes.Load())
			if f := s.first.Load(); f != 0 && f < t.first.Load() {
				t.first.Store(f)
			}
			if l := s.last.Load(); l > t.last.Load() {
				t.last.Store(l)
			}
			t.latency.Merge(s.latency)
			t.firstByte.Merge(s.firstByte)
			if e, ok := s.errText.Load().(string); ok && t.errText.Load() == nil {
				t.errText.Store(e)
			}
		}
	}
	var snap Snapshot
	for _, t := range merged {
		o := OpStats{
			Op: t.op.String(), Target: t.target, Endpoint: t.endpoint,
			Count: t.count.Load(), Errors: t.errors.Load(), Bytes: t.bytes.Load(),
			Latency: t.latency.Summarize(),
		}
		if e, ok := t.errText.Load().(string); ok {
			o.FirstError = e
		}
		if t.firstByte.Count() > 0 {
			fb := t.firstByte.Summarize()
			o.FirstByte = &fb
		}
		if span := time.Duration(t.last.Load() - t.first.Load()); span > 0 {
			o.Seconds = span.Seconds()
			o.MBPerSecond = MBPerSecond(o.Bytes, o.Seconds)
		}
		snap.Ops = append(snap.Ops, o)
		snap.Count += o.Count
		snap.Errors += o.Errors
		snap.Bytes += o.Bytes
	}
	sort.Slice(snap.Ops, func(i, j int) bool {
		if snap.Ops[i].Op != snap.Ops[j].Op {
			return snap.Ops[i].Op < snap.Ops[j].Op
		}
		if snap.Ops[i].Target != snap.Ops[j].Target {
			return snap.Ops[i].Target < snap.Ops[j].Target
		}
		return snap.Ops[i].Endpoint < snap.Ops[j].Endpoint
	})
	return snap
}
