package main

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// series is one line of a plot: CDF[i] is the time (ms) by which the share
// i/(len-1) of the connections had the message; -1 where never.
type series struct {
	Name string
	CDF  []float64
}

var colors = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"}

// plotCDF writes an SVG of the share of connections reached over time.
func plotCDF(path, title string, ss []series) error {
	const w, h, left, right, top, bottom = 720, 420, 70, 20, 40, 55
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	xmax := 0.0
	for _, s := range ss {
		for _, v := range s.CDF {
			xmax = math.Max(xmax, v)
		}
	}
	xmax, step := niceAxis(xmax)
	x := func(ms float64) float64 { return left + ms/xmax*pw }
	y := func(frac float64) float64 { return top + (1-frac)*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", w/2, esc(title))
	for v := 0.0; v <= xmax+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(v), top, x(v), h-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(v), h-bottom+16, v)
	}
	for p := 0; p <= 100; p += 25 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, left, y(float64(p)/100), w-right, y(float64(p)/100))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d %%</text>`+"\n", left-6, y(float64(p)/100)+4, p)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">milliseconds since the publish</text>`+"\n", left+int(pw)/2, h-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">connections that have the message</text>`+"\n", top+int(ph)/2)
	for i, s := range ss {
		var pts []string
		for j, v := range s.CDF {
			if v >= 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(v), y(float64(j)/float64(len(s.CDF)-1))))
			}
		}
		c := colors[i%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		ly := h - bottom - 12 - 18*(len(ss)-1-i)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, w-right-230, ly-4, w-right-205, ly-4, c)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", w-right-198, ly, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// niceAxis picks a round tick step (1, 2 or 5 × 10^k) giving four to
// eight ticks, and the first tick at or above max.
func niceAxis(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.25
	}
	mag := math.Pow(10, math.Floor(math.Log10(max/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; max/step <= 8 {
			break
		}
	}
	return math.Ceil(max/step) * step, step
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
