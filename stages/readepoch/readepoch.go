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

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/dataset"
)

// Spec mirrors schema.#ReadEpoch.
type Spec struct {
	dsl.Common
	Dataset           string  `json:"dataset"`
	Epochs            int     `json:"epochs"`
	Accelerators      int     `json:"accelerators"`
	BatchSize         int64   `json:"batch_size"`
	ReadThreads       int     `json:"read_threads"`
	PrefetchSize      int     `json:"prefetch_size"`
	ComputationTime   float64 `json:"computation_time"`
	TransferBytes     int64   `json:"transfer_bytes"`
	ExcludeStartSteps int     `json:"exclude_start_steps"`
	ExcludeEndSteps   int     `json:"exclude_end_steps"`
	AUMinimum         float64 `json:"au_minimum"`
}

func init() {
	stages.Register(stages.Kind{Name: "read-epoch", Plan: plan})
}

type task struct {
	id     string
	spec   Spec
	layout *dataset.Layout
	// steps is the number of steps every rank takes per epoch.
	steps int64
	// share is the number of samples in each rank's contiguous block.
	share int64
}

func plan(w *dsl.Workload, id string) (stages.Task, error) {
	var s Spec
	if err := w.Stages[id].Decode(&s); err != nil {
		return nil, err
	}
	l, err := dataset.Resolve(w, s.Dataset, "stages", id, "dataset")
	if err != nil {
		return nil, err
	}
	samples := l.Files * l.SamplesPerFile
	ranks := int64(s.Accelerators)
	t := &task{id: id, spec: s, layout: l,
		steps: samples / s.BatchSize / ranks,
		share: (samples + ranks - 1) / ranks,
	}
	if t.steps == 0 {
		return nil, dsl.Errorf(w.Pos("stages", id, "batch_size"), "stages."+id+".batch_size",
			"dataset %s holds %d samples, fewer than batch_size × accelerators = %d: no rank gets a full step",
			l.Name, samples, s.BatchSize*ranks)
	}
	if excl := int64(s.ExcludeStartSteps + s.ExcludeEndSteps); excl >= t.steps {
		return nil, dsl.Errorf(w.Pos("stages", id, "exclude_start_steps"), "stages."+id+".exclude_start_steps",
			"an epoch has %d steps per accelerator and %d are excluded: nothing would be measured", t.steps, excl)
	}
	return t, nil
}

func (t *task) Reads() []string  { return []string{t.spec.Dataset} }
func (t *task) Writes() []string { return nil }

// files returns the range of files [first, last] that rank r reads in an
// epoch: the files holding the first steps×batch samples of its block.
func (t *task) files(r int64) (first, last int64) {
	start := r * t.share
	end := start + t.steps*t.spec.BatchSize - 1
	return start / t.layout.SamplesPerFile, end / t.layout.SamplesPerFile
}

func (t *task) Work() stages.Work {
	var w stages.Work
	for r := range int64(t.spec.Accelerators) {
		first, last := t.files(r)
		w.Files += last - first + 1
		if t.layout.RecordBytesStdev == 0 {
			w.ReadBytes += (last - first + 1) * t.layout.FileSize(0)
			continue
		}
		for i := first; i <= last; i++ {
			w.ReadBytes += t.layout.FileSize(i)
		}
	}
	epochs := int64(t.spec.Epochs)
	w.Files *= epochs
	w.ReadBytes *= epochs
	w.Ops = w.Files
	return w
}

func (t *task) Describe() string {
	s := t.spec
	return fmt.Sprintf("reads dataset %s for %d epochs: %d accelerators × %d steps of batch %d, %d read threads each, computation_time %gs",
		t.layout.Name, s.Epochs, s.Accelerators, t.steps, s.BatchSize, s.ReadThreads, s.ComputationTime)
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
	Rank  int `json:"rank"`
	Epoch int `json:"epoch"`
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
	FilesRead        int64   `json:"files_read"`
}

func (t *task) metrics(per [][]rankEpoch) stages.Metrics {
	s := t.spec
	epochs := len(per)
	var au, tput []float64
	var bytes int64
	var wall float64
	for _, ranks := range per {
		var a, th, w float64
		for _, re := range ranks {
			a += re.AUPercentage
			th += re.SamplesPerSecond
			bytes += re.BytesRead
			w = math.Max(w, re.WallSeconds)
		}
		au = append(au, a/float64(len(ranks)))
		tput = append(tput, th)
		wall += w
	}
	auMean, auStdev := meanStdev(au)
	tMean, tStdev := meanStdev(tput)
	rec := float64(t.layout.Dataset.RecordBytes)
	meet := "fail"
	if auMean >= s.AUMinimum*100 {
		meet = "success"
	}
	var flat []rankEpoch
	for _, ranks := range per {
		flat = append(flat, ranks...)
	}
	m := stages.Metrics{
		"train_au_percentage":                       au,
		"train_au_mean_percentage":                  auMean,
		"train_au_stdev_percentage":                 auStdev,
		"train_au_meet_expectation":                 meet,
		"train_throughput_samples_per_second":       tput,
		"train_throughput_mean_samples_per_second":  tMean,
		"train_throughput_stdev_samples_per_second": tStdev,
		// DLIO's key and definition: samples/s × configured record bytes
		// ÷ 2^20, so the unit is MiB/s despite the name.
		"train_io_mean_MB_per_second":  tMean * rec / (1 << 20),
		"train_io_stdev_MB_per_second": tStdev * rec / (1 << 20),
		// The same figure under an honest name.
		"train_io_mean_MiB_per_second": tMean * rec / (1 << 20),
		// What actually came back from storage, over the epochs' wall time
		// (MB = 10^6 bytes).
		"train_bytes_read":         bytes,
		"train_read_MB_per_second": perSecond(float64(bytes)/1e6, wall),
		"train_wall_seconds":       wall,
		"num_accelerators":         s.Accelerators,
		"epochs":                   epochs,
		"au_minimum_percentage":    s.AUMinimum * 100,
		"steps_per_epoch":          t.steps,
		"per_rank_epoch":           flat,
	}
	if epochs < s.Epochs {
		m["epochs_planned"] = s.Epochs
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

// meanStdev returns the mean and the population standard deviation, as
// NumPy's mean and std compute them for DLIO.
func meanStdev(xs []float64) (mean, stdev float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		stdev += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(stdev / float64(len(xs)))
}

// SummaryKeys are the DLIO keys this stage puts at the top of summary.json.
func (t *task) SummaryKeys() []string {
	return []string{
		"train_au_percentage", "train_au_mean_percentage", "train_au_stdev_percentage",
		"train_au_meet_expectation", "train_throughput_samples_per_second",
		"train_throughput_mean_samples_per_second", "train_throughput_stdev_samples_per_second",
		"train_io_mean_MB_per_second", "train_io_stdev_MB_per_second", "train_io_mean_MiB_per_second",
		"train_bytes_read", "train_read_MB_per_second", "num_accelerators", "epochs",
	}
}

// Headline says the stage's key figures in one line.
func (t *task) Headline(m stages.Metrics) string {
	au, _ := m["train_au_mean_percentage"].(float64)
	tp, _ := m["train_throughput_mean_samples_per_second"].(float64)
	rd, _ := m["train_read_MB_per_second"].(float64)
	meet, _ := m["train_au_meet_expectation"].(string)
	return fmt.Sprintf("AU %.2f%% (minimum %.0f%%: %s), %.1f samples/s, read %.1f MB/s",
		au, t.spec.AUMinimum*100, meet, tp, rd)
}
