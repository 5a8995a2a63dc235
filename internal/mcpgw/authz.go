package mcpgw

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/aigw/aigw/internal/mcpgw/authz"
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
	// AllowBackend decides whether the subject may reach a backend at all (an MCPRoute's
	// backendSelector): backends it refuses are not asked for lists, and their resources are
	// not read. A non-nil error refuses it with its message.
	AllowBackend(ctx context.Context, subject, method, backend string) error
}

// denied is the JSON-RPC error of a request the Authorizer refused: the error's own code when
// it has one (authz.DeniedCode), else invalid request.
func denied(err error) *jsonrpc.Error {
	code := int64(jsonrpc.CodeInvalidRequest)
	var c interface{ Code() int64 }
	if errors.As(err, &c) {
		code = c.Code()
	}
	return &jsonrpc.Error{Code: code, Message: "forbidden: " + err.Error()}
}

// reachable reports whether the session's subject may reach b (see AllowBackend).
func (s *session) reachable(ctx context.Context, method string, b *backend) error {
	az := s.rt.g.opts.Auth
	if az == nil {
		return nil
	}
	if err := az.AllowBackend(authz.WithRequest(ctx, s.rt.path, nil), s.subject, method, b.cfg.Name); err != nil {
		return denied(err)
	}
	return nil
}

type subjectKey struct{}

// Subject is the authenticated subject of the request ctx belongs to ("" without auth).
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}
