package observe

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MCPEvent is one MCP request through the gateway (internal/mcpgw), published when it is answered.
type MCPEvent struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	// Route is the MCP route's name; Method the JSON-RPC method ("tools/call", ...).
	Route  string `json:"route"`
	Method string `json:"method"`
	// Backend is the MCP server the request went to, "" for requests the gateway answered from
	// every backend (lists) or itself.
	Backend string `json:"backend,omitempty"`
	// Tool is the exposed tool or prompt name, or resource URI ("backend__tool").
	Tool string `json:"mcp_tool_name,omitempty"`
	// Subject is the authenticated client ("" without authorization).
	Subject string `json:"subject,omitempty"`
	// Status is "ok", "tool_error" (a tool result with isError) or "error" (a JSON-RPC error).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// ClientCapabilities and ServerCapabilities are, on an initialize request, the capabilities
	// the client declared and the gateway answered ("tools", "sampling", ...).
	ClientCapabilities []string `json:"client_capabilities,omitempty"`
	ServerCapabilities []string `json:"server_capabilities,omitempty"`
}

// MCPSubscriber receives MCP events.
type MCPSubscriber interface {
	OnMCP(ev *MCPEvent)
}

// MCPQueue delivers MCP events to subscribers off the request's goroutine; a full queue drops
// the event rather than slow an MCP request.
type MCPQueue struct {
	ch     chan *MCPEvent
	subs   []MCPSubscriber
	done   chan struct{}
	mu     sync.RWMutex
	closed bool
}

// NewMCPQueue starts delivering to subs.
func NewMCPQueue(size int, subs ...MCPSubscriber) *MCPQueue {
	q := &MCPQueue{ch: make(chan *MCPEvent, size), subs: subs, done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for ev := range q.ch {
			for _, s := range q.subs {
				s.OnMCP(ev)
			}
		}
	}()
	return q
}

// Publish queues ev; after Close it drops it.
func (q *MCPQueue) Publish(ev *MCPEvent) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return
	}
	select {
	case q.ch <- ev:
	default:
	}
}

// Close delivers what is queued and stops.
func (q *MCPQueue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	<-q.done
}

// OnMCP writes the event as an access log line with "kind": "mcp".
func (l *AccessLog) OnMCP(ev *MCPEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(struct {
		Kind string `json:"kind"`
		*MCPEvent
	}{"mcp", ev})
	l.flush()
}

// MCPMetrics records MCP requests under the reference's names (Envoy AI Gateway's
// internal/metrics/mcp_metrics.go): mcp.request.duration (seconds) and mcp.method.count by
// method, backend, tool (mcp_tool_name) and status ("success" or "error"; error.type tells a tool
// result with isError, "tool_error", from a JSON-RPC error, "jsonrpc_error"),
// mcp.initialization.duration (initialize requests), mcp.capabilities.negotiated
// (capability.type, capability.side) and mcp.progress.notifications (relayed progress), and
// aigw's own mcp.backend.unreachable.
type MCPMetrics struct {
	duration    metric.Float64Histogram
	count       metric.Int64Counter
	initialize  metric.Float64Histogram
	negotiated  metric.Int64Counter
	progress    metric.Int64Counter
	unreachable metric.Int64Counter
}

// MCPMetrics makes the MCP instruments on the metrics' provider.
func (m *Metrics) MCPMetrics() (*MCPMetrics, error) {
	meter := m.provider.Meter("github.com/aigw/aigw")
	var mm MCPMetrics
	var err error
	buckets := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
	if mm.duration, err = meter.Float64Histogram("mcp.request.duration", metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of MCP requests through the gateway")); err != nil {
		return nil, err
	}
	if mm.count, err = meter.Int64Counter("mcp.method.count", metric.WithDescription("MCP requests through the gateway")); err != nil {
		return nil, err
	}
	if mm.initialize, err = meter.Float64Histogram("mcp.initialization.duration", metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of MCP initialize requests")); err != nil {
		return nil, err
	}
	if mm.negotiated, err = meter.Int64Counter("mcp.capabilities.negotiated",
		metric.WithDescription("MCP capabilities declared at initialize, by type and side (client or server)")); err != nil {
		return nil, err
	}
	if mm.progress, err = meter.Int64Counter("mcp.progress.notifications",
		metric.WithDescription("Progress notifications relayed from backends to clients")); err != nil {
		return nil, err
	}
	if mm.unreachable, err = meter.Int64Counter("mcp.backend.unreachable",
		metric.WithDescription("Failed attempts to reach an MCP backend (its tools are left out meanwhile)")); err != nil {
		return nil, err
	}
	return &mm, nil
}

// BackendUnreachable counts one failed attempt to reach an MCP backend.
func (mm *MCPMetrics) BackendUnreachable(route, backend string) {
	mm.unreachable.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("mcp.route", route), attribute.String("mcp.backend", backend)))
}

// ProgressRelayed counts one progress notification relayed from backend to a client.
func (mm *MCPMetrics) ProgressRelayed(route, backend string) {
	mm.progress.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("mcp.route", route), attribute.String("mcp.backend", backend)))
}

// OnMCP records one request.
func (mm *MCPMetrics) OnMCP(ev *MCPEvent) {
	// The tool label only for names a backend answered for: a client's made-up names (or
	// resource URIs) must not grow the label set without bound.
	tool := ""
	if ev.Backend != "" && ev.Status != "error" && (ev.Method == "tools/call" || ev.Method == "prompts/get") {
		tool = ev.Tool
	}
	kv := make([]attribute.KeyValue, 0, 5)
	kv = append(kv,
		attribute.String("mcp.method.name", ev.Method),
		attribute.String("mcp.backend", ev.Backend),
		attribute.String("mcp_tool_name", tool),
	)
	switch ev.Status {
	case "error":
		kv = append(kv, attribute.String("status", "error"), attribute.String("error.type", "jsonrpc_error"))
	case "tool_error":
		kv = append(kv, attribute.String("status", "success"), attribute.String("error.type", "tool_error"))
	default:
		kv = append(kv, attribute.String("status", "success"))
	}
	attrs := metric.WithAttributes(kv...)
	ctx := context.Background()
	mm.duration.Record(ctx, ev.Duration.Seconds(), attrs)
	mm.count.Add(ctx, 1, attrs)
	if ev.Method != "initialize" {
		return
	}
	mm.initialize.Record(ctx, ev.Duration.Seconds(), metric.WithAttributes(attribute.String("mcp.route", ev.Route)))
	for _, side := range []struct {
		name string
		caps []string
	}{{"client", ev.ClientCapabilities}, {"server", ev.ServerCapabilities}} {
		for _, c := range side.caps {
			mm.negotiated.Add(ctx, 1, metric.WithAttributes(
				attribute.String("capability.type", c), attribute.String("capability.side", side.name)))
		}
	}
}
