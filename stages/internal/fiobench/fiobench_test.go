package fiobench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/dataset"
)

func TestRecordBytes(t *testing.T) {
	for _, tc := range []struct {
		format string
		file   int64
	}{{"npz", UNet3DFileBytes}, {"jpeg", RetinanetFileBytes}, {"npz", RetinanetFileBytes}} {
		r, err := RecordBytes(tc.format, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		l, err := dataset.New("x", dsl.Dataset{Format: tc.format, Files: 1, SamplesPerFile: 1, RecordBytes: r}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := l.FileSize(0); n != tc.file {
			t.Errorf("%s record %d makes a %d-byte file, want %d", tc.format, r, n, tc.file)
		}
	}
}

// A trimmed fio 3.33 report: notes before the JSON are skipped, the bytes
// of the jobs add up and the longest runtime divides them.
func TestParse(t *testing.T) {
	out := `note: both iodepth >= 1 and synchronous I/O engine are selected
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {"jobname" : "job0", "error" : 0, "read" : {"io_bytes" : 1000000, "runtime" : 500}, "write" : {"io_bytes" : 0, "runtime" : 0}},
    {"jobname" : "job1", "error" : 0, "read" : {"io_bytes" : 3000000, "runtime" : 1000}, "write" : {"io_bytes" : 0, "runtime" : 0}}
  ]
}
`
	r, err := Parse([]byte(out), "read")
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs != 2 || r.Bytes != 4000000 || r.Seconds != 1 || r.MBPerSecond() != 4 {
		t.Errorf("parsed %+v (%.1f MB/s), want 2 jobs, 4 MB in 1 s", r, r.MBPerSecond())
	}
	if _, err := Parse([]byte(strings.Replace(out, `"error" : 0`, `"error" : 5`, 1)), "read"); err == nil {
		t.Error("a failed job parsed without error")
	}
}

func TestJobFile(t *testing.T) {
	s := Spec{RW: "write", BlockSize: 1 << 20, Jobs: [][]File{
		{{"/d/a", 2 << 20}, {"/d/c:x", 2 << 20}},
		{{"/d/b", 2 << 20}},
	}}
	jf, err := s.JobFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rw=write\n", "bs=1048576\n", "filesize=2097152\n", "end_fsync=0\n", "fallocate=none\n",
		"openfiles=1\n", "create_on_open=1\n",
		"[job0]\nfilename=/d/a:/d/c\\:x\n", "[job1]\nfilename=/d/b\n"} {
		if !strings.Contains(jf, want) {
			t.Errorf("job file lacks %q:\n%s", want, jf)
		}
	}
	s.Jobs[1][0].Size = 3 << 20
	if _, err := s.JobFile(); err == nil {
		t.Error("files of different sizes accepted")
	}
}

func TestReplayLogs(t *testing.T) {
	s := ReplaySpec{Fsync: true, Block: 32, Jobs: [][]File{{{"/d/m", 100}, {"/d/o", 64}}, {{"/d/x", 20}}}}
	logs, err := s.Logs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fio version 2 iolog\n" +
			"/d/m add\n/d/m open\n/d/m write 0 32\n/d/m write 32 32\n/d/m write 64 32\n/d/m write 96 4\n/d/m sync 0 0\n/d/m close\n" +
			"/d/o add\n/d/o open\n/d/o write 0 32\n/d/o write 32 32\n/d/o sync 0 0\n/d/o close\n",
		"fio version 2 iolog\n/d/x add\n/d/x open\n/d/x write 0 20\n/d/x sync 0 0\n/d/x close\n",
	}
	if !slices.Equal(logs, want) {
		t.Errorf("logs:\n%q\nwant:\n%q", logs, want)
	}
	jf := s.JobFile([]string{"/l/0", "/l/1"})
	for _, w := range []string{"direct=0\n", "create_on_open=1\n", "replay_no_stall=1\n", "[job0]\nread_iolog=/l/0\n", "[job1]\nread_iolog=/l/1\n"} {
		if !strings.Contains(jf, w) {
			t.Errorf("job file lacks %q:\n%s", w, jf)
		}
	}
	for _, bad := range []ReplaySpec{
		{Block: 32},
		{Block: 0, Jobs: [][]File{{{"/d/m", 1}}}},
		{Block: 32, Jobs: [][]File{{}}},
		{Block: 32, Jobs: [][]File{{{"/d/a b", 1}}}},
		{Block: 32, Jobs: [][]File{{{"/d/m", 0}}}},
	} {
		if _, err := bad.Logs(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// fio writes a replayed job's files to exactly their sizes, tails
// included, syncing each once, and its runtime spans the whole job.
func TestReplayWritesExactFiles(t *testing.T) {
	fio := Require(t)
	dir := t.TempDir()
	f := []File{{filepath.Join(dir, "a"), 3<<20 + 12<<10}, {filepath.Join(dir, "b"), 1 << 20}}
	g := []File{{filepath.Join(dir, "c"), 5<<20 + 512}}
	r, err := RunReplay(t.Context(), fio, dir, ReplaySpec{Fsync: true, Block: 1 << 20, Jobs: [][]File{f, g}})
	if err != nil {
		t.Fatal(err)
	}
	if want := f[0].Size + f[1].Size + g[0].Size; r.Bytes != want || r.Files != 3 || r.Jobs != 2 {
		t.Errorf("fio result %+v, want %d bytes in 3 files by 2 jobs", r, want)
	}
	if err := CheckSizes(append(f, g...)); err != nil {
		t.Error(err)
	}
}

// A job of thousands of files names them through fio's own numbering; a
// list too long for fio's option parser is refused, not passed on.
func TestJobFileManyFiles(t *testing.T) {
	s := Spec{RW: "write", BlockSize: 4096, Jobs: Numbered("/d/fio", 2, 3000, 8192)}
	jf, err := s.JobFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := "[job1]\ndirectory=/d/fio/1\nnrfiles=3000\nfilename_format=$filenum\n"; !strings.Contains(jf, want) {
		t.Errorf("job file lacks %q:\n%.500s", want, jf)
	}
	var long []File
	for k := range 3000 {
		long = append(long, File{Path: fmt.Sprintf("/d/x/img_%04d.jpeg", k), Size: 8192})
	}
	if _, err := (Spec{RW: "read", BlockSize: 4096, Jobs: [][]File{long}}).JobFile(); err == nil || !strings.Contains(err.Error(), "Numbered or Link") {
		t.Errorf("a 3000-name list: error %v, want one saying to use Numbered or Link", err)
	}
}

// fio reads linked files whole: every byte of every file, one call each.
func TestLinkedRead(t *testing.T) {
	fio := Require(t)
	dir := t.TempDir()
	var files []File
	for i := range 10 {
		f := File{Path: filepath.Join(dir, "ds", fmt.Sprintf("%d", i%3), fmt.Sprintf("img_%02d.jpeg", i)), Size: 3 << 12}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.Path, make([]byte, f.Size), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	jobs, err := Link(Deal(files, 3), filepath.Join(dir, "links"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(t.Context(), fio, dir, Spec{RW: "read", BlockSize: 3 << 12, Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes != 10*3<<12 || r.Files != 10 || r.Jobs != 3 {
		t.Errorf("fio read %+v, want %d bytes of 10 files by 3 jobs", r, 10*3<<12)
	}
}

// The benchmarks' mlps binary runs, is shared by the benchmarks that use
// it at once, and is removed with its directory when the last ends.
func TestBinaryIsRemovedAfterItsLastUser(t *testing.T) {
	var path string
	t.Run("users", func(t *testing.T) {
		path = Binary(t)
		if again := Binary(t); again != path {
			t.Errorf("a second user got %s, the first %s", again, path)
		}
		out, err := exec.Command(path, "version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "mlps") {
			t.Fatalf("%s version: %v: %s", path, err, out)
		}
	})
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("%s is still there after its users ended: %v", filepath.Dir(path), err)
	}
}
