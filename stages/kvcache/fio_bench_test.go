package kvcache_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"mlps.dev/mlps/backends/pairbench"
	"mlps.dev/mlps/stages/internal/fiobench"
)

// The benchmark's shape: option 1's 16 requests at once, fsync on, the
// page cache dropped before every read, 16 MiB chunks; 64 users of one
// request each, so that every worker is busy from the start (no think
// time between a worker's requests) and each request's reads are of the
// entry it wrote (one turn, no shared prefix); 4 KiB a token, so that the
// entries (0.5-100 MB) make a run of a few seconds.
const (
	benchWorkers = 16
	benchChunk   = 16 << 20
)

const benchWorkload = `name: "bench-kvcache"
targets: t: uri: "file://%s"
stages: kvcache: {
	kind: "kvcache", target: "t", path: "kv", bytes_per_token: 4096
	users: 64, requests: 64, turns: 1, prefix_share: 0
	max_concurrent_allocs: %d, chunk_bytes: %d, fsync: true, drop_cache: true
}
`

// BenchmarkKVCacheVsFio runs the kvcache stage's storage tier on local
// files and fio doing the same I/O in the same run, in alternated pairs
// (backends/pairbench): each of the stage's workers writes an entry
// (16 MiB writes, fsync, close), then reads it back whole 1 + ceil(gen /
// 32) times, dropping it from the page cache before each read; fio
// replays each worker's writes and reads from an I/O log per job (a
// process each), as the first, untimed run of the stage recorded them in
// requests.jsonl, its reads dropping each file's pages as it opens it
// (invalidate). Before every run the files are removed and the page cache
// dropped.
//
// mlps's figure is the storage tier's bytes read and written over the
// stage's wall time; fio's all bytes over its longest job's runtime. Both
// are printed by direction too, so that a user tells the storage's limit
// from the benchmark's overhead.
func BenchmarkKVCacheVsFio(b *testing.B) {
	fioPath := fiobench.Require(b)
	bin := fiobench.Binary(b)
	dir := b.TempDir()
	src := fmt.Sprintf(benchWorkload, dir, benchWorkers, benchChunk)

	// The untimed run that says what each worker did.
	res := filepath.Join(b.TempDir(), "results")
	wl := filepath.Join(b.TempDir(), "workload.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.CommandContext(b.Context(), bin, "exec", wl, "--results", res, "--progress", "none").CombinedOutput(); err != nil {
		b.Fatalf("mlps exec: %v: %s", err, out)
	}
	jobs, written, moved := replay(b, filepath.Join(res, "stages", "kvcache", "requests.jsonl"), filepath.Join(dir, "fio"))
	fiobench.RealDisk(b, dir, 2*written)
	var files []fiobench.File
	for _, job := range jobs {
		for _, op := range job {
			if !op.Read {
				files = append(files, op.File)
			}
		}
	}
	fresh := fiobench.Fresh(b, files)
	var ops int64
	for _, job := range jobs {
		ops += int64(len(job))
	}
	// Each side's read and write rates, by run, for their medians.
	dirs := map[string][2][]float64{}
	logDirections := func(side string, rb, wb, sec float64) {
		b.Logf("%s: reads %.0f MB/s, writes %.0f MB/s (%.2f s)", side, rb/sec/1e6, wb/sec/1e6, sec)
		d := dirs[side]
		dirs[side] = [2][]float64{append(d[0], rb/sec/1e6), append(d[1], wb/sec/1e6)}
	}
	mlps := pairbench.Side{Name: "mlps", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
		rep, err := fiobench.Exec(ctx, bin, src, b.TempDir())
		if err != nil {
			return pairbench.Run{}, err
		}
		m := rep.Stages[0].Metrics
		st, _ := m["tiers"].(map[string]any)["storage"].(map[string]any)
		rb, wb := fiobench.Number(st["read_bytes"]), fiobench.Number(st["write_bytes"])
		n := int64(fiobench.Number(st["reads"]) + fiobench.Number(st["writes"]))
		sec := fiobench.Number(m["run_seconds"])
		if int64(rb+wb) != moved || n != ops {
			return pairbench.Run{}, fmt.Errorf("the stage moved %.0f bytes in %d entries, the first run %d in %d", rb+wb, n, moved, ops)
		}
		logDirections("mlps", rb, wb, sec)
		return pairbench.Run{Bytes: moved, Files: ops, Seconds: sec}, nil
	}}
	fio := pairbench.Side{Name: "fio", Prepare: fresh, Run: func(ctx context.Context) (pairbench.Run, error) {
		r, err := fiobench.RunReplay(ctx, fioPath, b.TempDir(), fiobench.ReplaySpec{Fsync: true, Block: benchChunk, Ops: jobs})
		if err != nil {
			return pairbench.Run{}, err
		}
		logDirections("fio", float64(r.ReadBytes), float64(r.WriteBytes), r.Seconds)
		return r.Pair(), fiobench.CheckSizes(files)
	}}
	defer func() {
		for _, side := range []string{"mlps", "fio"} {
			r, w := pairbench.Median(dirs[side][0]), pairbench.Median(dirs[side][1])
			b.ReportMetric(r, side+"_read_MB/s")
			b.ReportMetric(w, side+"_write_MB/s")
			b.Logf("%s, median of its runs: reads %.0f MB/s, writes %.0f MB/s", side, r, w)
		}
	}()
	pairbench.Compare(b, pairbench.Config{
		Name:  fmt.Sprintf("kvcache storage tier: %.2f GB in %d entry writes and reads from %d workers, 16 MiB I/O, file", float64(moved)/1e9, ops, benchWorkers),
		Flush: "fsync of every entry before its close, both sides; page cache dropped before every read",
	}, mlps, fio)
}

// replay reads requests.jsonl and returns fio's operations per worker,
// its files under dir: each request's storage writes and reads in order.
// It also returns the bytes written and all bytes moved.
func replay(b *testing.B, path, dir string) ([][]fiobench.Op, int64, int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	jobs := make([][]fiobench.Op, benchWorkers)
	var written, moved int64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Worker int `json:"worker"`
			Ops    []struct {
				Op    string `json:"op"`
				Entry uint64 `json:"entry"`
				Bytes int64  `json:"bytes"`
			} `json:"storage_ops"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatal(err)
		}
		for _, op := range rec.Ops {
			if op.Op == "delete" {
				b.Fatalf("the storage tier deleted entry %d: the benchmark wants every entry kept until the end", op.Entry)
			}
			file := fiobench.File{Path: filepath.Join(dir, fmt.Sprintf("%d.kv", op.Entry)), Size: op.Bytes}
			jobs[rec.Worker] = append(jobs[rec.Worker], fiobench.Op{File: file, Read: op.Op == "read"})
			moved += op.Bytes
			if op.Op == "write" {
				written += op.Bytes
			}
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	var busy [][]fiobench.Op
	for _, j := range jobs {
		if len(j) > 0 {
			busy = append(busy, j)
		}
	}
	return busy, written, moved
}
