package mcpstdio

import (
	"encoding/json"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// MCP method names the bridge looks at. Everything else passes through untouched.
const (
	methodInitialize          = "initialize"
	methodDiscover            = "server/discover"
	methodPing                = "ping"
	methodSetLevel            = "logging/setLevel"
	methodSubscribe           = "resources/subscribe"
	methodUnsubscribe         = "resources/unsubscribe"
	methodSubscriptionsListen = "subscriptions/listen"
	methodCreateMessage       = "sampling/createMessage"
	methodElicit              = "elicitation/create"
	methodListRoots           = "roots/list"

	notifInitialized     = "notifications/initialized"
	notifCancelled       = "notifications/cancelled"
	notifProgress        = "notifications/progress"
	notifMessage         = "notifications/message"
	notifResourceUpdated = "notifications/resources/updated"
	notifToolsChanged    = "notifications/tools/list_changed"
	notifPromptsChanged  = "notifications/prompts/list_changed"
	notifResourcesChange = "notifications/resources/list_changed"
	notifSubscriptionAck = "notifications/subscriptions/acknowledged"
)

// Protocol revisions the bridge speaks to clients. The child is always spoken to with a
// session-based (legacy) revision; 2026-07-28 clients are served statelessly by the bridge.
const (
	version20260728 = "2026-07-28"
	version20251125 = "2025-11-25"
)

// legacyVersions are the session-based revisions, newest first.
var legacyVersions = []string{version20251125, "2025-06-18", "2025-03-26", "2024-11-05"}

// Per-request _meta keys of the 2026-07-28 revision.
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaLogLevel           = "io.modelcontextprotocol/logLevel"
	metaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// JSON-RPC error codes the bridge produces.
const (
	codeParseError     = jsonrpc.CodeParseError
	codeInvalidRequest = jsonrpc.CodeInvalidRequest
	codeMethodNotFound = jsonrpc.CodeMethodNotFound
	codeInvalidParams  = jsonrpc.CodeInvalidParams
	codeInternal       = jsonrpc.CodeInternalError
	// codeUnavailable reports that the child is not running (crashed, restarting, closing).
	codeUnavailable = -32000
)

// rpcError builds a JSON-RPC error object.
func rpcError(code int64, msg string) *jsonrpc.Error {
	return &jsonrpc.Error{Code: code, Message: msg}
}

// errorResponse is a response carrying a JSON-RPC error.
func errorResponse(id jsonrpc.ID, code int64, msg string) *jsonrpc.Response {
	return &jsonrpc.Response{ID: id, Error: rpcError(code, msg)}
}

// resultResponse is a response whose result is v encoded as JSON.
func resultResponse(id jsonrpc.ID, v any) *jsonrpc.Response {
	data, err := json.Marshal(v)
	if err != nil {
		return errorResponse(id, codeInternal, "encoding result: "+err.Error())
	}
	return &jsonrpc.Response{ID: id, Result: data}
}

// emptyResult is the `{}` result of ping, setLevel, subscribe and unsubscribe.
var emptyResult = json.RawMessage(`{}`)

// param reads one field of a params object; a missing field is gjson's zero Result.
func param(params json.RawMessage, path string) gjson.Result {
	if len(params) == 0 {
		return gjson.Result{}
	}
	return gjson.GetBytes(params, path)
}

// setParam writes one field of a params object in place, creating the object if needed.
func setParam(params json.RawMessage, path string, raw string) json.RawMessage {
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage(`{}`)
	}
	out, err := sjson.SetRawBytes(params, path, []byte(raw))
	if err != nil {
		return params
	}
	return out
}

// idKey renders a JSON-RPC id (number or string) as a map key that cannot collide across types.
func idKey(id jsonrpc.ID) string {
	switch v := id.Raw().(type) {
	case int64:
		return "n" + strconv.FormatInt(v, 10)
	case string:
		return "s" + v
	default:
		return ""
	}
}

// idFromJSON converts a raw JSON id value (as found in notifications/cancelled) to an ID.
func idFromJSON(r gjson.Result) (jsonrpc.ID, bool) {
	switch r.Type {
	case gjson.Number:
		return intID(r.Int()), true
	case gjson.String:
		return strID(r.Str), true
	}
	return jsonrpc.ID{}, false
}

// idJSON is the JSON text of an id, for patching it into a params object.
func idJSON(id jsonrpc.ID) string {
	data, _ := json.Marshal(id.Raw())
	return string(data)
}

// logLevels orders MCP log levels (RFC 5424 severities) from most to least verbose.
var logLevels = map[string]int{
	"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7,
}

// levelAllows reports whether a message at level msg passes a session's threshold. An empty
// threshold lets everything through: the session never asked and sees what the child sends.
func levelAllows(threshold, msg string) bool {
	if threshold == "" {
		return true
	}
	t, ok1 := logLevels[threshold]
	m, ok2 := logLevels[msg]
	if !ok1 || !ok2 {
		return true
	}
	return m >= t
}

// capabilityFor names the client capability a server-to-client request needs.
func capabilityFor(method string) string {
	switch method {
	case methodCreateMessage:
		return "sampling"
	case methodElicit:
		return "elicitation"
	case methodListRoots:
		return "roots"
	}
	return ""
}

// capsFrom lists the capability names present in a client capabilities object.
func capsFrom(caps gjson.Result) map[string]bool {
	out := map[string]bool{}
	caps.ForEach(func(k, _ gjson.Result) bool {
		out[k.Str] = true
		return true
	})
	return out
}

// intID makes a numeric JSON-RPC id (the bridge's own ids stay far below 2^53).
func intID(n int64) jsonrpc.ID {
	id, _ := jsonrpc.MakeID(float64(n))
	return id
}

// strID makes a string JSON-RPC id.
func strID(s string) jsonrpc.ID {
	id, _ := jsonrpc.MakeID(s)
	return id
}
