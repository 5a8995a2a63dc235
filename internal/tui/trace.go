package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/aigw/aigw/internal/observe"
)

// traceView draws one request in detail: what it asked and got, its attempts as a timeline,
// its tokens and cost, and its error in full.
type traceView struct {
	offset int
}

// scroll moves the text by delta lines.
func (v *traceView) scroll(delta int) { v.offset = max(0, v.offset+delta) }

// contentHidden is what the trace says of messages and tool calls when the event stream does
// not carry them.
const contentHidden = "hidden: content capture is off (start aigw run with --capture-content to see messages here)"

// maxContentLines bounds the lines one message or value takes in the trace.
const maxContentLines = 12

func (v *traceView) lines(s *Styles, r *Request, now time.Time, loc *time.Location, width int) []string {
	if r == nil {
		return []string{"", "  " + s.Dim.Render("No request selected: press enter on a request in the Live view.")}
	}
	var out []string
	kv := func(label, value string) {
		out = append(out, "  "+s.Label.Render(fit(label, 11, false))+value)
	}
	out = append(out, "  "+s.Title.Render("Request "+r.ID))
	kind := r.Endpoint
	if r.Stream {
		kind += ", streamed"
	}
	kv("Endpoint", kind)
	kv("Started", r.Start.In(loc).Format("2006-01-02 15:04:05.000"))
	model := r.RequestModel
	if served := r.ServedModel(); served != "" && served != model {
		model += " → " + served
	}
	kv("Model", model)
	if r.End != nil && r.End.BackendModel != "" && r.End.ResponseModel != "" && r.End.BackendModel != r.End.ResponseModel {
		kv("Sent as", r.End.BackendModel)
	}
	route := r.Route
	if route == "" {
		route = "-"
	}
	kv("Route", route)
	backend := r.Backend()
	if r.End != nil && r.End.Provider != "" {
		backend += " (" + r.End.Provider + ")"
	}
	kv("Backend", backend)
	st := status(r)
	switch {
	case r.Lost:
		st = "lost: the gateway restarted or events were dropped before this request ended"
	case r.End == nil && !r.FirstTokenAt.IsZero():
		st = "in flight, streaming"
		if r.OutputSoFar > 0 {
			st += ", " + outSoFar(r) + " output tokens so far"
		}
	case r.End == nil:
		st = "in flight, waiting for the first token"
	}
	kv("Status", st)
	timing := "latency " + fmtDur(r.Latency(now))
	if r.TTFT > 0 {
		timing += ", first token " + fmtDur(r.TTFT)
	}
	kv("Timing", timing)
	if r.End != nil {
		u := r.End.Usage
		tok := fmt.Sprintf("in %d, out %d, cached %d, cache write %d, reasoning %d, total %d",
			u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheCreationInputTokens, u.ReasoningTokens, u.TotalTokens)
		if r.End.InvalidUsage {
			tok += " (the provider reported negative counts, clamped to 0)"
		}
		kv("Tokens", tok)
	} else if r.OutputSoFar > 0 && !r.Lost {
		tok := fmt.Sprintf("out %d so far", r.OutputSoFar)
		if r.OutputEstimated {
			tok = fmt.Sprintf("out ~%d so far (estimated until the end)", r.OutputSoFar)
		}
		kv("Tokens", tok)
	}
	if r.End != nil {
		cost := fmtUSD(r.End.CostUSD)
		switch {
		case r.End.CostUSD == nil:
			cost = "- (nothing billed)"
		case r.End.CostUSD.Unknown:
			cost = "unknown (the model has no price in the catalog)"
		}
		kv("Cost", cost)
		if len(r.End.Costs) > 0 {
			costs := make(map[string]string, len(r.End.Costs))
			for k, v := range r.End.Costs {
				costs[k] = strconv.FormatUint(v, 10)
			}
			kv("Metadata", sortedPairs(costs))
		}
	}
	if r.TraceID != "" {
		kv("Trace ID", r.TraceID)
	}
	if r.End != nil && len(r.End.Attributes) > 0 {
		kv("Attributes", sortedPairs(r.End.Attributes))
	}
	out = append(out, "")
	out = append(out, "  "+s.Title.Render(fmt.Sprintf("Attempts (%d)", len(r.Attempts))))
	out = append(out, v.timeline(s, r, now, width)...)
	out = append(out, "")
	out = append(out, "  "+s.Title.Render("Messages and tool calls"))
	out = append(out, v.content(s, r, width)...)
	if r.End != nil && r.End.Error != "" {
		out = append(out, "", "  "+s.Title.Render("Error"))
		for _, l := range strings.Split(ansi.Wrap(r.End.Error, max(20, width-4), " "), "\n") {
			out = append(out, "  "+s.Error.Render(l))
		}
	}
	return out
}

// content draws the request's messages and the answer's, each under its role, with the tool
// calls made and answered; text wraps to the width and is cut after maxContentLines lines.
func (v *traceView) content(s *Styles, r *Request, width int) []string {
	c := r.Content
	if c == nil {
		if r.End == nil {
			return []string{"  " + s.Dim.Render("shown when the request ends")}
		}
		return []string{"  " + s.Dim.Render(contentHidden)}
	}
	var out []string
	text := func(indent, t string) {
		wrapped := strings.Split(ansi.Wrap(t, max(20, width-len(indent)), " "), "\n")
		for i, l := range wrapped {
			if i == maxContentLines {
				out = append(out, indent+s.Dim.Render(fmt.Sprintf("… %d more lines", len(wrapped)-i)))
				break
			}
			out = append(out, indent+l)
		}
	}
	messages := func(heading string, msgs []observe.Message, raw string) {
		out = append(out, "  "+s.Label.Render(heading))
		if len(msgs) == 0 {
			if raw == "" {
				out = append(out, "    "+s.Dim.Render("none"))
				return
			}
			text("    ", raw)
			return
		}
		for _, m := range msgs {
			role := m.Role
			if role == "" {
				role = "message"
			}
			if m.Name != "" {
				role += " (" + m.Name + ")"
			}
			if m.ToolCallID != "" {
				role += " → result of " + m.ToolCallID
			}
			out = append(out, "   "+s.Title.Render(role))
			if m.Text != "" {
				text("    ", m.Text)
			}
			for _, tc := range m.ToolCalls {
				call := "⚙ " + tc.Name + "(" + tc.Arguments + ")"
				if tc.ID != "" {
					call += "  " + tc.ID
				}
				text("    ", call)
			}
		}
	}
	messages("Request", c.Input, c.InputValue)
	if r.End != nil && r.End.Failed() && len(c.Output) == 0 && c.OutputValue == "" {
		return out
	}
	messages("Answer", c.Output, c.OutputValue)
	return out
}

// timeline draws each attempt as a bar over the request's duration: an attempt runs from its
// start to its reported outcome, else to the next attempt's start (or to the end); a ▌ marks
// the first token. A failed attempt says what the backend answered, and why on a line below.
func (v *traceView) timeline(s *Styles, r *Request, now time.Time, width int) []string {
	if len(r.Attempts) == 0 {
		return []string{"  " + s.Dim.Render("none: the request did not reach a backend")}
	}
	total := r.Latency(now)
	end := r.Start.Add(total)
	const labelW = 30
	barW := width - 2 - labelW - 1 - 1 - 13 - 1 - 16 // label, bar, span, outcome
	atts := r.Attempts
	var out []string
	for i, a := range atts {
		until := end
		if i+1 < len(atts) {
			until = atts[i+1].At
		}
		if a.Ended && a.Duration > 0 {
			until = a.At.Add(a.Duration)
		}
		label := fmt.Sprintf("#%d %s", a.Try, a.Backend)
		if a.BackendModel != "" {
			label += " " + a.BackendModel
		}
		from := a.At.Sub(r.Start)
		span := "+" + fmtDur(from) + " " + fmtDur(until.Sub(a.At))
		if from <= 0 {
			span = "+0 " + fmtDur(until.Sub(a.At))
		}
		outcome := attemptOutcome(r, a, i+1 < len(atts))
		line := "  " + fit(label, labelW, false) + " "
		if barW >= 10 {
			line += v.bar(s, r, a.At, until, total, barW) + " "
		}
		line += fit(span, 13, false) + " " + outcome
		out = append(out, line)
		if a.Error != "" {
			// The error wraps under the attempt, on at most three lines.
			wrapped := strings.Split(ansi.Wrap(a.Error, max(20, width-7), " "), "\n")
			for j, l := range wrapped[:min(len(wrapped), 3)] {
				prefix := "     ↳ "
				if j > 0 {
					prefix = "       "
				}
				if j == 2 && len(wrapped) > 3 {
					l = ansi.Truncate(l, max(20, width-7)-1, "") + "…"
				}
				out = append(out, prefix+s.Error.Render(l))
			}
		}
	}
	return out
}

// attemptOutcome is an attempt's last column: the backend's status, when it answered, and
// whether another attempt followed; the last attempt's is the request's status once it ended.
func attemptOutcome(r *Request, a Attempt, retried bool) string {
	switch {
	case a.Ended && a.Status > 0 && retried:
		return strconv.Itoa(a.Status) + ", retried"
	case a.Ended && a.Status > 0:
		return strconv.Itoa(a.Status)
	case retried:
		return "failed, retried"
	case a.Ended && r.End == nil:
		return "failed"
	case r.End != nil:
		return status(r)
	}
	return ""
}

// bar draws [from, until) of a request lasting total in w cells.
func (v *traceView) bar(s *Styles, r *Request, from, until time.Time, total time.Duration, w int) string {
	if total <= 0 {
		total = 1
	}
	pos := func(t time.Time) int {
		p := int(int64(t.Sub(r.Start)) * int64(w) / int64(total))
		return max(0, min(p, w))
	}
	a, b := pos(from), pos(until)
	if b <= a {
		b = min(a+1, w)
	}
	ft := -1
	if !r.FirstTokenAt.IsZero() && !r.FirstTokenAt.Before(from) && r.FirstTokenAt.Before(until) {
		ft = min(pos(r.FirstTokenAt), w-1)
	}
	var bb strings.Builder
	for i := 0; i < w; i++ {
		switch {
		case i == ft:
			bb.WriteString(s.BarFirst.Render("▌"))
		case i >= a && i < b:
			bb.WriteString(s.BarAttempt.Render("█"))
		default:
			bb.WriteString(s.Dim.Render("·"))
		}
	}
	return bb.String()
}

// view draws the trace of r, scrolled, in width×height cells.
func (v *traceView) view(s *Styles, r *Request, now time.Time, loc *time.Location, width, height int) string {
	lines := v.lines(s, r, now, loc, width)
	off := max(0, min(v.offset, len(lines)-height))
	return fitLines(lines[off:], width, height)
}

// sortedPairs writes a map as k=v, k=v in key order.
func sortedPairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}
