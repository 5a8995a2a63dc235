package tui

import (
	"strconv"
	"time"
)

// liveCols are the columns of the Live view, in order.
var liveCols = []column{
	{title: "TIME", width: 8},
	{title: "API→BACKEND", width: 14, want: 19, flex: 3},
	{title: "MODEL", width: 16, want: 20, flex: 3},
	{title: "STAT", width: 4},
	{title: "LAT", width: 6, right: true},
	{title: "TTFT", width: 6, right: true, prio: 1},
	{title: "IN", width: 6, right: true},
	{title: "OUT", width: 6, right: true},
	{title: "CACHED", width: 6, right: true, prio: 2},
	{title: "REASON", width: 6, right: true, prio: 3},
	{title: "COST", width: 9, right: true},
}

// liveView draws the streaming table of requests. It is given its rows, its size and the
// selected row; it keeps only its scroll offset.
type liveView struct {
	offset int
}

// status is a request's STAT cell: the HTTP status, or what an unfinished request is doing.
func status(r *Request) string {
	switch {
	case r.Lost:
		return "lost"
	case r.End == nil && !r.FirstTokenAt.IsZero():
		return "strm"
	case r.End == nil:
		return "wait"
	case r.End.Status == 0 && r.End.Error != "":
		return "err"
	}
	return strconv.Itoa(r.End.Status)
}

// modelCell is "asked → served" when the backend served another model name, else the one name.
func modelCell(r *Request) string {
	served := r.ServedModel()
	if served == "" || served == r.RequestModel {
		if r.RequestModel == "" {
			return served
		}
		return r.RequestModel
	}
	if r.RequestModel == "" {
		return served
	}
	return r.RequestModel + "→" + served
}

func (v *liveView) cell(r *Request, i int, now time.Time, loc *time.Location) string {
	u := r.Usage()
	switch i {
	case 0:
		return r.Start.In(loc).Format("15:04:05")
	case 1:
		b := r.Backend()
		switch {
		case b != "":
		case r.InFlight():
			b = "…"
		default:
			b = "-" // ended without reaching a backend
		}
		return r.API() + "→" + b
	case 2:
		return modelCell(r)
	case 3:
		return status(r)
	case 4:
		return fmtDur(r.Latency(now))
	case 5:
		return fmtDur(r.TTFT)
	}
	if r.End == nil {
		switch {
		case r.Lost:
			return "-"
		case i == 7 && r.OutputSoFar > 0:
			return outSoFar(r)
		}
		return "…"
	}
	switch i {
	case 6:
		return fmtTokens(u.InputTokens)
	case 7:
		return fmtTokens(u.OutputTokens)
	case 8:
		return fmtTokens(u.CachedInputTokens)
	case 9:
		return fmtTokens(u.ReasoningTokens)
	case 10:
		return fmtUSD(r.End.CostUSD)
	}
	return ""
}

// scroll moves the offset so the selection is on screen; Update calls it after every change.
func (v *liveView) scroll(sel, n, body int) { v.offset = scrollFor(v.offset, sel, n, body) }

// scrollFor is the offset that keeps sel among body visible rows of n, moving as little as can be.
func scrollFor(off, sel, n, body int) int {
	if body <= 0 {
		return 0
	}
	if sel < off {
		off = sel
	}
	if sel >= off+body {
		off = sel - body + 1
	}
	return max(0, min(off, n-body))
}

// view draws rows (already filtered and sorted) with sel highlighted, in width×height cells.
func (v *liveView) view(s *Styles, rows []*Request, sel int, now time.Time, loc *time.Location, width, height int, empty string) string {
	if height <= 0 {
		return ""
	}
	idx, widths := layout(liveCols, width-2)
	lines := make([]string, 0, height)
	lines = append(lines, "  "+s.ColumnHeader.Render(row(liveCols, idx, widths, func(i int) string { return liveCols[i].title })))
	if len(rows) == 0 {
		lines = append(lines, "", "  "+s.Dim.Render(empty))
		return fitLines(lines, width, height)
	}
	body := height - 1
	off := scrollFor(v.offset, sel, len(rows), body)
	for k := off; k < len(rows) && k < off+body; k++ {
		r := rows[k]
		text := row(liveCols, idx, widths, func(i int) string { return v.cell(r, i, now, loc) })
		switch {
		case k == sel:
			lines = append(lines, s.Selected.Render("› "+text))
		case r.InFlight():
			lines = append(lines, "  "+s.InFlight.Render(text))
		case r.Failed() || r.Lost:
			lines = append(lines, "  "+s.StatusErr.Render(text))
		default:
			lines = append(lines, "  "+text)
		}
	}
	return fitLines(lines, width, height)
}

// outSoFar is the output token count of a stream in flight, "~" marking the gateway's estimate
// (with one digit less past 9999, so it still fits six cells: ~12k, ~4.6M).
func outSoFar(r *Request) string {
	n := r.OutputSoFar
	switch {
	case !r.OutputEstimated:
		return fmtTokens(n)
	case n < 10000:
		return "~" + strconv.FormatInt(n, 10)
	case n < 1000000:
		return "~" + strconv.FormatInt(n/1000, 10) + "k"
	}
	return "~" + strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
}
