package results

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages/measure"
)

// Summary is summary.json: the run's outcome, each stage's headline
// figures, and the run-level keys of stages that define them (DLIO's
// training keys) at the top level where the suite's tools look for them.
type Summary struct {
	Workload string                  `json:"workload"`
	Complete bool                    `json:"complete"`
	Error    string                  `json:"error,omitempty"`
	Start    time.Time               `json:"start"`
	End      time.Time               `json:"end"`
	Seconds  float64                 `json:"seconds"`
	Stages   map[string]StageSummary `json:"stages"`
	// Skipped are the workload's stages the run left out.
	Skipped []string          `json:"skipped_stages,omitempty"`
	Targets map[string]Target `json:"targets,omitempty"`
	// ClientAB compares stages that ran the same work against the same
	// store through different client libraries.
	ClientAB []ClientAB `json:"client_ab,omitempty"`
	// NumHosts counts Hosts.
	NumHosts int `json:"num_hosts"`
	// Hosts are the hosts the run's processes ran on, their facts, and
	// each process's ranks of every stage.
	Hosts []HostReport `json:"hosts"`
	// GoMaxProcs is the processors the Go runtime ran the stages on
	// (Report.GoMaxProcs).
	GoMaxProcs int `json:"go_max_procs"`
	// Warnings say what went wrong below the figures without failing the
	// run: requests to a store that failed transiently, stalled or came
	// close to it (StoreWarning).
	Warnings []string `json:"warnings,omitempty"`
	// Units says what each rate in the summary measures and in which
	// unit, for the keys whose names alone could be read two ways: this
	// summary's own and the hoisted keys' (stages.Uniter).
	Units map[string]string `json:"units"`
	// Keys holds the hoisted run-level keys; they are written inline.
	// Only stages that finished are hoisted: the top level is where the
	// suite's tools look for a result, and a stage that did not finish
	// has none (its partial figures stay in its stages/ID.json).
	Keys map[string]any `json:"-"`
}

// stageUnits are the units of the summary's own rates.
var stageUnits = map[string]string{
	"stages.*.stage_MB_per_second":                     "MB/s (10^6 bytes): every byte the stage moved (read and written, as measured per operation) ÷ the stage's wall time; the table's stage MB/s",
	"stages.*.endpoints.*.stage_MB_per_second":         "MB/s (10^6 bytes): the bytes moved through this endpoint ÷ the stage's wall time",
	"client_ab.*.stage_MB_per_second_a":                "the stage_MB_per_second of stage_a (and _b of stage_b)",
	"hosts.*.processes.*.stages.*.stage_MB_per_second": "MB/s (10^6 bytes): the bytes this process moved in the stage ÷ the stage's wall time",
}

// StageSummary is one stage's line in the summary.
type StageSummary struct {
	Kind    string  `json:"kind"`
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds"`
	Ops     uint64  `json:"ops"`
	Errors  uint64  `json:"errors"`
	// Bytes moved, as measured; MBPerSecond divides them by the stage's
	// wall time (MB = 10^6 bytes), under a name that says so apart from
	// the stages' own rates.
	Bytes       int64   `json:"bytes"`
	MBPerSecond float64 `json:"stage_MB_per_second"`
	// Endpoints has a line per object-store endpoint the stage used.
	Endpoints []EndpointSummary `json:"endpoints,omitempty"`
	// Requests counts object-store HTTP requests and transient failures.
	Requests *backends.StatsSnapshot `json:"requests,omitempty"`
}

// EndpointSummary is what one endpoint served to one stage, all operation
// kinds together; latencies are of the kind that moved the most bytes.
type EndpointSummary struct {
	Target      string  `json:"target"`
	Endpoint    string  `json:"endpoint"`
	Ops         uint64  `json:"ops"`
	Errors      uint64  `json:"errors"`
	Bytes       int64   `json:"bytes"`
	MBPerSecond float64 `json:"stage_MB_per_second"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// ClientAB sets two stages side by side that differ only in the client
// library of their target: Ratio is B's MB/s over A's.
type ClientAB struct {
	Kind    string  `json:"kind"`
	StageA  string  `json:"stage_a"`
	ClientA string  `json:"client_a"`
	MBPerA  float64 `json:"stage_MB_per_second_a"`
	StageB  string  `json:"stage_b"`
	ClientB string  `json:"client_b"`
	MBPerB  float64 `json:"stage_MB_per_second_b"`
	Ratio   float64 `json:"ratio_b_over_a"`
}

// Summarize builds the summary of a run from its report alone.
func Summarize(rep *Report) Summary {
	s := Summary{
		Workload: rep.Workload, Complete: rep.Complete,
		Start: rep.Start, End: rep.End, Seconds: rep.Seconds,
		Stages: map[string]StageSummary{}, Skipped: rep.Skipped, Targets: rep.Targets, NumHosts: max(1, len(rep.Hosts)), Hosts: hostStages(rep), GoMaxProcs: rep.GoMaxProcs, Keys: map[string]any{},
		Units: maps.Clone(stageUnits),
	}
	if rep.Err != nil {
		s.Error = rep.Err.Error()
	}
	claims := map[string]int{}
	for _, sr := range rep.Stages {
		s.Stages[sr.ID] = stageSummary(sr)
		if sr.Metrics == nil || sr.Status != StatusOK {
			continue
		}
		for _, key := range sr.SummaryKeys {
			if v, ok := sr.Metrics[key]; ok {
				claims[key]++
				s.Keys[key] = v
				if u, ok := sr.Units[key]; ok {
					s.Units[key] = u
				}
			}
		}
	}
	for _, sr := range rep.Stages {
		if w := StoreWarning(sr); w != "" {
			s.Warnings = append(s.Warnings, w)
		}
	}
	s.ClientAB = clientAB(rep, s.Stages)
	// A key two stages both define stays under each stage only: at the
	// top it would silently mean one of them.
	for key, n := range claims {
		if n > 1 {
			delete(s.Keys, key)
			delete(s.Units, key)
		}
	}
	return s
}

// StoreWarning says, for a stage whose object-store requests failed
// transiently, stalled or were slow, how many; "" when none did. A stall failed its request (and
// the run, unless a retry succeeded); a slow request moved again, so its
// wait is inside the stage's figures, which it makes worse.
func StoreWarning(sr *StageReport) string {
	r := sr.Requests
	if r == nil || !r.Troubled() {
		return ""
	}
	return fmt.Sprintf("stage %s: of %d object-store requests, %d failed transiently and %d were retries; "+
		"%d stalled (no progress for the target's stall_timeout) and %d were slow (no progress for more than a quarter of it, then moved on)",
		sr.ID, r.Requests, r.Transient, r.Retries, r.Stalls, r.Slow)
}

// stageSummary is the one place a stage's figures are computed: the
// summary and the table both print them.
func stageSummary(sr *StageReport) StageSummary {
	return StageSummary{Kind: sr.Kind, Status: sr.Status, Seconds: sr.Seconds,
		Ops: sr.Measured.Count, Errors: sr.Measured.Errors, Bytes: sr.Measured.Bytes,
		MBPerSecond: measure.MBPerSecond(sr.Measured.Bytes, sr.Seconds),
		Endpoints:   endpoints(sr), Requests: sr.Requests}
}

// hostStages is the run's hosts with, for each process, its share of
// every stage that ran: from the stage's per-process figures in a run
// across processes, and all of the stage's in a run of one.
func hostStages(rep *Report) []HostReport {
	procs := 0
	for _, h := range rep.Hosts {
		procs += len(h.Processes)
	}
	hs := make([]HostReport, len(rep.Hosts))
	for i, h := range rep.Hosts {
		hs[i] = HostReport{Host: h.Host}
		for _, p := range h.Processes {
			pr := ProcessReport{Proc: p.Proc, Ranks: p.Ranks}
			for _, sr := range rep.Stages {
				if sr.Status == StatusNotRun {
					continue
				}
				ps, ok := ProcessStage{Ops: sr.Measured.Count, Errors: sr.Measured.Errors, Bytes: sr.Measured.Bytes}, procs == 1
				for _, share := range sr.Processes {
					if share.Proc == p.Proc {
						ps, ok = ProcessStage{Ops: share.Ops, Errors: share.Errors, Bytes: share.Bytes}, true
					}
				}
				if !ok {
					continue
				}
				ps.MBPerSecond = measure.MBPerSecond(ps.Bytes, sr.Seconds)
				if pr.Stages == nil {
					pr.Stages = map[string]ProcessStage{}
				}
				pr.Stages[sr.ID] = ps
			}
			hs[i].Processes = append(hs[i].Processes, pr)
		}
	}
	return hs
}

// endpoints sums a stage's operations per endpoint.
func endpoints(sr *StageReport) []EndpointSummary {
	var out []EndpointSummary
	idx := map[[2]string]int{}
	best := map[[2]string]int64{}
	for _, o := range sr.Measured.Ops {
		if o.Endpoint == "" {
			continue
		}
		k := [2]string{o.Target, o.Endpoint}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, EndpointSummary{Target: o.Target, Endpoint: o.Endpoint})
		}
		e := &out[i]
		e.Ops += o.Count
		e.Errors += o.Errors
		e.Bytes += o.Bytes
		if o.Bytes >= best[k] {
			best[k] = o.Bytes
			e.P50Seconds, e.P99Seconds = o.Latency.P50, o.Latency.P99
		}
	}
	for i := range out {
		out[i].MBPerSecond = measure.MBPerSecond(out[i].Bytes, sr.Seconds)
	}
	return out
}

// clientAB pairs finished stages of one kind that each used one target,
// where the two targets name the same storage through the same endpoints
// with different clients.
func clientAB(rep *Report, sums map[string]StageSummary) []ClientAB {
	type side struct {
		id, client, store string
	}
	var sides []side
	for _, sr := range rep.Stages {
		if sr.Status != StatusOK {
			continue
		}
		var used []string
		for _, o := range sr.Measured.Ops {
			if !slices.Contains(used, o.Target) {
				used = append(used, o.Target)
			}
		}
		if len(used) != 1 {
			continue
		}
		t, ok := rep.Targets[used[0]]
		if !ok || t.Client == "" || t.Storage == "" {
			continue
		}
		eps := slices.Sorted(slices.Values(t.Endpoints))
		store := sr.Kind + "|" + t.Storage + "|" + strings.Join(eps, ",")
		sides = append(sides, side{sr.ID, t.Client, store})
	}
	var out []ClientAB
	for i, a := range sides {
		for _, b := range sides[i+1:] {
			if a.store != b.store || a.client == b.client {
				continue
			}
			sa, sb := sums[a.id], sums[b.id]
			ab := ClientAB{Kind: sa.Kind, StageA: a.id, ClientA: a.client, MBPerA: sa.MBPerSecond,
				StageB: b.id, ClientB: b.client, MBPerB: sb.MBPerSecond}
			if sa.MBPerSecond > 0 {
				ab.Ratio = sb.MBPerSecond / sa.MBPerSecond
			}
			out = append(out, ab)
		}
	}
	return out
}

// MarshalJSON writes the summary's fields and its hoisted keys as one
// object.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	b, err := json.Marshal(plain(s))
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range s.Keys {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}
