// Package results is the results of a run, as data: the report exec
// produces, the summary and the human table made from it, the provenance
// that places it, and the results directory they are written to and read
// back from. Nothing here runs a stage or needs a plan's tasks, so that
// reading, validating and reporting on results needs only the directory.
package results

import (
	"context"
	"errors"
	"slices"
	"time"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/measure"
)

// Status of a stage in a report.
const (
	StatusOK       = "ok"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusNotRun   = "not-run"
)

// Report is what a run did.
type Report struct {
	Workload string    `json:"workload"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Seconds is the run's duration, by the monotonic clock.
	Seconds  float64 `json:"seconds"`
	Complete bool    `json:"complete"`
	// GoMaxProcs is the processors the Go runtime ran the stages on:
	// at least the stages' concurrent storage calls (stages.Concurrent),
	// or GOMAXPROCS as the user set it.
	GoMaxProcs int `json:"go_max_procs"`
	// Stages are in the order the plan lists them.
	Stages []*StageReport `json:"stages"`
	// Skipped are the workload's stages this run left out (mlps exec
	// --only, --skip).
	Skipped []string `json:"skipped_stages,omitempty"`
	// Targets describes every target of the workload as the planner
	// resolved it.
	Targets map[string]Target `json:"targets"`
	// Hosts are the hosts the run's processes ran on: one for a run of
	// one process.
	Hosts []HostReport `json:"hosts"`
	// Err is the error that ended the run early, if any.
	Err error `json:"-"`
}

// HostReport is one host of a run: what it is, and its processes.
type HostReport struct {
	stages.Host
	Processes []ProcessReport `json:"processes"`
}

// ProcessReport is one process of a run, the ranks it ran of each stage
// that spreads its ranks (stages.Spread), as "first-last", and, in the
// summary, what it measured of each stage that ran.
type ProcessReport struct {
	Proc   int                     `json:"proc"`
	Ranks  map[string]string       `json:"ranks,omitempty"`
	Stages map[string]ProcessStage `json:"stages,omitempty"`
}

// ProcessStage is one process's share of a stage's operations: the
// per-process and per-host breakdown of the stage's figures.
type ProcessStage struct {
	Ops    uint64 `json:"ops"`
	Errors uint64 `json:"errors"`
	Bytes  int64  `json:"bytes"`
	// MBPerSecond is Bytes ÷ the stage's wall time, as the stage's own.
	MBPerSecond float64 `json:"stage_MB_per_second"`
}

// Canceled reports whether the run was stopped by its context (Ctrl-C)
// rather than by a failure.
func (r *Report) Canceled() bool { return errors.Is(r.Err, context.Canceled) }

// Target is a target as resolved, without secrets: enough to tell which
// storage a figure is of, and whether two stages used the same storage
// through different clients.
type Target struct {
	Scheme string `json:"scheme"`
	// Storage is the storage the URI names, canonical; "" when every open
	// makes a new store (tmp, mem).
	Storage string `json:"storage,omitempty"`
	// Client is the client library, the scheme's default filled in; ""
	// where the scheme has one.
	Client    string   `json:"client,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
	// CAFile and InsecureSkipVerify are the TLS trust the target asked
	// for: a figure measured without verifying the store's certificate
	// says so.
	CAFile             string `json:"ca_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// TargetOf describes a resolved target.
func TargetOf(t *backends.Target) Target {
	r := Target{Scheme: t.Scheme, Client: t.Client, Endpoints: slices.Clone(t.Endpoints),
		CAFile: t.CAFile, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.Traits.Shared {
		r.Storage = t.Storage
	}
	return r
}

// StageReport is what one stage did.
type StageReport struct {
	ID       string           `json:"id"`
	Kind     string           `json:"kind"`
	Status   string           `json:"status"`
	Error    string           `json:"error,omitempty"`
	Start    time.Time        `json:"start,omitzero"`
	End      time.Time        `json:"end,omitzero"`
	Seconds  float64          `json:"seconds"`
	Planned  stages.Work      `json:"planned"`
	Measured measure.Snapshot `json:"measured"`
	Metrics  stages.Metrics   `json:"metrics,omitempty"`
	// Headline is the stage's key figures in one line, as the stage
	// kind says them (stages.Headliner).
	Headline string `json:"headline,omitempty"`
	// SummaryKeys name the metrics that belong at the top of
	// summary.json (stages.SummaryKeyer).
	SummaryKeys []string `json:"summary_keys,omitempty"`
	// Units says the unit and meaning of metrics whose names do not
	// (stages.Uniter).
	Units map[string]string `json:"units,omitempty"`
	// Requests counts the HTTP requests of object stores, retries
	// included; absent for stages that only touched local targets.
	Requests *backends.StatsSnapshot `json:"requests,omitempty"`
	// Processes are each process's share of Measured in a run across
	// processes; absent in a run of one, whose share is all of it.
	Processes []ProcessShare `json:"processes,omitempty"`
}

// ProcessShare is what one process of a run measured of a stage.
type ProcessShare struct {
	Proc   int    `json:"proc"`
	Ops    uint64 `json:"ops"`
	Errors uint64 `json:"errors"`
	Bytes  int64  `json:"bytes"`
}
