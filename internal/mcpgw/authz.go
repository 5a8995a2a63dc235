package mcpgw

import (
	"context"
	"encoding/json"
	"net/http"
)

// Authorizer authenticates clients of an MCP route and authorises what they do. Helper B's
// authz package implements it (JWT, protected resource metadata, CEL rules); nil lets every
// client in with the empty subject.
type Authorizer interface {
	// Authenticate returns the request's subject, or an error. An error that is an
	// http.Handler writes the response itself (a 401 with WWW-Authenticate); any other is a 401.
	Authenticate(r *http.Request) (subject string, err error)
	// Allow decides one request: method ("tools/call", ...), the exposed tool (or prompt, or
	// resource) name, and its arguments. A non-nil error refuses it with its message.
	Allow(ctx context.Context, subject, method, tool string, args json.RawMessage) error
	// FilterTools keeps the exposed tool names the subject may see in tools/list.
	FilterTools(ctx context.Context, subject string, tools []string) []string
}

type subjectKey struct{}

// Subject is the authenticated subject of the request ctx belongs to ("" without auth).
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}
