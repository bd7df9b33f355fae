package upload_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/exec"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/planner"
	"mlps.dev/mlps/stages"
	"mlps.dev/mlps/stages/content"
	"mlps.dev/mlps/stages/dataset"
	"mlps.dev/mlps/stages/measure"
)

// Files generated on one target and uploaded to another (directly, or
// through a third) arrive whole: every byte of every data and index file
// on disk is the byte the source dataset defines, and the stage measures
// and reports what the plan says it moves.
func TestUploadCopiesEveryByte(t *testing.T) {
	for _, tt := range []struct {
		name string
		// via, when set, is the URI of a target between a and c: a is
		// uploaded to b there, read back by a read-epoch, and b to c.
		from, via string
		shape     string
	}{
		{"npz-stdev-mem-to-file", "mem://", "",
			`format: "npz", files: 12, samples_per_file: 2, record_bytes: 3000, record_bytes_stdev: 500, subfolders: 3`},
		{"tfrecord-tmp-to-mem-to-file", "tmp://", "mem://",
			`format: "tfrecord", files: 7, samples_per_file: 5, record_bytes: 2500, prefix: "rec"`},
		{"jpeg-mem-to-tmp-to-file", "mem://", "tmp://",
			`format: "jpeg", files: 9, record_bytes: 5000`},
		{"parquet-tmp-to-file", "tmp://", "",
			`format: "parquet", files: 3, samples_per_file: 10, record_bytes: 24, parquet: {columns: [{name: "x", type: "int64", repeat: 3}], row_group_rows: 4}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := fmt.Sprintf(`name: "up"
seed: 11
targets: {
	src: uri: %q
	dst: uri: "file://%s"
}
datasets: {
	a: {target: "src", path: "staging/train", %s}
	c: {target: "dst", path: "data/train", %s}
}
stages: gen: {kind: "generate", dataset: "a", workers: 2}
`, tt.from, dir, tt.shape, tt.shape)
			ups := []string{"up"}
			if tt.via == "" {
				src += `stages: up: {kind: "upload", from: "a", to: "c", workers: 3, transfer_bytes: 4096, verify: true}` + "\n"
			} else {
				src += fmt.Sprintf(`targets: via: uri: %q
datasets: b: {target: "via", path: "train", %s}
stages: {
	up1: {kind: "upload", from: "a", to: "b", workers: 3, transfer_bytes: 4096, verify: true}
	readb: {kind: "read-epoch", dataset: "b", exclude_start_steps: 0}
	up2: {kind: "upload", from: "b", to: "c", workers: 2}
}
`, tt.via, tt.shape)
				ups = []string{"up1", "up2"}
			}
			p, rep := exectest.Run(t, src)

			// The data flows generate → upload(s) → the read-back.
			var order []string
			for _, n := range p.Nodes {
				order = append(order, n.ID)
			}
			if tt.via != "" && strings.Join(order, " ") != "gen up1 readb up2" {
				t.Errorf("run order %v", order)
			}

			w := p.Workload
			a, err := dataset.New("a", w.Datasets["a"], w.Seed)
			if err != nil {
				t.Fatal(err)
			}
			c, err := dataset.New("c", w.Datasets["c"], w.Seed)
			if err != nil {
				t.Fatal(err)
			}
			gen := content.New(w.Seed)
			var files, total int64
			check := func(name string, write func(io.Writer) (int64, error)) {
				t.Helper()
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Error(err)
					return
				}
				var want bytes.Buffer
				if _, err := write(&want); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("%s: %d bytes on disk differ from the %d the dataset defines", name, len(got), want.Len())
				}
				files++
				total += int64(len(got))
			}
			for i := range a.Files {
				check(c.FileName(i), func(w io.Writer) (int64, error) { return a.Write(w, i, gen, make([]byte, 4096)) })
				if name, ok := c.IndexName(i); ok {
					check(name, func(w io.Writer) (int64, error) { return a.WriteIndex(w, i) })
				}
			}

			for _, id := range ups {
				sr := stageReport(t, rep, id)
				pl := sr.Planned
				if pl.Files != files || pl.ReadBytes != total || pl.WriteBytes != total || pl.Ops != 2*files {
					t.Errorf("%s planned %+v; copied %d files, %d bytes", id, pl, files, total)
				}
				m := sr.Metrics
				if m["files_uploaded"] != files || m["bytes_uploaded"] != total {
					t.Errorf("%s metrics %v; copied %d files, %d bytes", id, m, files, total)
				}
				if r, ok := m["upload_MB_per_second"].(float64); !ok || r <= 0 {
					t.Errorf("%s upload_MB_per_second %v", id, m["upload_MB_per_second"])
				}
				ops := map[string]measure.OpStats{}
				for _, o := range sr.Measured.Ops {
					ops[o.Op] = o
				}
				n := p.Nodes[slicesIndex(order, id)]
				from, to := n.Task.Reads()[0], n.Task.Writes()[0]
				rd, wr := ops["read"], ops["write"]
				if rd.Target != w.Datasets[from].Target || wr.Target != w.Datasets[to].Target {
					t.Errorf("%s read from %q and wrote to %q", id, rd.Target, wr.Target)
				}
				if len(sr.Measured.Ops) != 2 || rd.Count != uint64(files) || wr.Count != uint64(files) ||
					rd.Bytes != total || wr.Bytes != total || sr.Measured.Errors != 0 {
					t.Errorf("%s measured %+v; copied %d files, %d bytes", id, sr.Measured, files, total)
				}
				if rd.FirstByte == nil || wr.FirstByte == nil {
					t.Errorf("%s: no time to first byte", id)
				}
			}
		})
	}
}

func stageReport(t *testing.T, rep *results.Report, id string) *results.StageReport {
	t.Helper()
	for _, sr := range rep.Stages {
		if sr.ID == id {
			return sr
		}
	}
	t.Fatalf("no stage %s in the report", id)
	return nil
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Datasets that describe different files, or the same files in the same
// place, do not plan: the error is at the stage's to field, names every
// field that differs with both values, and points at where they are
// written.
func TestPlanErrors(t *testing.T) {
	const head = `name: "bad"
targets: {
	t: uri: "mem://"
	u: uri: "mem://"
	f: uri: "file:///srv/data"
	g: uri: "file:///srv/data"
}
datasets: {
	local: {target: "t", path: "train", format: "npz", files: 8, record_bytes: 1000}
`
	for _, tt := range []struct {
		name   string
		remote string // the line defining dataset remote
		to     string // the upload's to
		want   []string
	}{
		{"shape", `remote: {target: "u", path: "train", format: "npz", files: 16, record_bytes: 1000, prefix: "x"}`, "remote", []string{
			`:12:61: stages.up.to: dataset remote must describe the same files as dataset local, differing only in target and path: ` +
				`files is 8 in local and 16 in remote; prefix is "img" in local and "x" in remote`,
			"workload.cue:10:61\n", // remote's files
			"workload.cue:9:60\n",  // local's files
			"workload.cue:10:93",   // remote's prefix
		}},
		{"format", `remote: {target: "u", path: "train", format: "tfrecord", files: 8, record_bytes: 1000}`, "remote", []string{
			`:12:61: stages.up.to: dataset remote must describe the same files as dataset local, differing only in target and path: format is "npz" in local and "tfrecord" in remote`,
			"workload.cue:10:47\n", "workload.cue:9:46",
		}},
		{"same place", `remote: {target: "t", path: "train", format: "npz", files: 8, record_bytes: 1000}`, "remote", []string{
			`:12:61: stages.up.to: datasets local and remote are the same files (target t, path "train"): the upload would copy them onto themselves; give remote another target or path`,
		}},
		{"itself", `remote: {target: "u", format: "npz", files: 8, record_bytes: 1000}`, "local", []string{
			`:12:61: stages.up.to: upload copies dataset local onto itself`,
		}},
		{"one directory twice", `remote: {target: "g", path: "train", format: "npz", files: 8, record_bytes: 1000}`, "remote", []string{
			`:12:61: stages.up.to: datasets local and remote are the same files (targets f and g are both file:///srv/data, path "train"): the upload would copy them onto themselves`,
		}},
		{"unknown", `remote: {target: "u", format: "npz", files: 8, record_bytes: 1000}`, "remot", []string{
			`:12:61: stages.up.to: unknown dataset "remot" (datasets: local, remote)`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := head + "\t" + tt.remote + "\n}\n" +
				`stages: up: {kind: "upload", from: "local", workers: 2, to: "` + tt.to + `"}` + "\n"
			if tt.name == "one directory twice" {
				src = strings.Replace(src, `target: "t", path`, `target: "f", path`, 1)
			}
			wl := filepath.Join(t.TempDir(), "workload.cue")
			if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := dsl.Load(wl, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = planner.Compile(w)
			if err == nil {
				t.Fatal("planned")
			}
			if !dsl.IsInputError(err) {
				t.Errorf("%v is not an input error", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, wl+":") && !strings.HasPrefix(msg, "workload.cue:") {
				t.Errorf("error %q does not start with the workload's file", msg)
			}
			if strings.Contains(msg, "schema") {
				t.Errorf("error %q points into the schema", msg)
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, want)
				}
			}
		})
	}
}

// A source file that is not what the dataset defines fails the stage with
// the file's name, and nothing is committed under the destination's name.
func TestBadSourceFails(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(path string) error
		want   string
	}{
		{"corrupt byte", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[5000] ^= 0x40
			return os.WriteFile(p, b, 0o644)
		}, "img_2_of_4.npz: byte at offset 5000 is"},
		{"truncated", func(p string) error { return os.Truncate(p, 3000) },
			"upload src/img_2_of_4.npz: read 3000 bytes, dataset a defines"},
		{"longer", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("tail"))
			return f.Close()
		}, "upload src/img_2_of_4.npz: the file is longer than the"},
		{"missing", os.Remove, "upload src/img_2_of_4.npz:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gen := fmt.Sprintf(`name: "bad"
targets: {
	t: uri: "file://%s"
}
datasets: a: {target: "t", path: "src", format: "npz", files: 4, record_bytes: 10000}
datasets: b: {target: "t", path: "dst", format: "npz", files: 4, record_bytes: 10000}
stages: g: {kind: "generate", dataset: "a"}
`, dir)
			exectest.Run(t, gen)
			if err := tt.damage(filepath.Join(dir, "src", "img_2_of_4.npz")); err != nil {
				t.Fatal(err)
			}
			verify := tt.name == "corrupt byte"
			up := strings.Replace(gen, `stages: g: {kind: "generate", dataset: "a"}`,
				fmt.Sprintf(`stages: up: {kind: "upload", from: "a", to: "b", workers: 1, transfer_bytes: 4096, verify: %v}`, verify), 1)
			_, rep := exectest.Try(t, up, exec.Options{})
			if rep.Complete || rep.Err == nil {
				t.Fatal("the upload completed")
			}
			if !strings.Contains(rep.Err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", rep.Err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "dst", "img_2_of_4.npz")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the bad file was committed: %v", err)
			}
			sr := rep.Stages[0]
			if sr.Status != results.StatusFailed || sr.Measured.Errors == 0 {
				t.Errorf("status %s, %d errors measured", sr.Status, sr.Measured.Errors)
			}
		})
	}
}

// cancelAfter cancels a context when its backend's nth Create is called.
type cancelAfter struct {
	backends.Backend
	n      int64
	calls  atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Create(ctx context.Context, name string, size int64) (backends.Writer, error) {
	if c.calls.Add(1) == c.n {
		c.cancel()
	}
	return c.Backend.Create(ctx, name, size)
}

// A cancelled upload stops and returns what it copied with the context's
// error.
func TestCancel(t *testing.T) {
	p := exectest.Plan(t, `name: "cancel"
targets: {
	t: uri: "mem://"
	u: uri: "mem://"
}
datasets: {
	a: {target: "t", format: "npz", files: 40, record_bytes: 4096}
	b: {target: "u", format: "npz", files: 40, record_bytes: 4096}
}
stages: {
	gen: {kind: "generate", dataset: "a"}
	up: {kind: "upload", from: "a", to: "b", workers: 1}
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	targets := map[string]backends.Backend{}
	for name, tg := range p.Workload.Targets {
		b, err := backends.Open(context.Background(), tg.URI)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		targets[name] = b
	}
	targets["u"] = &cancelAfter{Backend: targets["u"], n: 5, cancel: cancel}
	env := func(id string) *stages.Env {
		return &stages.Env{Stage: id, Targets: targets, Meter: measure.NewMeter(id)}
	}
	if _, err := p.Nodes[0].Task.Run(context.Background(), env("gen")); err != nil {
		t.Fatal(err)
	}
	e := env("up")
	m, err := p.Nodes[1].Task.Run(ctx, e)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	files := m["files_uploaded"].(int64)
	if files < 4 || files >= 40 {
		t.Errorf("%d files uploaded before the cancel at the 5th", files)
	}
	if got := m["bytes_uploaded"].(int64); got != files*(p.Nodes[1].Task.Work().WriteBytes/40) {
		t.Errorf("%d bytes uploaded in %d files", got, files)
	}
	if snap := e.Meter.Snapshot(); snap.Count < uint64(2*files) {
		t.Errorf("measured %d ops for %d files", snap.Count, files)
	}
}

// With verify, an index file that is not what the dataset defines fails
// the stage with the index file's name and where it goes wrong, and
// nothing is committed under the destination's name.
func TestBadIndexFails(t *testing.T) {
	const idx = "index/src/rec_1_of_3.tfrecord.idx"
	for _, tt := range []struct {
		name   string
		damage func(b []byte) []byte
		want   string
	}{
		{"corrupt byte", func(b []byte) []byte { b[7] ^= 0x01; return b },
			idx + ": byte at offset 7 is"},
		{"longer", func(b []byte) []byte { return append(b, "0 1\n"...) },
			"verify " + idx + ": the file goes on past offset %d, where the dataset's index file ends"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gen := fmt.Sprintf(`name: "bad"
targets: t: uri: "file://%s"
datasets: a: {target: "t", path: "src", format: "tfrecord", files: 3, samples_per_file: 4, record_bytes: 1000, prefix: "rec"}
datasets: b: {target: "t", path: "dst", format: "tfrecord", files: 3, samples_per_file: 4, record_bytes: 1000, prefix: "rec"}
stages: g: {kind: "generate", dataset: "a"}
`, dir)
			exectest.Run(t, gen)
			p := filepath.Join(dir, idx)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, len(b))
			}
			if err := os.WriteFile(p, tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			up := strings.Replace(gen, `stages: g: {kind: "generate", dataset: "a"}`,
				`stages: up: {kind: "upload", from: "a", to: "b", workers: 1, transfer_bytes: 4096, verify: true}`, 1)
			_, rep := exectest.Try(t, up, exec.Options{})
			if rep.Complete || rep.Err == nil {
				t.Fatal("the upload completed")
			}
			if !strings.Contains(rep.Err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", rep.Err, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "index/dst/rec_1_of_3.tfrecord.idx")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the bad index file was committed: %v", err)
			}
		})
	}
}
