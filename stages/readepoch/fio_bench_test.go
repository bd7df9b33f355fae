package readepoch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/backends/pairbench"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/internal/fiobench"
	"mlps.dev/mlps/stages/measure"
)

// readTransfer is transfer_bytes' default, the size of every read call,
// and fio's block where the file holds whole blocks of it.
const readTransfer = 1 << 20

// readPrefetch is how many batches each loader thread may finish ahead of
// the accelerator. PyTorch's default of 2 ties every thread to the slowest
// one's file, a data loader's ordering that fio's independent jobs do not
// have; 16 lets each thread read on as fio's job does, so the ratio
// compares I/O paths, not the loader's ordering.
const readPrefetch = 16

const readDataset = `targets: t: uri: "file://%s"
datasets: train: {target: "t", path: "train", format: %q, files: %d, samples_per_file: 1,
	record_bytes: %d, record_bytes_stdev: 0, subfolders: %d}
`

// BenchmarkReadEpochVsFio generates a dataset once, then reads it whole
// with the read-epoch stage and with fio, in alternated pairs
// (backends/pairbench), for three shapes:
//
//   - unet3d: 24 npz files of 140 MiB (3.3 GiB) with O_DIRECT, by
//     unet3d's 4 read threads, compared in MB/s;
//   - retinanet, and retinanet with O_DIRECT: 6,000 jpeg files of 316 KiB
//     (1.9 GiB) in 8 folders, by retinanet's 8 read threads, compared in
//     files/s.
//
// One accelerator, batch_size 1, no compute and no shuffling make loader
// thread w read files w, w+T, w+2T...; fio runs T jobs (a process each)
// with exactly those files (hard links to them) in the same order, each
// opened when the job
// reaches it and read whole, sequentially, with psync, in 1 MiB blocks
// (unet3d) or one block per file (retinanet, whose file is smaller than a
// read call), so fio reads every byte mlps reads. The page cache is
// dropped before every run.
//
// mlps runs as `mlps exec`, a fresh process each run as fio is. Its figure
// is train_read_MB_per_second (the bytes read over the epoch's wall time)
// and the files over the same time; fio's is all jobs'
// bytes (files) over the longest job's runtime.
func BenchmarkReadEpochVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	bin := fiobench.Binary(b)
	for _, sh := range []struct {
		name      string
		format    string
		files     int64
		fileBytes int64
		folders   int64
		threads   int
		direct    bool
		block     int64
		perFile   bool // compare files/s rather than MB/s
	}{
		{"unet3d-odirect", "npz", 24, fiobench.UNet3DFileBytes, 0, 4, true, readTransfer, false},
		{"retinanet", "jpeg", fiobench.RetinanetFiles, fiobench.RetinanetFileBytes, 8, 8, false, fiobench.RetinanetFileBytes, true},
		{"retinanet-odirect", "jpeg", fiobench.RetinanetFiles, fiobench.RetinanetFileBytes, 8, 8, true, fiobench.RetinanetFileBytes, true},
	} {
		b.Run(sh.name, func(b *testing.B) {
			dir := b.TempDir()
			fiobench.RealDisk(b, dir, sh.files*sh.fileBytes)
			rec, err := fiobench.RecordBytes(sh.format, sh.fileBytes)
			if err != nil {
				b.Fatal(err)
			}
			ds := fmt.Sprintf(readDataset, dir, sh.format, sh.files, rec, sh.folders)
			p, _ := exectest.Run(b, "name: \"bench-read-generate\"\n"+ds+"stages: g: {kind: \"generate\", dataset: \"train\"}\n")
			read := fmt.Sprintf(`name: "bench-read"
`+ds+`stages: r: {kind: "read-epoch", dataset: "train", epochs: 1, accelerators: 1, batch_size: 1,
	read_threads: %d, prefetch_size: %d, computation_time: 0, odirect: %v, transfer_bytes: %d,
	file_shuffle: "off", sample_shuffle: "off", exclude_start_steps: 0, exclude_end_steps: 0}
`, sh.threads, readPrefetch*sh.threads, sh.direct, readTransfer)
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
			// fio reads the very files, through links it can name.
			jobs, err := fiobench.Link(fiobench.Deal(files, sh.threads), filepath.Join(dir, "fio"))
			if err != nil {
				b.Fatal(err)
			}
			dropped := true
			drop := func() error { fiobench.Drop(b, &dropped); return nil }
			mlps := pairbench.Side{Name: "mlps", Prepare: drop, Run: func(ctx context.Context) (pairbench.Run, error) {
				rep, err := fiobench.Exec(ctx, bin, read, b.TempDir())
				if err != nil {
					return pairbench.Run{}, err
				}
				sr := rep.Stages[0]
				got := int64(fiobench.Number(sr.Metrics["train_bytes_read"]))
				if got != total || sr.Measured.Bytes != total || sr.Measured.Errors != 0 {
					return pairbench.Run{}, fmt.Errorf("read-epoch read %d bytes (measured %d, %d errors), the dataset is %d",
						got, sr.Measured.Bytes, sr.Measured.Errors, total)
				}
				return pairbench.Run{Bytes: got, Files: sh.files, Seconds: fiobench.Number(sr.Metrics["train_wall_seconds"])}, nil
			}}
			fio := pairbench.Side{Name: "fio", Prepare: drop, Run: func(ctx context.Context) (pairbench.Run, error) {
				r, err := fiobench.Run(ctx, fioPath, b.TempDir(), fiobench.Spec{RW: "read", BlockSize: sh.block, Direct: sh.direct, Jobs: jobs})
				return r.Pair(), err
			}}
			how := "buffered"
			if sh.direct {
				how = "O_DIRECT"
			}
			c := pairbench.Config{
				Name:  fmt.Sprintf("read-epoch %s: %d %s files of %s, %s, %d threads, file", sh.name, sh.files, sh.format, measure.IEC(sh.fileBytes), how, sh.threads),
				Files: sh.perFile,
			}
			if sh.perFile {
				c.MaxPairs = fiobench.RetinanetPairs
			}
			pairbench.Compare(b, c, mlps, fio)
		})
	}
}
