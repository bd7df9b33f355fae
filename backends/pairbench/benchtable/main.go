// Command benchtable prints the table of every side-by-side benchmark
// result that pairbench appended to the file named on its command line
// (`just bench` sets MLPS_BENCH_TABLE to it, runs the benchmarks, then
// runs this).
package main

import (
	"fmt"
	"os"

	"mlps.dev/mlps/backends/pairbench"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtable FILE (the file MLPS_BENCH_TABLE named during go test -bench)")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	rs, err := pairbench.ReadTable(data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if len(rs) == 0 {
		fmt.Fprintf(os.Stderr, "benchtable: %s holds no results: did any side-by-side benchmark run (fio installed, a real disk under TMPDIR)?\n", os.Args[1])
		os.Exit(1)
	}
	fmt.Print(pairbench.Table(rs))
}
