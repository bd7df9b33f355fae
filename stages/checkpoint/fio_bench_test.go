package checkpoint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/internal/fiobench"
)

// Save benchmark shape: llama3-8b's 8 ranks and ZeRO-3, with a smaller
// model (4 layers, hidden 2048, ffn 7168, vocab 32000) so one checkpoint
// is 4.7 GiB: 8 ranks each saving a weights file and an optimizer file
// in the stage's default 32 MiB chunks, fsync on.
const (
	saveRanks  = 8
	saveChunk  = 32 << 20
	saveRounds = 3
)

const saveWorkload = `name: "bench-checkpoint"
targets: t: uri: "file://%s"
stages: c: {
	kind: "checkpoint", target: "t", path: "ck", writes: 1, reads: 0, fsync: true, odirect: %v
	chunk_bytes: %d
	model: {name: "llama3-8b-shaped", layers: 4, hidden: 2048, ffn: 7168, heads: 16, kv_heads: 8, vocab: 32000}
	parallelism: {data: %d, zero: 3}
}
`

// BenchmarkCheckpointSaveVsFio saves one checkpoint saveRounds times per
// iteration with the checkpoint stage, and writes as many bytes as often
// with fio, rotating the order, and reports the median bandwidth of each
// and their ratio; with and without O_DIRECT, fsync on in both.
//
// fio runs one job per rank (a process each), writing one file of the
// rank's bytes rounded down to whole 32 MiB blocks (fio writes no partial
// block), sequentially in 32 MiB pwrites with psync, and fsyncs it before
// closing (fsync_on_close), as each rank's files are synced before they
// are closed. Before every run the files are removed and the page cache
// written back and dropped.
//
// mlps_MB/s is the checkpoint's bytes over the save's duration (the
// slowest rank's time, from its first Create to its last Close after
// fsync); fio_MB/s is fio's group bandwidth, all jobs' bytes over the
// longest job's runtime; MB = 10^6 bytes.
func BenchmarkCheckpointSaveVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	for _, direct := range []bool{false, true} {
		name := "fsync"
		if direct {
			name = "fsync+odirect"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			src := fmt.Sprintf(saveWorkload, dir, direct, saveChunk, saveRanks)
			p := exectest.Plan(b, src)
			size := p.Nodes[0].Task.Work().WriteBytes
			fiobench.RealDisk(b, dir, 2*size)
			perRank := size / saveRanks / saveChunk * saveChunk
			jobs := make([][]fiobench.File, saveRanks)
			var fioFiles []fiobench.File
			for r := range jobs {
				f := fiobench.File{Path: filepath.Join(dir, fmt.Sprintf("fio/rank%d", r)), Size: perRank}
				jobs[r] = []fiobench.File{f}
				fioFiles = append(fioFiles, f)
			}
			if err := os.MkdirAll(filepath.Join(dir, "fio"), 0o755); err != nil {
				b.Fatal(err)
			}
			dropped := true
			fresh := func() {
				if err := os.RemoveAll(filepath.Join(dir, "ck")); err != nil {
					b.Fatal(err)
				}
				if err := fiobench.Remove(fioFiles); err != nil {
					b.Fatal(err)
				}
				if err := fiobench.DropCaches(); err != nil && dropped {
					dropped = false
					b.Logf("page cache not dropped between runs (%v)", err)
				}
			}
			mlps := func() float64 {
				fresh()
				_, rep := exectest.Run(b, src)
				m := rep.Stages[0].Metrics
				if m["save_bytes"] != size {
					b.Fatalf("saved %v bytes, planned %d", m["save_bytes"], size)
				}
				return float64(size) / 1e6 / m["save_checkpoint_duration_mean_seconds"].(float64)
			}
			fio := func() float64 {
				fresh()
				r, err := fiobench.Run(b.Context(), fioPath, b.TempDir(),
					fiobench.Spec{RW: "write", BlockSize: saveChunk, Direct: direct, Fsync: true, Jobs: jobs})
				if err != nil {
					b.Fatal(err)
				}
				if r.Bytes != perRank*saveRanks {
					b.Fatalf("fio wrote %d bytes, want %d", r.Bytes, perRank*saveRanks)
				}
				return r.MBPerSecond()
			}
			runners := []fiobench.Runner{{Name: "mlps", Run: mlps}, {Name: "fio", Run: fio}}
			med := fiobench.Rounds(b, b.N*saveRounds, runners)
			b.Logf("save a %.2f GiB checkpoint (fio: %.2f GiB) from %d ranks in %d MiB writes, fsync, odirect %v; medians of %d rounds: %s",
				float64(size)/(1<<30), float64(perRank*saveRanks)/(1<<30), saveRanks, saveChunk>>20, direct, b.N*saveRounds,
				fiobench.Report(b, runners, med))
		})
	}
}
