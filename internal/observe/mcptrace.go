package observe

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// OnMCP traces one MCP request through the gateway as a server span, after the fact (the event
// carries its start and duration), with the OpenTelemetry GenAI conventions for MCP: the span is
// named "{mcp.method.name} {target}" (the tool or prompt), and carries mcp.method.name,
// gen_ai.tool.name or gen_ai.prompt.name, mcp.resource.uri, gen_ai.operation.name
// (execute_tool for tools/call) and error.type ("tool_error" for a tool result with isError,
// the JSON-RPC failure otherwise). A nil Tracing traces nothing.
func (t *Tracing) OnMCP(ev *MCPEvent) {
	if t == nil {
		return
	}
	name := ev.Method
	var attrs []attribute.KeyValue
	attrs = append(attrs, attribute.String("mcp.method.name", ev.Method))
	switch ev.Method {
	case "tools/call":
		attrs = append(attrs, attribute.String("gen_ai.operation.name", "execute_tool"))
		if ev.Tool != "" {
			attrs = append(attrs, attribute.String("gen_ai.tool.name", ev.Tool))
			name += " " + ev.Tool
		}
	case "prompts/get":
		if ev.Tool != "" {
			attrs = append(attrs, attribute.String("gen_ai.prompt.name", ev.Tool))
			name += " " + ev.Tool
		}
	default:
		if ev.Tool != "" && strings.HasPrefix(ev.Method, "resources/") {
			attrs = append(attrs, attribute.String("mcp.resource.uri", ev.Tool))
		}
	}
	attrs = append(attrs, attribute.String("network.transport", "tcp"), attribute.String("network.protocol.name", "http"))
	if ev.Route != "" {
		attrs = append(attrs, attribute.String("aigw.mcp.route", ev.Route))
	}
	if ev.Backend != "" {
		attrs = append(attrs, attribute.String("aigw.mcp.backend", ev.Backend))
	}
	if ev.Subject != "" {
		attrs = append(attrs, attribute.String("enduser.id", ev.Subject))
	}
	_, span := t.tracer.Start(context.Background(), name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(ev.Start), trace.WithAttributes(attrs...))
	switch ev.Status {
	case "tool_error":
		span.SetAttributes(attribute.String(attrErrorType, "tool_error"))
		span.SetStatus(codes.Error, ev.Error)
	case "error":
		span.SetAttributes(attribute.String(attrErrorType, "jsonrpc_error"))
		span.SetStatus(codes.Error, ev.Error)
	}
	span.End(trace.WithTimestamp(ev.Start.Add(ev.Duration)))
}
