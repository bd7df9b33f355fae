package checkpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/backends/pairbench"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/internal/fiobench"
)

// Save benchmark shape: llama3-8b's 8 ranks and ZeRO-3, with a smaller
// model (4 layers, hidden 2048, ffn 7168, vocab 32000) so one checkpoint
// is 4.7 GiB: each of 8 ranks saves its weights file (85 MiB) and then its
// optimizer file (512 MiB) in the stage's default 32 MiB chunks, fsync on.
const (
	saveRanks = 8
	saveChunk = 32 << 20
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

// BenchmarkCheckpointSaveVsFio saves one checkpoint with the checkpoint
// stage and writes the same bytes in the same files with fio, in
// alternated pairs (backends/pairbench), with and without O_DIRECT, fsync
// on in both.
//
// fio runs one job per rank (a process each), writing files of the sizes
// the rank's files have, in the same order, sequentially in 32 MiB
// pwrites with psync and the tail of each file in one last pwrite, and
// syncing each before closing it: fio replays an I/O log per rank
// (fiobench.ReplaySpec), as no job file gives one job files of different
// sizes or a partial last block. Before every run the files are removed
// and the page cache written back and dropped.
//
// mlps runs as `mlps exec`, a fresh process each run as fio is. Its figure
// is the checkpoint's bytes over the save's duration (the
// slowest rank's time, from its first Create to its last Close after
// fsync); fio's is all bytes over the longest job's runtime, from its
// first open to its last close.
func BenchmarkCheckpointSaveVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	bin := fiobench.Binary(b)
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
			// One save first, untimed, to learn the sizes of each rank's
			// files as the stage writes them.
			exectest.Run(b, src)
			var mlpsFiles, fioFiles []fiobench.File
			jobs := make([][]fiobench.File, saveRanks)
			for r := range saveRanks {
				for _, kind := range []string{"model", "optim"} {
					base := fmt.Sprintf("zero_pp_rank_%d_mp_rank_0_%s_states.pt", r, kind)
					fi, err := os.Stat(filepath.Join(dir, "ck", "global_step1", base))
					if err != nil {
						b.Fatal(err)
					}
					mlpsFiles = append(mlpsFiles, fiobench.File{Path: filepath.Join(dir, "ck", "global_step1", base), Size: fi.Size()})
					f := fiobench.File{Path: filepath.Join(dir, "fio", base), Size: fi.Size()}
					fioFiles = append(fioFiles, f)
					jobs[r] = append(jobs[r], f)
				}
			}
			fresh := fiobench.Fresh(b, append(mlpsFiles, fioFiles...))
			mlps := pairbench.Side{Name: "mlps", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
				rep, err := fiobench.Exec(ctx, bin, src, b.TempDir())
				if err != nil {
					return pairbench.Run{}, err
				}
				m := rep.Stages[0].Metrics
				if int64(fiobench.Number(m["save_bytes"])) != size {
					return pairbench.Run{}, fmt.Errorf("saved %v bytes, planned %d", m["save_bytes"], size)
				}
				return pairbench.Run{Bytes: size, Files: int64(len(mlpsFiles)), Seconds: fiobench.Number(m["save_checkpoint_duration_mean_seconds"])},
					fiobench.CheckSizes(mlpsFiles)
			}}
			fio := pairbench.Side{Name: "fio", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
				r, err := fiobench.RunReplay(ctx, fioPath, b.TempDir(), fiobench.ReplaySpec{Direct: direct, Fsync: true, Block: saveChunk, Jobs: jobs})
				if err != nil {
					return pairbench.Run{}, err
				}
				return r.Pair(), fiobench.CheckSizes(fioFiles)
			}}
			pairbench.Compare(b, pairbench.Config{
				Name:  fmt.Sprintf("checkpoint save %s: %.2f GiB in %d files from %d ranks, 32 MiB writes, file", name, float64(size)/(1<<30), len(mlpsFiles), saveRanks),
				Flush: "fsync of every file before its close, both sides",
			}, mlps, fio)
		})
	}
}
