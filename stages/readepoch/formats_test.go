package readepoch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
)

const formatWorkload = `name: "formats"
targets: t: uri: "URI"
datasets: {
	d: {target: "t", path: "data/train", format: "FORMAT", files: 12, samples_per_file: SPF, record_bytes: 4000, record_bytes_stdev: STDEV}
	v: {target: "t", path: "data/valid", format: "FORMAT", files: 4, samples_per_file: SPF, record_bytes: 4000}
}
stages: {
	g: {kind: "generate", dataset: "d"}
	gv: {kind: "generate", dataset: "v"}
	r: {kind: "read-epoch", dataset: "d", epochs: 2, accelerators: 2, batch_size: 3, read_threads: 2,
		computation_time: 0.001, sample_shuffle: "SHUFFLE", verify: true
		evaluation: {dataset: "v", batch_size: 2}}
}
`

// Each format is generated and read back, every byte verified, with and
// without shuffling; what is read is what the plan says, and the
// evaluation runs after each epoch.
func TestFormatsReadBack(t *testing.T) {
	for _, tt := range []struct{ format, spf, stdev, shuffle string }{
		{"npz", "1", "500", "off"},
		{"npz", "1", "0", "seed"},
		{"npy", "2", "0", "off"},
		{"tfrecord", "5", "0", "off"},
		{"tfrecord", "5", "300", "seed"},
		{"jpeg", "1", "700", "seed"},
		{"png", "1", "0", "off"},
	} {
		t.Run(strings.Join([]string{tt.format, tt.spf, tt.stdev, tt.shuffle}, "-"), func(t *testing.T) {
			dir := t.TempDir()
			src := strings.NewReplacer("URI", "file://"+dir, "FORMAT", tt.format, "SPF", tt.spf, "STDEV", tt.stdev, "SHUFFLE", tt.shuffle).Replace(formatWorkload)
			_, rep := exectest.Run(t, src)
			r := rep.Stages[len(rep.Stages)-1]
			m := r.Metrics
			if tt.shuffle == "off" || tt.spf == "1" {
				if got := m["train_bytes_read"].(int64) + m["eval_bytes_read"].(int64); got != r.Planned.ReadBytes {
					t.Errorf("read %d bytes, planned %d", got, r.Planned.ReadBytes)
				}
			}
			if got := r.Measured.Bytes; got != m["train_bytes_read"].(int64)+m["eval_bytes_read"].(int64) {
				t.Errorf("measured %d bytes, metrics say %d + %d", got, m["train_bytes_read"], m["eval_bytes_read"])
			}
			if n := len(m["eval_au_percentage"].([]float64)); n != 2 {
				t.Errorf("%d evaluations, want one after each of 2 epochs", n)
			}
			if tt.format == "tfrecord" {
				idx := filepath.Join(dir, "data/index/train/img_00_of_12.tfrecord.idx")
				b, err := os.ReadFile(idx)
				if err != nil {
					t.Fatal(err)
				}
				if lines := strings.Count(string(b), "\n"); fmt.Sprint(lines) != tt.spf {
					t.Errorf("index %s has %d lines, want %s", idx, lines, tt.spf)
				}
			}
		})
	}
}

// A single corrupted byte fails a verifying run with the file and offset.
func TestVerifyFindsCorruptByte(t *testing.T) {
	for _, format := range []string{"npz", "tfrecord"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			gen := fmt.Sprintf(`name: "v"
targets: t: uri: "file://%s"
datasets: d: {target: "t", format: "%s", files: 4, samples_per_file: 3, record_bytes: 100000}
stages: g: {kind: "generate", dataset: "d"}
`, dir, format)
			exectest.Run(t, gen)
			name := "img_2_of_4." + format
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			const off = 123457
			b[off] ^= 0x10
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			read := strings.Replace(gen, `stages: g: {kind: "generate", dataset: "d"}`,
				`stages: r: {kind: "read-epoch", dataset: "d", batch_size: 3, accelerators: 1, read_threads: 2, exclude_start_steps: 0, verify: true}`, 1)
			_, rep := exectest.Try(t, read, exec.Options{})
			if rep.Complete {
				t.Fatal("the run completed over a corrupted file")
			}
			want := fmt.Sprintf("%s: byte at offset %d is 0x%02x, the dataset defines 0x%02x", name, off, b[off], b[off]^0x10)
			if rep.Err == nil || !strings.Contains(rep.Err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", rep.Err, want)
			}
		})
	}
}
