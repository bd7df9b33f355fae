package report

// geometry gives the template the drawing's constants.
var geometry = map[string]any{
	"W": chartW, "H": chartH, "L": plotLeft, "R": plotRight, "T": plotTop, "B": plotBottom,
	"XTickY": plotBottom + 16, "XLabelY": chartH - 10, "YLabelX": 16, "MidX": (plotLeft + plotRight) / 2,
	"MidY": -(plotTop + plotBottom) / 2, "YTickX": plotLeft - 6, "LegendY": legendY,
}

// pageHTML is report.html: no script and nothing fetched; the charts are
// inline SVG. html/template escapes every value taken from a run.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mlps report: {{.Root}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; font-weight: 600; }
th .unit { display: block; font-weight: 400; font-size: 11px; color: #555; max-width: 16em; }
section.run { border-top: 2px solid #888; margin-top: 2em; }
section.stage { margin-left: 1em; }
figure.chart { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; max-width: 720px; }
figcaption { font-weight: 600; }
p.not-recorded { color: #a33; font-style: italic; border: 1px dashed #caa; padding: 1em; width: 680px; }
p.note { font-size: 12px; color: #555; margin: 0.2em 0; }
p.error { color: #a00; }
svg text { font: 11px sans-serif; fill: #333; }
svg .grid line { stroke: #e4e4e4; }
svg .axis { stroke: #333; }
svg .ref { stroke: #d62728; stroke-dasharray: 5 4; }
svg polyline.series { stroke-width: 1.8; }
</style>
</head>
<body>
<h1>mlps report</h1>
<p>Runs at or below <code>{{.Root}}</code>. An empty cell is a figure the run did not record. Column names are the keys the stage wrote; units beneath them (MB = 10^6 bytes, MiB = 2^20, GiB = 2^30).</p>

<h2>Summary</h2>
{{range .Tables}}
<h3 id="table-{{.Benchmark}}">{{.Benchmark}}</h3>
<table class="runs" data-benchmark="{{.Benchmark}}">
<thead><tr><th>run</th><th>workload</th><th>model</th><th>accelerator</th><th>option</th><th>complete</th><th>seconds</th>
{{range .Columns}}<th>{{.Key}}<span class="unit">{{.Unit}}</span></th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><td><a href="#{{.Anchor}}">{{.Path}}</a></td><td>{{.Workload}}</td><td>{{.Model}}</td><td>{{.Accelerator}}</td><td>{{.Option}}</td><td>{{.Complete}}</td><td class="num">{{.Seconds}}</td>
{{range .Cells}}<td class="num" title="{{.Title}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{if .Means}}
<table class="means" data-benchmark="{{.Benchmark}}">
<caption>Mean of each group's complete runs (a group: one workload, model, accelerator and option); empty where not every complete run recorded the figure</caption>
<thead><tr><th>workload</th><th>model</th><th>accelerator</th><th>option</th><th>complete runs</th><th>seconds</th>
{{range .Columns}}<th>{{.Key}}</th>{{end}}</tr></thead>
<tbody>
{{range .Means}}<tr><td>{{.Workload}}</td><td>{{.Model}}</td><td>{{.Accelerator}}</td><td>{{.Option}}</td><td>{{.RunsCount}}</td><td class="num">{{.Seconds}}</td>
{{range .Cells}}<td class="num" title="{{.Title}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}
{{end}}
{{if .Other}}
<h3>Runs of no benchmark (data preparation)</h3>
<table class="runs" data-benchmark="">
<thead><tr><th>run</th><th>workload</th><th>complete</th><th>seconds</th></tr></thead>
<tbody>
{{range .Other}}<tr><td><a href="#{{.Anchor}}">{{.Path}}</a></td><td>{{.Workload}}</td><td>{{.Complete}}</td><td class="num">{{.Seconds}}</td></tr>
{{end}}</tbody>
</table>
{{end}}

{{range .Runs}}
<section class="run" id="{{.Anchor}}" data-run="{{.Path}}">
<h2>{{.Path}}</h2>
<p>benchmark {{if .Benchmark}}{{.Benchmark}}{{else}}none (data preparation){{end}}; workload {{.Workload}}{{if .Model}}; model {{.Model}}{{end}}{{if .Accelerator}}; accelerator {{.Accelerator}}{{end}}{{if .Option}}; option {{.Option}}{{end}}.
Started {{.Start}}{{if .End}}, ended {{.End}}{{end}}{{if .Seconds}} ({{.Seconds}} s){{end}};
{{if not .Finished}}<strong>did not finish</strong>: no summary.json, no figures.{{else if .Complete}}complete.{{else}}<strong>incomplete</strong>.{{end}}</p>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{range .Warnings}}<p class="error">{{.}}</p>{{end}}
{{range .Stages}}
<section class="stage" data-stage="{{.ID}}" data-kind="{{.Kind}}">
<h3>stage {{.ID}} ({{.Kind}}): {{.Status}}, {{.Seconds}} s</h3>
{{if .Headline}}<p>{{.Headline}}</p>{{end}}
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{range .Charts}}{{template "chart" .}}{{end}}
</section>
{{end}}
</section>
{{end}}
</body>
</html>
{{define "chart"}}<figure class="chart" data-chart="{{.Kind}}">
<figcaption>{{.Title}}</figcaption>
{{if .Missing}}<p class="not-recorded">{{.Missing}}</p>{{else}}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{g "W"}} {{g "H"}}" width="{{g "W"}}" height="{{g "H"}}" role="img" aria-label="{{.Title}}">
<title>{{.Title}}</title>
<g class="grid">{{range .YTicks}}<line x1="{{g "L"}}" x2="{{g "R"}}" y1="{{f .Pos}}" y2="{{f .Pos}}"></line><text class="ytick" x="{{g "YTickX"}}" y="{{f .Pos}}" dy="4" text-anchor="end">{{.Label}}</text>{{end}}</g>
{{range .XTicks}}<text class="xtick" x="{{f .Pos}}" y="{{g "XTickY"}}" {{if .Slant}}text-anchor="end" transform="rotate(-30 {{f .Pos}} {{g "XTickY"}})"{{else}}text-anchor="middle"{{end}}><title>{{.Full}}</title>{{.Label}}</text>{{end}}
<line class="axis" x1="{{g "L"}}" x2="{{g "R"}}" y1="{{g "B"}}" y2="{{g "B"}}"></line>
<line class="axis" x1="{{g "L"}}" x2="{{g "L"}}" y1="{{g "T"}}" y2="{{g "B"}}"></line>
{{if .XLabel}}<text class="axis-label x-label" x="{{g "MidX"}}" y="{{g "XLabelY"}}" text-anchor="middle">{{.XLabel}}</text>{{end}}
<text class="axis-label y-label" transform="rotate(-90)" x="{{g "MidY"}}" y="{{g "YLabelX"}}" text-anchor="middle">{{.YLabel}}</text>
{{range .Bars}}<rect class="bar" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Color}}"><title>{{.Label}}</title></rect>{{end}}
{{range .Lines}}<polyline class="series" points="{{.Points}}" fill="none" stroke="{{.Color}}"><title>{{.Name}}</title></polyline>{{end}}
{{range .Points}}<circle class="point" cx="{{f .X}}" cy="{{f .Y}}" r="4" fill="{{.Color}}"><title>{{.Label}}</title></circle>{{if .Text}}{{if .Left}}<text x="{{f (add .X -6)}}" y="{{f (add .Y -6)}}" text-anchor="end">{{.Text}}</text>{{else}}<text x="{{f (add .X 6)}}" y="{{f (add .Y -6)}}">{{.Text}}</text>{{end}}{{end}}{{end}}
{{with .Ref}}<line class="ref" x1="{{g "L"}}" x2="{{g "R"}}" y1="{{f .Y}}" y2="{{f .Y}}"></line><text x="{{g "R"}}" y="{{f (add .Y -4)}}" text-anchor="end">{{.Label}}</text>{{end}}
<g class="legend">{{range .Legend}}<rect x="{{f .X}}" y="{{g "LegendY"}}" width="12" height="10" fill="{{.Color}}" transform="translate(0,-10)"></rect><text x="{{f (add .X 16)}}" y="{{g "LegendY"}}">{{.Name}}</text>{{end}}</g>
</svg>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
</figure>{{end}}`
