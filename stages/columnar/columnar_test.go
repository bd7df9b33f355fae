package columnar_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"mlps.dev/mlps/backends"
	"mlps.dev/mlps/backends/servers"
	"mlps.dev/mlps/exec/exectest"
	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages/format/parquet"
)

// counted is the bytes that came back from readers of the countmem://
// backend: a count of the backend's own, beside the stage's meter.
var counted atomic.Int64

// countmem:// is mem:// with every byte read counted as it leaves the
// backend's readers.
func init() {
	backends.Register(backends.Scheme{Name: "countmem", Traits: backends.Traits{InMemory: true},
		Check: func(*url.URL, *backends.Config) (string, error) { return "", nil },
		Open: func(ctx context.Context, _ *url.URL, _ *backends.Config) (backends.Backend, error) {
			t, err := backends.Resolve(backends.Config{URI: "mem://"})
			if err != nil {
				return nil, err
			}
			b, err := t.Open(ctx)
			return countingBackend{b}, err
		}})
}

type countingBackend struct{ backends.Backend }

func (c countingBackend) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	rc, err := c.Backend.Open(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	return countingReader{rc}, nil
}

type countingReader struct{ io.ReadCloser }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	counted.Add(int64(n))
	return n, err
}

// dlrm is the dlrm workload's dataset, shrunk to files files of 4000
// rows in row groups of 512, and its generate stage; targets.data is left
// to the test.
func dlrm(files int) string {
	return fmt.Sprintf(`
import "mlps.dev/workloads/dlrm:dlrm"

name: "columnar"
datasets: train: dlrm.Workload.datasets.train & {files: %d, samples_per_file: 4000, parquet: row_group_rows: 512}
stages: datagen: {kind: "generate", dataset: "train"}
`, files)
}

// The dlrm layout: 761 bytes a row, of which the 40 training columns
// (label, dense ×13, sparse ×26) are 160.
var (
	dlrmSpec = func() parquet.Spec {
		cols := []parquet.Column{
			{Name: "label", Type: "float32"},
			{Name: "dense", Type: "float32", Repeat: 13},
			{Name: "sparse", Type: "int32", Repeat: 26},
			{Name: "pad", Type: "bytes", Width: 3, Repeat: 39},
			{Name: "pad4", Type: "bytes", Width: 4, Repeat: 121},
		}
		return parquet.Spec{Columns: cols, RowGroupRows: 512, Rows: 4000}
	}()
	training = []string{"label", "dense", "sparse"}
	// narrow is 40 columns of 134 bytes a row: label, dense and 26 of
	// the 3-byte padding columns.
	narrow = func() []string {
		n := []string{"label", "dense"}
		for k := range 26 {
			n = append(n, fmt.Sprintf("pad_%d", k))
		}
		return n
	}()
)

// queryCase is one columnar-query stage of the test workload and what
// its figures must be.
type queryCase struct {
	id     string
	fields string // the stage's fields beyond kind and dataset
	// columns is the projection, the predicate's column included, to
	// compute the bytes read from the layout; nil for none.
	columns []string
	// skipAll: the predicate rules out every row group.
	skipAll bool
	// maxFraction bounds bytes_read_fraction.
	maxFraction float64
}

var queryCases = []queryCase{
	// The 40 training columns are 160 of dlrm's 761 bytes a row: 21% of
	// the file's data.
	{"training", `columns: ["label", "dense", "sparse"], queries: 12`, training, false, 0.25},
	{"narrow", `columns: ["label", "dense", ` + quoted(narrow[2:]) + `], queries: 12`, narrow, false, 0.25},
	// No float32 is above 3.5e38, the largest being 3.4e38: every row
	// group's max rules it out, and only footers are read.
	{"none", `columns: ["label", "dense", "sparse"], predicate: {column: "label", min: 3.5e38}, queries: 8`, nil, true, 0.03},
	{"nocache", `columns: ["dense_0"], queries: 6, cache_bytes: 0, workers: 2`, []string{"dense_0"}, false, 0.05},
}

func quoted(names []string) string {
	return `"` + strings.Join(names, `", "`) + `"`
}

// workload is the dlrm dataset on target, with a stage per case.
func workload(target string, cases []queryCase) string {
	src := dlrm(2) + "targets: data: " + target + "\n"
	for _, c := range cases {
		src += fmt.Sprintf("stages: %s: {kind: \"columnar-query\", dataset: \"train\", %s}\n", c.id, c.fields)
	}
	return src
}

// stage returns the report of stage id.
func stage(t *testing.T, rep *results.Report, id string) *results.StageReport {
	t.Helper()
	for i := range rep.Stages {
		if rep.Stages[i].ID == id {
			return rep.Stages[i]
		}
	}
	t.Fatalf("no stage %s", id)
	return nil
}

// checkCases holds each stage's figures to the bytes the layout says its
// projection and footers are, and to the meter's count.
func checkCases(t *testing.T, rep *results.Report, cases []queryCase) {
	t.Helper()
	size, err := parquet.Size(dlrmSpec)
	if err != nil {
		t.Fatal(err)
	}
	footer, err := parquet.OpenBytes(dlrmSpec)
	if err != nil {
		t.Fatal(err)
	}
	const groups = 8 // 4000 rows in groups of 512
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			st := stage(t, rep, c.id)
			m := st.Metrics
			q, read := m["queries"].(int64), m["bytes_read"].(int64)
			hits, misses := m["footer_cache_hits"].(int64), m["footer_cache_misses"].(int64)
			if read != st.Measured.Bytes || st.Measured.Errors != 0 {
				t.Errorf("bytes_read %d, the meter counted %d (%d errors)", read, st.Measured.Bytes, st.Measured.Errors)
			}
			if m["file_bytes"].(int64) != q*size || hits+misses != q {
				t.Errorf("file_bytes %d for %d queries of %d; %d hits and %d misses", m["file_bytes"], q, size, hits, misses)
			}
			if fb := m["footer_bytes_read"].(int64); fb != misses*footer {
				t.Errorf("footer_bytes_read %d, want %d misses × %d", fb, misses, footer)
			}
			var data int64
			if c.columns != nil {
				if data, err = parquet.ColumnBytes(dlrmSpec, c.columns); err != nil {
					t.Fatal(err)
				}
			}
			want := q*data + misses*footer
			if c.skipAll {
				if m["row_groups_read"] != int64(0) || m["row_groups_skipped"] != q*groups || m["row_groups_without_statistics"] != int64(0) {
					t.Errorf("row groups read %v, skipped %v (%v without statistics), want 0 and %d", m["row_groups_read"], m["row_groups_skipped"], m["row_groups_without_statistics"], q*groups)
				}
				want = misses * footer
			} else if m["row_groups_read"] != q*groups || m["rows_read"] != q*dlrmSpec.Rows {
				t.Errorf("row groups read %v, rows %v, for %d queries", m["row_groups_read"], m["rows_read"], q)
			}
			if read != want {
				t.Errorf("read %d bytes, the projection and footers are %d", read, want)
			}
			frac := m["bytes_read_fraction"].(float64)
			if frac != float64(read)/float64(q*size) || frac > c.maxFraction {
				t.Errorf("bytes_read_fraction %.4f, want %d/%d, at most %.2f", frac, read, q*size, c.maxFraction)
			}
			if m["throughput_qps"].(float64) <= 0 || m["p99_latency_ms"].(float64) < m["p50_latency_ms"].(float64) || m["mean_latency_ms"].(float64) <= 0 {
				t.Errorf("qps %v, latency mean %v p50 %v p99 %v", m["throughput_qps"], m["mean_latency_ms"], m["p50_latency_ms"], m["p99_latency_ms"])
			}
			if !strings.Contains(st.Headline, fmt.Sprintf("%d queries", q)) {
				t.Errorf("headline %q", st.Headline)
			}
			t.Logf("%s: %.1f%% of the files' bytes (%d of %d), %d reads; %s", c.id, 100*frac, read, q*size, m["reads"], st.Headline)
		})
	}
}

// TestQueries runs the queries on mem (through a backend that counts what
// its readers return), on local files and on MinIO.
func TestQueries(t *testing.T) {
	for _, tt := range []struct {
		name   string
		target func(t *testing.T) string
	}{
		{"mem", func(*testing.T) string { return `{uri: "countmem://"}` }},
		{"file", func(t *testing.T) string { return fmt.Sprintf(`{uri: "file://%s"}`, t.TempDir()) }},
		{"minio", func(t *testing.T) string {
			srv := servers.MinIO(t)
			srv.Bucket(t, "columnar")
			t.Setenv("MLPS_COLUMNAR_KEY", servers.MinIOUser)
			t.Setenv("MLPS_COLUMNAR_SECRET", servers.MinIOPassword)
			return fmt.Sprintf(`{uri: "s3://columnar/q", endpoints: [%q], access_key_env: "MLPS_COLUMNAR_KEY", secret_key_env: "MLPS_COLUMNAR_SECRET"}`, srv.Endpoint)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			counted.Store(0)
			_, rep := exectest.Run(t, workload(tt.target(t), queryCases))
			checkCases(t, rep, queryCases)
			if tt.name == "mem" {
				var read int64
				for _, c := range queryCases {
					read += stage(t, rep, c.id).Metrics["bytes_read"].(int64)
				}
				// Generate reads nothing: every byte counted is a query's.
				if got := counted.Load(); got != read {
					t.Errorf("the backend's readers returned %d bytes, the stages count %d", got, read)
				}
			}
		})
	}
}

// TestPredicate: the row groups a predicate skips are exactly those whose
// values, as parquet-go decodes them from the file, all lie outside its
// range, and the bytes read are the kept groups' projected chunks.
func TestPredicate(t *testing.T) {
	dir := t.TempDir()
	// The row groups' largest sparse_0 values are 2,127,261,808 to
	// 2,147,245,461 (of the generator's content at seed 1): a bound among
	// them keeps four groups and rules out the other four.
	const lo = 2142500000
	src := dlrm(1) + fmt.Sprintf(`targets: data: {uri: "file://%s"}
stages: q: {kind: "columnar-query", dataset: "train", columns: ["label", "dense"], predicate: {column: "sparse_0", min: %d}, queries: 5, workers: 2}
`, dir, uint64(lo))
	_, rep := exectest.Run(t, src)
	m := stage(t, rep, "q").Metrics

	name := filepath.Join(dir, "dlrm/train/img_0_of_1.parquet")
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := pq.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	leaf, ok := pf.Schema().Lookup("sparse_0")
	if !ok {
		t.Fatal("no sparse_0")
	}
	own, err := parquet.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := own.Select([]string{"label", "dense", "sparse_0"})
	var kept, skipped, keptBytes int64
	for g, rg := range pf.RowGroups() {
		var values []pq.Value
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			vs := make([]pq.Value, p.NumValues())
			if n, err := p.Values().ReadValues(vs); err != nil && err != io.EOF || n != len(vs) {
				t.Fatalf("%d of %d values: %v", n, len(vs), err)
			}
			values = append(values, vs...)
		}
		pages.Close()
		if int64(len(values)) != rg.NumRows() {
			t.Fatalf("row group %d: %d values of %d rows", g, len(values), rg.NumRows())
		}
		hi := int64(math.MinInt64)
		for _, v := range values {
			hi = max(hi, v.Int64())
		}
		if hi < lo {
			skipped++
			continue
		}
		kept++
		n, err := own.ReadRowGroup(g, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		keptBytes += n
	}
	if kept == 0 || skipped == 0 {
		t.Fatalf("%d row groups hold a value from %d, %d do not: the test wants both", kept, int64(lo), skipped)
	}
	q := m["queries"].(int64)
	footer, _ := parquet.OpenBytes(dlrmSpec)
	if m["row_groups_read"] != q*kept || m["row_groups_skipped"] != q*skipped || m["row_groups_without_statistics"] != int64(0) {
		t.Errorf("read %v and skipped %v row groups, want %d × %d and %d", m["row_groups_read"], m["row_groups_skipped"], q, kept, skipped)
	}
	if got, want := m["bytes_read"].(int64), q*keptBytes+m["footer_cache_misses"].(int64)*footer; got != want {
		t.Errorf("read %d bytes, the kept groups' chunks and the footers are %d", got, want)
	}
	t.Logf("%d of %d row groups kept: %s", kept, kept+skipped, stage(t, rep, "q").Headline)
}

// TestPlan: a predicate's bounds are read in its column's type, every
// digit of an int64 kept and a bound past the int64s clamped; the
// predicate's column joins the projection.
func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		fields string
		want   []string // in Describe
	}{
		{`columns: ["label", "dense", "sparse"]`, []string{"40 of 200 columns (20.5% of its bytes)", "4 workers", "a footer cache of 64.0 MiB"}},
		{`queries: 3, cache_bytes: 0, workers: 2`, []string{"3 columnar queries", "200 of 200 columns", "2 workers, no footer cache"}},
		{`columns: ["label"], predicate: {column: "sparse_0", min: 9007199254740993}`,
			[]string{"2 of 200 columns", "unless sparse_0 in [9007199254740993, 9223372036854775807]"}},
		{`predicate: {column: "sparse_3", min: -1e30, max: -5}`, []string{"sparse_3 in [-9223372036854775808, -5]"}},
		{`predicate: {column: "sparse_3", min: 1e30}`, []string{"sparse_3 in [9223372036854775807, 9223372036854775807]"}},
		{`predicate: {column: "dense_2", min: 0.5}`, []string{"dense_2 in [0.5, +Inf]"}},
		{`columns: ["dense"], predicate: {column: "dense_2", max: 1}`, []string{"13 of 200 columns", "dense_2 in [-Inf, 1]"}},
	} {
		src := dlrm(2) + `targets: data: {uri: "mem://"}
stages: q: {kind: "columnar-query", dataset: "train", ` + tt.fields + "}\n"
		p := exectest.Plan(t, src)
		d := p.Nodes[len(p.Nodes)-1].Task.Describe()
		for _, w := range tt.want {
			if !strings.Contains(d, w) {
				t.Errorf("%s: describe %q, want %q in it", tt.fields, d, w)
			}
		}
	}
}
