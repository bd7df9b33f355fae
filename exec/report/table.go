package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// csvHeader is results.csv's first columns, before the figures' keys.
// A row is a run ("run") or the mean of a group's complete runs
// ("mean", runs counting them).
var csvHeader = []string{"row", "runs", "path", "benchmark", "workload", "model", "accelerator", "option",
	"stage", "start", "end", "seconds", "complete"}

// WriteCSV writes results.csv: a row per run, then a row per group of
// runs with their means. A figure not recorded is an empty cell; numbers
// are written in the shortest form that reads back to the same float64.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := append([]string(nil), csvHeader...)
	for _, c := range Columns {
		head = append(head, c.Key)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range rep.Runs {
		row := []string{"run", "1", r.Path, r.Benchmark, r.Workload, r.Model, r.Accelerator, r.Option,
			r.Stage, stamp(r.Start), stamp(r.End), optional(r.Seconds), strconv.FormatBool(r.Complete)}
		if err := cw.Write(append(row, figures(r.Figures)...)); err != nil {
			return err
		}
	}
	for _, g := range rep.Groups {
		row := []string{"mean", strconv.Itoa(len(g.Complete)), "", g.Benchmark, g.Workload, g.Model, g.Accelerator, g.Option,
			"", "", "", optional(g.Seconds), ""}
		if err := cw.Write(append(row, figures(g.Means)...)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func figures(m map[string]float64) []string {
	var out []string
	for _, c := range Columns {
		v, ok := m[c.Key]
		if !ok {
			out = append(out, "")
			continue
		}
		out = append(out, formatFloat(v))
	}
	return out
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func optional(v *float64) string {
	if v == nil {
		return ""
	}
	return formatFloat(*v)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

type jsonReport struct {
	Root    string      `json:"root"`
	Columns []Column    `json:"columns"`
	Runs    []jsonRun   `json:"runs"`
	Groups  []jsonGroup `json:"groups"`
}

type jsonRun struct {
	Path        string    `json:"path"`
	Benchmark   string    `json:"benchmark"`
	Workload    string    `json:"workload"`
	Model       string    `json:"model,omitempty"`
	Accelerator string    `json:"accelerator,omitempty"`
	Option      string    `json:"option,omitempty"`
	Stage       string    `json:"stage,omitempty"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	Seconds     *float64  `json:"seconds,omitempty"`
	Complete    bool      `json:"complete"`
	// Finished is false for a run killed before it wrote summary.json.
	Finished bool               `json:"finished"`
	Figures  map[string]float64 `json:"figures"`
}

type jsonGroup struct {
	Benchmark   string `json:"benchmark"`
	Workload    string `json:"workload"`
	Model       string `json:"model,omitempty"`
	Accelerator string `json:"accelerator,omitempty"`
	Option      string `json:"option,omitempty"`
	// Runs are every run of the group; Complete those the means are
	// over.
	Runs     []string           `json:"runs"`
	Complete []string           `json:"complete_runs"`
	Seconds  *float64           `json:"seconds_mean,omitempty"`
	Means    map[string]float64 `json:"means"`
}

// WriteJSON writes results.json: the columns with their units, the runs
// with the figures each recorded (a key absent is a figure not
// recorded), and the groups' means.
func (rep *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Root: rep.Root, Columns: Columns, Runs: []jsonRun{}, Groups: []jsonGroup{}}
	for _, r := range rep.Runs {
		out.Runs = append(out.Runs, jsonRun{Path: r.Path, Benchmark: r.Benchmark, Workload: r.Workload,
			Model: r.Model, Accelerator: r.Accelerator, Option: r.Option, Stage: r.Stage,
			Start: r.Start, End: r.End, Seconds: r.Seconds, Complete: r.Complete, Finished: r.Run.Finished,
			Figures: r.Figures})
	}
	for _, g := range rep.Groups {
		out.Groups = append(out.Groups, jsonGroup{Benchmark: g.Benchmark, Workload: g.Workload,
			Model: g.Model, Accelerator: g.Accelerator, Option: g.Option,
			Runs: g.Runs, Complete: nonNil(g.Complete), Seconds: g.Seconds, Means: g.Means})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
