package fiobench

import (
	"strings"
	"testing"

	"mlps.dev/mlps/stages/format/npz"
)

func TestNPZRecordBytes(t *testing.T) {
	r, err := NPZRecordBytes(UNet3DFileBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a one-sample npz file of %d bytes holds a %d-byte record", UNet3DFileBytes, r)
	if n, _ := npz.Size(npz.Spec{RecordBytes: r, Samples: 1}); n != UNet3DFileBytes {
		t.Errorf("record %d makes a %d-byte file, want %d", r, n, UNet3DFileBytes)
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
