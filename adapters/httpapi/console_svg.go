package httpapi

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"

	"github.com/usersvc/usersvc/app"
)

// The console's pictures, drawn on the server as inline SVG: no script, no
// image request, nothing for the CSP to allow. Every value in them is a
// number or text escaped here, which is what makes template.HTML safe.

// chart geometry, in SVG user units.
const (
	chartW, chartH                = 600, 220
	chartLeft, chartRight         = 40, 8
	chartTop, chartBottom         = 12, 26
	chartPlotW, chartPlotH        = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	chartGap                      = 3
	chartLabelEvery               = 7 // a day label every week
	chartTitleSignups             = "Sign-ups per day over the last 30 days"
	chartTitleLoginOutcomes       = "Login outcomes per day over the last 30 days"
	chartNoSignups, chartNoLogins = "No sign-up in the last 30 days.", "No login in the last 30 days."
)

// niceMax rounds n up to 1, 2 or 5 times a power of ten (at least 1), the
// top of a chart's scale.
func niceMax(n int) int {
	if n < 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// segment is one coloured part of a day's bar.
type segment struct {
	class string // a class of console.css (bar, ok, bad, lock)
	n     int
	label string // "sign-ups", "succeeded" …
}

// barChart draws one bar per day, each the stack of its segments.
func barChart(id, title, desc string, days []app.DashboardDay, segments func(app.DashboardDay) []segment) template.HTML {
	top := 0
	for _, d := range days {
		sum := 0
		for _, s := range segments(d) {
			sum += s.n
		}
		top = max(top, sum)
	}
	scale := niceMax(top)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, html.EscapeString(title), id, html.EscapeString(desc))
	// The scale: 0, half and the top, with their grid lines.
	marks := []int{0, scale}
	if scale >= 2 {
		marks = append(marks, scale/2)
	}
	for _, v := range marks {
		y := chartTop + chartPlotH - v*chartPlotH/scale
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/>`, chartLeft, y, chartW-chartRight, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d</text>`, chartLeft-6, y+4, v)
	}
	n := max(len(days), 1)
	slot := float64(chartPlotW) / float64(n)
	for i, d := range days {
		x := float64(chartLeft) + float64(i)*slot + chartGap/2.0
		w := slot - chartGap
		base := float64(chartTop + chartPlotH)
		var tip []string
		for _, s := range segments(d) {
			tip = append(tip, fmt.Sprintf("%d %s", s.n, s.label))
			if s.n == 0 {
				continue
			}
			h := float64(s.n) * float64(chartPlotH) / float64(scale)
			base -= h
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, s.class, x, base, w, h)
		}
		// A transparent column per day carries its numbers as a tooltip.
		fmt.Fprintf(&b, `<rect fill-opacity="0" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s: %s</title></rect>`,
			x, chartTop, w, chartPlotH, d.Day.Format("Mon 2 Jan"), html.EscapeString(strings.Join(tip, ", ")))
		if (len(days)-1-i)%chartLabelEvery == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+w/2, chartH-8, d.Day.Format("2 Jan"))
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, chartLeft, chartTop+chartPlotH, chartW-chartRight, chartTop+chartPlotH)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers, and text escaped above
}

// signupChart draws the sign-ups of each day.
func signupChart(days []app.DashboardDay) template.HTML {
	total, best, bestDay := 0, 0, ""
	for _, d := range days {
		total += d.Signups
		if d.Signups > best {
			best, bestDay = d.Signups, d.Day.Format("Mon 2 Jan")
		}
	}
	desc := chartNoSignups
	if total > 0 {
		desc = fmt.Sprintf("%s in all; the most, %d, on %s.", plural(total, "sign-up", "sign-ups"), best, bestDay)
	}
	return barChart("signups", chartTitleSignups, desc, days, func(d app.DashboardDay) []segment {
		return []segment{{class: "bar", n: d.Signups, label: "sign-ups"}}
	})
}

// loginChart draws each day's logins, stacked: succeeded, failed, locked.
func loginChart(days []app.DashboardDay) template.HTML {
	var ok, bad, locks int
	for _, d := range days {
		ok, bad, locks = ok+d.LoginsSucceeded, bad+d.LoginsFailed, locks+d.Lockouts
	}
	desc := chartNoLogins
	if ok+bad+locks > 0 {
		desc = fmt.Sprintf("In all: %s succeeded, %d failed, %s locked.", plural(ok, "login", "logins"), bad, plural(locks, "account", "accounts"))
	}
	return barChart("logins", chartTitleLoginOutcomes, desc, days, func(d app.DashboardDay) []segment {
		return []segment{
			{class: "ok", n: d.LoginsSucceeded, label: "succeeded"},
			{class: "bad", n: d.LoginsFailed, label: "failed"},
			{class: "lock", n: d.Lockouts, label: "locked"},
		}
	})
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// qrQuietZone is the blank margin a QR code needs, in modules.
const qrQuietZone = 4

// qrModulePx is a module's size in CSS pixels: a whole number, so every
// module is drawn as wide as the next and a camera (or a decoder reading
// a screenshot) does not misjudge the grid, as it did at a fitted width.
const qrModulePx = 4

// qrSVG draws text (an otpauth URI) as a QR code in inline SVG.
func qrSVG(text string) (template.HTML, error) {
	qr, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	var w qrWriter
	if err := qr.Save(&w); err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	return w.svg, nil
}

// qrWriter is a qrcode.Writer that draws the matrix as one SVG path.
type qrWriter struct{ svg template.HTML }

func (q *qrWriter) Write(m qrcode.Matrix) error {
	size := max(m.Width(), m.Height()) + 2*qrQuietZone
	var path strings.Builder
	m.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) {
		if v.IsSet() {
			fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+qrQuietZone, y+qrQuietZone)
		}
	})
	q.svg = template.HTML(fmt.Sprintf( //nolint:gosec // numbers only
		`<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="QR code for your authenticator app" xmlns="http://www.w3.org/2000/svg" shape-rendering="crispEdges">`+
			`<rect class="light" width="%d" height="%d"/><path class="dark" d="%s"/></svg>`,
		size*qrModulePx, size*qrModulePx, size, size, size, size, path.String()))
	return nil
}

func (q *qrWriter) Close() error { return nil }
