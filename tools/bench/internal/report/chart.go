package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colours of the two systems in the chart.
var (
	etcdColor  = color.RGBA{R: 0x41, G: 0x9e, B: 0xda, A: 0xff} // etcd's blue
	cairnColor = color.RGBA{R: 0x8c, G: 0x6d, B: 0x46, A: 0xff} // a stone brown
)

// WriteSVG draws the summary rows as small multiples: one line per
// workload, throughput on the left and p99 latency on the right, each panel
// with its own linear scale from zero and the values written on the bars.
func (r *Report) WriteSVG(w io.Writer) error {
	rows := r.Rows()
	if len(rows) == 0 {
		return fmt.Errorf("chart: no workloads")
	}
	const (
		width    = 10 * vg.Inch
		rowH     = 1.25 * vg.Inch
		headerH  = 0.45 * vg.Inch
		barWidth = 0.2 * vg.Inch
	)
	height := headerH + vg.Length(len(rows))*rowH
	// Sans-serif text throughout; plot's default is a serif face.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
	plots := make([][]*plot.Plot, len(rows))
	for i, row := range rows {
		tp, err := barPanel(row.Short+": req/s (higher is better)",
			row.Etcd.Throughput, row.Cairn.Throughput, fmtRate, barWidth)
		if err != nil {
			return err
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		lat, err := barPanel(row.Short+": p99 ms (lower is better)",
			ms(row.Etcd.P99), ms(row.Cairn.P99), func(x float64) string { return fmtMs(time.Duration(x * float64(time.Millisecond))) }, barWidth)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{tp, lat}
	}
	c := vgsvg.New(width, height)
	dc := draw.New(c)
	// The header: what the chart shows.
	title := plot.New()
	title.HideAxes()
	title.Title.Text = fmt.Sprintf("Cairn vs etcd %s, medians of %d runs (%s)", r.Versions.Etcd, r.Reps, r.Date.UTC().Format("2006-01-02"))
	title.Title.TextStyle.Font.Size = vg.Points(13)
	title.Draw(draw.Crop(dc, 0, 0, height-headerH, 0))
	body := draw.Crop(dc, 0, 0, 0, -headerH)
	tiles := draw.Tiles{Rows: len(rows), Cols: 2, PadX: 0.3 * vg.Inch, PadY: 0.15 * vg.Inch,
		PadLeft: 0.1 * vg.Inch, PadRight: 0.5 * vg.Inch, PadBottom: 0.05 * vg.Inch}
	canvases := plot.Align(plots, tiles, body)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// barPanel is two horizontal bars, etcd above Cairn, labelled with format.
func barPanel(title string, etcd, cairn float64, format func(float64) string, barWidth vg.Length) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.X.Min = 0
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.X.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		ts := plot.DefaultTicks{}.Ticks(min, max)
		for i := range ts {
			if ts[i].Label != "" {
				ts[i].Label = format(ts[i].Value)
				if ts[i].Value == 0 {
					ts[i].Label = "0"
				}
			}
		}
		return ts
	})
	hi := 0.0
	for k, s := range []struct {
		v   float64
		col color.Color
	}{{cairn, cairnColor}, {etcd, etcdColor}} {
		v := max(s.v, 0)
		hi = max(hi, v)
		b, err := plotter.NewBarChart(plotter.Values{v}, barWidth)
		if err != nil {
			return nil, err
		}
		b.Horizontal = true
		b.XMin = float64(k)
		b.Color = s.col
		b.LineStyle.Width = 0
		p.Add(b)
		label := format(v)
		if v <= 0 {
			label = "no result"
		}
		l, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: v, Y: float64(k)}},
			Labels: []string{label},
		})
		if err != nil {
			return nil, err
		}
		l.Offset = vg.Point{X: vg.Points(4), Y: -vg.Points(4)}
		for i := range l.TextStyle {
			l.TextStyle[i].Font.Size = vg.Points(9)
		}
		p.Add(l)
	}
	if hi <= 0 {
		hi = 1
	}
	// Room on the right for the labels.
	p.X.Max = hi * 1.25
	p.NominalY("Cairn", "etcd")
	p.Y.Min, p.Y.Max = -0.6, 1.6
	return p, nil
}
