package observe

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestMCPSpans: an MCP request is a server span named after its method and tool, timed by the
// event, with the MCP conventions' attributes and an error status for failures and tool errors.
func TestMCPSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := NewTracing(TracingConfig{Processor: rec})
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tr.OnMCP(&MCPEvent{Start: start, Duration: 40 * time.Millisecond, Route: "mcp", Method: "tools/call",
		Backend: "github", Tool: "github__create_issue", Subject: "dev-42", Status: "tool_error", Error: "rate limited"})
	tr.OnMCP(&MCPEvent{Start: start, Duration: time.Millisecond, Route: "mcp", Method: "resources/read",
		Backend: "fs", Tool: "fs+file:///tmp/a", Status: "ok"})
	var nilTracing *Tracing
	nilTracing.OnMCP(&MCPEvent{Method: "tools/list"}) // no tracing: nothing, no panic

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	call := spans[0]
	attrs := map[string]string{}
	for _, kv := range call.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	want := map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "github__create_issue",
		"gen_ai.operation.name": "execute_tool", "error.type": "tool_error", "aigw.mcp.backend": "github", "enduser.id": "dev-42"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	if call.Name() != "tools/call github__create_issue" || call.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", call.Name(), call.SpanKind())
	}
	if call.Status().Code != codes.Error || !call.StartTime().Equal(start) || call.EndTime().Sub(call.StartTime()) != 40*time.Millisecond {
		t.Errorf("status %v, start %v, end %v", call.Status(), call.StartTime(), call.EndTime())
	}
	read := spans[1]
	if read.Name() != "resources/read" || read.Status().Code == codes.Error {
		t.Errorf("resource span %q status %v", read.Name(), read.Status())
	}
	found := false
	for _, kv := range read.Attributes() {
		found = found || (kv.Key == "mcp.resource.uri" && kv.Value.AsString() == "fs+file:///tmp/a")
	}
	if !found {
		t.Error("no mcp.resource.uri on the resource span")
	}
}
