package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are SVG drawn on the server: no chart library, no script. Each is
// an image with a title for screen readers; the table beside it carries the
// same numbers for everyone.

type bar struct {
	Label string
	Value float64
	// Mark, if HasMark, is drawn as a line across the bar (a threshold).
	Mark    float64
	HasMark bool
	Text    string // the value as words, written after the bar
}

// chart is a rendered chart.
type chart struct {
	SVG   template.HTML
	Empty bool
}

const (
	chartWidth = 760
	labelWidth = 230
	barArea    = 330
	rowHeight  = 30
)

// hbarChart draws horizontal bars scaled to the largest value or mark.
func hbarChart(id, title string, bars []bar, markName string) chart {
	max := 0.0
	for _, b := range bars {
		max = math.Max(max, b.Value)
		if b.HasMark {
			max = math.Max(max, b.Mark)
		}
	}
	return draw(id, title, bars, max*1.05, markName)
}

// hbarChartMax draws horizontal bars on a fixed scale (100 for percentages).
func hbarChartMax(id, title string, bars []bar, max float64) chart {
	return draw(id, title, bars, max, "")
}

func draw(id, title string, bars []bar, max float64, markName string) chart {
	if len(bars) == 0 {
		return chart{Empty: true}
	}
	if max <= 0 {
		max = 1
	}
	legend := 0
	if markName != "" {
		legend = rowHeight
	}
	h := len(bars)*rowHeight + 10 + legend
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="%s-title" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`, id, chartWidth, h, chartWidth, h)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, id, html.EscapeString(title))
	for i, br := range bars {
		y := 5 + i*rowHeight
		w := br.Value / max * barArea
		label := br.Label
		if r := []rune(label); len(r) > 32 {
			label = string(r[:31]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" fill="#0b0c0c" text-anchor="end">%s</text>`, labelWidth-8, y+19, html.EscapeString(label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#1d70b8"></rect>`, labelWidth, y+4, w, rowHeight-8)
		end := labelWidth + w
		if br.HasMark {
			mx := float64(labelWidth) + br.Mark/max*barArea
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#0b0c0c" stroke-width="3"></line>`, mx, y+1, mx, y+rowHeight-1)
			end = math.Max(end, mx)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="14" fill="#0b0c0c">%s</text>`, end+8, y+19, html.EscapeString(br.Text))
	}
	if markName != "" {
		y := 5 + len(bars)*rowHeight
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="16" height="16" fill="#1d70b8"></rect><text x="%d" y="%d" font-size="14" fill="#0b0c0c">looked after</text>`, labelWidth, y+6, labelWidth+22, y+19)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#0b0c0c" stroke-width="3"></line><text x="%d" y="%d" font-size="14" fill="#0b0c0c">%s</text>`, labelWidth+140, y+4, labelWidth+140, y+24, labelWidth+150, y+19, html.EscapeString(markName))
	}
	b.WriteString(`</svg>`)
	return chart{SVG: template.HTML(b.String())}
}
