package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlps.dev/mlps/dsl"
	"mlps.dev/mlps/stages/content"
)

// pq is a parquet column layout whose rows are 24 bytes.
var pq = &dsl.Parquet{Columns: []dsl.Column{{Name: "x", Type: "int64", Elements: 1, Repeat: 3}}, RowGroupRows: 4}

// shapes are small datasets of every format, with and without a stdev
// where the format allows one.
var shapes = []struct {
	name string
	d    dsl.Dataset
}{
	{"npz", dsl.Dataset{Format: "npz", Files: 5, SamplesPerFile: 2, RecordBytes: 3000, Prefix: "img"}},
	{"npz-stdev", dsl.Dataset{Format: "npz", Files: 6, SamplesPerFile: 2, RecordBytes: 3000, RecordBytesStdev: 700, Prefix: "img"}},
	{"npy", dsl.Dataset{Format: "npy", Files: 4, SamplesPerFile: 3, RecordBytes: 1000, Prefix: "img"}},
	{"tfrecord", dsl.Dataset{Format: "tfrecord", Files: 4, SamplesPerFile: 5, RecordBytes: 2500, Prefix: "rec", Path: "data/train"}},
	{"tfrecord-stdev", dsl.Dataset{Format: "tfrecord", Files: 6, SamplesPerFile: 7, RecordBytes: 900, RecordBytesStdev: 300, Prefix: "rec", Path: "train"}},
	{"parquet", dsl.Dataset{Format: "parquet", Files: 3, SamplesPerFile: 10, RecordBytes: 24, Prefix: "img", Parquet: pq}},
	{"jpeg", dsl.Dataset{Format: "jpeg", Files: 3, SamplesPerFile: 1, RecordBytes: 5000, Prefix: "img"}},
	{"jpeg-stdev", dsl.Dataset{Format: "jpeg", Files: 5, SamplesPerFile: 1, RecordBytes: 5000, RecordBytesStdev: 1000, Prefix: "img"}},
	{"png", dsl.Dataset{Format: "png", Files: 3, SamplesPerFile: 1, RecordBytes: 4000, Prefix: "img"}},
}

func mustNew(t *testing.T, name string, d dsl.Dataset, seed uint64) *Layout {
	t.Helper()
	l, err := New(name, d, seed)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	return l
}

// file returns file i of l as Write produces it.
func file(t *testing.T, l *Layout, i int64, gen *content.Generator) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := l.Write(&b, i, gen, make([]byte, 4096))
	if err != nil {
		t.Fatalf("Write(%d): %v", i, err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("Write(%d) returned %d and wrote %d bytes", i, n, b.Len())
	}
	return b.Bytes()
}

func TestFileName(t *testing.T) {
	npz := func(files, subfolders int64, path, prefix string) dsl.Dataset {
		return dsl.Dataset{Format: "npz", Files: files, SamplesPerFile: 1, RecordBytes: 100,
			Subfolders: subfolders, Path: path, Prefix: prefix}
	}
	for _, tt := range []struct {
		name string
		d    dsl.Dataset
		i    int64
		want string
	}{
		{"one digit", npz(9, 0, "", "img"), 3, "img_3_of_9.npz"},
		{"padded to the count", npz(10, 0, "", "img"), 3, "img_03_of_10.npz"},
		{"last of a power of ten", npz(1000, 0, "", "img"), 999, "img_0999_of_1000.npz"},
		{"first", npz(1000, 0, "", "img"), 0, "img_0000_of_1000.npz"},
		{"wide", npz(123456789, 0, "", "img"), 42, "img_000000042_of_123456789.npz"},
		{"one subfolder is none", npz(10, 1, "", "img"), 4, "img_04_of_10.npz"},
		{"subfolders round-robin", npz(10, 3, "", "img"), 4, "1/img_04_of_10.npz"},
		{"subfolders wrap", npz(10, 3, "", "img"), 9, "0/img_09_of_10.npz"},
		{"subfolder padding", npz(100, 12, "", "img"), 23, "11/img_023_of_100.npz"},
		{"subfolder padded", npz(100, 12, "", "img"), 5, "05/img_005_of_100.npz"},
		{"path", npz(10, 0, "unet3d/train", "img"), 7, "unet3d/train/img_07_of_10.npz"},
		{"path with a trailing slash", npz(10, 0, "train/", "img"), 7, "train/img_07_of_10.npz"},
		{"path and subfolder", npz(10, 4, "data/train", "img"), 6, "data/train/2/img_06_of_10.npz"},
		{"prefix", npz(5, 0, "", "sample.v2"), 1, "sample.v2_1_of_5.npz"},
		{"npy", dsl.Dataset{Format: "npy", Files: 2, SamplesPerFile: 1, RecordBytes: 8, Prefix: "img"}, 1, "img_1_of_2.npy"},
		{"tfrecord", dsl.Dataset{Format: "tfrecord", Files: 2, SamplesPerFile: 1, RecordBytes: 8, Prefix: "img"}, 1, "img_1_of_2.tfrecord"},
		{"parquet", dsl.Dataset{Format: "parquet", Files: 2, SamplesPerFile: 1, RecordBytes: 24, Prefix: "img", Parquet: pq}, 1, "img_1_of_2.parquet"},
		{"jpeg", dsl.Dataset{Format: "jpeg", Files: 2, SamplesPerFile: 1, RecordBytes: 5000, Prefix: "img"}, 1, "img_1_of_2.jpeg"},
		{"png", dsl.Dataset{Format: "png", Files: 2, SamplesPerFile: 1, RecordBytes: 5000, Prefix: "img"}, 1, "img_1_of_2.png"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustNew(t, "d", tt.d, 1).FileName(tt.i); got != tt.want {
				t.Errorf("FileName(%d) = %q, want %q", tt.i, got, tt.want)
			}
		})
	}
}

// Without a stdev every file has the mean; with one, each file draws its
// own size from its identity and the seed, so the draw is the same every
// time it is asked, differs across files and seeds, follows the
// distribution and never falls below one byte.
func TestRecordBytes(t *testing.T) {
	const files = 4000
	d := dsl.Dataset{Format: "npz", Files: files, SamplesPerFile: 1, RecordBytes: 100000, Prefix: "img"}
	flat := mustNew(t, "d", d, 1)
	for _, i := range []int64{0, 1, files - 1} {
		if got := flat.RecordBytes(i); got != d.RecordBytes {
			t.Errorf("without stdev RecordBytes(%d) = %d, want %d", i, got, d.RecordBytes)
		}
	}

	d.RecordBytesStdev = 1000
	a, again := mustNew(t, "d", d, 1), mustNew(t, "d", d, 1)
	other := mustNew(t, "d", d, 2)
	renamed := mustNew(t, "e", d, 1)
	var sum, sq float64
	distinct := map[int64]bool{}
	sameSeed, sameName := 0, 0
	for i := range int64(files) {
		r := a.RecordBytes(i)
		if r2 := again.RecordBytes(i); r2 != r {
			t.Fatalf("RecordBytes(%d) is %d and then %d", i, r, r2)
		}
		if other.RecordBytes(i) == r {
			sameSeed++
		}
		if renamed.RecordBytes(i) == r {
			sameName++
		}
		distinct[r] = true
		sum += float64(r)
		sq += float64(r) * float64(r)
	}
	// Equal draws happen by chance (about 1 in 2500 here); most must differ.
	if sameSeed > files/100 || sameName > files/100 {
		t.Errorf("%d of %d files draw the same size under another seed, %d under another name", sameSeed, files, sameName)
	}
	if len(distinct) < files/10 {
		t.Errorf("%d files draw only %d distinct sizes", files, len(distinct))
	}
	// The draws are fixed by the seed, so these bounds (five standard
	// errors) cannot flake; they catch a wrong distribution or scale.
	mean := sum / files
	sd := math.Sqrt(sq/files - mean*mean)
	if math.Abs(mean-100000) > 5*1000/math.Sqrt(files) {
		t.Errorf("mean record size %.1f, want about 100000", mean)
	}
	if math.Abs(sd-1000) > 100 {
		t.Errorf("stdev of record sizes %.1f, want about 1000", sd)
	}

	// A stdev far above the mean clips many draws, to one byte.
	d.RecordBytes, d.RecordBytesStdev = 10, 1000
	wide := mustNew(t, "d", d, 1)
	ones := 0
	for i := range int64(files) {
		r := wide.RecordBytes(i)
		if r < 1 {
			t.Fatalf("RecordBytes(%d) = %d, below one byte", i, r)
		}
		if r == 1 {
			ones++
		}
	}
	if ones < files/4 {
		t.Errorf("only %d of %d draws around 10±1000 were clipped to 1", ones, files)
	}
}

// FileSize is exactly what Write produces, and TotalBytes their sum, for
// every format.
func TestSizesMatchWrite(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, "d", tt.d, 7)
			gen := content.New(7)
			var total int64
			sizes := map[int64]bool{}
			for i := range l.Files {
				got := int64(len(file(t, l, i, gen)))
				if fs := l.FileSize(i); fs != got {
					t.Errorf("FileSize(%d) = %d, Write wrote %d", i, fs, got)
				}
				total += got
				sizes[got] = true
			}
			if tb := l.TotalBytes(); tb != total {
				t.Errorf("TotalBytes = %d, the files add up to %d", tb, total)
			}
			// A stdev must reach the files' sizes, not only RecordBytes.
			if tt.d.RecordBytesStdev != 0 && len(sizes) < 2 {
				t.Errorf("with a stdev all %d files are %v bytes", l.Files, sizes)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	want := map[string]Access{
		"npz": WholeFile, "npy": WholeFile, "jpeg": WholeFile, "png": WholeFile,
		"tfrecord": Records, "parquet": RowGroups,
	}
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustNew(t, "d", tt.d, 1).Access(); got != want[tt.d.Format] {
				t.Errorf("Access() = %d, want %d", got, want[tt.d.Format])
			}
		})
	}
}

// A tfrecord file is its records' frames back to back: the extents tile the
// file, each holds its record with framing around it, and the scanner
// finds the same frames, from the start or from any record's offset.
func TestRecordExtentAndScanner(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, "d", tt.d, 3)
			if tt.d.Format != "tfrecord" {
				if off, n, ok := l.RecordExtent(0, 0); ok || off != 0 || n != 0 {
					t.Errorf("RecordExtent = (%d, %d, %v) for %s, want (0, 0, false)", off, n, ok, tt.d.Format)
				}
				if sc := l.Scanner(bytes.NewReader(nil), 0, nil, true); sc != nil {
					t.Errorf("Scanner = %v for %s, want nil", sc, tt.d.Format)
				}
				return
			}
			gen := content.New(3)
			for i := range l.Files {
				f := file(t, l, i, gen)
				var end int64
				var frames []int64
				for k := range l.SamplesPerFile {
					off, n, ok := l.RecordExtent(i, k)
					if !ok {
						t.Fatalf("RecordExtent(%d, %d) not ok", i, k)
					}
					if off != end {
						t.Errorf("file %d record %d starts at %d, the previous ended at %d", i, k, off, end)
					}
					if n <= l.RecordBytes(i) {
						t.Errorf("file %d record %d is %d bytes, no more than its %d-byte record", i, k, n, l.RecordBytes(i))
					}
					end = off + n
					frames = append(frames, n)
				}
				if end != int64(len(f)) {
					t.Errorf("file %d: records end at %d, the file at %d", i, end, len(f))
				}
				for _, k := range []int64{0, 1, l.SamplesPerFile - 1} {
					off, _, _ := l.RecordExtent(i, k)
					sc := l.Scanner(bytes.NewReader(f[off:]), off, make([]byte, 64), true)
					for j := k; ; j++ {
						n, err := sc.Next()
						if err == io.EOF {
							if j != l.SamplesPerFile {
								t.Errorf("file %d from record %d: scanner ended after record %d of %d", i, k, j, l.SamplesPerFile)
							}
							break
						}
						if err != nil {
							t.Fatalf("file %d from record %d: record %d: %v", i, k, j, err)
						}
						// The frame is a 12-byte header, the data and a
						// 4-byte footer.
						if j >= l.SamplesPerFile || n != frames[j]-16 {
							t.Fatalf("file %d record %d: scanner read %d data bytes in a frame of %v", i, j, n, frames)
						}
					}
				}
				// check asks for the data's checksums: a flipped byte in
				// a record's data fails with it, and passes without.
				off, n, _ := l.RecordExtent(i, 1)
				bad := bytes.Clone(f)
				bad[off+n/2] ^= 1
				for _, check := range []bool{true, false} {
					sc := l.Scanner(bytes.NewReader(bad), 0, nil, check)
					var err error
					for err == nil {
						_, err = sc.Next()
					}
					if check == (err == io.EOF) {
						t.Errorf("file %d with a flipped data byte, check %v: scanner ended with %v", i, check, err)
					}
				}
			}
		})
	}
}

func TestRowGroupRows(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			var want int64
			if tt.d.Format == "parquet" {
				want = tt.d.Parquet.RowGroupRows
			}
			if got := mustNew(t, "d", tt.d, 1).RowGroupRows(); got != want {
				t.Errorf("RowGroupRows() = %d, want %d", got, want)
			}
		})
	}
}

// A tfrecord file's index is beside the dataset's directory, as IndexName
// documents: {data}/index/train/{file}.idx for a dataset at {data}/train.
func TestIndexName(t *testing.T) {
	rec := func(path string, subfolders int64) dsl.Dataset {
		return dsl.Dataset{Format: "tfrecord", Files: 10, SamplesPerFile: 2, RecordBytes: 100,
			Path: path, Subfolders: subfolders, Prefix: "img"}
	}
	for _, tt := range []struct {
		name string
		d    dsl.Dataset
		i    int64
		want string
	}{
		{"nested", rec("data/train", 0), 3, "data/index/train/img_03_of_10.tfrecord.idx"},
		{"deep", rec("a/b/c/train", 0), 3, "a/b/c/index/train/img_03_of_10.tfrecord.idx"},
		{"top", rec("train", 0), 3, "index/train/img_03_of_10.tfrecord.idx"},
		{"no path", rec("", 0), 3, "index/img_03_of_10.tfrecord.idx"},
		{"subfolders", rec("data/train", 4), 6, "data/index/train/2/img_06_of_10.tfrecord.idx"},
		{"trailing slash", rec("data/train/", 0), 3, "data/index/train/img_03_of_10.tfrecord.idx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mustNew(t, "d", tt.d, 1).IndexName(tt.i)
			if !ok || got != tt.want {
				t.Errorf("IndexName(%d) = %q, %v; want %q", tt.i, got, ok, tt.want)
			}
		})
	}
}

// Only tfrecord has index files: each is IndexSize bytes, one line per
// record giving its extent; the other formats say they have none.
func TestIndexFiles(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, "d", tt.d, 5)
			if tt.d.Format != "tfrecord" {
				if name, ok := l.IndexName(0); ok || name != "" {
					t.Errorf("IndexName = %q, %v for %s", name, ok, tt.d.Format)
				}
				if n := l.IndexSize(0); n != 0 {
					t.Errorf("IndexSize = %d for %s", n, tt.d.Format)
				}
				var b bytes.Buffer
				if n, err := l.WriteIndex(&b, 0); err == nil || n != 0 || b.Len() != 0 {
					t.Errorf("WriteIndex = (%d, %v) and wrote %d bytes for %s, want an error", n, err, b.Len(), tt.d.Format)
				}
				return
			}
			for i := range l.Files {
				var b bytes.Buffer
				n, err := l.WriteIndex(&b, i)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(b.Len()) || n != l.IndexSize(i) {
					t.Errorf("file %d: WriteIndex returned %d and wrote %d bytes; IndexSize says %d", i, n, b.Len(), l.IndexSize(i))
				}
				var want strings.Builder
				for k := range l.SamplesPerFile {
					off, n, _ := l.RecordExtent(i, k)
					fmt.Fprintf(&want, "%d %d\n", off, n)
				}
				if b.String() != want.String() {
					t.Errorf("file %d: index\n%s, want\n%s", i, b.String(), want.String())
				}
			}
		})
	}
}

// Every file of every dataset is its own content stream.
func TestStream(t *testing.T) {
	d := dsl.Dataset{Format: "npz", Files: 1000, SamplesPerFile: 1, RecordBytes: 10, Prefix: "img"}
	seen := map[uint64]string{}
	for _, name := range []string{"train", "eval", "train2"} {
		l := mustNew(t, name, d, 1)
		for i := range l.Files {
			s := l.Stream(i)
			if s != l.Stream(i) {
				t.Fatalf("%s file %d: Stream changes", name, i)
			}
			if prev, ok := seen[s]; ok {
				t.Fatalf("%s file %d has the stream of %s", name, i, prev)
			}
			seen[s] = fmt.Sprintf("%s file %d", name, i)
		}
	}
}

// The same seed writes the same bytes; another seed, or another file,
// other bytes, in every format.
func TestWriteDeterministic(t *testing.T) {
	for _, tt := range shapes {
		if tt.d.RecordBytesStdev != 0 {
			continue // another seed changes the sizes too
		}
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, "d", tt.d, 1)
			a := file(t, l, 1, content.New(1))
			if b := file(t, mustNew(t, "d", tt.d, 1), 1, content.New(1)); !bytes.Equal(a, b) {
				t.Error("the same seed wrote different bytes")
			}
			if c := file(t, mustNew(t, "d", tt.d, 2), 1, content.New(2)); bytes.Equal(a, c) {
				t.Error("another seed wrote the same bytes")
			}
			if c := file(t, l, 2, content.New(1)); bytes.Equal(a, c) {
				t.Error("another file has the same bytes")
			}
		})
	}
}

func TestResolve(t *testing.T) {
	// Each dataset is on a line of its own, so an error's position tells
	// which field it points at.
	datasets := []string{
		`ok: {target: "t", path: "train", format: "tfrecord", files: 4, samples_per_file: 3, record_bytes: 1000}`,
		`notarget: {target: "nowhere", format: "npz", files: 1, record_bytes: 10}`,
		`jpegtwo: {target: "t", format: "jpeg", files: 1, samples_per_file: 2, record_bytes: 5000}`,
		`pqnocols: {target: "t", format: "parquet", files: 1, record_bytes: 24}`,
		`pqstdev: {target: "t", format: "parquet", files: 1, record_bytes: 24, record_bytes_stdev: 2, parquet: columns: [{name: "x", type: "int64", repeat: 3}]}`,
		`pqwidth: {target: "t", format: "parquet", files: 1, record_bytes: 20, parquet: columns: [{name: "x", type: "int64", repeat: 3}]}`,
		`hdf: {target: "t", format: "hdf5", files: 1, record_bytes: 10}`,
		`tiny: {target: "t", format: "jpeg", files: 1, record_bytes: 10}`,
	}
	src := "name: \"ds\"\nseed: 3\ntargets: t: uri: \"mem://\"\nstages: g: {kind: \"generate\", dataset: \"nope\"}\ndatasets: {\n"
	const stageLine, firstDataset = 4, 6
	src += "\t" + strings.Join(datasets, "\n\t") + "\n}\n"
	wl := filepath.Join(t.TempDir(), "workload.cue")
	if err := os.WriteFile(wl, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := dsl.Load(wl, nil)
	if err != nil {
		t.Fatal(err)
	}

	l, err := Resolve(w, "ok", "stages", "g", "dataset")
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "ok" || l.Target != "t" || l.Files != 4 || l.Access() != Records || l.FileName(1) != "train/img_1_of_4.tfrecord" {
		t.Errorf("Resolve(ok) = %+v", l)
	}
	// The workload's seed is the layout's: it draws the same sizes.
	if l.seed != 3 {
		t.Errorf("layout seed %d, the workload's is 3", l.seed)
	}

	for _, tt := range []struct {
		dataset string
		line    int
		want    string // the field path and message
	}{
		{"nope", stageLine, `stages.g.dataset: unknown dataset "nope" (datasets: hdf, jpegtwo, notarget, ok, pqnocols, pqstdev, pqwidth, tiny)`},
		{"notarget", firstDataset + 1, `datasets.notarget.target: unknown target "nowhere" (targets: t)`},
		{"jpegtwo", firstDataset + 2, "datasets.jpegtwo.format: a jpeg file holds one image: samples_per_file must be 1"},
		{"pqnocols", firstDataset + 3, "datasets.pqnocols.format: a parquet dataset needs its columns: add parquet: columns: [...]"},
		{"pqstdev", firstDataset + 4, "datasets.pqstdev.format: parquet rows have the fixed size of their columns: record_bytes_stdev must be 0"},
		{"pqwidth", firstDataset + 5, "datasets.pqwidth.format: the parquet columns make rows of 24 bytes, and record_bytes is 20: make them agree"},
		{"hdf", firstDataset + 6, `datasets.hdf.format: format "hdf5" is not supported yet (supported: fbin, jpeg, npy, npz, parquet, png, tfrecord)`},
		{"tiny", firstDataset + 7, "datasets.tiny: jpeg: record bytes 10 outside"},
	} {
		t.Run(tt.dataset, func(t *testing.T) {
			l, err := Resolve(w, tt.dataset, "stages", "g", "dataset")
			if err == nil {
				t.Fatalf("Resolve(%s) = %+v, want an error", tt.dataset, l)
			}
			if !dsl.IsInputError(err) {
				t.Errorf("%v is not an input error", err)
			}
			var de *dsl.Error
			if !errors.As(err, &de) || !strings.HasSuffix(de.Pos.Filename(), "workload.cue") || de.Pos.Line() != tt.line {
				t.Errorf("error %q is not at line %d of the workload", err, tt.line)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
		})
	}
}
