package observe

import "time"

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
}
