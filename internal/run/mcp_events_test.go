package run

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
)

// TestMCPEventsOnAdminStream: each MCP request is a KindMCP event on /events (what aigw tui's
// MCP view reads), with its method, backend, tool and status.
func TestMCPEventsOnAdminStream(t *testing.T) {
	a := mcpTestServer(t, "a")
	j, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"alpha": map[string]any{"url": a.URL}}})
	g := startGateway(t, Options{MCPJSON: string(j), Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir(), DataHome: t.TempDir()}})
	resp, err := http.Get(g.Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := make(chan *observe.Event, 64)
	go sseEvents(resp.Body, evs)

	cs := mcpConnect(t, g.Gateway+"/mcp", nil)
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": "hi"}}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-evs:
			if ev == nil || ev.Kind != observe.KindMCP || ev.MCP == nil || ev.MCP.Method != "tools/call" {
				continue
			}
			if m := ev.MCP; m.Backend != "alpha" || m.Tool != "alpha__echo" || m.Status != "ok" || m.Duration <= 0 {
				t.Fatalf("MCP event: %+v", m)
			}
			return
		case <-timeout:
			t.Fatal("no tools/call event on /events")
		}
	}
}

// TestMCPSpansExported: with OTLP configured, an MCP tool call is exported as a server span
// named after its method and tool.
func TestMCPSpansExported(t *testing.T) {
	a := mcpTestServer(t, "a")
	j, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"alpha": map[string]any{"url": a.URL}}})
	recv, endpoint := newHTTPReceiver(t)
	g := startGateway(t, Options{MCPJSON: string(j), Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir(), DataHome: t.TempDir()},
		Getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none")})
	cs := mcpConnect(t, g.Gateway+"/mcp", nil)
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": "hi"}}); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	g.stop(t) // flushes the exporter
	for _, s := range recv.Spans() {
		if s.Name == "tools/call alpha__echo" && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			return
		}
	}
	var names []string
	for _, s := range recv.Spans() {
		names = append(names, s.Name)
	}
	t.Fatalf("no tools/call span among %v", names)
}
