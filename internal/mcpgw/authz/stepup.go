package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// AllowBackend decides whether the caller (subject, the request in ctx) may reach a backend at
// all: the route's backendSelector. It guards what the backend's name does not appear in
// (resources, by URI) and filters prompt and resource lists; nil or a *DeniedError.
func (rs *Routes) AllowBackend(ctx context.Context, subject, method, backend string) error {
	a, req, ok := rs.decision(ctx, subject)
	if ok && (a == nil || a.visibleBackend(req, backend)) {
		return nil
	}
	return &DeniedError{Method: method, Tool: backend, Rule: -1, Backend: true}
}

// Guards reports whether tools/call requests to the route at path are decided by rules, so
// that a request worth a scope challenge can be decided before it is served (StepUp).
func (rs *Routes) Guards(path string) bool {
	a := rs.route(path)
	return a != nil && a.rules != nil && a.cfg.JWT != nil
}

// StepUp answers a request that err refused because the caller's token lacks scopes a rule
// names: HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`
// (RFC 6750 §3.1; the MCP authorization spec's scope step-up, so that the client can ask
// the authorization server for a token with those scopes) and the JSON-RPC error answering id.
// It reports false, writing nothing, for any other error or a route without bearer tokens.
func (rs *Routes) StepUp(w http.ResponseWriter, r *http.Request, id json.RawMessage, err error) bool {
	var d *DeniedError
	if !errors.As(err, &d) || len(d.Scopes) == 0 {
		return false
	}
	a := rs.route(r.URL.Path)
	if a == nil || a.cfg.JWT == nil {
		return false
	}
	params := []string{`error="insufficient_scope"`, fmt.Sprintf("scope=%q", strings.Join(d.Scopes, " "))}
	if u := a.MetadataURL(r); u != "" {
		params = append(params, fmt.Sprintf("resource_metadata=%q", u))
	}
	params = append(params, fmt.Sprintf("error_description=%q", d.Error()))
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	}{DeniedCode, d.Error()}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(body)
	return true
}
