package results_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages/measure"
)

// A results directory reads back into the report it was written from:
// the summary and the table made from the loaded report are the ones the
// run printed, without the plan's tasks.
func TestWriteLoadRoundTrip(t *testing.T) {
	p, rep := exectest.Run(t, `name: "roundtrip"
targets: t: uri: "mem://"
datasets: d: {target: "t", format: "npz", files: 16, record_bytes: 4096}
stages: {
	gen: {kind: "generate", dataset: "d"}
	read: {kind: "read-epoch", dataset: "d", epochs: 2}
}
`)
	dir := filepath.Join(t.TempDir(), "run")
	cueSrc, err := p.Workload.CUE()
	if err != nil {
		t.Fatal(err)
	}
	in := results.Inputs{WorkloadCUE: cueSrc, WorkloadJSON: []byte("{}\n"), Plan: p.JSON(), Seed: p.Workload.Seed}
	prov := results.NewProvenance([]string{"mlps", "exec"})
	if err := results.Claim(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := results.Begin(dir, in, prov); err != nil {
		t.Fatal(err)
	}
	sum, err := results.Write(dir, rep, prov)
	if err != nil {
		t.Fatal(err)
	}
	if err := results.Claim(dir, false); err == nil || !strings.Contains(err.Error(), "already holds a result") {
		t.Errorf("Claim of a written result: %v", err)
	}
	loaded, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(sum)
	got, _ := json.Marshal(results.Summarize(loaded))
	if !bytes.Equal(got, want) {
		t.Errorf("summary of the loaded report:\n%s\nwant the written one:\n%s", got, want)
	}
	if _, ok := sum.Keys["train_au_mean_percentage"]; !ok {
		t.Errorf("summary hoists no training key: %v", sum.Keys)
	}
	var a, b bytes.Buffer
	if err := results.WriteTable(&a, rep); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteTable(&b, loaded); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("table of the loaded report:\n%s\nwant:\n%s", b.String(), a.String())
	}
	if !strings.Contains(a.String(), "read: AU ") {
		t.Errorf("table has no headline for read:\n%s", a.String())
	}
}

func TestLoadUnfinished(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "stages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := results.Load(dir); err == nil || !strings.Contains(err.Error(), "no finished result") {
		t.Errorf("Load of a directory without summary.json: %v", err)
	}
}

// Stages pair for a client A/B when they are of one kind, each used one
// target, and the targets name the same storage through the same
// endpoints with different clients.
func TestClientAB(t *testing.T) {
	stage := func(id, kind, target string, bytes int64) *results.StageReport {
		return &results.StageReport{ID: id, Kind: kind, Status: results.StatusOK, Seconds: 2,
			Measured: measure.Snapshot{Bytes: bytes, Ops: []measure.OpStats{{Op: "read", Target: target, Bytes: bytes}}}}
	}
	eps := []string{"http://127.0.0.1:9000", "http://127.0.0.1:9001"}
	rep := &results.Report{
		Targets: map[string]results.Target{
			"a": {Scheme: "s3", Storage: "s3://b/x", Client: "aws", Endpoints: eps},
			"m": {Scheme: "s3", Storage: "s3://b/x", Client: "minio", Endpoints: []string{eps[1], eps[0]}},
			"o": {Scheme: "s3", Storage: "s3://b/y", Client: "minio", Endpoints: eps},
			"g": {Scheme: "gs", Storage: "gs://b/x"},
		},
		Stages: []*results.StageReport{
			stage("ra", "read-epoch", "a", 200e6),
			stage("rm", "read-epoch", "m", 300e6),
			stage("ro", "read-epoch", "o", 100e6), // another prefix
			stage("ga", "generate", "a", 100e6),   // another kind
			stage("rg", "read-epoch", "g", 100e6), // one client only
		},
	}
	ab := results.Summarize(rep).ClientAB
	if len(ab) != 1 {
		t.Fatalf("client A/B pairs %+v, want ra with rm", ab)
	}
	if p := ab[0]; p.StageA != "ra" || p.StageB != "rm" || p.ClientA != "aws" || p.ClientB != "minio" || p.MBPerA != 100 || p.Ratio != 1.5 {
		t.Errorf("pair %+v", p)
	}
}

// A stage whose store failed, stalled or was slow gets a warning in the summary
// and the table, even when the run completed; a clean stage gets none.
func TestStoreWarning(t *testing.T) {
	rep := &results.Report{Complete: true, Stages: []*results.StageReport{
		{ID: "clean", Kind: "read-epoch", Status: results.StatusOK, Requests: &backends.StatsSnapshot{Requests: 10}},
		{ID: "frozen", Kind: "read-epoch", Status: results.StatusOK,
			Requests: &backends.StatsSnapshot{Requests: 12, Transient: 1, Retries: 1, Stalls: 1, Slow: 2}},
	}}
	sum := results.Summarize(rep)
	want := "stage frozen: of 12 object-store requests, 1 failed transiently and 1 were retries; " +
		"1 stalled (no progress for the target's stall_timeout) and 2 were slow (no progress for more than a quarter of it, then moved on)"
	if len(sum.Warnings) != 1 || sum.Warnings[0] != want {
		t.Errorf("warnings %q, want [%q]", sum.Warnings, want)
	}
	var out bytes.Buffer
	if err := results.WriteTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: "+want+"\n") {
		t.Errorf("table does not warn:\n%s", out.String())
	}
}

// Only a stage that finished puts its keys at the top of summary.json,
// where the suite's tools read a result; the units of the keys it puts
// there come along.
func TestSummaryHoistsFinishedStagesOnly(t *testing.T) {
	for _, status := range []string{results.StatusOK, results.StatusFailed, results.StatusCanceled} {
		rep := &results.Report{Stages: []*results.StageReport{{
			ID: "train", Kind: "read-epoch", Status: status,
			Metrics:     map[string]any{"train_au_mean_percentage": 95.0, "train_io_mean_MB_per_second": 10.0},
			SummaryKeys: []string{"train_au_mean_percentage", "train_io_mean_MB_per_second"},
			Units:       map[string]string{"train_io_mean_MB_per_second": "MiB/s"},
		}}}
		sum := results.Summarize(rep)
		_, hoisted := sum.Keys["train_au_mean_percentage"]
		_, unit := sum.Units["train_io_mean_MB_per_second"]
		if want := status == results.StatusOK; hoisted != want || unit != want {
			t.Errorf("%s stage: hoisted %v, unit %v; want %v", status, hoisted, unit, want)
		}
		if _, ok := sum.Units["stages.*.stage_MB_per_second"]; !ok {
			t.Errorf("%s: no unit for the stage rate: %v", status, sum.Units)
		}
	}
}
