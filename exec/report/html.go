package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"mlps.dev/mlps/exec/results"
	"mlps.dev/mlps/stages"
)

// page is what report.html shows.
type page struct {
	Root   string
	Tables []benchTable
	// Other are the runs of no benchmark (data preparation).
	Other []tableRow
	Runs  []runView
}

type benchTable struct {
	Benchmark string
	Columns   []Column
	Rows      []tableRow
	Means     []tableRow
}

type tableRow struct {
	Anchor, Path                               string
	Workload, Model, Accelerator, Option       string
	Stage, Start, Seconds, Complete, RunsCount string
	Cells                                      []cell
}

// cell is a figure as shown, and in full on hover; an empty Text is a
// figure not recorded.
type cell struct {
	Text, Title string
}

type runView struct {
	Anchor, Path, Benchmark, Workload, Model, Accelerator, Option string
	Start, End, Seconds                                           string
	Complete, Finished                                            bool
	Error                                                         string
	Warnings                                                      []string
	Stages                                                        []stageView
}

type stageView struct {
	ID, Kind, Status, Error, Headline, Seconds string
	Charts                                     []chart
}

// WriteHTML writes report.html: the tables, then each run's stages with
// their charts. It reads the stages' detail files as it goes.
func (rep *Report) WriteHTML(w io.Writer) error {
	p := page{Root: rep.Root}
	anchors := map[string]string{}
	for i, r := range rep.Runs {
		anchors[r.Path] = fmt.Sprintf("run-%d", i+1)
	}
	for _, b := range Benchmarks {
		t := benchTable{Benchmark: b, Columns: columnsOf(b)}
		for _, r := range rep.Runs {
			if r.Benchmark == b {
				t.Rows = append(t.Rows, runRow(r, anchors[r.Path], t.Columns))
			}
		}
		for _, g := range rep.Groups {
			if g.Benchmark == b {
				t.Means = append(t.Means, groupRow(g, t.Columns))
			}
		}
		if len(t.Rows) > 0 {
			p.Tables = append(p.Tables, t)
		}
	}
	for _, r := range rep.Runs {
		if r.Benchmark == "" {
			p.Other = append(p.Other, runRow(r, anchors[r.Path], nil))
		}
		v, err := viewRun(r, anchors[r.Path])
		if err != nil {
			return err
		}
		p.Runs = append(p.Runs, v)
	}
	return pageTemplate.Execute(w, p)
}

func runRow(r *Run, anchor string, cols []Column) tableRow {
	row := tableRow{Anchor: anchor, Path: r.Path, Workload: r.Workload, Model: r.Model, Accelerator: r.Accelerator,
		Option: r.Option, Stage: r.Stage, Start: stamp(r.Start), Complete: fmt.Sprint(r.Complete)}
	if r.Seconds != nil {
		row.Seconds = num(*r.Seconds)
	}
	if !r.Run.Finished {
		row.Complete = "did not finish"
	}
	for _, c := range cols {
		row.Cells = append(row.Cells, figureCell(r.Figures, c))
	}
	return row
}

func groupRow(g *Group, cols []Column) tableRow {
	row := tableRow{Workload: g.Workload, Model: g.Model, Accelerator: g.Accelerator, Option: g.Option,
		RunsCount: fmt.Sprintf("%d of %d", len(g.Complete), len(g.Runs))}
	if g.Seconds != nil {
		row.Seconds = num(*g.Seconds)
	}
	for _, c := range cols {
		row.Cells = append(row.Cells, figureCell(g.Means, c))
	}
	return row
}

func figureCell(m map[string]float64, c Column) cell {
	v, ok := m[c.Key]
	if !ok {
		return cell{Title: c.Key + ": not recorded"}
	}
	return cell{Text: num(v), Title: c.Key + " = " + formatFloat(v) + " (" + c.Unit + ")"}
}

func viewRun(r *Run, anchor string) (runView, error) {
	v := runView{Anchor: anchor, Path: r.Path, Benchmark: r.Benchmark, Workload: r.Workload, Model: r.Model,
		Accelerator: r.Accelerator, Option: r.Option, Start: stamp(r.Start), End: stamp(r.End),
		Complete: r.Complete, Finished: r.Run.Finished}
	if r.Seconds != nil {
		v.Seconds = num(*r.Seconds)
	}
	if !r.Run.Finished {
		return v, nil
	}
	v.Error, v.Warnings = r.Run.Summary.Error, r.Run.Summary.Warnings
	for _, sr := range r.Run.Report.Stages {
		sv := stageView{ID: sr.ID, Kind: sr.Kind, Status: sr.Status, Error: sr.Error, Headline: sr.Headline, Seconds: num(sr.Seconds)}
		if sr.Status != results.StatusNotRun {
			var err error
			if sv.Charts, err = stageCharts(filepath.Join(r.Run.Dir, "stages", sr.ID), sr); err != nil {
				return v, fmt.Errorf("run %s, stage %s: %w", r.Run.Dir, sr.ID, err)
			}
		}
		v.Stages = append(v.Stages, sv)
	}
	return v, nil
}

// stageCharts are the charts of one stage: its kind's own, then the
// latency of its storage operations, which every stage measures.
func stageCharts(dir string, sr *results.StageReport) ([]chart, error) {
	var cs []chart
	switch sr.Kind {
	case "read-epoch":
		steps, err := readSteps(filepath.Join(dir, "steps.csv"))
		if err != nil {
			return nil, err
		}
		cs = append(cs, throughputCharts(steps)...)
		cs = append(cs, auChart(sr.Metrics))
	case "checkpoint":
		cs = append(cs, checkpointPhaseChart(sr.Metrics))
		rr, err := readRanks(filepath.Join(dir, "ranks.jsonl"))
		if err != nil {
			return nil, err
		}
		cs = append(cs, checkpointRankChart(rr))
	case "query":
		cs = append(cs, recallChart(sr.Metrics), queryLatencyChart(sr.Metrics))
	case "kvcache":
		cs = append(cs, kvTierBandwidthChart(sr.Metrics), kvTierLatencyChart(sr.Metrics), kvRequestLatencyChart(sr.Metrics))
	}
	return append(cs, opLatencyChart(sr)), nil
}

func throughputCharts(steps []*stepSeries) []chart {
	const title = "Read throughput over the steps, MB/s (10^6 bytes)"
	if len(steps) == 0 {
		return []chart{notRecorded("throughput", title, "the stage wrote no steps (steps.csv)")}
	}
	var cs []chart
	for _, s := range steps {
		x, y := s.points()
		end := 0.0
		if len(x) > 0 {
			end = x[len(x)-1]
		}
		c := lineChart("throughput", fmt.Sprintf("Read throughput over the %s steps, MB/s (10^6 bytes)", s.Phase),
			"step time from the phase's first step, s", "MB/s", []xySeries{{Name: s.Phase, X: x, Y: y}}, len(x) == 1, 0, end,
			"no step of the phase took time")
		c.Note = fmt.Sprintf("From steps.csv: each point is %d step(s) of each of the %d rank(s): the bytes all ranks read in them ÷ the ranks' mean time for them. Time between epochs is left out.",
			s.width, len(s.next))
		if s.Cut {
			c.Note += " The file ends in a line cut short; the steps before it are drawn."
		}
		cs = append(cs, c)
	}
	return cs
}

func auChart(m map[string]any) chart {
	const title = "Accelerator utilisation (AU) per epoch, %"
	train, eval := floats(m, "train_au_percentage"), floats(m, "eval_au_percentage")
	n := max(len(train), len(eval))
	var cats []string
	for i := range n {
		cats = append(cats, fmt.Sprintf("epoch %d", i+1))
	}
	series := []barSeries{seriesOf("train", train, n)}
	if len(eval) > 0 {
		series = append(series, seriesOf("eval", eval, n))
	}
	c := barChart("au", title, "%", cats, series, 100, "no epoch finished (train_au_percentage)")
	if least, ok := lookup(m, "au_minimum_percentage"); ok && c.Missing == "" && least > 0 {
		y := newScale(0, 100, plotBottom, plotTop, true).at(least)
		c.Ref = &refLine{Y: y, Label: "AU minimum " + formatFloat(least) + " %"}
	}
	return c
}

func seriesOf(name string, vs []float64, n int) barSeries {
	s := barSeries{Name: name, Values: make([]float64, n), Have: make([]bool, n)}
	for i, v := range vs {
		s.Values[i], s.Have[i] = v, true
	}
	return s
}

func checkpointPhaseChart(m map[string]any) chart {
	const title = "Checkpoint bandwidth of each save and load, GiB/s (2^30 bytes)"
	var cats []string
	var vals []float64
	for _, ph := range []string{"save", "load"} {
		// The upstream key says GB and counts GiB (2^30 bytes).
		for i, v := range floats(m, ph+"_checkpoint_io_GB_per_second") {
			cats = append(cats, fmt.Sprintf("%s %d", ph, i+1))
			vals = append(vals, v)
		}
	}
	s := seriesOf("GiB/s", vals, len(vals))
	c := barChart("checkpoint-phases", title, "GiB/s", cats, []barSeries{s}, 0, "no save or load finished (save_ and load_checkpoint_io_GB_per_second)")
	c.Note = "Each bar: all ranks' bytes of one save or load ÷ its slowest rank's time (the stage's *_checkpoint_io_GB_per_second, which count GiB)."
	return c
}

func checkpointRankChart(rr *rankRates) chart {
	const title = "Checkpoint bandwidth per rank, GiB/s (2^30 bytes)"
	if rr == nil || len(rr.ranks) == 0 {
		return notRecorded("checkpoint-ranks", title, "the stage wrote no rank's save or load (ranks.jsonl)")
	}
	var cats []string
	for _, r := range rr.ranks {
		cats = append(cats, fmt.Sprintf("rank %d", r))
	}
	var series []barSeries
	for _, ph := range rr.phases {
		s := barSeries{Name: ph, Values: make([]float64, len(rr.ranks)), Have: make([]bool, len(rr.ranks))}
		for i, r := range rr.ranks {
			if n := rr.n[ph][r]; n > 0 {
				s.Values[i], s.Have[i] = rr.sum[ph][r]/float64(n), true
			}
		}
		series = append(series, s)
	}
	c := barChart("checkpoint-ranks", title, "GiB/s", cats, series, 0, "no rank took time")
	c.Note = "From ranks.jsonl: each bar is one rank's bytes ÷ its own time, the mean over the checkpoints of the phase."
	if rr.cut {
		c.Note += " The file ends in a line cut short; the lines before it are drawn."
	}
	return c
}

func recallChart(m map[string]any) chart {
	const title = "Recall@k against queries per second"
	s := xySeries{Name: "queries"}
	param, _ := m["sweep_parameter"].(string)
	if pts, ok := m["sweep"].([]any); ok {
		for _, p := range pts {
			pm, _ := p.(map[string]any)
			r, ok1 := lookup(pm, "recall_at_k_mean")
			q, ok2 := lookup(pm, "throughput_qps")
			if !ok1 || !ok2 {
				continue
			}
			v, _ := lookup(pm, param)
			s.X, s.Y = append(s.X, r), append(s.Y, q)
			s.Labels = append(s.Labels, param+"="+formatFloat(v))
		}
	} else if r, ok := lookup(m, "recall_at_k_mean"); ok {
		if q, ok := lookup(m, "throughput_qps"); ok {
			s.X, s.Y = []float64{r}, []float64{q}
		}
	}
	c := lineChart("recall-qps", title, "recall@k (mean)", "queries/s", []xySeries{s}, true, 0, 1,
		"no query was answered (recall_at_k_mean, throughput_qps)")
	if param != "" {
		c.Note = "One point per value of " + param + " the stage swept."
	}
	return c
}

var queryPercentiles = []struct{ name, key string }{
	{"mean", "mean_latency_ms"}, {"p50", "p50_latency_ms"}, {"p95", "p95_latency_ms"}, {"p99", "p99_latency_ms"}, {"p99.9", "p999_latency_ms"},
}

func queryLatencyChart(m map[string]any) chart {
	const title = "Query latency, ms"
	var points []map[string]any
	var cats []string
	param, _ := m["sweep_parameter"].(string)
	if pts, ok := m["sweep"].([]any); ok {
		for _, p := range pts {
			pm, _ := p.(map[string]any)
			v, _ := lookup(pm, param)
			points, cats = append(points, pm), append(cats, param+"="+formatFloat(v))
		}
	} else {
		points, cats = []map[string]any{m}, []string{"all queries"}
	}
	series := percentileSeries(queryPercentiles, points)
	return barChart("query-latency", title, "ms", cats, series, 0, "no query was answered (mean_latency_ms and the percentiles)")
}

// tiers are a kvcache stage's tiers, fastest first.
func tiers(m map[string]any) ([]string, map[string]map[string]any) {
	ts, _ := m["tiers"].(map[string]any)
	out := map[string]map[string]any{}
	for name, t := range ts {
		if tm, ok := t.(map[string]any); ok {
			out[name] = tm
		}
	}
	order := []string{"gpu", "cpu", "storage"}
	names := slices.DeleteFunc(slices.Clone(order), func(n string) bool { return out[n] == nil })
	for _, n := range slices.Sorted(maps.Keys(out)) {
		if !slices.Contains(order, n) {
			names = append(names, n)
		}
	}
	return names, out
}

func kvTierBandwidthChart(m map[string]any) chart {
	const title = "KV-cache bandwidth per tier, MB/s (10^6 bytes)"
	names, ts := tiers(m)
	var series []barSeries
	for _, dir := range []string{"read", "write"} {
		s := barSeries{Name: dir, Values: make([]float64, len(names)), Have: make([]bool, len(names))}
		for i, n := range names {
			if v, ok := lookup(ts[n], dir+"_bytes_per_second"); ok {
				s.Values[i], s.Have[i] = v/1e6, true
			}
		}
		series = append(series, s)
	}
	c := barChart("kv-tier-bandwidth", title, "MB/s", names, series, 0, "no tier's bandwidth (tiers.*.read_ and write_bytes_per_second)")
	c.Note = "The tiers' read_ and write_bytes_per_second ÷ 10^6: bytes read from or written into the tier ÷ the run's wall time, summed over ranks."
	return c
}

// percentileSeries is a bar series per percentile, a bar per object:
// the percentile's value in it, where it has one.
func percentileSeries(ps []struct{ name, key string }, objs []map[string]any) []barSeries {
	var series []barSeries
	for _, p := range ps {
		s := barSeries{Name: p.name, Values: make([]float64, len(objs)), Have: make([]bool, len(objs))}
		for i, o := range objs {
			s.Values[i], s.Have[i] = lookup(o, p.key)
		}
		series = append(series, s)
	}
	return series
}

var kvPercentiles = []struct{ name, key string }{{"p50", "p50"}, {"p95", "p95"}, {"p99", "p99"}, {"p99.9", "p99_9"}}

// latencyBars draws latency objects (count, p50, p95, ...) as bars per
// percentile; an object of no sample is no category.
func latencyBars(kind, title string, cats []string, objs []map[string]any, why string) chart {
	var keep []string
	var kept []map[string]any
	for i, o := range objs {
		if n, _ := lookup(o, "count"); n > 0 {
			keep, kept = append(keep, cats[i]), append(kept, o)
		}
	}
	series := percentileSeries(kvPercentiles, kept)
	return barChart(kind, title, "ms", keep, series, 0, why)
}

func kvTierLatencyChart(m map[string]any) chart {
	names, ts := tiers(m)
	var cats []string
	var objs []map[string]any
	for _, n := range names {
		for _, k := range []string{"read_latency_ms", "write_latency_ms", "read_device_latency_ms", "write_device_latency_ms", "fsync_latency_ms"} {
			if o, ok := ts[n][k].(map[string]any); ok {
				cats = append(cats, n+" "+strings.TrimSuffix(k, "_latency_ms"))
				objs = append(objs, o)
			}
		}
	}
	c := latencyBars("kv-tier-latency", "KV-cache latency per tier and operation, ms", cats, objs, "no tier moved an entry (tiers.*.*_latency_ms)")
	c.Note = "Per entry read or written whole; device: the time inside the target's calls alone. Each figure is the largest of the ranks' own."
	return c
}

func kvRequestLatencyChart(m map[string]any) chart {
	var cats []string
	var objs []map[string]any
	for _, k := range []string{"end_to_end_latency_ms", "storage_latency_ms", "generation_latency_ms", "service_latency_ms"} {
		if o, ok := m[k].(map[string]any); ok {
			cats, objs = append(cats, strings.TrimSuffix(k, "_latency_ms")), append(objs, o)
		}
	}
	return latencyBars("kv-request-latency", "KV-cache request latency, ms", cats, objs, "no request completed (end_to_end_latency_ms and the others)")
}

func opLatencyChart(sr *results.StageReport) chart {
	const title = "Storage operation latency, ms"
	var cats []string
	var series []barSeries
	for _, p := range []string{"p50", "p90", "p99", "p99.9"} {
		series = append(series, barSeries{Name: p})
	}
	for _, o := range sr.Measured.Ops {
		if o.Latency.Count == 0 {
			continue
		}
		name := o.Op + " " + o.Target
		if o.Endpoint != "" {
			name += " " + o.Endpoint
		}
		cats = append(cats, name)
		for i, v := range []float64{o.Latency.P50, o.Latency.P90, o.Latency.P99, o.Latency.P999} {
			series[i].Values = append(series[i].Values, 1000*v)
			series[i].Have = append(series[i].Have, true)
		}
	}
	c := barChart("op-latency", title, "ms", cats, series, 0, "the stage measured no storage operation")
	c.Note = "Each operation's latency from its start to its end, as the stage measured it (measured.ops[].latency_seconds × 1000), per kind of operation and target."
	return c
}

// floats is the array of numbers at key, as JSON decodes it.
func floats(m map[string]any, key string) []float64 {
	arr, _ := m[key].([]any)
	var out []float64
	for _, x := range arr {
		if v, ok := stages.Number(x); ok {
			out = append(out, v)
		}
	}
	return out
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"f":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"add":   func(a, b float64) float64 { return a + b },
	"stamp": func(t time.Time) string { return stamp(t) },
	"g": func(k string) (any, error) {
		v, ok := geometry[k]
		if !ok {
			return nil, fmt.Errorf("no geometry %q", k)
		}
		return v, nil
	},
}).Parse(pageHTML))
