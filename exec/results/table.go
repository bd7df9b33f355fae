package results

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"mlps.dev/mlps/stages/measure"
)

// WriteTable prints the human summary: one row per stage, a row per
// object-store endpoint, each stage's headline, and the client
// comparisons. Its figures are the summary's.
func WriteTable(out io.Writer, rep *Report) error {
	sum := Summarize(rep)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tkind\tstatus\tops\terrors\tbytes\tseconds\tstage MB/s\tp50 ms\tp99 ms\tp99.9 ms\t")
	for _, sr := range rep.Stages {
		ss := sum.Stages[sr.ID]
		var p50, p99, p999 float64
		if o := mainOp(sr.Measured.Ops); o != nil {
			p50, p99, p999 = o.Latency.P50*1e3, o.Latency.P99*1e3, o.Latency.P999*1e3
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t\n",
			sr.ID, sr.Kind, sr.Status, ss.Ops, ss.Errors, measure.IEC(ss.Bytes),
			ss.Seconds, ss.MBPerSecond, p50, p99, p999)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Each rate the summary prints says what it divides: stage MB/s here,
	// the stages' own in their headlines.
	fmt.Fprintln(out, "stage MB/s: bytes the stage moved ÷ its wall time (stage_MB_per_second); MB = 10^6 bytes, MiB = 2^20")
	var eps []string
	for _, sr := range rep.Stages {
		for _, e := range sum.Stages[sr.ID].Endpoints {
			eps = append(eps, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s\t%.1f\t%.2f\t%.2f\t",
				sr.ID, e.Target, e.Endpoint, e.Ops, e.Errors, measure.IEC(e.Bytes), e.MBPerSecond, e.P50Seconds*1e3, e.P99Seconds*1e3))
		}
	}
	if len(eps) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stage\ttarget\tendpoint\tops\terrors\tbytes\tstage MB/s\tp50 ms\tp99 ms\t")
		for _, l := range eps {
			fmt.Fprintln(tw, l)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	byID := slices.Clone(rep.Stages)
	slices.SortFunc(byID, func(a, b *StageReport) int { return strings.Compare(a.ID, b.ID) })
	for _, sr := range byID {
		if line := sr.Headline; line != "" {
			if sr.Status != StatusOK {
				// Figures of the part that ran; no verdict stands on them.
				line = "incomplete (" + sr.Status + "), measured until it stopped: " + line
			}
			fmt.Fprintf(out, "%s: %s\n", sr.ID, line)
		}
		if sr.Error != "" {
			fmt.Fprintf(out, "%s: %s\n", sr.ID, sr.Error)
		}
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	for _, ab := range sum.ClientAB {
		fmt.Fprintf(out, "client A/B (%s): %s via %s stage %.1f MB/s, %s via %s stage %.1f MB/s: %s/%s = %.3f\n",
			ab.Kind, ab.StageA, ab.ClientA, ab.MBPerA, ab.StageB, ab.ClientB, ab.MBPerB, ab.ClientB, ab.ClientA, ab.Ratio)
	}
	return nil
}

// mainOp is the operation that moved the most bytes: the one whose
// latency the table shows for the stage.
func mainOp(ops []measure.OpStats) *measure.OpStats {
	var m *measure.OpStats
	for i := range ops {
		if m == nil || ops[i].Bytes > m.Bytes {
			m = &ops[i]
		}
	}
	return m
}
