package generate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/format/npz"
)

// Generate writes every file of the dataset under its computed name, at
// its planned size, with payloads that verify against the generator: no
// stored checksum is needed to check any byte. With fsync each file is
// synced before it is closed, and the files are the same.
func TestGenerateWritesVerifiableFiles(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) { testGenerateWritesVerifiableFiles(t, fsync) })
	}
}

func testGenerateWritesVerifiableFiles(t *testing.T, fsync bool) {
	dir := t.TempDir()
	src := fmt.Sprintf(`name: "gen"
seed: 7
targets: t: uri: "file://%s"
datasets: d: {target: "t", path: "ds", format: "npz", files: 12, samples_per_file: 3,
	record_bytes: 10000, record_bytes_stdev: 3000, subfolders: 3}
stages: g: {kind: "generate", dataset: "d", workers: 5, write_bytes: 4096, fsync: %v}
`, dir, fsync)
	p, rep := exectest.Run(t, src)
	if d := p.Nodes[0].Task.Describe(); strings.Contains(d, "fsync per file") != fsync {
		t.Errorf("fsync %v, described as %q", fsync, d)
	}
	w := p.Workload
	l, err := dataset.New("d", w.Datasets["d"], 7)
	if err != nil {
		t.Fatal(err)
	}
	gen := content.New(7)
	sizes := map[int64]bool{}
	var total int64
	for i := range int64(12) {
		name := l.FileName(i)
		if want := fmt.Sprintf("ds/%d/img_%02d_of_12.npz", i%3, i); name != want {
			t.Errorf("file %d named %s, want %s", i, name, want)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != l.FileSize(i) {
			t.Errorf("%s: %d bytes, planned %d", name, len(b), l.FileSize(i))
		}
		total += int64(len(b))
		sizes[l.RecordBytes(i)] = true
		x, y, err := npz.Payload(npz.Spec{RecordBytes: l.RecordBytes(i), Samples: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []npz.Extent{x, y} {
			if bad, ok := gen.Verify(b[e.Off:e.Off+e.Len], l.Stream(i), e.Off); !ok {
				t.Errorf("%s: byte at %d does not match the generator", name, bad)
			}
		}
	}
	if len(sizes) < 10 {
		t.Errorf("record sizes with a stdev: only %d distinct among 12 files", len(sizes))
	}
	sr := rep.Stages[0]
	if sr.Measured.Bytes != total || sr.Measured.Count != 12 || sr.Planned.WriteBytes != total {
		t.Errorf("measured %d bytes in %d ops, planned %d; on disk %d", sr.Measured.Bytes, sr.Measured.Count, sr.Planned.WriteBytes, total)
	}
}
