package exec

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

// Version is mlps's version, set at build time with
// -ldflags "-X mlps.dev/mlps/exec.Version=v1.2.3"; otherwise it comes from
// the module's build information.
var Version = ""

// MlpsVersion returns the version this binary reports.
func MlpsVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += "+" + s.Value
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}

// Provenance is everything needed to reproduce and place a result.
type Provenance struct {
	MlpsVersion string    `json:"mlps_version"`
	GoVersion   string    `json:"go_version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	Hostname    string    `json:"hostname"`
	CPUs        int       `json:"cpus"`
	MemoryBytes int64     `json:"memory_bytes"`
	CommandLine []string  `json:"command_line"`
	Workload    string    `json:"workload"`
	Seed        uint64    `json:"seed"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// NewProvenance describes this host and this invocation.
func NewProvenance(args []string) Provenance {
	host, _ := os.Hostname()
	return Provenance{
		MlpsVersion: MlpsVersion(),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		Hostname:    host,
		CPUs:        runtime.NumCPU(),
		MemoryBytes: stages.HostMemoryBytes(),
		CommandLine: args,
	}
}

// CheckResultsDir fails when dir already holds a result, so that a run
// never mixes its files with an earlier one's.
func CheckResultsDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		return fmt.Errorf("results directory %s already holds a result (summary.json); choose another with --results", dir)
	}
	return nil
}

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
	// ClientAB compares stages that ran the same work against the same
	// store through different S3 client libraries.
	ClientAB []ClientAB `json:"client_ab,omitempty"`
	NumHosts int        `json:"num_hosts"`
	// Keys holds the hoisted run-level keys; they are written inline.
	Keys map[string]any `json:"-"`
}

// StageSummary is one stage's line in the summary.
type StageSummary struct {
	Kind    string  `json:"kind"`
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds"`
	Ops     uint64  `json:"ops"`
	Errors  uint64  `json:"errors"`
	// Bytes moved, as measured; MBPerSecond divides them by the stage's
	// wall time (MB = 10^6 bytes).
	Bytes       int64   `json:"bytes"`
	MBPerSecond float64 `json:"MB_per_second"`
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
	MBPerSecond float64 `json:"MB_per_second"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// ClientAB sets two stages side by side that differ only in the S3 client
// of their target: Ratio is B's MB/s over A's.
type ClientAB struct {
	Kind    string  `json:"kind"`
	StageA  string  `json:"stage_a"`
	ClientA string  `json:"client_a"`
	MBPerA  float64 `json:"MB_per_second_a"`
	StageB  string  `json:"stage_b"`
	ClientB string  `json:"client_b"`
	MBPerB  float64 `json:"MB_per_second_b"`
	Ratio   float64 `json:"ratio_b_over_a"`
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
		if sr.Seconds > 0 {
			out[i].MBPerSecond = float64(out[i].Bytes) / 1e6 / sr.Seconds
		}
	}
	return out
}

// clientAB pairs stages of one kind whose targets name the same store and
// endpoints but different clients.
func clientAB(p *planner.Plan, rep *Report, sums map[string]StageSummary) []ClientAB {
	type side struct {
		id, client, store string
	}
	var sides []side
	for _, sr := range rep.Stages {
		if sr.Status != StatusOK {
			continue
		}
		targets := map[string]bool{}
		for _, o := range sr.Measured.Ops {
			targets[o.Target] = true
		}
		if len(targets) != 1 {
			continue
		}
		for name := range targets {
			t := p.Workload.Targets[name]
			if !strings.HasPrefix(t.URI, "s3://") {
				continue
			}
			client := t.Client
			if client == "" {
				client = "aws"
			}
			store := sr.Kind + "|" + t.URI + "|" + strings.Join(t.Endpoints, ",")
			sides = append(sides, side{sr.ID, client, store})
		}
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

// SummaryKeyer is implemented by tasks whose metrics include run-level
// keys that belong at the top of summary.json.
type SummaryKeyer interface {
	SummaryKeys() []string
}

// Summarize builds the summary of a run.
func Summarize(p *planner.Plan, rep *Report) Summary {
	s := Summary{
		Workload: p.Workload.Name, Complete: rep.Complete,
		Start: rep.Start, End: rep.End, Seconds: rep.End.Sub(rep.Start).Seconds(),
		Stages: map[string]StageSummary{}, NumHosts: 1, Keys: map[string]any{},
	}
	if rep.Err != nil {
		s.Error = rep.Err.Error()
	}
	claims := map[string]int{}
	for _, sr := range rep.Stages {
		ss := StageSummary{Kind: sr.Kind, Status: sr.Status, Seconds: sr.Seconds,
			Ops: sr.Measured.Count, Errors: sr.Measured.Errors, Bytes: sr.Measured.Bytes}
		if sr.Seconds > 0 {
			ss.MBPerSecond = float64(ss.Bytes) / 1e6 / sr.Seconds
		}
		ss.Endpoints = endpoints(sr)
		ss.Requests = sr.Requests
		s.Stages[sr.ID] = ss
		if k, ok := sr.node.Task.(SummaryKeyer); ok && sr.Metrics != nil {
			for _, key := range k.SummaryKeys() {
				if v, ok := sr.Metrics[key]; ok {
					claims[key]++
					s.Keys[key] = v
				}
			}
		}
	}
	s.ClientAB = clientAB(p, rep, s.Stages)
	// A key two stages both define stays under each stage only: at the
	// top it would silently mean one of them.
	for key, n := range claims {
		if n > 1 {
			delete(s.Keys, key)
		}
	}
	return s
}

// WriteResults writes the results directory: the resolved workload as CUE
// and JSON, the provenance, one file per stage, and summary.json last, so a
// directory with a summary is a finished write. Each file is written to a
// temporary name and renamed into place.
func WriteResults(dir string, p *planner.Plan, rep *Report, prov Provenance) (Summary, error) {
	if err := os.MkdirAll(filepath.Join(dir, "stages"), 0o755); err != nil {
		return Summary{}, err
	}
	w := p.Workload
	cueSrc, err := w.CUE()
	if err != nil {
		return Summary{}, err
	}
	jsonSrc, err := w.JSON()
	if err != nil {
		return Summary{}, err
	}
	prov.Workload, prov.Seed, prov.Start, prov.End = w.Name, w.Seed, rep.Start, rep.End
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{"workload.cue", func() ([]byte, error) { return cueSrc, nil }},
		{"workload.json", func() ([]byte, error) { return jsonSrc, nil }},
		{"plan.json", func() ([]byte, error) { return indent(p.JSON()) }},
		{"provenance.json", func() ([]byte, error) { return indent(prov) }},
	}
	for _, sr := range rep.Stages {
		files = append(files, struct {
			name string
			data func() ([]byte, error)
		}{filepath.Join("stages", sr.ID+".json"), func() ([]byte, error) { return indent(sr) }})
	}
	sum := Summarize(p, rep)
	files = append(files, struct {
		name string
		data func() ([]byte, error)
	}{"summary.json", func() ([]byte, error) { return indent(sum) }})
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return sum, fmt.Errorf("results: %s: %w", f.name, err)
		}
		if err := writeAtomic(filepath.Join(dir, f.name), data); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func indent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Headliner is implemented by tasks that can say their key figures in one
// line for the human summary.
type Headliner interface {
	Headline(stages.Metrics) string
}

// WriteTable prints the human summary: one row per stage, then each
// stage's headline.
func WriteTable(out io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tkind\tstatus\tops\terrors\tbytes\tseconds\tMB/s\tp50 ms\tp99 ms\tp99.9 ms\t")
	for _, sr := range rep.Stages {
		var p50, p99, p999 float64
		if o := mainOp(sr.Measured.Ops); o != nil {
			p50, p99, p999 = o.Latency.P50*1e3, o.Latency.P99*1e3, o.Latency.P999*1e3
		}
		rate := 0.0
		if sr.Seconds > 0 {
			rate = float64(sr.Measured.Bytes) / 1e6 / sr.Seconds
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t\n",
			sr.ID, sr.Kind, sr.Status, sr.Measured.Count, sr.Measured.Errors, measure.IEC(sr.Measured.Bytes),
			sr.Seconds, rate, p50, p99, p999)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var eps []string
	for _, sr := range rep.Stages {
		for _, e := range endpoints(sr) {
			eps = append(eps, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s\t%.1f\t%.2f\t%.2f\t",
				sr.ID, e.Target, e.Endpoint, e.Ops, e.Errors, measure.IEC(e.Bytes), e.MBPerSecond, e.P50Seconds*1e3, e.P99Seconds*1e3))
		}
	}
	if len(eps) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stage\ttarget\tendpoint\tops\terrors\tbytes\tMB/s\tp50 ms\tp99 ms\t")
		for _, l := range eps {
			fmt.Fprintln(tw, l)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(rep.Stages))
	byID := map[string]*StageReport{}
	for _, sr := range rep.Stages {
		ids = append(ids, sr.ID)
		byID[sr.ID] = sr
	}
	sort.Strings(ids)
	for _, id := range ids {
		sr := byID[id]
		if h, ok := sr.node.Task.(Headliner); ok && sr.Metrics != nil {
			if line := h.Headline(sr.Metrics); line != "" {
				if sr.Status != StatusOK {
					// Figures of the part that ran; no verdict stands on them.
					line = "incomplete (" + sr.Status + "), measured until it stopped: " + line
				}
				fmt.Fprintf(out, "%s: %s\n", id, line)
			}
		}
		if sr.Error != "" {
			fmt.Fprintf(out, "%s: %s\n", id, sr.Error)
		}
	}
	return nil
}

// mainOp is the operation that moved the most bytes: the one whose
// latency the table shows for the stage.
func mainOp(ops []measure.OpStats) *measure.OpStats {
	var m *measure.OpStats
	for i := range ops {
		if m == nil || ops[i].Bytes > m.Bytes {
			m = &ops[i]
		}
	}
	return m
}
