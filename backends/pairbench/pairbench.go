// Package pairbench is the one harness of mlps's side-by-side benchmarks:
// mlps and a reference (fio, a plain client loop, copy) do the same work on
// the same storage in the same run, in alternated pairs, and the figure
// quoted is the median of the per-pair ratios with its confidence interval,
// minimum and maximum, both sides' absolute rates and both sides' CPU
// seconds per GB.
//
// Why pairs: on a shared machine with a noisy disk the same fio job moves
// between 450 and 2440 MB/s from one minute to the next, so medians of two
// separately measured series compare different moments. Within a pair the
// two runs are seconds apart and see the same weather; the order flips from
// pair to pair so that neither side always inherits the other's dirty pages
// or warm caches; and more pairs run until the median is known precisely
// enough, up to a time budget. How precisely is the 95% confidence
// interval of the median of the ratios, taken from their order statistics
// (no assumption about how the ratios are distributed), which the table
// quotes beside the median: a median of 0.97 whose interval is 0.90–1.05
// says parity, not a loss. CPU per GB (user and system time from rusage,
// of this process and of the reference's processes) shows efficiency even
// when the disk's noise hides it in the rates.
//
// It lives under backends, the lowest layer, so that backend benchmarks
// and stage benchmarks alike can use it (as backends/servers is shared);
// it imports nothing of mlps.
package pairbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Run is what one side did in one run.
type Run struct {
	// Bytes moved, read or written.
	Bytes int64
	// Files (or objects) read or written; 0 when the benchmark does not
	// count them.
	Files int64
	// Items counts the work in the unit Config.Items names (distance
	// evaluations, queries), for benchmarks whose work is not bytes or
	// files; 0 when the benchmark does not count them.
	Items int64
	// Seconds is the side's own measure of the work's duration: the
	// stage's span for mlps, fio's runtime, the loop's wall time. It
	// excludes starting a process and planning, which neither side's
	// storage sees.
	Seconds float64
}

// Side is one way of doing the benchmark's work.
type Side struct {
	Name string
	// Prepare readies the storage before each run, untimed: removes what
	// the previous run wrote, drops the page cache. It may be nil.
	Prepare func() error
	// Run does the work once. The harness measures the CPU time that this
	// process and the child processes it waits for use during Run.
	Run func(ctx context.Context) (Run, error)
}

// Config says what a comparison measures and how long it may take.
type Config struct {
	// Name is the table row: what is done, to what, how ("generate
	// unet3d npz, file"). Unique among the benchmarks.
	Name string
	// Flush says whether and how the written data reaches storage within
	// the measured time ("fsync per file", "none: page cache"); empty
	// for reads.
	Flush string
	// Files makes files per second the rate compared, for benchmarks of
	// many small files; otherwise it is MB per second. With the same
	// files on both sides the ratios agree; the unit says which the
	// benchmark is about.
	Files bool
	// Items, when not empty, names the unit of work compared instead
	// ("distances" makes the rate distances/s), counted in Run.Items:
	// for compute-bound benchmarks such as a ground truth, whose bytes
	// are not what they are about. Bytes still give the CPU per GB.
	Items string
	// MinPairs is at least 7 (the default); MaxPairs caps the extra pairs
	// run while the median is imprecise (default 3 × MinPairs).
	MinPairs, MaxPairs int
	// Precision is the width of the median's 95% confidence interval,
	// relative to the median, below which no more pairs are needed
	// (default 0.06: the median within about ±3%, fine enough to tell
	// 0.95 from parity). At 7 pairs the interval is the ratios' whole
	// range; with more pairs it narrows to inner order statistics, so a
	// single outlying pair does not keep the pairs running to the cap.
	Precision float64
	// Budget bounds the time spent in pairs beyond MinPairs, counted from
	// the start (default 4 minutes, or MLPS_BENCH_BUDGET).
	Budget time.Duration
}

// Result is a comparison's outcome: A is mlps, B the reference.
type Result struct {
	Name  string `json:"name"`
	Flush string `json:"flush,omitempty"`
	A     string `json:"a"`
	B     string `json:"b"`
	Unit  string `json:"unit"`
	Pairs int    `json:"pairs"`
	// Ratio is the median of the pairs' A/B rate ratios; RatioMin and
	// RatioMax their extremes.
	Ratio    float64 `json:"ratio_median"`
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	// RatioLow and RatioHigh bound the median's 95% confidence interval
	// (MedianCI).
	RatioLow  float64 `json:"ratio_median_ci95_low"`
	RatioHigh float64 `json:"ratio_median_ci95_high"`
	// RatioAFirst and RatioBFirst are the medians of the pairs in which A
	// ran first and of those in which B did. Far apart, they say that a
	// run leaves the machine slower or faster for the run after it (on a
	// virtual machine, page-cache copies after one program's run can cost
	// the next several times their usual CPU), and the median of all
	// pairs is then a mix of two states rather than one figure.
	RatioAFirst float64 `json:"ratio_median_a_first"`
	RatioBFirst float64 `json:"ratio_median_b_first"`
	// Ratios are the pairs' ratios in the order they ran; A ran first in
	// the even ones (counted from 0).
	Ratios []float64 `json:"ratios"`
	// ARate and BRate are each side's median rate in Unit.
	ARate float64 `json:"a_rate_median"`
	BRate float64 `json:"b_rate_median"`
	// ACPU and BCPU are each side's CPU seconds per GB (10^9 bytes),
	// over all its runs.
	ACPU float64 `json:"a_cpu_seconds_per_GB"`
	BCPU float64 `json:"b_cpu_seconds_per_GB"`
	// Bytes and Files are one run's work, the same on both sides.
	Bytes int64 `json:"bytes_per_run"`
	Files int64 `json:"files_per_run,omitempty"`
	Items int64 `json:"items_per_run,omitempty"`
}

// Compare runs a and b in alternated pairs as c says, reports the result
// as b's metrics, logs every pair and the summary, and appends the result
// to the file MLPS_BENCH_TABLE names, if any, for `just bench`'s table.
// a is mlps, b the reference. Both sides must move the same bytes in the
// same number of files, every run; anything else fails the benchmark, as
// a ratio of unequal work would mean nothing.
func Compare(tb testing.TB, c Config, a, b Side) Result {
	tb.Helper()
	r, err := compare(tb.Context(), c, a, b, func(s string) { tb.Log(s) })
	if err != nil {
		tb.Fatal(err)
	}
	if bb, ok := tb.(*testing.B); ok {
		report(bb, r)
	}
	tb.Log(r.Line())
	if err := appendTable(r); err != nil {
		tb.Error(err)
	}
	return r
}

func compare(ctx context.Context, c Config, a, b Side, logf func(string)) (Result, error) {
	c = c.withDefaults()
	res := Result{Name: c.Name, Flush: c.Flush, A: a.Name, B: b.Name, Unit: "MB/s"}
	if c.Files {
		res.Unit = "files/s"
	}
	if c.Items != "" {
		res.Unit = c.Items + "/s"
	}
	var ratios, aRates, bRates []float64
	var cpu [2]time.Duration
	var moved [2]int64
	var first [2]Run
	start := time.Now()
	for p := 0; ; p++ {
		if p >= c.MinPairs {
			if ciWidth(ratios) <= c.Precision || p >= c.MaxPairs || time.Since(start) > c.Budget {
				break
			}
		}
		var rates [2]float64
		order := [2]int{0, 1}
		if p%2 == 1 {
			order = [2]int{1, 0}
		}
		line := fmt.Sprintf("pair %d:", p+1)
		for _, i := range order {
			side := [2]Side{a, b}[i]
			if side.Prepare != nil {
				if err := side.Prepare(); err != nil {
					return res, fmt.Errorf("%s: preparing %s: %w", c.Name, side.Name, err)
				}
			}
			c0 := cpuTime()
			run, err := side.Run(ctx)
			used := cpuTime() - c0
			if err != nil {
				return res, fmt.Errorf("%s: %s: %w", c.Name, side.Name, err)
			}
			if run.Seconds <= 0 || run.Bytes <= 0 {
				return res, fmt.Errorf("%s: %s moved %d bytes in %g s: nothing to rate", c.Name, side.Name, run.Bytes, run.Seconds)
			}
			if p == 0 {
				first[i] = run
			} else if run.Bytes != first[i].Bytes || run.Files != first[i].Files || run.Items != first[i].Items {
				return res, fmt.Errorf("%s: %s moved %d bytes in %d files (%d items), its first run %d in %d (%d items)",
					c.Name, side.Name, run.Bytes, run.Files, run.Items, first[i].Bytes, first[i].Files, first[i].Items)
			}
			cpu[i] += used
			moved[i] += run.Bytes
			rates[i] = rate(run, c)
			line += fmt.Sprintf(" %s %.0f %s (%.2f CPU s/GB)", side.Name, rates[i], res.Unit, used.Seconds()/(float64(run.Bytes)/1e9))
		}
		if p == 0 && (first[0].Bytes != first[1].Bytes || first[0].Files != first[1].Files || first[0].Items != first[1].Items) {
			return res, fmt.Errorf("%s: %s moved %d bytes in %d files (%d items), %s %d in %d (%d items): a ratio of unequal work means nothing",
				c.Name, a.Name, first[0].Bytes, first[0].Files, first[0].Items, b.Name, first[1].Bytes, first[1].Files, first[1].Items)
		}
		if c.Items != "" && first[0].Items <= 0 {
			return res, fmt.Errorf("%s: no %s counted: nothing to rate", c.Name, c.Items)
		}
		if rates[1] == 0 {
			return res, fmt.Errorf("%s: %s's rate is 0", c.Name, b.Name)
		}
		ratios = append(ratios, rates[0]/rates[1])
		aRates, bRates = append(aRates, rates[0]), append(bRates, rates[1])
		logf(fmt.Sprintf("%s; %s/%s %.3f", line, a.Name, b.Name, rates[0]/rates[1]))
	}
	res.Pairs = len(ratios)
	res.Ratio, res.RatioMin, res.RatioMax = Median(ratios), slices.Min(ratios), slices.Max(ratios)
	res.RatioLow, res.RatioHigh = MedianCI(ratios)
	res.Ratios = ratios
	var aFirst, bFirst []float64
	for p, r := range ratios {
		if p%2 == 0 {
			aFirst = append(aFirst, r)
		} else {
			bFirst = append(bFirst, r)
		}
	}
	res.RatioAFirst, res.RatioBFirst = Median(aFirst), Median(bFirst)
	res.ARate, res.BRate = Median(aRates), Median(bRates)
	res.ACPU = cpu[0].Seconds() / (float64(moved[0]) / 1e9)
	res.BCPU = cpu[1].Seconds() / (float64(moved[1]) / 1e9)
	res.Bytes, res.Files, res.Items = first[0].Bytes, first[0].Files, first[0].Items
	return res, nil
}

func (c Config) withDefaults() Config {
	if c.MinPairs < 7 {
		c.MinPairs = 7
	}
	if c.MaxPairs < c.MinPairs {
		c.MaxPairs = 3 * c.MinPairs
	}
	if c.Precision <= 0 {
		c.Precision = 0.06
	}
	if c.Budget <= 0 {
		c.Budget = 4 * time.Minute
		if d, err := time.ParseDuration(os.Getenv("MLPS_BENCH_BUDGET")); err == nil && d > 0 {
			c.Budget = d
		}
	}
	return c
}

func rate(r Run, c Config) float64 {
	if c.Items != "" {
		return float64(r.Items) / r.Seconds
	}
	if c.Files {
		return float64(r.Files) / r.Seconds
	}
	return float64(r.Bytes) / 1e6 / r.Seconds
}

// ciWidth is the width of the 95% confidence interval of the median of
// xs relative to the median, +Inf when there is none.
func ciWidth(xs []float64) float64 {
	m := Median(xs)
	lo, hi := MedianCI(xs)
	if m == 0 || math.IsNaN(lo) {
		return math.Inf(1)
	}
	return (hi - lo) / m
}

// MedianCI returns a 95% confidence interval of the median of the
// distribution xs are drawn from: the k-th smallest and the k-th largest
// of xs, with k the largest rank for which a Binomial(n, 1/2) count falls
// below k with probability at most 2.5%. It holds whatever the
// distribution, which for ratios of noisy rates is neither normal nor
// symmetric. Fewer than 6 values give no such interval: NaN, NaN.
func MedianCI(xs []float64) (lo, hi float64) {
	n := len(xs)
	k := ciRank(n)
	if k == 0 {
		return math.NaN(), math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	return s[k-1], s[n-k]
}

// ciRank is the largest k ≥ 1 with P(Binomial(n, 1/2) ≤ k-1) ≤ 0.025, or
// 0 when even k = 1 is too likely (n < 6).
func ciRank(n int) int {
	lgn, _ := math.Lgamma(float64(n + 1))
	cdf, k := 0.0, 0
	for j := 0; j <= n/2; j++ {
		lgj, _ := math.Lgamma(float64(j + 1))
		lgr, _ := math.Lgamma(float64(n - j + 1))
		cdf += math.Exp(lgn - lgj - lgr - float64(n)*math.Ln2)
		if cdf > 0.025 {
			break
		}
		k = j + 1
	}
	return k
}

// Median is the median of xs (the mean of the middle two for an even
// count), 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cpuTime is the user and system CPU time of this process and of the
// child processes it has waited for (a reference such as fio, with the
// job processes fio itself waits for).
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	t := func(ru syscall.Rusage) time.Duration {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return t(self) + t(kids)
}

// report sets the benchmark's metrics: the ratio with its extremes, both
// rates and both CPU costs. ns/op is suppressed: it would time both sides
// of all pairs together and mean neither.
func report(b *testing.B, r Result) {
	b.ReportMetric(0, "ns/op")
	ab := r.A + "/" + r.B
	b.ReportMetric(r.Ratio, ab)
	b.ReportMetric(r.RatioMin, ab+"_min")
	b.ReportMetric(r.RatioMax, ab+"_max")
	b.ReportMetric(r.RatioAFirst, ab+"_"+r.A+"_first")
	b.ReportMetric(r.RatioBFirst, ab+"_"+r.B+"_first")
	b.ReportMetric(r.ARate, r.A+"_"+r.Unit)
	b.ReportMetric(r.BRate, r.B+"_"+r.Unit)
	b.ReportMetric(r.ACPU, r.A+"_CPU_s/GB")
	b.ReportMetric(r.BCPU, r.B+"_CPU_s/GB")
	b.ReportMetric(float64(r.Pairs), "pairs")
}

// Line is the result in one line, as the log and the table quote it.
func (r Result) Line() string {
	flush := ""
	if r.Flush != "" {
		flush = "; flush: " + r.Flush
	}
	return fmt.Sprintf("%s: %s/%s %.2f (95%% CI %.2f–%.2f, range %.2f–%.2f) over %d pairs (%.2f with %s first, %.2f with %s first); %s %.0f %s, %.2f CPU s/GB; %s %.0f %s, %.2f CPU s/GB%s",
		r.Name, r.A, r.B, r.Ratio, r.RatioLow, r.RatioHigh, r.RatioMin, r.RatioMax, r.Pairs, r.RatioAFirst, r.A, r.RatioBFirst, r.B,
		r.A, r.ARate, r.Unit, r.ACPU, r.B, r.BRate, r.Unit, r.BCPU, flush)
}

// TableEnv names the file Compare appends its results to, one JSON object
// per line.
const TableEnv = "MLPS_BENCH_TABLE"

func appendTable(r Result) error {
	path := os.Getenv(TableEnv)
	if path == "" {
		return nil
	}
	line, err := jsonLine(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", TableEnv, err)
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Close())
}

// jsonLine is r as one line of JSON, newline included.
func jsonLine(r Result) ([]byte, error) {
	line, err := json.Marshal(r)
	return append(line, '\n'), err
}

// ReadTable reads the results a benchmark run appended, in order.
func ReadTable(data []byte) ([]Result, error) {
	var out []Result
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Table renders results as one aligned text table: each comparison's
// ratio with its confidence interval and range, both rates, both CPU
// costs and the flush.
func Table(rs []Result) string {
	rows := [][]string{{"benchmark", "mlps/ref", "95% CI", "[min–max]", "mlps first/ref first", "pairs", "mlps", "ref", "unit", "mlps CPU s/GB", "ref CPU s/GB", "flush"}}
	for _, r := range rs {
		rows = append(rows, []string{
			r.Name + " (" + r.A + " vs " + r.B + ")",
			fmt.Sprintf("%.2f", r.Ratio),
			fmt.Sprintf("%.2f–%.2f", r.RatioLow, r.RatioHigh),
			fmt.Sprintf("[%.2f–%.2f]", r.RatioMin, r.RatioMax),
			fmt.Sprintf("%.2f/%.2f", r.RatioAFirst, r.RatioBFirst),
			fmt.Sprint(r.Pairs),
			fmt.Sprintf("%.0f", r.ARate),
			fmt.Sprintf("%.0f", r.BRate),
			r.Unit,
			fmt.Sprintf("%.2f", r.ACPU),
			fmt.Sprintf("%.2f", r.BCPU),
			r.Flush,
		})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var sb strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(c + strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		sb.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return sb.String()
}
