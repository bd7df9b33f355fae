// Package readepoch implements the read-epoch stage, which emulates the
// I/O of training: emulated accelerators (ranks) each read their share of
// a dataset in batches through a pool of loader workers with batches
// prefetched, "compute" for computation_time per batch and wait for each
// other after every step. It reports accelerator utilisation (AU) and
// throughput as DLIO defines them, and the bytes it actually read.
package readepoch

import (
	"fmt"
	"math"
	"slices"
	"time"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/format/parquet"
	"mlps.dev/mlps/stages/internal/ckpt"
	"mlps.dev/mlps/stages/measure"
)

// Spec mirrors schema.#ReadEpoch.
type Spec struct {
	dsl.Common
	Dataset           string      `json:"dataset"`
	Via               string      `json:"via,omitempty"`
	Epochs            int         `json:"epochs"`
	Accelerators      int         `json:"accelerators"`
	BatchSize         int64       `json:"batch_size"`
	ReadThreads       int         `json:"read_threads"`
	PrefetchSize      int         `json:"prefetch_size"`
	ComputationTime   Compute     `json:"computation_time"`
	FileShuffle       string      `json:"file_shuffle"`
	SampleShuffle     string      `json:"sample_shuffle"`
	ShuffleSize       int64       `json:"shuffle_size,omitempty"`
	Columns           []string    `json:"columns,omitempty"`
	ODirect           bool        `json:"odirect"`
	Verify            bool        `json:"verify"`
	Evaluation        *Evaluation `json:"evaluation,omitempty"`
	Checkpoint        *Checkpoint `json:"checkpoint,omitempty"`
	TransferBytes     int64       `json:"transfer_bytes"`
	ExcludeStartSteps int         `json:"exclude_start_steps"`
	ExcludeEndSteps   int         `json:"exclude_end_steps"`
	AUMinimum         float64     `json:"au_minimum"`
}

// Evaluation mirrors schema.#Evaluation.
type Evaluation struct {
	Dataset         string  `json:"dataset"`
	BatchSize       int64   `json:"batch_size"`
	ComputationTime Compute `json:"computation_time"`
	AfterEpoch      int     `json:"after_epoch"`
	Every           int     `json:"every"`
}

// Checkpoint mirrors schema.#EpochCheckpoint.
type Checkpoint struct {
	Target     string `json:"target"`
	Path       string `json:"path"`
	ModelBytes int64  `json:"model_bytes"`
	AfterEpoch int    `json:"after_epoch"`
	Every      int    `json:"every"`
	Fsync      bool   `json:"fsync"`
	ChunkBytes int64  `json:"chunk_bytes"`
}

// at reports whether a checkpoint follows epoch e (counted from 1).
func (c *Checkpoint) at(e int) bool {
	return c != nil && e >= c.AfterEpoch && (e-c.AfterEpoch)%c.Every == 0
}

func init() {
	stages.Register(stages.Kind{Name: "read-epoch", Plan: plan})
}

// Ranks is the stage's accelerators: read-epoch spreads them over the
// run's processes (stages.Spread).
func (t *task) Ranks() int { return t.spec.Accelerators }

// WhyNotSpread refuses checkpoints within the training run across
// processes: they save from one process (stages.Unspreadable).
func (t *task) WhyNotSpread() string {
	if t.checkpoints() > 0 {
		return "checkpoints within a training run across processes are not supported yet: leave the read-epoch stage's checkpoint out, and run a checkpoint stage of its own"
	}
	return ""
}

type task struct {
	id   string
	spec Spec
	// seed is the workload's: of the content to verify. runSeed is the
	// run's (run_seed, else seed): of the shuffles and compute draws.
	seed, runSeed uint64
	// pageCache is set when the target the dataset is read through keeps
	// its files in the host's page cache, which can then serve reads of a
	// dataset that fits in memory.
	pageCache bool
	train     *phase
	eval      *phase    // nil without evaluation
	ckpt      *ckpt.Set // nil without checkpoints
}

func plan(in *stages.PlanInput, id string) (stages.Task, error) {
	w := in.Workload
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	l, err := dataset.Resolve(w, s.Dataset, "stages", id, "dataset")
	if err != nil {
		return nil, err
	}
	if s.Via != "" {
		if _, err := in.Target(s.Via, "stages", id, "via"); err != nil {
			return nil, err
		}
		l.Dataset.Target = s.Via
	}
	// The target the reads go through: the dataset's, or via.
	reads := in.Targets[l.Target]
	if s.ODirect {
		if err := in.ODirect(l.Target, false, "stages", id, "odirect"); err != nil {
			return nil, err
		}
	}
	if s.Verify {
		if err := in.Stores(l.Target, noVerify, "stages", id, "verify"); err != nil {
			return nil, err
		}
	}
	at := []any{"stages", id, "dataset"}
	if s.Via != "" {
		at = []any{"stages", id, "via"}
	}
	if err := readable(in, l, at); err != nil {
		return nil, err
	}
	ranks := int64(s.Accelerators)
	t := &task{id: id, spec: s, seed: w.Seed, runSeed: w.RunSeed(), pageCache: reads.Traits.PageCache,
		train: newPhase("train", l, s.BatchSize, ranks, s.ComputationTime)}
	t.train.exact = reads.Traits.Discards
	t.train.fileShuffle = s.FileShuffle != "off"
	t.train.sampleShuffle = s.SampleShuffle != "off"
	t.train.window = s.ShuffleSize
	t.train.columns = s.Columns
	t.train.excludeStart, t.train.excludeEnd = int64(s.ExcludeStartSteps), int64(s.ExcludeEndSteps)
	if err := checkSteps(w, id, t.train, "batch_size"); err != nil {
		return nil, err
	}
	if excl := t.train.excludeStart + t.train.excludeEnd; excl >= t.train.steps {
		return nil, dsl.Errorf(w.Pos("stages", id, "exclude_start_steps"), "stages."+id+".exclude_start_steps",
			"an epoch has %d steps per accelerator and %d are excluded: nothing would be measured", t.train.steps, excl)
	}
	if len(s.Columns) > 0 && l.Access() != dataset.RowGroups {
		return nil, dsl.Errorf(w.Pos("stages", id, "columns"), "stages."+id+".columns",
			"columns select parquet columns, and dataset %s is %s", l.Name, l.Format)
	}
	if ev := s.Evaluation; ev != nil {
		el, err := dataset.Resolve(w, ev.Dataset, "stages", id, "evaluation", "dataset")
		if err != nil {
			return nil, err
		}
		if s.Via != "" {
			el.Dataset.Target = s.Via
		}
		if s.Via == "" {
			at = []any{"stages", id, "evaluation", "dataset"}
		}
		if err := readable(in, el, at); err != nil {
			return nil, err
		}
		if s.Verify {
			if err := in.Stores(el.Target, noVerify, "stages", id, "verify"); err != nil {
				return nil, err
			}
		}
		t.eval = newPhase("eval", el, ev.BatchSize, ranks, ev.ComputationTime)
		t.eval.exact = in.Targets[el.Target].Traits.Discards
		if err := checkSteps(w, id, t.eval, "evaluation", "batch_size"); err != nil {
			return nil, err
		}
	}
	if c := s.Checkpoint; c != nil {
		if _, err := in.Target(c.Target, "stages", id, "checkpoint", "target"); err != nil {
			return nil, err
		}
		// Rank 0 saves the model, as DLIO's rank-zero checkpoints of the
		// image workloads do; DLIO names the file model_states-0.
		if n := t.checkpoints(); n > 0 && c.ModelBytes > math.MaxInt64/(4*n) {
			return nil, w.ErrorAt([]any{"stages", id, "checkpoint", "model_bytes"}, "%d checkpoints of %s each write more than 2 EiB: lower model_bytes or save fewer checkpoints",
				n, measure.IEC(c.ModelBytes))
		}
		if err := in.Fits(c.Target, t.checkpoints()*c.ModelBytes, plural(int(t.checkpoints()), "the checkpoint this stage saves", "the %d checkpoints this stage saves"),
			"stages", id, "checkpoint", "model_bytes"); err != nil {
			return nil, err
		}
		files := []ckpt.File{{Name: "model_states-0.pt", Tensors: []ckpt.Tensor{{Name: "model", Bytes: c.ModelBytes}}}}
		t.ckpt = &ckpt.Set{Target: c.Target, Path: c.Path, Dir: "global_epoch",
			Ranks: 1, RankFiles: func(int64) []ckpt.File { return files },
			ChunkBytes: c.ChunkBytes, Fsync: c.Fsync}
	}
	// Every figure of the plan must fit in 64 bits: a dataset is bounded
	// (dataset.MaxBytes), epochs multiply it.
	for _, ph := range []*phase{t.train, t.eval} {
		if e := int64(s.Epochs); ph != nil && t.work(ph).ReadBytes > math.MaxInt64/(4*e) {
			return nil, w.ErrorAt([]any{"stages", id, "epochs"}, "%d epochs of dataset %s read more than 2 EiB: lower epochs or the dataset's size",
				s.Epochs, ph.layout.Name)
		}
	}
	return t, nil
}

// noVerify is why verify is refused on a target that stores nothing.
const noVerify = "verify has nothing written to check: drop verify or use a target that stores"

// readable refuses, at the field path at, a dataset whose format the
// loader parses as it reads (tfrecord's framing, parquet's footer) on a
// target that stores nothing: the bytes it makes up parse as neither.
// Formats read whole (npz, jpeg...) are read as bytes and pass.
func readable(in *stages.PlanInput, l *dataset.Layout, at []any) error {
	var what string
	switch l.Access() {
	case dataset.Records:
		what = "no record framing to follow"
	case dataset.RowGroups:
		what = "no footer to parse"
	default:
		return nil
	}
	return in.Stores(l.Target, fmt.Sprintf("the %s reader of dataset %s has %s: read a dataset of a format read whole, such as npz or jpeg, or use a target that stores",
		l.Format, l.Name, what), at...)
}

// checkpoints is the number of checkpoints the stage saves.
func (t *task) checkpoints() int64 {
	var n int64
	for e := 1; e <= t.spec.Epochs; e++ {
		if t.spec.Checkpoint.at(e) {
			n++
		}
	}
	return n
}

func checkSteps(w *dsl.Workload, id string, ph *phase, at ...any) error {
	if ph.steps > 0 {
		return nil
	}
	path := append([]any{"stages", id}, at...)
	return w.ErrorAt(path,
		"dataset %s holds %d samples, fewer than batch_size × accelerators = %d: no accelerator gets a full step",
		ph.layout.Name, ph.total, ph.batch*ph.ranks)
}

func (t *task) Reads() []string {
	if t.eval != nil && t.eval.layout.Name != t.train.layout.Name {
		return []string{t.spec.Dataset, t.eval.layout.Name}
	}
	return []string{t.spec.Dataset}
}
func (t *task) Writes() []string { return nil }

// Concurrency is every rank's loader threads, or the checkpoint's ranks
// when they are more.
func (t *task) Concurrency() int {
	n := t.spec.Accelerators * t.spec.ReadThreads
	if t.ckpt != nil {
		n = max(n, t.ckpt.Concurrency(false))
	}
	return n
}

func (t *task) Work() stages.Work {
	w := t.work(t.train)
	epochs := int64(t.spec.Epochs)
	w.Files *= epochs
	w.ReadBytes *= epochs
	w.Ops *= epochs
	if t.eval != nil {
		ev := t.spec.Evaluation
		n := int64(0)
		for e := 1; e <= t.spec.Epochs; e++ {
			if e >= ev.AfterEpoch && (e-ev.AfterEpoch)%ev.Every == 0 {
				n++
			}
		}
		e := t.work(t.eval)
		w.Files += n * e.Files
		w.ReadBytes += n * e.ReadBytes
		w.Ops += n * e.Ops
		w.Expected = w.Expected || e.Expected
	}
	if n := t.checkpoints(); n > 0 {
		w.WriteBytes += n * t.spec.Checkpoint.ModelBytes
		w.Files += n
		w.Ops += n
	}
	return w
}

func (t *task) Describe() string {
	s := t.spec
	d := fmt.Sprintf("reads dataset %s for %d epochs: %d accelerators × %d steps of batch %d, %d read threads each, computation_time %s",
		t.train.layout.Name, s.Epochs, s.Accelerators, t.train.steps, s.BatchSize, s.ReadThreads, s.ComputationTime)
	if s.FileShuffle != "off" || s.SampleShuffle != "off" {
		d += fmt.Sprintf(", file_shuffle %s, sample_shuffle %s", s.FileShuffle, s.SampleShuffle)
	}
	if t.eval != nil {
		d += fmt.Sprintf("; evaluates on %s (%d steps of batch %d)", t.eval.layout.Name, t.eval.steps, t.eval.batch)
	}
	if n := t.checkpoints(); n > 0 {
		c := s.Checkpoint
		d += fmt.Sprintf("; rank 0 saves %d checkpoints of %s to %s:%s/ (after epoch %d, every %d)",
			n, measure.IEC(c.ModelBytes), c.Target, c.Path, c.AfterEpoch, c.Every)
	}
	return d
}

// prefetchPerWorker is how many finished batches each loader worker may hold
// ahead of the accelerator: prefetch_size spread over the read threads, as
// DLIO hands it to PyTorch's prefetch_factor, or PyTorch's default of 2.
func (t *task) prefetchPerWorker() int {
	if t.spec.PrefetchSize == 0 {
		return 2
	}
	return (t.spec.PrefetchSize + t.spec.ReadThreads - 1) / t.spec.ReadThreads
}

// rankEpoch is what one rank measured in one epoch.
type rankEpoch struct {
	Phase string `json:"phase"`
	Rank  int    `json:"rank"`
	Epoch int    `json:"epoch"`
	// Steps is the number of steps taken, MeasuredSteps those left after
	// the excluded start and end steps.
	Steps         int64   `json:"steps"`
	MeasuredSteps int64   `json:"measured_steps"`
	WallSeconds   float64 `json:"wall_seconds"`
	// MeasuredSeconds is the wall time less the time of excluded steps.
	MeasuredSeconds float64 `json:"measured_seconds"`
	ComputeSeconds  float64 `json:"compute_seconds"`
	// LoadWaitSeconds is the time the rank waited for batches in measured
	// steps: the I/O the loader could not hide.
	LoadWaitSeconds  float64 `json:"load_wait_seconds"`
	AUPercentage     float64 `json:"au_percentage"`
	SamplesPerSecond float64 `json:"throughput_samples_per_second"`
	BytesRead        int64   `json:"bytes_read"`
	Reads            int64   `json:"reads"`
}

// epochFigures are the per-epoch figures of one phase: AU (mean over
// ranks) and throughput (sum over ranks) per epoch, and the bytes read and
// the wall time (the slowest rank's) in total.
type epochFigures struct {
	au, tput []float64
	bytes    int64
	wall     float64
}

func figures(per [][]rankEpoch) epochFigures {
	var f epochFigures
	for _, ranks := range per {
		var a, th, w float64
		for _, re := range ranks {
			a += re.AUPercentage
			th += re.SamplesPerSecond
			f.bytes += re.BytesRead
			w = math.Max(w, re.WallSeconds)
		}
		f.au = append(f.au, a/float64(len(ranks)))
		f.tput = append(f.tput, th)
		f.wall += w
	}
	return f
}

// metrics are the stage's figures. Those of a run that did not finish
// (complete false) are of the epochs that did, say so (partial,
// epochs_completed, epochs_planned) and carry no verdict: no
// train_au_meet_expectation, and no AU or throughput at all when no
// epoch finished, rather than a 0 that reads as a measurement.
func (r *run) metrics(complete bool) stages.Metrics {
	s := r.spec
	tr := figures(r.trained)
	// Across processes, the hosts are theirs: memory is the largest
	// host's, which any host's page cache could hold the dataset's share
	// in, and the dataset's share is the dataset over the hosts.
	hosts := r.env.Hosts()
	var mem int64
	for _, h := range hosts {
		mem = max(mem, h.MemoryBytes)
	}
	data := r.train.layout.TotalBytes() / int64(len(hosts))
	end := r.end
	if end.IsZero() {
		end = time.Now()
	}
	m := stages.Metrics{
		"num_accelerators": s.Accelerators,
		"num_hosts":        len(hosts),
		// DLIO's keys and unit: GB here is 2^30 bytes.
		"host_memory_GB":        float64(mem) / (1 << 30),
		"data_size_per_host_GB": float64(data) / (1 << 30),
		"potential_caching":     r.pageCache && mem > 0 && data <= mem,
		"epochs":                len(tr.au),
		"au_minimum_percentage": s.AUMinimum * 100,
		"steps_per_epoch":       r.train.steps,
		"shuffle_seed":          r.seed,
		"start":                 r.start.Format(time.RFC3339Nano),
		"end":                   end.Format(time.RFC3339Nano),
	}
	if !complete {
		m["partial"] = true
		m["epochs_completed"] = len(tr.au)
		m["epochs_planned"] = s.Epochs
	}
	if len(tr.au) > 0 {
		auMean, auStdev := measure.MeanStdev(tr.au)
		tMean, tStdev := measure.MeanStdev(tr.tput)
		rec := float64(r.train.layout.Dataset.RecordBytes)
		m["train_au_percentage"] = tr.au
		m["train_au_mean_percentage"] = auMean
		m["train_au_stdev_percentage"] = auStdev
		m["train_throughput_samples_per_second"] = tr.tput
		m["train_throughput_mean_samples_per_second"] = tMean
		m["train_throughput_stdev_samples_per_second"] = tStdev
		// DLIO's keys and definition: samples/s × configured record
		// bytes ÷ 2^20, so the unit is MiB/s despite the name; the
		// suite's tools read them by that name. The _MiB_ twins are the
		// same figures under an honest name (see Units).
		m["train_io_mean_MB_per_second"] = tMean * rec / (1 << 20)
		m["train_io_stdev_MB_per_second"] = tStdev * rec / (1 << 20)
		m["train_io_mean_MiB_per_second"] = tMean * rec / (1 << 20)
		m["train_io_stdev_MiB_per_second"] = tStdev * rec / (1 << 20)
		// What actually came back from storage in the finished epochs,
		// over their wall time (MB = 10^6 bytes).
		m["train_bytes_read"] = tr.bytes
		m["train_read_MB_per_second"] = perSecond(float64(tr.bytes)/1e6, tr.wall)
		m["train_wall_seconds"] = tr.wall
		if complete {
			meet := "fail"
			if auMean >= s.AUMinimum*100 {
				meet = "success"
			}
			m["train_au_meet_expectation"] = meet
		}
	}
	if len(r.saved) > 0 {
		// Checkpoints are timed apart from the epochs, as DLIO times them:
		// outside every epoch's AU and throughput.
		var epochs []int
		var secs, rates []float64
		var bytes int64
		for _, c := range r.saved {
			epochs = append(epochs, c.epoch)
			secs = append(secs, c.Seconds)
			rates = append(rates, float64(c.Bytes)/(1<<30)/c.Seconds)
			bytes += c.Bytes
		}
		m["checkpoint_epochs"] = epochs
		m["checkpoint_save_seconds"] = secs
		m["checkpoint_save_mean_seconds"], _ = measure.MeanStdev(secs)
		m["checkpoint_save_io_mean_GiB_per_second"], _ = measure.MeanStdev(rates)
		m["checkpoint_bytes_written"] = bytes
	}
	if r.eval != nil && len(r.evaluated) > 0 {
		ev := figures(r.evaluated)
		m["eval_au_percentage"] = ev.au
		m["eval_throughput_samples_per_second"] = ev.tput
		m["eval_au_mean_percentage"], _ = measure.MeanStdev(ev.au)
		m["eval_throughput_mean_samples_per_second"], _ = measure.MeanStdev(ev.tput)
		m["eval_bytes_read"] = ev.bytes
		m["eval_steps"] = r.eval.steps
	}
	return m
}

// perSecond divides by a wall time that is zero when no epoch finished.
func perSecond(x, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return x / seconds
}

// SummaryKeys are the DLIO keys this stage puts at the top of summary.json.
func (t *task) SummaryKeys() []string {
	return []string{
		"train_au_percentage", "train_au_mean_percentage", "train_au_stdev_percentage",
		"train_au_meet_expectation", "train_throughput_samples_per_second",
		"train_throughput_mean_samples_per_second", "train_throughput_stdev_samples_per_second",
		"train_io_mean_MB_per_second", "train_io_stdev_MB_per_second",
		"train_io_mean_MiB_per_second", "train_io_stdev_MiB_per_second",
		"train_bytes_read", "train_read_MB_per_second", "num_accelerators", "num_hosts",
		"host_memory_GB", "data_size_per_host_GB", "potential_caching", "epochs", "start", "end",
	}
}

// Units says what each of the stage's rate and size keys counts, where
// its name alone does not say it or says it wrong (DLIO's).
func (t *task) Units() map[string]string {
	const dlioIO = "MiB/s (2^20 bytes): throughput in samples/s × configured record bytes, %[1]s over epochs; DLIO's key and definition, the same figure as train_io_%[1]s_MiB_per_second"
	return map[string]string{
		"train_io_mean_MB_per_second":            fmt.Sprintf(dlioIO, "mean"),
		"train_io_stdev_MB_per_second":           fmt.Sprintf(dlioIO, "stdev"),
		"train_io_mean_MiB_per_second":           "MiB/s (2^20 bytes): throughput in samples/s × configured record bytes, mean over epochs",
		"train_io_stdev_MiB_per_second":          "MiB/s (2^20 bytes): as train_io_mean_MiB_per_second, its stdev over epochs",
		"train_read_MB_per_second":               "MB/s (10^6 bytes): bytes read from storage in the finished epochs ÷ those epochs' wall time",
		"host_memory_GB":                         "GiB (2^30 bytes), DLIO's key: the memory of the run's largest host",
		"data_size_per_host_GB":                  "GiB (2^30 bytes), DLIO's key: the dataset's bytes ÷ num_hosts",
		"checkpoint_save_io_mean_GiB_per_second": "GiB/s (2^30 bytes): a checkpoint's bytes ÷ its save time, mean over checkpoints",
	}
}

// Headline says the stage's key figures in one line: a verdict only for
// a run that finished, with the page-cache caveat beside it.
func (t *task) Headline(m stages.Metrics) string {
	epochs, _ := m["epochs"].(int)
	if epochs == 0 {
		return fmt.Sprintf("no epoch of %d finished: no AU, throughput or verdict", t.spec.Epochs)
	}
	au, _ := m["train_au_mean_percentage"].(float64)
	tp, _ := m["train_throughput_mean_samples_per_second"].(float64)
	io, _ := m["train_io_mean_MiB_per_second"].(float64)
	rd, _ := m["train_read_MB_per_second"].(float64)
	var verdict string
	if meet, ok := m["train_au_meet_expectation"].(string); ok {
		verdict = fmt.Sprintf("minimum %.0f%%: %s", t.spec.AUMinimum*100, meet)
		if caching, _ := m["potential_caching"].(bool); caching {
			mem, _ := m["host_memory_GB"].(float64)
			data, _ := m["data_size_per_host_GB"].(float64)
			what := "the dataset (%s) fits in memory (%s)"
			if n, _ := m["num_hosts"].(int); n > 1 {
				what = "each host's share of the dataset (%s) fits in a host's memory (%s)"
			}
			verdict += fmt.Sprintf(", but "+what+": reads may have come from the page cache",
				measure.IEC(int64(data*(1<<30))), measure.IEC(int64(mem*(1<<30))))
		}
	} else {
		verdict = fmt.Sprintf("partial: %d of %d epochs finished, no verdict", epochs, t.spec.Epochs)
	}
	return fmt.Sprintf("AU %.2f%% (%s), %.1f samples/s (records %.1f MiB/s), storage read %.1f MB/s over the epochs",
		au, verdict, tp, io, rd)
}

// selectedRowBytes is the bytes of one row in the columns names selects:
// a column's name selects all its copies, {name}_{k} one of them; no names
// select every column.
func selectedRowBytes(cols []dsl.Column, names []string) int64 {
	var n int64
	for _, c := range cols {
		one := c
		one.Repeat = 1
		width := parquet.RowBytes([]parquet.Column{parquet.Column(one)})
		for k := range c.Repeat {
			if len(names) == 0 || slices.Contains(names, c.Name) || (c.Repeat > 1 && slices.Contains(names, fmt.Sprintf("%s_%d", c.Name, k))) {
				n += width
			}
		}
	}
	return n
}

// plural is one when n is 1, and many with n otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}
