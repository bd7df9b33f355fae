package rules

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// BenchmarkValidate1000 validates a tree of 1,001 runs: the CLOSED
// training result of testdata/validate (a datagen and six runs) under
// 143 systems. The bar is under 5 s for 1,000 runs. The
// reference workload's CUE is loaded once per process (about 0.1 s),
// in the first iteration; mlps validate pays it once.
func BenchmarkValidate1000(b *testing.B) {
	a, err := txtar.ParseFile(filepath.Join(treeDir, "closed-training.txtar"))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	for i := range 143 {
		sys := *a
		sys.Files = nil
		for _, f := range a.Files {
			f.Name = fmt.Sprintf("sut%03d/%s", i, strings.TrimPrefix(f.Name, "sut/"))
			sys.Files = append(sys.Files, f)
		}
		unpackTree(b, &sys, root)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := Validate(root, Latest)
		if err != nil {
			b.Fatal(err)
		}
		if len(v.Runs) != 1001 || v.Class != Closed {
			b.Fatalf("%d runs, %s", len(v.Runs), v.Class)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/1001runs")
}
