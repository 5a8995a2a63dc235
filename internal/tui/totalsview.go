package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/observe"
)

// totalsCols are the columns of the Totals view.
var totalsCols = []column{
	{title: "NAME", width: 12, flex: 1},
	{title: "REQ", width: 6, right: true},
	{title: "ERR", width: 5, right: true},
	{title: "IN", width: 6, right: true},
	{title: "OUT", width: 6, right: true},
	{title: "CACHED", width: 6, right: true, prio: 2},
	{title: "REASON", width: 6, right: true, prio: 3},
	{title: "USD", width: 9, right: true},
	{title: "P50", width: 6, right: true},
	{title: "P95", width: 6, right: true},
	{title: "TTFT50", width: 6, right: true, prio: 1},
	{title: "TTFT95", width: 6, right: true, prio: 1},
}

// totalsView draws the totals per model, backend and route, and sparklines of the last minutes.
type totalsView struct {
	offset int
}

func totalsCell(g *Group, i int) string {
	switch i {
	case 0:
		return g.Name
	case 1:
		return strconv.FormatInt(g.Requests, 10)
	case 2:
		return strconv.FormatInt(g.Errors, 10)
	case 3:
		return fmtTokens(g.Tokens.InputTokens)
	case 4:
		return fmtTokens(g.Tokens.OutputTokens)
	case 5:
		return fmtTokens(g.Tokens.CachedInputTokens)
	case 6:
		return fmtTokens(g.Tokens.ReasoningTokens)
	case 7:
		usd := fmtAmount(g.USD)
		if g.UnknownCost > 0 {
			usd += "+?"
		}
		return usd
	case 8, 9:
		p50, p95 := g.Latency()
		return fmtDur(pick(i == 8, p50, p95))
	case 10, 11:
		p50, p95 := g.TTFT()
		return fmtDur(pick(i == 10, p50, p95))
	}
	return ""
}

func pick(first bool, a, b time.Duration) time.Duration {
	if first {
		return a
	}
	return b
}

// lines is the scrollable part of the view: one table per dimension.
func (v *totalsView) lines(s *Styles, t *Totals, width int) []string {
	idx, widths := layout(totalsCols, width-2)
	var out []string
	section := func(title string, groups []*Group) {
		head := row(totalsCols, idx, widths, func(i int) string {
			if i == 0 {
				return title
			}
			return totalsCols[i].title
		})
		out = append(out, "  "+s.ColumnHeader.Render(head))
		for _, g := range groups {
			line := "  " + row(totalsCols, idx, widths, func(i int) string { return totalsCell(g, i) })
			if g.Errors > 0 {
				line = "  " + s.StatusErr.Render(strings.TrimPrefix(line, "  "))
			}
			out = append(out, line)
		}
	}
	section("ALL", []*Group{t.All})
	section("MODEL", sortedGroups(t.Models))
	section("BACKEND", sortedGroups(t.Backends))
	section("ROUTE", sortedGroups(t.Routes))
	return out
}

// view draws the gateway's own totals when known, then the tables, scrolled, above two
// sparklines.
func (v *totalsView) view(s *Styles, t *Totals, gw *observe.StatsSnapshot, now time.Time, loc *time.Location, width, height int) string {
	if height <= 0 {
		return ""
	}
	spark := v.sparklines(s, t, now, width)
	if height < len(spark)+2 {
		spark = nil
	}
	lines := v.lines(s, t, width)
	if gw != nil {
		head := statsLines(gw, loc)
		lines = append([]string{"  " + s.Dim.Render(head[0]), "  " + s.Dim.Render(head[1])}, lines...)
	}
	room := height - len(spark)
	off := max(0, min(v.offset, len(lines)-room))
	lines = lines[off:]
	if len(lines) > room {
		lines = lines[:room]
	}
	for len(lines) < room {
		lines = append(lines, "")
	}
	return fitLines(append(lines, spark...), width, height)
}

// scroll moves the table by delta lines.
func (v *totalsView) scroll(delta int) { v.offset = max(0, v.offset+delta) }

// sparklines draws requests/s and tokens/s, one cell per second, as wide as the screen allows.
func (v *totalsView) sparklines(s *Styles, t *Totals, now time.Time, width int) []string {
	const label = 8 // "  req/s "
	const tail = 22 // " now 1234.5  max 1234"
	n := width - label - tail
	if n < 10 {
		return nil
	}
	reqs, toks := t.Series(now, n)
	line := func(name string, vals []int64) string {
		var peak int64
		for _, x := range vals {
			peak = max(peak, x)
		}
		cur := vals[len(vals)-1]
		if len(vals) > 1 { // the current second is still filling; show the last whole one
			cur = vals[len(vals)-2]
		}
		return fit("  "+name, label, false) + s.Spark.Render(sparkline(vals, peak)) +
			fit(" now "+strconv.FormatInt(cur, 10), 11, false) + fit(" max "+strconv.FormatInt(peak, 10), tail-11, false)
	}
	span := fmtDur(time.Duration(n) * time.Second)
	return []string{
		s.Dim.Render("  last " + span + ", one column per second"),
		line("req/s", reqs),
		line("tok/s", toks),
	}
}

// sparkRunes are the eight heights of a sparkline cell.
var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline draws one cell per value, scaled to peak; zero is a blank.
func sparkline(vals []int64, peak int64) string {
	var b strings.Builder
	for _, x := range vals {
		switch {
		case x <= 0 || peak <= 0:
			b.WriteByte(' ')
		default:
			i := int((x*int64(len(sparkRunes)) - 1) / peak)
			b.WriteRune(sparkRunes[max(0, min(i, len(sparkRunes)-1))])
		}
	}
	return b.String()
}
