package mcpstdio

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// This file holds what the 2026-07-28 revision asks of a server at its HTTP edge and on its
// results, which a child speaking the session revision knows nothing about: per-request
// _meta and version checks (SEP-2575), the standard and custom request headers mirrored from
// the body (SEP-2243), resultType on every result and cache hints on cacheable ones, and the
// HTTP status that goes with each protocol error.

// Error codes of the 2026-07-28 revision.
const (
	codeHeaderMismatch             = -32020
	codeMissingClientCapabilities  = -32021
	codeUnsupportedProtocolVersion = -32022
)

// HTTP headers of the 2026-07-28 revision that mirror the body.
const (
	headerMethod      = "Mcp-Method"
	headerName        = "Mcp-Name"
	headerParamPrefix = "Mcp-Param-"
)

// removedMethods are session-revision methods the 2026-07-28 revision has no more.
var removedMethods = map[string]bool{
	methodInitialize: true, methodPing: true, methodSetLevel: true, methodSubscribe: true, methodUnsubscribe: true,
}

// cacheableMethods are the methods whose results carry ttlMs and cacheScope.
var cacheableMethods = map[string]bool{
	methodDiscover: true, "tools/list": true, "prompts/list": true, "resources/list": true,
	"resources/templates/list": true, "resources/read": true,
}

// rejection is a 2026-07-28 request refused before it reaches a child.
type rejection struct {
	status int
	resp   *jsonrpc.Response
}

func reject(status int, id jsonrpc.ID, code int64, msg string, data any) *rejection {
	e := &jsonrpc.Error{Code: code, Message: msg}
	if data != nil {
		e.Data, _ = json.Marshal(data)
	}
	return &rejection{status: status, resp: &jsonrpc.Response{ID: id, Error: e}}
}

// headerValue reads a mirrored header: optional whitespace trimmed, and a value wrapped as
// =?base64?...?= decoded (strictly: bad padding or characters are an error).
func headerValue(r *http.Request, name string) (value string, present bool, err error) {
	raw, present := r.Header[http.CanonicalHeaderKey(name)]
	if !present || len(raw) == 0 {
		return "", false, nil
	}
	v := strings.TrimSpace(raw[0])
	if strings.HasPrefix(v, "=?base64?") && strings.HasSuffix(v, "?=") && len(v) >= len("=?base64??=") {
		data, err := base64.StdEncoding.Strict().DecodeString(v[len("=?base64?") : len(v)-len("?=")])
		if err != nil {
			return "", true, fmt.Errorf("%s is not valid Base64: %v", name, err)
		}
		return string(data), true, nil
	}
	return v, true, nil
}

// mirrored checks that a header mirrors a body value: present exactly when the body has it,
// and equal to it.
func mirrored(r *http.Request, id jsonrpc.ID, name string, body gjson.Result) *rejection {
	got, present, err := headerValue(r, name)
	switch {
	case err != nil:
		return reject(http.StatusBadRequest, id, codeHeaderMismatch, err.Error(), nil)
	case !body.Exists() && !present:
		return nil
	case !present:
		return reject(http.StatusBadRequest, id, codeHeaderMismatch, fmt.Sprintf("missing %s header (the body has %s)", name, body.Raw), nil)
	case !body.Exists():
		return reject(http.StatusBadRequest, id, codeHeaderMismatch, fmt.Sprintf("%s header without a body value", name), nil)
	}
	want := body.String()
	if body.Type == gjson.True || body.Type == gjson.False || body.Type == gjson.Number {
		want = body.Raw
	}
	if got != want {
		return reject(http.StatusBadRequest, id, codeHeaderMismatch,
			fmt.Sprintf("the %s header %q does not match the body's %q", name, got, want), nil)
	}
	return nil
}

// checkStateless validates a 2026-07-28 request before any child sees it: the per-request
// _meta, the version (header and _meta agree; the bridge speaks 2026-07-28), the mirrored
// headers, and methods the revision removed.
func (b *Bridge) checkStateless(r *http.Request, req *jsonrpc.Request) *rejection {
	id := req.ID
	if got, _, err := headerValue(r, headerMethod); err != nil || got != req.Method {
		return reject(http.StatusBadRequest, id, codeHeaderMismatch,
			fmt.Sprintf("the %s header %q does not match the method %q", headerMethod, got, req.Method), nil)
	}
	switch req.Method {
	case "tools/call", "prompts/get":
		if rej := mirrored(r, id, headerName, param(req.Params, "name")); rej != nil {
			return rej
		}
	case "resources/read":
		if rej := mirrored(r, id, headerName, param(req.Params, "uri")); rej != nil {
			return rej
		}
	}
	if !req.IsCall() {
		return nil
	}
	if removedMethods[req.Method] {
		return reject(http.StatusNotFound, id, codeMethodNotFound, req.Method+" is not part of the 2026-07-28 revision", nil)
	}
	meta := param(req.Params, "_meta")
	if !meta.IsObject() {
		return reject(http.StatusBadRequest, id, codeInvalidParams, "missing params._meta: a 2026-07-28 request carries its protocol version and client capabilities", nil)
	}
	version := meta.Get(gjsonEscape(metaProtocolVersion))
	if version.Type != gjson.String {
		return reject(http.StatusBadRequest, id, codeInvalidParams, "missing _meta."+metaProtocolVersion, nil)
	}
	if !meta.Get(gjsonEscape(metaClientCapabilities)).IsObject() {
		return reject(http.StatusBadRequest, id, codeInvalidParams, "missing _meta."+metaClientCapabilities, nil)
	}
	if h := r.Header.Get(headerProtocolVersion); h != version.Str {
		return reject(http.StatusBadRequest, id, codeHeaderMismatch,
			fmt.Sprintf("the %s header %q does not match _meta's %q", headerProtocolVersion, h, version.Str), nil)
	}
	if version.Str != version20260728 {
		return reject(http.StatusBadRequest, id, codeUnsupportedProtocolVersion,
			fmt.Sprintf("unsupported protocol version %q without a session (initialize for the session revisions)", version.Str),
			map[string]any{"supported": []string{version20260728}, "requested": version.Str})
	}
	if req.Method == "tools/call" {
		return b.checkParamHeaders(r, req)
	}
	return nil
}

// checkParamHeaders checks the custom headers of a tools/call: every argument the tool's input
// schema marks with x-mcp-header is mirrored in Mcp-Param-<header>.
func (b *Bridge) checkParamHeaders(r *http.Request, req *jsonrpc.Request) *rejection {
	headers := b.toolHeaders.lookup(param(req.Params, "name").Str)
	args := param(req.Params, "arguments")
	for arg, header := range headers {
		if rej := mirrored(r, req.ID, headerParamPrefix+header, args.Get(gjsonEscape(arg))); rej != nil {
			return rej
		}
	}
	return nil
}

// toolHeaderCache remembers, from the tools/list results the bridge relays, which arguments of
// which tool are mirrored in headers (x-mcp-header in the input schema).
type toolHeaderCache struct {
	mu    sync.Mutex
	tools map[string]map[string]string // tool → argument → header suffix
}

func (c *toolHeaderCache) learn(result json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tools == nil {
		c.tools = map[string]map[string]string{}
	}
	gjson.GetBytes(result, "tools").ForEach(func(_, tool gjson.Result) bool {
		headers := map[string]string{}
		tool.Get("inputSchema.properties").ForEach(func(name, prop gjson.Result) bool {
			if h := prop.Get("x-mcp-header"); h.Type == gjson.String && h.Str != "" {
				headers[name.Str] = h.Str
			}
			return true
		})
		c.tools[tool.Get("name").Str] = headers
		return true
	})
}

func (c *toolHeaderCache) lookup(tool string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tools[tool]
}

// shapeStateless completes a response for a 2026-07-28 client: a result gets resultType
// (and, if cacheable, ttlMs and cacheScope) unless the child already set them; an error gets
// the HTTP status the revision assigns to its code (0 leaves 200).
func (b *Bridge) shapeStateless(method string, resp *jsonrpc.Response) int {
	if resp.Error != nil {
		var code int64
		if e, ok := resp.Error.(*jsonrpc.Error); ok {
			code = e.Code
		}
		switch code {
		case codeMethodNotFound:
			return http.StatusNotFound
		case codeInvalidParams, codeHeaderMismatch, codeMissingClientCapabilities, codeUnsupportedProtocolVersion:
			return http.StatusBadRequest
		}
		return 0
	}
	res := resp.Result
	if len(res) == 0 || !gjson.ValidBytes(res) || !gjson.ParseBytes(res).IsObject() {
		return 0
	}
	set := func(path, raw string) {
		if !gjson.GetBytes(res, path).Exists() {
			if out, err := sjson.SetRawBytes(res, path, []byte(raw)); err == nil {
				res = out
			}
		}
	}
	// A server of the session revision may already answer a request with the shape of an
	// InputRequiredResult (inputRequests and requestState), minus the field that names it.
	if gjson.GetBytes(res, "inputRequests").IsObject() {
		set("resultType", strconv.Quote("input_required"))
	}
	set("resultType", strconv.Quote("complete"))
	if cacheableMethods[method] {
		// The bridge cannot know how long the server's answer stays true, and what a server
		// lists can depend on the client's capabilities: immediately stale, this client only.
		set("ttlMs", "0")
		set("cacheScope", strconv.Quote("private"))
	}
	if method == "tools/list" {
		b.toolHeaders.learn(res)
	}
	resp.Result = res
	return 0
}
