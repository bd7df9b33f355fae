// Package fiobench runs fio as the reference for the stage benchmarks: the
// same files, the same I/O size and the same concurrency as the stage under
// test, measured in the same run, so that a stage's bandwidth can be quoted
// as a ratio to what fio gets from the same storage.
//
// It also holds what the benchmarks share about their datasets: unet3d- and
// retinanet-shaped files sized so that fio's whole-block I/O covers exactly
// the bytes mlps moves. The comparisons themselves run in the one
// side-by-side harness, backends/pairbench.
package fiobench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"mlps.dev/mlps/backends/pairbench"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/measure"
)

// Require returns fio's path, or skips tb with what to do about it.
func Require(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skipf("fio comparison benchmarks run on Linux only (O_DIRECT, drop_caches); this is %s", runtime.GOOS)
	}
	p, err := exec.LookPath("fio")
	if err != nil {
		tb.Skip("fio is not installed, so there is no reference to quote mlps against: " +
			"install it (apt-get install -y fio) or run `just bench`, which does")
	}
	return p
}

// RealDisk skips tb unless dir is on a disk-backed file system with at
// least need bytes free: on tmpfs both mlps and fio would measure memory
// copies, and a full disk would fail half way.
func RealDisk(tb testing.TB, dir string, need int64) {
	tb.Helper()
	ram, free, err := statfs(dir)
	if err != nil {
		tb.Skipf("cannot tell what file system %s is on: %v", dir, err)
	}
	if ram {
		tb.Skipf("%s is on tmpfs or ramfs, not a disk: set TMPDIR to a directory on the storage to measure", dir)
	}
	if free >= 0 && free < need+need/4 {
		tb.Skipf("%s has %d MB free, the benchmark needs %d MB and some headroom: set TMPDIR to a bigger file system",
			dir, free/1e6, need/1e6)
	}
}

// DropCaches writes back dirty pages and drops the page cache, so that each
// measured phase starts from the same cache state: nothing dirty left by
// the previous phase for it to pay for, and nothing of its files cached.
// It fails without root (or outside Linux); the caller should say so.
func DropCaches() error {
	if err := syncAll(); err != nil {
		return err
	}
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

// File is one file fio works on.
type File struct {
	Path string
	Size int64
}

// Spec is one fio run: every job in parallel, each going through its files
// one after another, whole, sequentially, in BlockSize calls with the psync
// engine (one pread or pwrite at a time per job, as a Go worker does), a
// process per job as fio runs them by default. A job holds one file open
// at a time (openfiles=1), opening each when it reaches it and closing it
// when done, as mlps's workers do.
type Spec struct {
	// RW is "write" or "read".
	RW        string
	BlockSize int64
	// Direct opens the files with O_DIRECT.
	Direct bool
	// Fsync syncs each written file before closing it (fsync_on_close),
	// as the checkpoint stage does with fsync on.
	Fsync bool
	// Jobs are the files of each job, in order. Every file must have the
	// same size, a multiple of BlockSize: fio sizes all files of a job
	// alike and silently skips a partial block at a file's end (a block
	// larger than the file reads or writes nothing), so a file of another
	// size would have fio move fewer bytes than mlps.
	Jobs [][]File
}

// JobFile renders s as a fio job file.
//
// Writes create each file when the job reaches it (create_on_open), not in
// a layout pass before fio's clock starts, and neither preallocate it
// (fallocate=none) nor sync it unless Fsync asks (then once, before
// closing: fsync_on_close): the file backend's writer creates with O_TRUNC,
// appends, syncs when the stage's fsync asks and closes, so fio does the
// same.
func (s Spec) JobFile() (string, error) {
	if s.RW != "read" && s.RW != "write" {
		return "", fmt.Errorf("fio: rw %q, want read or write", s.RW)
	}
	if s.BlockSize <= 0 || len(s.Jobs) == 0 {
		return "", fmt.Errorf("fio: block size %d and %d jobs: both must be positive", s.BlockSize, len(s.Jobs))
	}
	size := int64(-1)
	for _, job := range s.Jobs {
		if len(job) == 0 {
			return "", errors.New("fio: a job without files")
		}
		for _, f := range job {
			if size < 0 {
				size = f.Size
			}
			if f.Size != size || size%s.BlockSize != 0 || size == 0 {
				return "", fmt.Errorf("fio: %s is %d bytes; every file must be %d bytes, a non-zero multiple of the %d-byte block",
					f.Path, f.Size, size, s.BlockSize)
			}
		}
	}
	direct := 0
	if s.Direct {
		direct = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nioengine=psync\nrw=%s\nbs=%d\ndirect=%d\nfilesize=%d\n", s.RW, s.BlockSize, direct, size)
	b.WriteString("file_service_type=sequential\nopenfiles=1\n")
	if s.RW == "write" {
		sync := 0
		if s.Fsync {
			sync = 1
		}
		fmt.Fprintf(&b, "create_on_open=1\nfallocate=none\nfsync=0\nend_fsync=0\nfsync_on_close=%d\n", sync)
	}
	for i, job := range s.Jobs {
		fmt.Fprintf(&b, "\n[job%d]\n", i)
		if dir, ok := numbered(job); ok {
			fmt.Fprintf(&b, "directory=%s\nnrfiles=%d\nfilename_format=$filenum\n", dir, len(job))
			continue
		}
		names := make([]string, len(job))
		for k, f := range job {
			// fio separates file names with ':'.
			names[k] = strings.ReplaceAll(f.Path, ":", `\:`)
		}
		list := strings.Join(names, ":")
		if len(list) > maxOption {
			return "", fmt.Errorf("fio: job %d names %d files in %d bytes, over fio's %d-byte option: name them with Numbered or Link", i, len(job), len(list), maxOption)
		}
		fmt.Fprintf(&b, "filename=%s\n", list)
	}
	return b.String(), nil
}

// maxOption is the longest value fio takes for an option (its parser's
// limit is 4096 bytes with the name).
const maxOption = 4000

// numbered reports whether job's files are dir/0, dir/1, ... in order,
// which fio names itself (directory, nrfiles, filename_format=$filenum)
// where a list of thousands of paths would exceed its option length.
func numbered(job []File) (dir string, ok bool) {
	dir = filepath.Dir(job[0].Path)
	for k, f := range job {
		if f.Path != filepath.Join(dir, strconv.Itoa(k)) {
			return "", false
		}
	}
	return dir, !strings.ContainsAny(dir, ":")
}

// Numbered returns the files of jobs jobs of files files each, of size
// bytes, named dir/<job>/<k>: fio's own names for them, so that a job of
// thousands of files fits in its job file.
func Numbered(dir string, jobs, files int, size int64) [][]File {
	out := make([][]File, jobs)
	for j := range out {
		for k := range files {
			out[j] = append(out[j], File{Path: filepath.Join(dir, strconv.Itoa(j), strconv.Itoa(k)), Size: size})
		}
	}
	return out
}

// Link hard-links every file of jobs as dir/<job>/<k>, so that fio reads
// the very files mlps reads, in the same order, under names it can
// generate; it returns the links as jobs.
func Link(jobs [][]File, dir string) ([][]File, error) {
	out := make([][]File, len(jobs))
	for j, job := range jobs {
		if err := os.MkdirAll(filepath.Join(dir, strconv.Itoa(j)), 0o755); err != nil {
			return nil, err
		}
		for k, f := range job {
			l := File{Path: filepath.Join(dir, strconv.Itoa(j), strconv.Itoa(k)), Size: f.Size}
			if err := os.Link(f.Path, l.Path); err != nil {
				return nil, err
			}
			out[j] = append(out[j], l)
		}
	}
	return out, nil
}

// Result is what one fio run moved and in how long.
type Result struct {
	Jobs int
	// Files is the number of files of the run's jobs, each moved whole
	// when Bytes is their total.
	Files int64
	Bytes int64
	// ReadBytes and WriteBytes are Bytes by direction.
	ReadBytes, WriteBytes int64
	// Seconds is the longest job's runtime, as fio's group bandwidth
	// divides by it.
	Seconds float64
}

// MBPerSecond is the group bandwidth in MB (10^6 bytes) per second.
func (r Result) MBPerSecond() float64 { return measure.MBPerSecond(r.Bytes, r.Seconds) }

// Pair is r as one run of a side-by-side comparison.
func (r Result) Pair() pairbench.Run {
	return pairbench.Run{Bytes: r.Bytes, Files: r.Files, Seconds: r.Seconds}
}

// Run runs fio on s with the job file in dir and returns its result.
func Run(ctx context.Context, fio, dir string, s Spec) (Result, error) {
	jf, err := s.JobFile()
	if err != nil {
		return Result{}, err
	}
	r, err := runJobFile(ctx, fio, filepath.Join(dir, fmt.Sprintf("fio-%s-%d.job", s.RW, len(s.Jobs))), jf, s.RW)
	for _, job := range s.Jobs {
		r.Files += int64(len(job))
	}
	return r, err
}

func runJobFile(ctx context.Context, fio, path, jf, rw string) (Result, error) {
	if err := os.WriteFile(path, []byte(jf), 0o644); err != nil {
		return Result{}, err
	}
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, fio, "--output-format=json", path)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("fio %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return Parse(out.Bytes(), rw)
}

// report is the part of fio's --output-format=json that Parse reads.
type report struct {
	Jobs []struct {
		Name  string `json:"jobname"`
		Error int    `json:"error"`
		Read  ddir   `json:"read"`
		Write ddir   `json:"write"`
	} `json:"jobs"`
}

type ddir struct {
	IOBytes   int64 `json:"io_bytes"`
	RuntimeMS int64 `json:"runtime"`
}

// Parse reads fio's JSON output for the direction rw ("read", "write", or
// "readwrite" for both): the bytes of all jobs summed, over the longest
// job's runtime, as fio's group reporting aggregates them. Anything fio printed before the JSON
// document (notes, warnings) is skipped.
func Parse(out []byte, rw string) (Result, error) {
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return Result{}, fmt.Errorf("fio printed no JSON: %.200q", out)
	}
	var rep report
	if err := json.Unmarshal(out[i:], &rep); err != nil {
		return Result{}, fmt.Errorf("fio JSON: %v", err)
	}
	if len(rep.Jobs) == 0 {
		return Result{}, errors.New("fio JSON: no jobs")
	}
	var r Result
	var ms int64
	for _, j := range rep.Jobs {
		if j.Error != 0 {
			return Result{}, fmt.Errorf("fio job %s failed with error %d", j.Name, j.Error)
		}
		r.Jobs++
		switch rw {
		case "read", "readwrite", "write":
		default:
			return Result{}, fmt.Errorf("fio: rw %q, want read, write or readwrite", rw)
		}
		if rw != "write" {
			r.ReadBytes += j.Read.IOBytes
			ms = max(ms, j.Read.RuntimeMS)
		}
		if rw != "read" {
			r.WriteBytes += j.Write.IOBytes
			ms = max(ms, j.Write.RuntimeMS)
		}
	}
	r.Bytes = r.ReadBytes + r.WriteBytes
	r.Seconds = float64(ms) / 1000
	return r, nil
}

// ReplaySpec is a fio write run of jobs in parallel, each writing its
// files one after another: each whole, from its start, in Block-byte
// writes and its tail in one last write, synced before it is closed when
// Fsync is set. That is a checkpoint rank's I/O, files of different sizes
// that are no multiple of the block, which no fio job file can give one
// job (a job writes every file the same size, and skips a partial last
// block). fio replays it from an I/O log per job (read_iolog,
// replay_no_stall: as fast as it can).
//
// It replaces a chain of jobs per rank, one per file and tail, started one
// after another by wait_for: fio started each next job 0.4-0.6 s after
// the last one ended, and its figure, the sum of the jobs' runtimes, left
// those gaps out, while in them the other chains ran with less
// contention. That reference wrote faster than fio does.
type ReplaySpec struct {
	Direct, Fsync bool
	Block         int64
	Jobs          [][]File
	// Ops, set instead of Jobs, are each job's whole-file writes and
	// reads in order, as a KV-cache worker writes an entry and reads it
	// back: a read opens a file its job wrote before, and fio drops the
	// file's pages from the page cache as it opens it (invalidate, on by
	// default), as the stage drops them before each read.
	Ops [][]Op
}

// Op is one whole-file operation of a replayed job: a write creates File
// and writes it, a read reads it back whole.
type Op struct {
	File
	Read bool
}

// ops is s's operations, Jobs' as writes.
func (s ReplaySpec) ops() [][]Op {
	if s.Ops != nil {
		return s.Ops
	}
	ops := make([][]Op, len(s.Jobs))
	for j, job := range s.Jobs {
		for _, f := range job {
			ops[j] = append(ops[j], Op{File: f})
		}
	}
	return ops
}

// Logs renders each job's I/O log, in fio's version 2 format.
func (s ReplaySpec) Logs() ([]string, error) {
	if len(s.Jobs) == 0 && len(s.Ops) == 0 {
		return nil, errors.New("fio: no jobs")
	}
	if s.Block <= 0 {
		return nil, fmt.Errorf("fio: a block of %d bytes; want the write size, at least 1", s.Block)
	}
	jobs := s.ops()
	logs := make([]string, len(jobs))
	for j, job := range jobs {
		if len(job) == 0 {
			return nil, fmt.Errorf("fio: job %d has no files", j)
		}
		var b strings.Builder
		b.WriteString("fio version 2 iolog\n")
		added := map[string]bool{}
		for _, op := range job {
			f := op.File
			if f.Size <= 0 || strings.ContainsAny(f.Path, " \n") {
				return nil, fmt.Errorf("fio: %q of %d bytes: an I/O log names files without spaces, of at least a byte", f.Path, f.Size)
			}
			if !added[f.Path] {
				fmt.Fprintf(&b, "%s add\n", f.Path)
				added[f.Path] = true
			} else if !op.Read {
				return nil, fmt.Errorf("fio: job %d writes %s twice", j, f.Path)
			}
			fmt.Fprintf(&b, "%s open\n", f.Path)
			act := "write"
			if op.Read {
				act = "read"
			}
			for off := int64(0); off < f.Size; off += s.Block {
				fmt.Fprintf(&b, "%s %s %d %d\n", f.Path, act, off, min(s.Block, f.Size-off))
			}
			if s.Fsync && !op.Read {
				fmt.Fprintf(&b, "%s sync 0 0\n", f.Path)
			}
			fmt.Fprintf(&b, "%s close\n", f.Path)
		}
		logs[j] = b.String()
	}
	return logs, nil
}

// JobFile renders the job file that replays the logs at paths, one job
// each.
func (s ReplaySpec) JobFile(paths []string) string {
	direct := 0
	if s.Direct {
		direct = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nioengine=psync\ndirect=%d\ncreate_on_open=1\nfallocate=none\nreplay_no_stall=1\n", direct)
	for j, p := range paths {
		fmt.Fprintf(&b, "\n[job%d]\nread_iolog=%s\n", j, p)
	}
	return b.String()
}

// RunReplay runs fio on s, its logs and job file in dir, and returns its
// result.
func RunReplay(ctx context.Context, fio, dir string, s ReplaySpec) (Result, error) {
	logs, err := s.Logs()
	if err != nil {
		return Result{}, err
	}
	paths := make([]string, len(logs))
	for j, l := range logs {
		paths[j] = filepath.Join(dir, fmt.Sprintf("fio-replay-%d.iolog", j))
		if err := os.WriteFile(paths[j], []byte(l), 0o644); err != nil {
			return Result{}, err
		}
	}
	rw := "write"
	if s.Ops != nil {
		rw = "readwrite"
	}
	r, err := runJobFile(ctx, fio, filepath.Join(dir, fmt.Sprintf("fio-replay-%d.job", len(logs))), s.JobFile(paths), rw)
	for _, job := range s.ops() {
		r.Files += int64(len(job))
	}
	return r, err
}

// UNet3DFileBytes is the size of every file of the benchmarks' dataset:
// 140 MiB, a whole number of 1 MiB blocks, just above the 146,600,628-byte
// mean record of unet3d.
const UNet3DFileBytes = 140 << 20

// RetinanetFileBytes is the size of every file of the small-file
// benchmarks: 79 pages, a whole number of 4 KiB blocks (so that O_DIRECT
// reads it whole) just above retinanet's 322,957-byte record.
const RetinanetFileBytes = 79 << 12

// RecordBytes returns the record size that makes a one-sample file of
// format exactly fileBytes long, so that fio's whole-block I/O covers
// exactly the bytes mlps moves.
func RecordBytes(format string, fileBytes int64) (int64, error) {
	size := func(r int64) (int64, error) {
		l, err := dataset.New("x", dsl.Dataset{Format: format, Files: 1, SamplesPerFile: 1, RecordBytes: r}, 1)
		if err != nil {
			return 0, err
		}
		return l.FileSize(0), nil
	}
	r := fileBytes
	for range 8 {
		n, err := size(r)
		if err != nil {
			return 0, err
		}
		if n == fileBytes {
			return r, nil
		}
		r -= n - fileBytes
	}
	return 0, fmt.Errorf("no one-sample %s file is exactly %d bytes", format, fileBytes)
}

// Files returns the files of dataset name in w below dir, the target's
// directory, in index order.
func Files(w *dsl.Workload, name, dir string) ([]File, error) {
	d, ok := w.Datasets[name]
	if !ok {
		return nil, fmt.Errorf("no dataset %q", name)
	}
	l, err := dataset.New(name, d, w.Seed)
	if err != nil {
		return nil, err
	}
	fs := make([]File, l.Files)
	for i := range l.Files {
		fs[i] = File{Path: filepath.Join(dir, filepath.FromSlash(l.FileName(i))), Size: l.FileSize(i)}
	}
	return fs, nil
}

// Deal gives file i to job i mod jobs, as mlps's loader threads take batches
// round-robin; for writers, which take the next file when they finish one,
// it is the same split when all files take as long.
func Deal(files []File, jobs int) [][]File {
	out := make([][]File, min(jobs, len(files)))
	for i, f := range files {
		out[i%len(out)] = append(out[i%len(out)], f)
	}
	return out
}

// CheckSizes fails unless every file is on disk at its planned size.
func CheckSizes(files []File) error {
	for _, f := range files {
		fi, err := os.Stat(f.Path)
		if err != nil {
			return err
		}
		if fi.Size() != f.Size {
			return fmt.Errorf("%s is %d bytes, planned %d", f.Path, fi.Size(), f.Size)
		}
	}
	return nil
}

// Fresh returns a side's Prepare for writers of files: it removes them,
// so that the next writer creates them afresh, keeps their folders, and
// writes back and drops the page cache so that no run pays for another's
// dirty pages; it says once if the cache cannot be dropped (not root).
func Fresh(tb testing.TB, files []File) func() error {
	dropped := true
	return func() error {
		if err := Remove(files); err != nil {
			return err
		}
		for _, f := range files {
			if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
				return err
			}
		}
		Drop(tb, &dropped)
		return nil
	}
}

// Drop writes back and drops the page cache, or says once (while *ok)
// that it cannot.
func Drop(tb testing.TB, ok *bool) {
	if err := DropCaches(); err != nil && *ok {
		*ok = false
		tb.Logf("page cache not dropped between runs (%v): each run may find the previous one's dirty or cached pages", err)
	}
}

// Remove deletes the files, so that the next writer creates them afresh.
func Remove(files []File) error {
	for _, f := range files {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// RetinanetFiles is how many files the small-file benchmarks write and
// read: 6,000 (1.9 GiB), below the kernel's background dirty threshold
// (10 % of this machine's 24 GiB), so that generate, which does not
// flush, measures writing into the page cache and not the writeback.
// 12,000 files (3.9 GB) pass the point where the kernel begins to throttle
// writers (midway between that threshold and the 20 % limit), and there
// the pairs' ratios fell to a median of 0.87 over 23 pairs after 0.95 at
// 6,000: a comparison of how each program's writers sleep in the
// throttle, not of their writes.
const RetinanetFiles = 6000

// RetinanetPairs caps the pairs of the small-file benchmarks: a run lasts
// about a second, the ratios of single pairs range from 0.6 to 1.7 on a
// shared virtual machine, and only more pairs narrow the median's
// confidence interval. (Here the kernel hands freed memory back to the
// host, free page reporting, and the same mlps run took 2.4 s of system
// CPU one time and 4.7 s the next: a run's page-cache pages may or may
// not each cost the host a fault.)
const RetinanetPairs = 41
