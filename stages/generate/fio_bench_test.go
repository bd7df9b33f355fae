package generate_test

import (
	"fmt"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/internal/fiobench"
)

// Generation benchmark shape: unet3d-sized npz files (one 140 MiB sample
// each, see fiobench.UNet3DFileBytes) written by the generate stage's
// default 8 workers in 1 MiB write calls, 24 files (3.3 GiB) in all.
const (
	genFiles   = 24
	genWorkers = 8
	genWrite   = 1 << 20
	// genRounds is how many times each writer runs per iteration; the
	// medians are reported, as buffered writes of this size vary a lot
	// from run to run with the kernel's writeback and the host.
	genRounds = 5
)

const genWorkload = `name: "bench-generate"
targets: t: uri: "file://%s"
datasets: train: {target: "t", path: "unet3d/train", format: "npz", files: %d, samples_per_file: 1,
	record_bytes: %d, record_bytes_stdev: 0}
stages: g: {kind: "generate", dataset: "train", workers: %d, write_bytes: %d}
`

// BenchmarkGenerateVsFio writes the same files genRounds times per
// iteration with the generate stage and as many times with fio, rotating
// the order, and reports the median bandwidth of each and their ratio.
// fio runs one job per worker (fio's default process per job), each
// writing its share of the files sequentially in the same 1 MiB calls with
// psync. Before every run the files are removed and the page cache is
// written back and dropped, so that no run pays for another's dirty pages.
// Neither fsyncs: the file backend's Close does not, so fio is told not to
// either, and both leave the data to the kernel's writeback.
//
// mlps_MB/s is the stage's bytes written over the span from its first
// Create to its last Close (measure's write span_MB_per_second); fio_MB/s is
// fio's group bandwidth, all jobs' bytes over the longest job's runtime;
// MB = 10^6 bytes. -benchtime Nx runs N × genRounds rounds.
func BenchmarkGenerateVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	dir := b.TempDir()
	fiobench.RealDisk(b, dir, genFiles*fiobench.UNet3DFileBytes)
	rec, err := fiobench.NPZRecordBytes(fiobench.UNet3DFileBytes)
	if err != nil {
		b.Fatal(err)
	}
	src := fmt.Sprintf(genWorkload, dir, genFiles, rec, genWorkers, genWrite)
	files, err := fiobench.Files(exectest.Plan(b, src).Workload, "train", dir)
	if err != nil {
		b.Fatal(err)
	}
	total := int64(0)
	for _, f := range files {
		total += f.Size
	}
	jobs := fiobench.Deal(files, genWorkers)
	dropped := true
	fresh := func() {
		if err := fiobench.Remove(files); err != nil {
			b.Fatal(err)
		}
		if err := fiobench.DropCaches(); err != nil && dropped {
			dropped = false
			b.Logf("page cache not dropped between runs (%v): each run may find the previous one's dirty pages", err)
		}
	}
	mlps := func() float64 {
		fresh()
		_, rep := exectest.Run(b, src)
		sr := rep.Stages[0]
		if len(sr.Measured.Ops) != 1 || sr.Measured.Ops[0].Op != "write" || sr.Measured.Errors != 0 {
			b.Fatalf("generate measured %+v, want write operations only, without errors", sr.Measured.Ops)
		}
		if sr.Measured.Bytes != total {
			b.Fatalf("generate wrote %d bytes, the dataset is %d", sr.Measured.Bytes, total)
		}
		if err := fiobench.CheckSizes(files); err != nil {
			b.Fatal(err)
		}
		return sr.Measured.Ops[0].MBPerSecond
	}
	fio := func() float64 {
		fresh()
		r, err := fiobench.Run(b.Context(), fioPath, b.TempDir(), fiobench.Spec{RW: "write", BlockSize: genWrite, Jobs: jobs})
		if err != nil {
			b.Fatal(err)
		}
		if r.Bytes != total {
			b.Fatalf("fio wrote %d bytes, the dataset is %d", r.Bytes, total)
		}
		if err := fiobench.CheckSizes(files); err != nil {
			b.Fatal(err)
		}
		return r.MBPerSecond()
	}
	runners := []fiobench.Runner{{Name: "mlps", Run: mlps}, {Name: "fio", Run: fio}}
	med := fiobench.Rounds(b, b.N*genRounds, runners)
	b.Logf("generate %d × %d-byte npz files (%.2f GiB), %d workers, %d-byte writes, no fsync; medians of %d rounds: %s",
		genFiles, fiobench.UNet3DFileBytes, float64(total)/(1<<30), genWorkers, genWrite, b.N*genRounds,
		fiobench.Report(b, runners, med))
}
