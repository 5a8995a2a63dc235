package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/usage"
)

// TestGoldenViews draws scripted event sequences at 80×24 and 120×40 and compares the screens
// with testdata/<case>.out.<w>x<h>.txt. Run with -update to rewrite them after a deliberate change.
func TestGoldenViews(t *testing.T) {
	cases := []struct {
		name   string
		script func(m *Model)
	}{
		{"live", func(m *Model) {}},
		{"live_selected", func(m *Model) { m.Update(press("down")); m.Update(press("down")) }},
		{"totals", func(m *Model) { m.Update(press("2")) }},
		{"totals_stats", func(m *Model) {
			m.Update(press("2"))
			m.Update(StatsMsg{Stats: &observe.StatsSnapshot{V: 1, Since: scriptStart.Add(-time.Hour), Total: observe.StatsRow{
				Requests: 1234, Errors: 5, Tokens: usage.Usage{InputTokens: 123456, OutputTokens: 65432}, CostUSD: 1.2345,
				CostUnknown: 2, Latency: &observe.Quantiles{P50: 812, P95: 2400, Count: 1024}}}})
		}},
		// The fallback request is the seventh newest (two in flight, then 404, 502, o4-mini, llama).
		{"trace_fallback", func(m *Model) { selectID(t, m, "req-0003-fallback"); m.Update(press("enter")) }},
		{"trace_error", func(m *Model) { selectID(t, m, "req-0004-error"); m.Update(press("enter")) }},
		{"trace_streaming", func(m *Model) { selectID(t, m, "req-0007-stream"); m.Update(press("enter")) }},
		{"trace_retry", func(m *Model) { selectID(t, m, "req-0006-reason"); m.Update(press("enter")) }},
		{"trace_content", func(m *Model) {
			m.Update(EventsMsg(contentEvents()))
			selectID(t, m, "req-0009-tools")
			m.Update(press("enter"))
		}},
		{"mcp", func(m *Model) {
			m.Update(EventsMsg(mcpEvents()))
			m.Update(press("4"))
		}},
		{"filter_errors", func(m *Model) { m.Update(press("/")); typeText(m, "status:error"); m.Update(press("enter")) }},
		{"sort_cost", func(m *Model) { m.Update(press("s")); m.Update(press("s")); m.Update(press("s")) }},
		{"paused", func(m *Model) {
			m.Update(press("space"))
			m.Update(EventsMsg{{V: 1, Seq: 40, Kind: "start", Time: scriptNow, ID: "req-late"}})
		}},
		{"disconnected", func(m *Model) {
			m.Update(ConnMsg{State: Disconnected, Err: errors.New("dial tcp 127.0.0.1:1064: connect: connection refused"), Retry: 2 * time.Second})
		}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s_%dx%d", c.name, size[0], size[1]), func(t *testing.T) {
				m := newTestModel(size[0], size[1])
				m.Update(ConnMsg{State: Connected})
				m.Update(EventsMsg(loadEvents(t, "requests")))
				c.script(m)
				golden(t, fmt.Sprintf("%s.out.%dx%d.txt", c.name, size[0], size[1]), m.Render(), size[0], size[1])
			})
		}
	}
}

// TestGoldenNotConnected is the first screen when nothing listens at the admin address: an
// error that says what to do, not a blank screen.
func TestGoldenNotConnected(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		m := newTestModel(size[0], size[1])
		m.Update(ConnMsg{State: Disconnected, Err: errors.New("dial tcp 127.0.0.1:1064: connect: connection refused"), Retry: 250 * time.Millisecond})
		golden(t, fmt.Sprintf("not_connected.out.%dx%d.txt", size[0], size[1]), m.Render(), size[0], size[1])
	}
}

// selectID moves the Live selection down to the request with id.
func selectID(t *testing.T, m *Model, id string) {
	t.Helper()
	for i := 0; i < len(m.rows); i++ {
		if m.rows[m.sel].ID == id {
			return
		}
		m.Update(press("down"))
	}
	t.Fatalf("request %s not in the Live view", id)
}

// golden checks that screen is exactly w×h cells and equals the golden file.
func golden(t *testing.T, file, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n != w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i+1, n, w, l)
		}
	}
	// Trailing blanks are trimmed in the file so it reads well; the width check above is exact.
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	got := b.String()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after a deliberate change)\n--- got\n%s--- want\n%s", file, got, want)
	}
}

// contentEvents is one request whose end event carries its messages (content capture on): a
// user turn and a tool result in, a tool call out.
func contentEvents() []*observe.Event {
	id, at := "req-0009-tools", scriptNow.Add(-2*time.Second)
	return []*observe.Event{
		{V: 1, Seq: 40, Kind: observe.KindStart, Time: at, ID: id, Start: &observe.StartInfo{Operation: "chat", Endpoint: "chat_completions", RequestModel: "gpt-4o-mini"}},
		{V: 1, Seq: 41, Kind: observe.KindAttempt, Time: at, ID: id, Attempt: &observe.AttemptInfo{Try: 1, Backend: "openai", BackendModel: "gpt-4o-mini"}},
		{V: 1, Seq: 42, Kind: observe.KindEnd, Time: at.Add(800 * time.Millisecond), ID: id,
			End: &observe.RequestEvent{ID: id, Start: at, Duration: 800 * time.Millisecond, Operation: "chat", Endpoint: "chat_completions",
				Backend: "openai", RequestModel: "gpt-4o-mini", Status: 200, Attempts: 1, Usage: usage.Usage{InputTokens: 52, OutputTokens: 18, TotalTokens: 70}},
			Content: &observe.Content{
				Input: []observe.Message{
					{Role: "system", Text: "You are terse."},
					{Role: "user", Text: "What is the weather in Paris?"},
					{Role: "assistant", ToolCalls: []observe.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
					{Role: "tool", ToolCallID: "call_1", Text: `{"temp_c":21}`},
				},
				Output: []observe.Message{{Role: "assistant", Text: "21 °C and sunny in Paris."}},
			}},
	}
}

// mcpEvents are MCP gateway requests: lists, calls to two backends, a tool error and a failure.
func mcpEvents() []*observe.Event {
	var evs []*observe.Event
	add := func(sec int, method, backend, tool, status, errText string, ms int) {
		at := scriptNow.Add(time.Duration(sec-20) * time.Second)
		evs = append(evs, &observe.Event{V: 1, Seq: uint64(40 + len(evs)), Kind: observe.KindMCP, Time: at,
			MCP: &observe.MCPEvent{Start: at, Duration: time.Duration(ms) * time.Millisecond, Route: "mcp", Method: method,
				Backend: backend, Tool: tool, Subject: "dev-42", Status: status, Error: errText}})
	}
	add(1, "initialize", "", "", "ok", "", 3)
	add(2, "tools/list", "", "", "ok", "", 41)
	add(3, "tools/call", "everything", "everything__echo", "ok", "", 12)
	add(4, "tools/call", "everything", "everything__echo", "ok", "", 9)
	add(5, "tools/call", "memory", "memory__create_entities", "ok", "", 30)
	add(6, "tools/call", "memory", "memory__read_graph", "tool_error", "graph store is empty", 7)
	add(7, "tools/call", "github", "github__create_issue", "error", "backend github is down: dial tcp 10.0.0.7:443: connect: connection refused", 2)
	return evs
}
