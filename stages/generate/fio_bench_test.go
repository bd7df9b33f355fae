package generate_test

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

// genWorkers is the generate stage's default worker count, and fio's job
// count; genWrite its default write size, and fio's block where the file
// holds whole blocks of it.
const (
	genWorkers = 8
	genWrite   = 1 << 20
)

const genWorkload = `name: "bench-generate"
targets: t: uri: "file://%s"
datasets: train: {target: "t", path: "train", format: %q, files: %d, samples_per_file: 1,
	record_bytes: %d, record_bytes_stdev: 0, subfolders: %d}
stages: g: {kind: "generate", dataset: "train", workers: %d, write_bytes: %d, fsync: %v}
`

// BenchmarkGenerateVsFio writes a dataset with the generate stage and the
// same bytes in the same number of files with fio, in alternated pairs
// (backends/pairbench), for two shapes:
//
//   - unet3d: 24 npz files of one 140 MiB sample each (3.3 GiB), each
//     synced before it is closed (generate's fsync, fio's
//     fsync_on_close), so the figures include the flush to the disk;
//   - retinanet: 6,000 jpeg files of 316 KiB (1.9 GiB) in 8 folders,
//     without a flush (DLIO's datagen does none), compared in files/s.
//
// Both use the stage's default 8 workers; fio runs 8 jobs (a process
// each), each creating its share of the files (of its own, in a folder per
// job) as it reaches them
// (create_on_open, no layout before its clock, no preallocation) and
// writing each whole, sequentially, with psync, in 1 MiB blocks (unet3d)
// or in one block per file (retinanet, whose file is smaller than a
// write). Before every run the files are removed and the page cache
// written back and dropped, so that no run pays for another's dirty pages.
//
// mlps runs as `mlps exec`, a fresh process each run as fio is. Its figure
// is the stage's bytes (files) written over the span from its first Create
// to its last Close; fio's is all jobs' bytes (files) over
// the longest job's runtime.
func BenchmarkGenerateVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	bin := fiobench.Binary(b)
	for _, sh := range []struct {
		name      string
		format    string
		files     int64
		fileBytes int64
		folders   int64
		fsync     bool
		block     int64
		perFile   bool // compare files/s rather than MB/s
	}{
		{"unet3d", "npz", 24, fiobench.UNet3DFileBytes, 0, true, genWrite, false},
		{"retinanet", "jpeg", fiobench.RetinanetFiles, fiobench.RetinanetFileBytes, genWorkers, false, fiobench.RetinanetFileBytes, true},
	} {
		b.Run(sh.name, func(b *testing.B) {
			dir := b.TempDir()
			fiobench.RealDisk(b, dir, sh.files*sh.fileBytes)
			rec, err := fiobench.RecordBytes(sh.format, sh.fileBytes)
			if err != nil {
				b.Fatal(err)
			}
			src := fmt.Sprintf(genWorkload, dir, sh.format, sh.files, rec, sh.folders, genWorkers, genWrite, sh.fsync)
			files, err := fiobench.Files(exectest.Plan(b, src).Workload, "train", dir)
			if err != nil {
				b.Fatal(err)
			}
			total := int64(0)
			for _, f := range files {
				total += f.Size
			}
			// fio writes files of its own, as many and as large, each job
			// into a folder of its own as mlps's workers spread theirs
			// over as many folders.
			jobs := fiobench.Numbered(filepath.Join(dir, "fio"), genWorkers, int(sh.files)/genWorkers, sh.fileBytes)
			var fioFiles []fiobench.File
			for _, j := range jobs {
				fioFiles = append(fioFiles, j...)
			}
			if int64(len(fioFiles)) != sh.files {
				b.Fatalf("%d files do not split evenly over %d fio jobs", sh.files, genWorkers)
			}
			fresh := fiobench.Fresh(b, append(files, fioFiles...))
			mlps := pairbench.Side{Name: "mlps", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
				rep, err := fiobench.Exec(ctx, bin, src, b.TempDir())
				if err != nil {
					return pairbench.Run{}, err
				}
				sr := rep.Stages[0]
				if len(sr.Measured.Ops) != 1 || sr.Measured.Ops[0].Op != "write" || sr.Measured.Errors != 0 {
					return pairbench.Run{}, fmt.Errorf("generate measured %+v, want write operations only, without errors", sr.Measured.Ops)
				}
				op := sr.Measured.Ops[0]
				if op.Bytes != total || int64(op.Count) != sh.files {
					return pairbench.Run{}, fmt.Errorf("generate wrote %d bytes in %d files, the dataset is %d in %d", op.Bytes, op.Count, total, sh.files)
				}
				return pairbench.Run{Bytes: op.Bytes, Files: int64(op.Count), Seconds: op.Seconds}, fiobench.CheckSizes(files)
			}}
			fio := pairbench.Side{Name: "fio", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
				r, err := fiobench.Run(ctx, fioPath, b.TempDir(), fiobench.Spec{RW: "write", BlockSize: sh.block, Fsync: sh.fsync, Jobs: jobs})
				if err != nil {
					return pairbench.Run{}, err
				}
				return r.Pair(), fiobench.CheckSizes(fioFiles)
			}}
			flush := "none: the page cache"
			if sh.fsync {
				flush = "fsync of every file before its close, both sides"
			}
			c := pairbench.Config{
				Name:  fmt.Sprintf("generate %s: %d %s files of %s, file", sh.name, sh.files, sh.format, measure.IEC(sh.fileBytes)),
				Flush: flush, Files: sh.perFile,
			}
			if sh.perFile {
				c.MaxPairs = fiobench.RetinanetPairs
			}
			pairbench.Compare(b, c, mlps, fio)
		})
	}
}
