package rules

import (
	"fmt"
	"math"
	"slices"
	"time"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/readepoch"
)

// start is when the run's benchmark stage started (its first data stage
// for a run that only prepared data), else when the run began.
func (r *run) start() time.Time {
	if sr := r.benchStage(); sr != nil && !sr.Start.IsZero() {
		return sr.Start
	}
	return r.Provenance.Start
}

// end is when the run's benchmark stage ended, else when the run did.
func (r *run) end() time.Time {
	if sr := r.benchStage(); sr != nil && !sr.End.IsZero() {
		return sr.End
	}
	return r.Provenance.End
}

func (r *run) benchStage() *results.StageReport {
	if r.Report == nil {
		return nil
	}
	if sr := r.report(results.KindOf(r.bench)); sr != nil {
		return sr
	}
	if len(r.Report.Stages) > 0 {
		return r.Report.Stages[0]
	}
	return nil
}

// training checks one training run: the model and accelerator, the
// parameters against the shipped workload, O_DIRECT, AU and datasize.
func (c *checker) training(r *run) {
	t := c.ed.Training
	sr := r.report("read-epoch")
	spec := r.stageOf("read-epoch")
	switch {
	case r.model == "":
		r.add(Finding{Rule: "train.model", Name: "a model and accelerator of the edition", Class: Open,
			Parameter: "mlperf.model", Expected: fmt.Sprint(t.ClosedModels), Actual: "unset",
			Detail: "the workload does not say which MLPerf training model it is, so its AU minimum and parameters are not checked"})
		return
	case !slices.Contains(t.ClosedModels, r.model) || !slices.Contains(t.ClosedAccelerators, r.accelerator):
		r.add(Finding{Rule: "train.model", Name: "a model and accelerator of the edition", Class: Open,
			Parameter: "mlperf.model, mlperf.accelerator", Expected: fmt.Sprintf("%v on %v", t.ClosedModels, t.ClosedAccelerators),
			Actual: r.model + " on " + r.accelerator})
	default:
		r.add(Finding{Rule: "train.model", Name: "a model and accelerator of the edition", Class: Closed,
			Parameter: "mlperf.model, mlperf.accelerator", Actual: r.model + " on " + r.accelerator})
	}
	c.parameters(r, "train.parameters", trainingRef(r.model, r.accelerator), t.ClosedMayChange, t.OpenMayChange)

	if odirect, _ := spec["odirect"].(bool); odirect {
		cl := Closed
		if !slices.Contains(t.ODirectModels, r.model) {
			cl = Invalid
		}
		r.add(Finding{Rule: "train.odirect", Name: "O_DIRECT only for the models that may use it", Class: cl,
			Parameter: "reader.odirect", Expected: fmt.Sprint(t.ODirectModels), Actual: r.model})
	}

	if min, ok := t.AUMinimum[r.model]; ok {
		f := Finding{Rule: "train.au_minimum", Name: "AU at or above the model's minimum", Class: Closed,
			Parameter: "train_au_mean_percentage", Expected: "≥ " + num(100*min)}
		au, ok := metric(sr, "train_au_mean_percentage")
		switch {
		case !ok:
			f.Class, f.Actual = Invalid, "not recorded"
		case au < 100*min:
			f.Class, f.Actual = Invalid, num(au)
		default:
			f.Actual = num(au)
		}
		r.add(f)
	}
	c.datasize(r, spec)
}

// datasize checks the dataset's files against the rules' minimum for the
// memory the run recorded: of the host it ran on (provenance), times the
// hosts it ran on.
func (c *checker) datasize(r *run, spec map[string]any) {
	t := c.ed.Training
	dsName, _ := spec["dataset"].(string)
	ds, _ := get(r.Workload, "datasets", dsName).(map[string]any)
	files, ok1 := stages.Number(ds["files"])
	spf, ok2 := stages.Number(ds["samples_per_file"])
	rb, ok3 := stages.Number(ds["record_bytes"])
	acc, ok4 := stages.Number(spec["accelerators"])
	batch, ok5 := stages.Number(spec["batch_size"])
	// The memory is the largest host's where read-epoch recorded it (a
	// run across hosts), else the run's one host's.
	mem := r.Provenance.MemoryBytes
	if sr := r.report("read-epoch"); sr != nil {
		if gb, ok := metric(sr, "host_memory_GB"); ok && gb > 0 {
			mem = int64(gb * (1 << 30))
		}
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || mem <= 0 {
		r.add(Finding{Rule: "train.datasize", Name: "files at least the datasize minimum for the recorded memory", Class: Invalid,
			Parameter: "dataset.num_files_train", Actual: "not recorded",
			Detail: "the run did not record its dataset, accelerators, batch or host memory"})
		return
	}
	hosts := 1.0
	if sr := r.report("read-epoch"); sr != nil {
		if h, ok := metric(sr, "num_hosts"); ok && h >= 1 {
			hosts = h
		}
	}
	_, byMem, bySteps := readepoch.MinimumFiles(int64(t.DatasizeMemoryFactor), int64(t.DatasizeSteps),
		stages.Sizing{ClientMemoryBytes: mem, Clients: int(hosts), Accelerators: int(acc)}, int64(batch), int64(spf), int64(rb))
	need := byMem
	if bySteps.Cmp(byMem) > 0 {
		need = bySteps
	}
	f := Finding{Rule: "train.datasize", Name: "files at least the datasize minimum for the recorded memory", Class: Closed,
		Parameter: "dataset.num_files_train", Expected: "≥ " + need.String(), Actual: num(files),
		Detail: fmt.Sprintf("by memory: %g × %d host(s) × %d bytes ÷ %d bytes per file = %s; by steps: %d × %g accelerators × batch %g ÷ %g samples per file = %s",
			t.DatasizeMemoryFactor, int(hosts), mem, int64(spf*rb), byMem, t.DatasizeSteps, acc, batch, spf, bySteps)}
	if !need.IsInt64() || int64(files) < need.Int64() {
		f.Class = Invalid
	}
	r.add(f)
}

// trainingSeries checks a training result: warm-up plus measured runs,
// consecutive, seeds changing over one dataset, results repeating, and
// the dataset generated being the one read.
func (c *checker) trainingSeries(rs []*run) []Finding {
	t := c.ed.Training
	var out []Finding
	ms := measured(rs)
	want := t.WarmupRuns + t.MeasuredRuns
	f := Finding{Rule: "train.runs", Name: "warm-up and measured runs", Class: Closed,
		Expected: fmt.Sprintf("%d (%d warm-up + %d measured)", want, t.WarmupRuns, t.MeasuredRuns), Actual: fmt.Sprint(len(ms))}
	if len(ms) != want {
		f.Class = Invalid
	}
	if n := len(rs) - len(ms); n > 0 {
		f.Detail = fmt.Sprintf("%d data generation run(s) beside them, not counted", n)
	}
	out = append(out, f)

	for i := 1; i < len(ms); i++ {
		a, b := ms[i-1], ms[i]
		run := a.end().Sub(a.start())
		gap := b.start().Sub(a.end())
		f := Finding{Rule: "train.consecutive", Name: "runs back to back: each gap shorter than a run", Class: Closed,
			Run: b.rel, Parameter: "gap after " + a.rel, Expected: "< " + dur(run), Actual: dur(gap)}
		if gap >= run {
			f.Class = Invalid
		}
		out = append(out, f)
	}

	seen := map[float64]string{}
	for _, r := range ms {
		spec := r.stageOf("read-epoch")
		if spec["file_shuffle"] != "seed" && spec["sample_shuffle"] != "seed" {
			continue
		}
		s, ok := metric(r.report("read-epoch"), "shuffle_seed")
		if !ok {
			continue
		}
		f := Finding{Rule: "train.seed", Name: "the run seed changes every run", Class: Closed, Run: r.rel,
			Parameter: "run_seed", Actual: num(s)}
		if other, dup := seen[s]; dup {
			f.Class, f.Expected = Invalid, "a seed no other run of the series used (as "+other+" did)"
			f.Detail = "mlps exec --repeat sets run_seed per run; separate invocations need --set run_seed=N each"
		}
		seen[s] = r.rel
		out = append(out, f)
	}

	if len(ms) > t.WarmupRuns+1 {
		var xs []float64
		var who []string
		for _, r := range ms[t.WarmupRuns:] {
			if x, ok := metric(r.report("read-epoch"), "train_throughput_mean_samples_per_second"); ok {
				xs = append(xs, x)
				who = append(who, r.rel)
			}
		}
		if len(xs) > 1 {
			var sum float64
			for _, x := range xs {
				sum += x
			}
			mean := sum / float64(len(xs))
			for i, x := range xs {
				dev := math.Abs(x-mean) / mean
				f := Finding{Rule: "train.repeat", Name: "measured runs repeat within the bound", Class: Closed, Run: who[i],
					Parameter: "train_throughput_mean_samples_per_second", Expected: fmt.Sprintf("within %g%% of the measured runs' mean %s", 100*t.RepeatWithin, num(mean)),
					Actual: fmt.Sprintf("%s (%.2f%% off)", num(x), 100*dev)}
				if dev > t.RepeatWithin {
					f.Class = Invalid
				}
				out = append(out, f)
			}
		}
	}

	// The dataset read must be the dataset generated, where the series
	// holds the generation.
	for _, g := range rs {
		gen := g.stageOf("generate")
		if gen == nil || !g.Finished {
			continue
		}
		gname, _ := gen["dataset"].(string)
		gds, _ := get(g.Workload, "datasets", gname).(map[string]any)
		for _, r := range ms {
			spec := r.stageOf("read-epoch")
			name, _ := spec["dataset"].(string)
			ds, _ := get(r.Workload, "datasets", name).(map[string]any)
			for _, k := range []string{"format", "files", "subfolders", "samples_per_file", "record_bytes", "record_bytes_stdev", "path", "prefix"} {
				if fmt.Sprint(gds[k]) != fmt.Sprint(ds[k]) {
					out = append(out, Finding{Rule: "train.dataset_generated", Name: "the run reads the dataset generated", Class: Invalid,
						Run: r.rel, Parameter: "datasets." + name + "." + k, Expected: fmt.Sprint(gds[k]) + " (as " + g.rel + " generated)", Actual: fmt.Sprint(ds[k])})
				}
			}
			if fmt.Sprint(g.Workload["seed"]) != fmt.Sprint(r.Workload["seed"]) {
				out = append(out, Finding{Rule: "train.dataset_generated", Name: "the run reads the dataset generated", Class: Invalid,
					Run: r.rel, Parameter: "seed", Expected: fmt.Sprint(g.Workload["seed"]) + " (as " + g.rel + " generated)", Actual: fmt.Sprint(r.Workload["seed"])})
			}
		}
	}
	return out
}

func dur(d time.Duration) string { return d.Round(time.Millisecond).String() }
