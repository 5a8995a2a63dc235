package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/aigw/aigw/internal/observe"
)

// fmtUSD writes a price as $0.0012: "-" when nothing was billed, "?" when the price is unknown.
func fmtUSD(u *observe.USD) string {
	switch {
	case u == nil:
		return "-"
	case u.Unknown:
		return "?"
	}
	return fmtAmount(u.Amount)
}

// fmtAmount writes dollars in at most nine cells: four decimals ($0.0012), six below $0.0001
// ($0.000046), two from $100, and "<$0.00001" for crumbs.
func fmtAmount(a float64) string {
	switch {
	case a == 0:
		return "$0"
	case a < 0.00001:
		return "<$0.00001"
	case a < 0.0001:
		return "$" + strconv.FormatFloat(a, 'f', 6, 64)
	case a >= 100:
		return "$" + strconv.FormatFloat(a, 'f', 2, 64)
	}
	return "$" + strconv.FormatFloat(a, 'f', 4, 64)
}

// fmtTokens writes a count in at most six cells: 999, 12.3k, 4.56M.
func fmtTokens(n int64) string {
	switch {
	case n < 10000:
		return strconv.FormatInt(n, 10)
	case n < 1000000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	case n < 1000000000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 2, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + "G"
}

// fmtDur writes a duration in at most six cells: 850µs, 230ms, 1.23s, 12.3s, 4m05s.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d < 100*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		m := int(d / time.Minute)
		s := int((d % time.Minute) / time.Second)
		return strconv.Itoa(m) + "m" + pad2(s) + "s"
	}
	h := int(d / time.Hour)
	return strconv.Itoa(h) + "h" + pad2(int((d%time.Hour)/time.Minute)) + "m"
}

// fmtMillis writes a millisecond quantile from /stats-like rows.
func fmtMillis(ms float64) string { return fmtDur(time.Duration(ms * float64(time.Millisecond))) }

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// fit pads or truncates s to exactly w cells (ANSI-aware); right aligns to the right.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	if right {
		return strings.Repeat(" ", w-n) + s
	}
	return s + strings.Repeat(" ", w-n)
}

// fitLines makes s exactly h lines of exactly w cells.
func fitLines(lines []string, w, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(fit(lines[i], w, false))
		} else {
			b.WriteString(strings.Repeat(" ", w))
		}
	}
	return b.String()
}

// shortID keeps the start of a request id, enough to tell requests apart on screen.
func shortID(id string, n int) string {
	if len(id) <= n {
		return id
	}
	return id[:n]
}
