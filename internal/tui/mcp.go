package tui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/observe"
)

// mcpRecent is how many MCP calls the MCP view lists.
const mcpRecent = 500

// MCPStats is what the TUI keeps of the MCP gateway's requests: per backend and tool (or
// method, for requests that name no tool) their counts and latencies, and the latest calls.
type MCPStats struct {
	Groups map[string]*MCPGroup
	// Recent are the latest calls, oldest first, at most mcpRecent.
	Recent []*observe.MCPEvent
	Total  int64
}

// MCPGroup is one backend and tool (or method).
type MCPGroup struct {
	Backend, Name        string
	Calls, Errors, Tools int64 // Tools counts tool results with isError
	latency              ring
	LastError            string
	Last                 time.Time
}

// Latency returns the p50 and p95 of the group's most recent latencies.
func (g *MCPGroup) Latency() (p50, p95 time.Duration) { return g.latency.quantiles() }

func newMCPStats() *MCPStats { return &MCPStats{Groups: map[string]*MCPGroup{}} }

// add counts one MCP request.
func (m *MCPStats) add(ev *observe.MCPEvent) {
	m.Total++
	name := ev.Tool
	if name == "" {
		name = ev.Method
	} else if b, tool, ok := strings.Cut(name, "__"); ok && b == ev.Backend {
		name = tool
	}
	backend := ev.Backend
	if backend == "" {
		backend = "(gateway)"
	}
	key := backend + "\x00" + name
	g := m.Groups[key]
	if g == nil {
		g = &MCPGroup{Backend: backend, Name: name}
		m.Groups[key] = g
	}
	g.Calls++
	switch ev.Status {
	case "error":
		g.Errors++
		g.LastError = ev.Error
	case "tool_error":
		g.Tools++
		g.LastError = ev.Error
	}
	g.latency.add(ev.Duration)
	g.Last = ev.Start.Add(ev.Duration)
	if len(m.Recent) == mcpRecent {
		copy(m.Recent, m.Recent[1:])
		m.Recent = m.Recent[:mcpRecent-1]
	}
	m.Recent = append(m.Recent, ev)
}

// sorted lists the groups by backend, then by calls (most first), then by name.
func (m *MCPStats) sorted() []*MCPGroup {
	out := make([]*MCPGroup, 0, len(m.Groups))
	for _, g := range m.Groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *MCPGroup) int {
		if c := strings.Compare(a.Backend, b.Backend); c != 0 {
			return c
		}
		if a.Calls != b.Calls {
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// mcpCols are the columns of the MCP view's table.
var mcpCols = []column{
	{title: "BACKEND", width: 10, flex: 1},
	{title: "TOOL / METHOD", width: 14, flex: 2},
	{title: "CALLS", width: 6, right: true},
	{title: "ERR", width: 5, right: true},
	{title: "TOOLERR", width: 7, right: true, prio: 2},
	{title: "P50", width: 6, right: true},
	{title: "P95", width: 6, right: true, prio: 1},
	{title: "LAST ERROR", width: 10, flex: 2, prio: 3},
}

// mcpCallCols are the columns of the latest calls.
var mcpCallCols = []column{
	{title: "TIME", width: 8},
	{title: "METHOD", width: 14},
	{title: "TOOL", width: 12, flex: 2},
	{title: "STATUS", width: 10},
	{title: "LAT", width: 6, right: true},
	{title: "SUBJECT", width: 8, flex: 1, prio: 1},
}

// mcpView draws the MCP gateway's tool calls by backend and tool, then the latest calls.
type mcpView struct {
	offset int
}

func (v *mcpView) scroll(delta int) { v.offset = max(0, v.offset+delta) }

func (v *mcpView) lines(s *Styles, m *MCPStats, loc *time.Location, width int) []string {
	if m.Total == 0 {
		return []string{"", "  " + s.Dim.Render("No MCP requests yet. Serve MCP servers with aigw run --mcp-config FILE (or --mcp-json)"),
			"  " + s.Dim.Render("and point an MCP client at the gateway's /mcp.")}
	}
	var out []string
	idx, widths := layout(mcpCols, width-2)
	out = append(out, "  "+s.ColumnHeader.Render(row(mcpCols, idx, widths, func(i int) string { return mcpCols[i].title })))
	for _, g := range m.sorted() {
		line := row(mcpCols, idx, widths, func(i int) string {
			switch i {
			case 0:
				return g.Backend
			case 1:
				return g.Name
			case 2:
				return strconv.FormatInt(g.Calls, 10)
			case 3:
				return strconv.FormatInt(g.Errors, 10)
			case 4:
				return strconv.FormatInt(g.Tools, 10)
			case 5, 6:
				p50, p95 := g.Latency()
				return fmtDur(pick(i == 5, p50, p95))
			case 7:
				return strings.ReplaceAll(g.LastError, "\n", " ")
			}
			return ""
		})
		if g.Errors > 0 {
			line = s.StatusErr.Render(line)
		}
		out = append(out, "  "+line)
	}
	out = append(out, "", "  "+s.Title.Render("Latest calls"))
	idx, widths = layout(mcpCallCols, width-2)
	out = append(out, "  "+s.ColumnHeader.Render(row(mcpCallCols, idx, widths, func(i int) string { return mcpCallCols[i].title })))
	for i := len(m.Recent) - 1; i >= 0; i-- {
		ev := m.Recent[i]
		line := row(mcpCallCols, idx, widths, func(c int) string {
			switch c {
			case 0:
				return ev.Start.In(loc).Format("15:04:05")
			case 1:
				return ev.Method
			case 2:
				return ev.Tool
			case 3:
				return ev.Status
			case 4:
				return fmtDur(ev.Duration)
			case 5:
				return ev.Subject
			}
			return ""
		})
		if ev.Status != "ok" {
			line = s.StatusErr.Render(line)
		}
		out = append(out, "  "+line)
	}
	return out
}

func (v *mcpView) view(s *Styles, m *MCPStats, loc *time.Location, width, height int) string {
	lines := v.lines(s, m, loc, width)
	off := max(0, min(v.offset, len(lines)-height))
	return fitLines(lines[off:], width, height)
}
