package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A chart is drawn in Go as plain geometry that the page's template
// turns into SVG: no script, no font to fetch, every text escaped by
// html/template on its way out.
type chart struct {
	// Kind names what is plotted, for a reader of the page's source and
	// its tests (data-chart).
	Kind   string
	Title  string
	XLabel string
	YLabel string
	// Missing, when set, replaces the drawing: it says that the figures
	// were not recorded, and why.
	Missing string
	// Note says how the drawn figures were made from the recorded ones.
	Note   string
	Bars   []bar
	Lines  []line
	Points []point
	XTicks []tick
	YTicks []tick
	Legend []legendItem
	Ref    *refLine
}

// The drawing's size and its plot area, in SVG user units.
const (
	chartW      = 720
	chartH      = 344
	plotLeft    = 80
	plotRight   = chartW - 16
	plotTop     = 28
	plotBottom  = chartH - 84
	legendY     = 14
	maxLabelLen = 22
)

type bar struct {
	X, Y, W, H float64
	Color      string
	// Label says what the bar is and its value, shown on hover.
	Label string
}

type line struct {
	Points string // x,y pairs as SVG's points attribute wants them
	Color  string
	Name   string
}

type point struct {
	X, Y  float64
	Color string
	Label string
	// Text is drawn beside the point, on its left where Left; "" for
	// none.
	Text string
	Left bool
}

type tick struct {
	Pos   float64
	Label string
	// Full is the whole label where Label is shortened.
	Full string
	// Slant turns a category's label where the labels would overlap.
	Slant bool
}

type legendItem struct {
	X     float64
	Color string
	Name  string
}

type refLine struct {
	Y     float64
	Label string
}

// Colours of the series, told apart in colour and in the legend.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

func color(i int) string { return palette[i%len(palette)] }

// notRecorded is a chart that was not drawn: what it would plot and why
// not.
func notRecorded(kind, title, why string) chart {
	return chart{Kind: kind, Title: title, Missing: "not recorded: " + why}
}

// barSeries is one series of a bar chart: a value per category, Have
// false where the category has none.
type barSeries struct {
	Name   string
	Values []float64
	Have   []bool
}

// barChart draws series side by side over categories, from 0 (or the
// least value, if negative) up; top, when above 0, fixes the axis's top.
// why says what is missing when no series has a value.
func barChart(kind, title, ylabel string, categories []string, series []barSeries, top float64, why string) chart {
	c := chart{Kind: kind, Title: title, YLabel: ylabel}
	hi, have := 0.0, false
	for _, s := range series {
		for i, v := range s.Values {
			if s.Have[i] {
				hi, have = max(hi, v), true
			}
		}
	}
	if !have {
		return notRecorded(kind, title, why)
	}
	if top <= 0 {
		top = hi
	}
	ys := newScale(0, top, plotBottom, plotTop, true)
	c.YTicks = ys.ticks()
	slot := float64(plotRight-plotLeft) / float64(len(categories))
	bw := slot * 0.8 / float64(len(series))
	every := (len(categories) + 23) / 24
	widest := 0
	for _, cat := range categories {
		widest = max(widest, len([]rune(shorten(cat))))
	}
	// About 6 units per character of the labels' 11-unit font.
	slant := 6*float64(widest) > slot*float64(every)
	for i, cat := range categories {
		x0 := plotLeft + float64(i)*slot + slot*0.1
		if i%every == 0 {
			c.XTicks = append(c.XTicks, tick{Pos: x0 + slot*0.4, Label: shorten(cat), Full: cat, Slant: slant})
		}
		for j, s := range series {
			if !s.Have[i] {
				continue
			}
			y := ys.at(s.Values[i])
			c.Bars = append(c.Bars, bar{X: x0 + float64(j)*bw, Y: y, W: max(bw-1, 0.5), H: ys.at(0) - y,
				Color: color(j), Label: fmt.Sprintf("%s, %s: %s %s", cat, s.Name, num(s.Values[i]), ylabel)})
		}
	}
	if len(series) > 1 {
		c.Legend = legend(seriesNames(series))
	}
	return c
}

func seriesNames(ss []barSeries) []string {
	var ns []string
	for _, s := range ss {
		ns = append(ns, s.Name)
	}
	return ns
}

func legend(names []string) []legendItem {
	var out []legendItem
	x := float64(plotLeft)
	for i, n := range names {
		out = append(out, legendItem{X: x, Color: color(i), Name: n})
		x += 24 + 7*float64(len(n))
	}
	return out
}

// xySeries is one series of a line chart; Labels, when set, name each
// point.
type xySeries struct {
	Name   string
	X, Y   []float64
	Labels []string
}

// lineChart draws series as lines through their points (with a mark at
// each when marks), y from 0 up; xlo and xhi fix the x axis when xhi >
// xlo, else it spans the points.
func lineChart(kind, title, xlabel, ylabel string, series []xySeries, marks bool, xlo, xhi float64, why string) chart {
	c := chart{Kind: kind, Title: title, XLabel: xlabel, YLabel: ylabel}
	lo, hi, top, n := math.Inf(1), math.Inf(-1), 0.0, 0
	for _, s := range series {
		for i := range s.X {
			lo, hi, top = min(lo, s.X[i]), max(hi, s.X[i]), max(top, s.Y[i])
			n++
		}
	}
	if n == 0 {
		return notRecorded(kind, title, why)
	}
	if xhi > xlo {
		lo, hi = xlo, xhi
	} else if hi == lo {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-pad, hi+pad
	}
	xs := newScale(lo, hi, plotLeft, plotRight, false)
	ys := newScale(0, top, plotBottom, plotTop, true)
	c.XTicks, c.YTicks = xs.ticks(), ys.ticks()
	for i, s := range series {
		var pts []string
		for k := range s.X {
			x, y := xs.at(s.X[k]), ys.at(s.Y[k])
			pts = append(pts, strconv.FormatFloat(x, 'f', 1, 64)+","+strconv.FormatFloat(y, 'f', 1, 64))
			if marks {
				p := point{X: x, Y: y, Color: color(i), Label: fmt.Sprintf("%s: %s %s, %s %s", s.Name, num(s.X[k]), xlabel, num(s.Y[k]), ylabel),
					Left: x > (plotLeft+plotRight)/2}
				if s.Labels != nil {
					p.Text = s.Labels[k]
					p.Label = s.Labels[k] + ": " + p.Label
				}
				c.Points = append(c.Points, p)
			}
		}
		if len(pts) > 1 {
			c.Lines = append(c.Lines, line{Points: strings.Join(pts, " "), Color: color(i), Name: s.Name})
		}
	}
	if len(series) > 1 {
		var names []string
		for _, s := range series {
			names = append(names, s.Name)
		}
		c.Legend = legend(names)
	}
	return c
}

// scale maps values onto pixels, over a range widened to round ticks.
type scale struct {
	lo, hi, step float64
	p0, p1       float64
}

// newScale spans lo to hi onto pixels p0 to p1; nice widens the top to
// the next tick, so that bars and lines never touch the frame.
func newScale(lo, hi, p0, p1 float64, nice bool) scale {
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	if nice {
		hi = math.Ceil(hi/step-1e-9) * step
	}
	return scale{lo: lo, hi: hi, step: step, p0: p0, p1: p1}
}

func (s scale) at(v float64) float64 {
	return s.p0 + (v-s.lo)/(s.hi-s.lo)*(s.p1-s.p0)
}

func (s scale) ticks() []tick {
	var ts []tick
	first := math.Ceil(s.lo/s.step-1e-9) * s.step
	for v := first; v <= s.hi+s.step*1e-6; v += s.step {
		l := tickLabel(v, s.step)
		ts = append(ts, tick{Pos: s.at(v), Label: l, Full: l})
	}
	return ts
}

// niceStep is 1, 2 or 5 times a power of ten, at least x.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

func tickLabel(v, step float64) string {
	if math.Abs(v) < step*1e-6 {
		return "0"
	}
	d := max(0, -int(math.Floor(math.Log10(step))))
	return strconv.FormatFloat(v, 'f', d, 64)
}

// num writes a figure with at least four significant digits and no
// exponent, for a table cell or a label.
func num(v float64) string {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	d := max(0, 3-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', d, 64)
}

func shorten(s string) string {
	r := []rune(s)
	if len(r) <= maxLabelLen {
		return s
	}
	return string(r[:maxLabelLen-1]) + "…"
}
