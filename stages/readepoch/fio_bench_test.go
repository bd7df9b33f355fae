package readepoch_test

import (
	"fmt"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/internal/fiobench"
)

// Read benchmark shape: unet3d-sized npz files (one 140 MiB sample each,
// see fiobench.UNet3DFileBytes), 24 of them (3.3 GiB), read whole with
// O_DIRECT in 1 MiB calls (transfer_bytes' default) by one accelerator's
// 4 read threads (unet3d's read_threads) with no compute, so that the
// stage reads as fast as it can.
const (
	readFiles    = 24
	readThreads  = 4
	readTransfer = 1 << 20
	// readRounds is how many times each reader runs per iteration; the
	// medians are reported, as the storage's speed drifts between runs.
	readRounds = 5
)

const readDataset = `targets: t: uri: "file://%s"
datasets: train: {target: "t", path: "unet3d/train", format: "npz", files: %d, samples_per_file: 1,
	record_bytes: %d, record_bytes_stdev: 0}
`

// BenchmarkReadEpochVsFio generates the dataset once, then reads it
// readRounds times per iteration with the read-epoch stage and as many
// times with fio, rotating the order, and reports the median bandwidth of
// each and their ratio. batch_size 1 and no shuffling make loader thread w
// read files w, w+T, w+2T...; fio runs T jobs (fio's default process per
// job) with exactly those files, in the same order, with --direct=1, psync
// and the same 1 MiB block. The page cache is dropped before every run,
// though O_DIRECT should not touch it.
//
// mlps_MB/s is the stage's train_read_MB_per_second: the bytes read over
// the epoch's wall time; fio_MB/s is fio's group bandwidth, all jobs'
// bytes over the longest job's runtime; MB = 10^6 bytes. -benchtime Nx
// runs N × readRounds rounds.
func BenchmarkReadEpochVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	dir := b.TempDir()
	fiobench.RealDisk(b, dir, readFiles*fiobench.UNet3DFileBytes)
	rec, err := fiobench.NPZRecordBytes(fiobench.UNet3DFileBytes)
	if err != nil {
		b.Fatal(err)
	}
	ds := fmt.Sprintf(readDataset, dir, readFiles, rec)
	gen := `name: "bench-read-generate"
` + ds + `stages: g: {kind: "generate", dataset: "train"}
`
	read := fmt.Sprintf(`name: "bench-read"
`+ds+`stages: r: {kind: "read-epoch", dataset: "train", epochs: 1, accelerators: 1, batch_size: 1,
	read_threads: %d, computation_time: 0, odirect: true, transfer_bytes: %d,
	file_shuffle: "off", sample_shuffle: "off", exclude_start_steps: 0, exclude_end_steps: 0}
`, readThreads, readTransfer)
	p, _ := exectest.Run(b, gen)
	files, err := fiobench.Files(p.Workload, "train", dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := fiobench.CheckSizes(files); err != nil {
		b.Fatal(err)
	}
	total := int64(0)
	for _, f := range files {
		total += f.Size
	}
	jobs := fiobench.Deal(files, readThreads)
	dropped := true
	drop := func() {
		if err := fiobench.DropCaches(); err != nil && dropped {
			dropped = false
			b.Logf("page cache not dropped between runs (%v)", err)
		}
	}

	mlps := func() float64 {
		drop()
		_, rep := exectest.Run(b, read)
		sr := rep.Stages[0]
		got := sr.Metrics["train_bytes_read"].(int64)
		if got != total || sr.Measured.Bytes != total || sr.Measured.Errors != 0 {
			b.Fatalf("read-epoch read %d bytes (measured %d, %d errors), the dataset is %d", got, sr.Measured.Bytes, sr.Measured.Errors, total)
		}
		return sr.Metrics["train_read_MB_per_second"].(float64)
	}
	fio := func() float64 {
		drop()
		r, err := fiobench.Run(b.Context(), fioPath, b.TempDir(),
			fiobench.Spec{RW: "read", BlockSize: readTransfer, Direct: true, Jobs: jobs})
		if err != nil {
			b.Fatal(err)
		}
		if r.Bytes != total {
			b.Fatalf("fio read %d bytes, the dataset is %d", r.Bytes, total)
		}
		return r.MBPerSecond()
	}
	runners := []fiobench.Runner{{Name: "mlps", Run: mlps}, {Name: "fio", Run: fio}}
	med := fiobench.Rounds(b, b.N*readRounds, runners)
	b.Logf("read %d × %d-byte npz files (%.2f GiB), O_DIRECT, %d threads, %d-byte reads; medians of %d rounds: %s",
		readFiles, fiobench.UNet3DFileBytes, float64(total)/(1<<30), readThreads, readTransfer, b.N*readRounds,
		fiobench.Report(b, runners, med))
}
