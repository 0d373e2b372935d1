package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/nanolb/nanolb/lb"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot sizes in the report.
const (
	plotW = 4.4 * vg.Inch
	plotH = 3 * vg.Inch
)

// svgOf renders p as an SVG element for inline HTML: no XML prolog, no
// fonts fetched from anywhere (text names a font family, the browser's own
// fallback draws it).
func svgOf(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("nanolb-demo: render svg: %w", err)
	}
	s := buf.String()
	if i := bytes.Index(buf.Bytes(), []byte("<svg")); i > 0 {
		s = s[i:]
	}
	return s, nil
}

// bucketTimes returns the middle of each bucket, in seconds.
func bucketTimes(d time.Duration, buckets int) []float64 {
	out := make([]float64, buckets)
	w := d.Seconds() / float64(buckets)
	for i := range out {
		out[i] = (float64(i) + 0.5) * w
	}
	return out
}

// backendColor is backend i's colour in every plot.
func backendColor(i int) color.Color { return plotutil.DarkColors[i%len(plotutil.DarkColors)] }

// sharePlot draws each backend's share of the requests backends received,
// per time bucket.
func sharePlot(r *phaseResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.Spec.Label() + ": traffic share per backend"
	p.X.Label.Text = "seconds into the phase"
	p.Y.Label.Text = "% of requests received"
	p.Y.Min, p.Y.Max = 0, 100
	p.X.Min, p.X.Max = 0, r.Duration.Seconds()
	p.Add(plotter.NewGrid())
	ts := bucketTimes(r.Duration, len(r.Received[0]))
	for b, spec := range r.Backends {
		pts := make(plotter.XYs, 0, len(ts))
		for i, t := range ts {
			var total int64
			for _, row := range r.Received {
				total += row[i]
			}
			if total == 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: t, Y: 100 * float64(r.Received[b][i]) / float64(total)})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("nanolb-demo: share plot: %w", err)
		}
		l.Color = backendColor(b)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(spec.Name, l)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	return p, nil
}

// latencyPlot draws the callers' p50, p99 and p99.9 per time bucket, on a
// log scale, in milliseconds.
func latencyPlot(r *phaseResult, buckets int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.Spec.Label() + ": latency seen by callers"
	p.X.Label.Text = "seconds into the phase"
	p.Y.Label.Text = "ms (log scale)"
	p.X.Min, p.X.Max = 0, r.Duration.Seconds()
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ticks125{}
	p.Add(plotter.NewGrid())
	per := make([][]time.Duration, buckets)
	width := r.Duration.Seconds() / float64(buckets)
	for _, s := range r.Samples {
		i := min(max(int(s.At/width), 0), buckets-1)
		per[i] = append(per[i], s.Latency)
	}
	for _, b := range per {
		slices.Sort(b)
	}
	ts := bucketTimes(r.Duration, buckets)
	lo, hi := math.Inf(1), 0.0
	for qi, q := range []struct {
		name string
		q    float64
		dash []vg.Length
	}{{"p50", 0.5, nil}, {"p99", 0.99, []vg.Length{vg.Points(4), vg.Points(2)}}, {"p99.9", 0.999, []vg.Length{vg.Points(1), vg.Points(2)}}} {
		var pts plotter.XYs
		for i, b := range per {
			if len(b) == 0 {
				continue
			}
			v := max(float64(quantile(b, q.q))/float64(time.Millisecond), 0.01)
			lo, hi = min(lo, v), max(hi, v)
			pts = append(pts, plotter.XY{X: ts[i], Y: v})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("nanolb-demo: latency plot: %w", err)
		}
		l.Color = plotutil.DarkColors[qi]
		l.Width = vg.Points(1.5)
		l.Dashes = q.dash
		p.Add(l)
		p.Legend.Add(q.name, l)
	}
	if hi == 0 { // no samples: keep the log axis valid
		lo, hi = 0.1, 1
	}
	p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	return p, nil
}

// bands is a plotter of filled rectangles in data coordinates: the fault
// script's windows and the pool's ejected stretches.
type bands struct {
	rects []band
}

type band struct {
	x0, x1, y0, y1 float64
	c              color.Color
}

// Plot fills each rectangle.
func (b *bands) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	for _, r := range b.rects {
		pts := []vg.Point{
			{X: trX(r.x0), Y: trY(r.y0)}, {X: trX(r.x1), Y: trY(r.y0)},
			{X: trX(r.x1), Y: trY(r.y1)}, {X: trX(r.x0), Y: trY(r.y1)},
		}
		c.FillPolygon(r.c, c.ClipPolygonXY(pts))
	}
}

var (
	colFail    = color.RGBA{R: 250, G: 200, B: 200, A: 255} // script: answers 500
	colDown    = color.RGBA{R: 205, G: 205, B: 205, A: 255} // script: down, or not yet joined
	colGray    = color.RGBA{R: 250, G: 225, B: 225, A: 255} // script: fails some requests at random
	colCold    = color.RGBA{R: 250, G: 235, B: 170, A: 255} // script: slow while cold, or for some requests
	colEjected = color.RGBA{R: 190, G: 30, B: 30, A: 255}
	colProbing = color.RGBA{R: 240, G: 150, B: 0, A: 255}
	colProbe   = color.RGBA{R: 30, G: 60, B: 200, A: 255}
	colReinst  = color.RGBA{R: 20, G: 150, B: 50, A: 255}
)

// timelinePlot draws one row per backend: the script's fault windows as
// pale bands (red: answers 500, pink: fails some requests at random, grey:
// down or not yet known to the clients, yellow: slow while cold or for
// some of its requests), and for nanolb the pool's view on top: ejected
// (dark red bar), probing (orange), probes (blue triangles) and
// reinstatements (green circles).
func timelinePlot(r *phaseResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.Spec.Label() + ": faults, ejections, probes"
	p.X.Label.Text = "seconds into the phase"
	d := r.Duration.Seconds()
	p.X.Min, p.X.Max = 0, d
	n := len(r.Backends)
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	var ticks []plot.Tick
	bs := &bands{}
	for i, spec := range r.Backends {
		y := float64(n - 1 - i) // first backend on top
		ticks = append(ticks, plot.Tick{Value: y, Label: spec.Name})
		for _, w := range spec.Windows {
			c := colFail
			if w.Kind == faultDown {
				c = colDown
			}
			bs.rects = append(bs.rects, band{x0: w.From * d, x1: math.Min(w.To, 1) * d, y0: y - 0.45, y1: y + 0.45, c: c})
		}
		row := func(x0, x1 float64, c color.Color) {
			bs.rects = append(bs.rects, band{x0: x0, x1: math.Min(x1, d), y0: y - 0.45, y1: y + 0.45, c: c})
		}
		if spec.FailPercent > 0 {
			row(0, d, colGray)
		}
		if spec.Join > 0 {
			row(0, spec.Join.Seconds(), colDown)
		}
		if spec.Cold > 0 {
			row(spec.Join.Seconds(), (spec.Join + spec.Cold).Seconds(), colCold)
		}
		if spec.SlowPercent > 0 {
			row(0, d, colCold)
		}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Add(bs)
	if r.Timeline == nil {
		p.Title.Text = r.Spec.Label() + ": fault script (client shows no ejections)"
		return p, nil
	}
	states := &bands{}
	tl := r.Timeline
	for si, s := range tl.samples {
		next := d
		if si+1 < len(tl.samples) {
			next = tl.samples[si+1].At
		}
		for b, st := range s.States {
			y := float64(n - 1 - b)
			switch st {
			case lb.Ejected:
				states.rects = append(states.rects, band{x0: s.At, x1: next, y0: y - 0.15, y1: y + 0.15, c: colEjected})
			case lb.Probing:
				states.rects = append(states.rects, band{x0: s.At, x1: next, y0: y - 0.15, y1: y + 0.15, c: colProbing})
			}
		}
	}
	p.Add(states)
	var probes, reinst plotter.XYs
	for _, e := range tl.events {
		y := float64(n - 1 - e.Backend)
		switch e.Kind {
		case evProbe:
			probes = append(probes, plotter.XY{X: e.At, Y: y + 0.3})
		case evReinstate:
			reinst = append(reinst, plotter.XY{X: e.At, Y: y - 0.3})
		}
	}
	for _, g := range []struct {
		pts   plotter.XYs
		shape draw.GlyphDrawer
		c     color.Color
		name  string
	}{{probes, draw.TriangleGlyph{}, colProbe, "probe"}, {reinst, draw.CircleGlyph{}, colReinst, "reinstated"}} {
		if len(g.pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(g.pts)
		if err != nil {
			return nil, fmt.Errorf("nanolb-demo: timeline plot: %w", err)
		}
		sc.GlyphStyle.Shape = g.shape
		sc.GlyphStyle.Color = g.c
		sc.GlyphStyle.Radius = vg.Points(2.5)
		p.Add(sc)
		p.Legend.Add(g.name, sc)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	return p, nil
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten, so a
// range within one decade still gets labels.
type ticks125 struct{}

// Ticks returns the labelled ticks between lo and hi (both above zero).
func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}

// overviewPlot draws one horizontal bar per client, first client on top,
// with each bar's value written beside it.
func overviewPlot(title, unit string, rows []summary, value func(summary) float64, format func(float64) string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = unit
	n := len(rows)
	vals := make(plotter.Values, n)
	names := make([]string, n)
	labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	hi := 0.0
	for i, r := range rows {
		j := n - 1 - i // bars go bottom up
		vals[j] = value(r)
		names[j] = r.Label
		hi = max(hi, vals[j])
	}
	for j, v := range vals {
		labels.XYs[j] = plotter.XY{X: v, Y: float64(j)}
		labels.Labels[j] = format(v)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(10))
	if err != nil {
		return nil, fmt.Errorf("nanolb-demo: overview plot: %w", err)
	}
	bars.Horizontal = true
	bars.Color = plotutil.DarkColors[2]
	bars.LineStyle.Width = 0
	text, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("nanolb-demo: overview plot: %w", err)
	}
	for i := range text.TextStyle {
		text.TextStyle[i].Font.Size = vg.Points(8)
		text.TextStyle[i].YAlign = draw.YCenter
	}
	text.Offset = vg.Point{X: vg.Points(3)}
	p.Add(plotter.NewGrid(), bars, text)
	p.NominalY(names...)
	p.X.Min = 0
	p.X.Max = max(hi*1.25, 1e-9)
	return p, nil
}
