package rules

import (
	"fmt"
	"maps"
	"slices"

	"mlps.dev/mlps/stages"
)

// checkpointing checks one checkpointing run: the writes and reads, fsync,
// the processes (a subset only where allowed), the accelerators' memory,
// clearing caches between write and read, and the parameters.
func (c *checker) checkpointing(r *run) {
	e := c.ed.Checkpointing
	sr := r.report("checkpoint")
	spec := r.stageOf("checkpoint")
	model := r.model
	if model == "" {
		model, _ = get(spec, "model", "name").(string)
	}

	saved, _ := metric(sr, "checkpoints_saved")
	loaded, _ := metric(sr, "checkpoints_loaded")
	f := Finding{Rule: "ckpt.counts", Name: "checkpoints written and read", Class: Closed,
		Parameter: "checkpoints_saved, checkpoints_loaded",
		Expected:  fmt.Sprintf("%d and %d, or a write invocation of %d then a read invocation of %d", e.Writes, e.Reads, e.Writes, e.Reads),
		Actual:    fmt.Sprintf("%g and %g", saved, loaded)}
	whole := int(saved) == e.Writes && int(loaded) == e.Reads
	split := (int(saved) == e.Writes && loaded == 0) || (saved == 0 && int(loaded) == e.Reads)
	if !whole && !split {
		f.Class = Invalid
	}
	r.add(f)

	fsync, _ := spec["fsync"].(bool)
	f = Finding{Rule: "ckpt.fsync", Name: "fsync on", Class: Closed, Parameter: "fsync", Expected: fmt.Sprint(e.Fsync), Actual: fmt.Sprint(fsync)}
	if e.Fsync && !fsync && saved > 0 {
		f.Class = Invalid
	}
	r.add(f)

	ranks, _ := metric(sr, "ranks")
	full, _ := metric(sr, "full_run_ranks")
	want, known := e.Processes[model]
	f = Finding{Rule: "ckpt.processes", Name: "the model's processes: all of them, or the allowed subset", Class: Closed,
		Parameter: "processes", Actual: fmt.Sprintf("%g of the full run's %g", ranks, full)}
	switch {
	case !known:
		f.Class, f.Expected = Open, fmt.Sprintf("a model of the edition: %v", slices.Sorted(maps.Keys(e.Processes)))
		f.Actual = fmt.Sprintf("%q", model)
	case ranks < full:
		sub, ok := e.Subset[model]
		f.Expected = fmt.Sprintf("%d, or a subset of exactly %d for %v", want, sub, slices.Sorted(maps.Keys(e.Subset)))
		if !ok || int(ranks) != sub {
			f.Class = Invalid
			if !ok {
				f.Expected = fmt.Sprintf("%d: a subset run is allowed only for %v", want, slices.Sorted(maps.Keys(e.Subset)))
			}
		}
	case int(ranks) != want:
		f.Expected = fmt.Sprint(want)
		tp, _ := stages.Number(get(spec, "parallelism", "tensor"))
		pp, _ := stages.Number(get(spec, "parallelism", "pipeline"))
		if unit := int(tp * pp); unit > 0 && int(ranks)%unit == 0 {
			f.Class, f.Detail = Open, fmt.Sprintf("OPEN may scale the processes in multiples of TP × PP = %d", unit)
		} else {
			f.Class = Invalid
		}
	default:
		f.Expected = fmt.Sprint(want)
	}
	r.add(f)

	if r.accelerator != "" && known {
		gb, ok := e.AcceleratorMemoryGB[r.accelerator]
		size, _ := metric(sr, "full_run_checkpoint_bytes")
		if size == 0 {
			size, _ = metric(sr, "checkpoint_bytes")
		}
		f = Finding{Rule: "ckpt.accelerator_memory", Name: "the accelerators' memory holds the checkpoint", Class: Closed,
			Parameter: "mlperf.accelerator", Expected: fmt.Sprintf("%d × memory ≥ %s GB", want, num(size/1e9))}
		switch {
		case !ok:
			f.Class, f.Actual = Open, r.accelerator+", an accelerator the edition does not list"
		case float64(want)*gb*1e9 < size:
			f.Class, f.Actual = Invalid, fmt.Sprintf("%d × %g GB", want, gb)
		default:
			f.Actual = fmt.Sprintf("%d × %g GB", want, gb)
		}
		r.add(f)
	}

	// Checkpoint data that a client's page cache could hold is read back
	// from storage only if the cache was dropped between write and read;
	// an object store keeps no client cache.
	if saved > 0 && loaded > 0 && c.pageCached(r, spec) {
		drop, _ := spec["drop_cache"].(bool)
		bytes, _ := metric(sr, "checkpoint_bytes")
		mem := float64(r.Provenance.MemoryBytes)
		if mem > 0 && bytes < e.CacheMemoryFactor*mem {
			f = Finding{Rule: "ckpt.cache_cleared", Name: "caches cleared between write and read", Class: Closed,
				Parameter: "drop_cache", Expected: "true", Actual: fmt.Sprint(drop),
				Detail: fmt.Sprintf("checkpoint %s GB under %g × the host's %s GB", num(bytes/1e9), e.CacheMemoryFactor, num(mem/1e9))}
			if !drop {
				f.Class = Invalid
			}
			r.add(f)
		}
	}
	c.parameters(r, "ckpt.parameters", checkpointRef(model), e.ClosedMayChange, e.OpenMayChange)
}

// pageCached says whether the checkpoint stage's target is one the host's
// page cache serves: a file system.
func (c *checker) pageCached(r *run, spec map[string]any) bool {
	target, _ := spec["target"].(string)
	t, ok := r.Summary.Targets[target]
	return ok && (t.Scheme == "file" || t.Scheme == "tmp")
}

// checkpointSeries checks a checkpointing result: one invocation that
// wrote and read, or a write invocation and then a read invocation that
// started within the bound of the write's end.
func (c *checker) checkpointSeries(rs []*run) []Finding {
	e := c.ed.Checkpointing
	ms := measured(rs)
	var writes, reads, both []*run
	for _, r := range ms {
		sr := r.report("checkpoint")
		saved, _ := metric(sr, "checkpoints_saved")
		loaded, _ := metric(sr, "checkpoints_loaded")
		switch {
		case saved > 0 && loaded > 0:
			both = append(both, r)
		case saved > 0:
			writes = append(writes, r)
		case loaded > 0:
			reads = append(reads, r)
		}
	}
	f := Finding{Rule: "ckpt.invocations", Name: "one invocation, or a write then a read", Class: Closed,
		Expected: "1 run that writes and reads, or 2: a write, then a read",
		Actual:   fmt.Sprintf("%d that write and read, %d that write, %d that read", len(both), len(writes), len(reads))}
	ok := (len(both) == 1 && len(writes) == 0 && len(reads) == 0) || (len(both) == 0 && len(writes) == 1 && len(reads) == 1)
	if !ok {
		f.Class = Invalid
	}
	out := []Finding{f}
	if len(writes) == 1 && len(reads) == 1 {
		w, rd := writes[0], reads[0]
		// From the write's end (its checkpoint stage's last byte made
		// durable) to the read's start: upstream measured it from the
		// wrong origin and rejected valid runs.
		gap := rd.start().Sub(w.end())
		f := Finding{Rule: "ckpt.read_within", Name: "the read starts soon after the write ends", Class: Closed,
			Run: rd.rel, Parameter: "read start − write end", Expected: fmt.Sprintf("≤ %gs, and after the write", e.ReadWithinSeconds), Actual: dur(gap)}
		if gap.Seconds() > e.ReadWithinSeconds || gap < 0 {
			f.Class = Invalid
		}
		out = append(out, f)
	}
	return out
}
