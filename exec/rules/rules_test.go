package rules_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/rules"
	"mlps.dev/mlps/stages/checkpoint"
	"mlps.dev/mlps/stages/kvcache"
	"mlps.dev/mlps/stages/readepoch"
	"mlps.dev/mlps/workloads"
)

func TestLoad(t *testing.T) {
	e, err := rules.Load(rules.Latest)
	if err != nil {
		t.Fatal(err)
	}
	if e.Training.WarmupRuns+e.Training.MeasuredRuns != 6 || e.Checkpointing.Writes != 10 || e.VectorDatabase.Runs != 5 || len(e.KVCache.Options) != 3 {
		t.Errorf("v3.0: %+v", e)
	}
	if _, err := rules.Load("v2.9"); err == nil || !strings.Contains(err.Error(), `no edition "v2.9"; the editions are v3.0`) {
		t.Errorf("an unknown edition: %v", err)
	}
}

// The shipped workloads and the latest edition say the same: each
// training workload's AU minimum is its model's, each llama3 workload runs
// its model's CLOSED process count with fsync, 10 saves and 10 loads, and
// each KV-cache option is the edition's, to the seed and the trials. A
// number changed in one place only fails here.
func TestShippedWorkloadsAgree(t *testing.T) {
	e, err := rules.Load(rules.Latest)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(workloads.Files, "*/*.cue")
	if err != nil {
		t.Fatal(err)
	}
	var training, ckpts, kvs int
	for _, f := range files {
		model, base := path.Dir(f), strings.TrimSuffix(path.Base(f), ".cue")
		if base == model {
			continue // the model's shared definitions
		}
		t.Run(f, func(t *testing.T) {
			p := exectest.PlanFile(t, path.Join("../../workloads", f))
			for id, st := range p.Workload.Stages {
				switch st.Kind {
				case "read-epoch":
					var s readepoch.Spec
					if err := st.Decode(&s); err != nil {
						t.Fatal(err)
					}
					want, ok := e.Training.AUMinimum[model]
					if !ok {
						t.Fatalf("%s: the edition has no AU minimum for %s", id, model)
					}
					if s.AUMinimum != want {
						t.Errorf("%s: au_minimum %g, the edition's %g", id, s.AUMinimum, want)
					}
					training++
				case "checkpoint":
					var s checkpoint.Spec
					if err := st.Decode(&s); err != nil {
						t.Fatal(err)
					}
					name := p.Workload.Name
					if n := s.Parallelism.Ranks(); n != int64(e.Checkpointing.Processes[name]) {
						t.Errorf("%s: %d processes, the edition's %d", name, n, e.Checkpointing.Processes[name])
					}
					if s.Writes != e.Checkpointing.Writes || s.Reads != e.Checkpointing.Reads || s.Fsync != e.Checkpointing.Fsync {
						t.Errorf("%s: %d writes, %d reads, fsync %v", name, s.Writes, s.Reads, s.Fsync)
					}
					ckpts++
				case "kvcache":
					var s kvcache.Spec
					if err := st.Decode(&s); err != nil {
						t.Fatal(err)
					}
					o, ok := e.KVCache.Options[base]
					if !ok {
						t.Fatalf("the edition has no KV-cache %s", base)
					}
					const gib = 1 << 30
					if s.Model != o.Model || s.Users != o.Users || s.Duration != o.DurationSeconds ||
						float64(s.GPUBytes) != o.GPUGiB*gib || float64(s.CPUBytes) != o.CPUGiB*gib ||
						s.MaxConcurrentAllocs != o.MaxConcurrentAllocs || s.Trials != e.KVCache.Trials ||
						p.Workload.Seed != e.KVCache.Seed {
						t.Errorf("%s: %+v, seed %d; the edition's %+v", base, s, p.Workload.Seed, o)
					}
					kvs++
				}
			}
		})
	}
	if training < 13 || ckpts != len(e.Checkpointing.Processes) || kvs != len(e.KVCache.Options) {
		t.Errorf("%d training, %d checkpointing and %d KV-cache workloads checked", training, ckpts, kvs)
	}
}
