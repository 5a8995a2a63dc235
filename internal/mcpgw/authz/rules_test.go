package authz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// callerContext authenticates a request with the token (and headers) and returns the context
// the middleware hands on.
func callerContext(t *testing.T, a *Authorizer, token string, hdr http.Header) context.Context {
	t.Helper()
	var ctx context.Context
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	req := httptest.NewRequest(http.MethodPost, "http://gw.local/mcp", nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ctx == nil {
		t.Fatalf("the middleware refused the request: %d %s", rec.Code, rec.Body)
	}
	return ctx
}

func TestRules(t *testing.T) {
	k := newECKey(t, "k")
	rule := func(allow bool, cel string) config.MCPAuthRule { return config.MCPAuthRule{Allow: allow, CEL: cel} }
	type call struct {
		claims map[string]any
		hdr    http.Header
		tool   string
		args   map[string]any
		allow  bool
		msg    string // part of the denial's message
	}
	cases := []struct {
		name  string
		az    config.MCPAuthorization
		calls []call
	}{
		{
			name: "CEL on the tool denies one tool",
			az:   config.MCPAuthorization{DefaultAllow: true, Rules: []config.MCPAuthRule{rule(false, `request.mcp.tool == "delete_repo"`)}},
			calls: []call{
				{tool: "github__delete_repo", msg: `tools/call of tool "github__delete_repo" is not allowed (authorization rule 0 denies it)`},
				{tool: "github__create_issue", allow: true},
				{tool: "gitlab__delete_repo"},
			},
		},
		{
			name: "default deny, first match wins",
			az: config.MCPAuthorization{Rules: []config.MCPAuthRule{
				rule(false, `request.mcp.params.arguments.path.startsWith("/etc")`),
				rule(true, `request.mcp.backend == "fs"`),
			}},
			calls: []call{
				{tool: "fs__read", args: map[string]any{"path": "/home/a"}, allow: true},
				{tool: "fs__read", args: map[string]any{"path": "/etc/passwd"}, msg: "rule 0 denies"},
				{tool: "fs__read", allow: true}, // no arguments: rule 0 errors, which is no match
				{tool: "web__fetch", msg: "no authorization rule allows it"},
			},
		},
		{
			name: "claims and headers in CEL",
			az: config.MCPAuthorization{Rules: []config.MCPAuthRule{
				rule(true, `request.auth.jwt.claims.org.team == "infra" && request.headers["x-env"] == "prod"`),
				rule(true, `"ops" in request.auth.jwt.claims.groups && request.method == "POST"`),
			}},
			calls: []call{
				{claims: map[string]any{"org": map[string]any{"team": "infra"}}, hdr: http.Header{"X-Env": {"prod"}}, tool: "a__b", allow: true},
				{claims: map[string]any{"org": map[string]any{"team": "infra"}}, hdr: http.Header{"X-Env": {"dev"}}, tool: "a__b"},
				{claims: map[string]any{"groups": []string{"dev", "ops"}}, tool: "a__b", allow: true},
			},
		},
		{
			name: "jwt source: scopes and claims, with target tools",
			az: config.MCPAuthorization{Rules: []config.MCPAuthRule{
				{Allow: true, Scopes: []string{"repo:write"}, Tools: []config.MCPToolRef{{Backend: "github", Tool: "create_issue"}}},
				{Allow: true, Claims: []config.MCPClaimMatch{{Name: "tenant", Values: []string{"acme"}}}, Tools: []config.MCPToolRef{{Backend: "github", Tool: "list_issues"}}},
				{Allow: true, Claims: []config.MCPClaimMatch{{Name: "roles", Values: []string{"admin"}, Array: true}}},
			}},
			calls: []call{
				{claims: map[string]any{"scope": "repo:read repo:write"}, tool: "github__create_issue", allow: true},
				{claims: map[string]any{"scope": "repo:read"}, tool: "github__create_issue", msg: "the token lacks the scopes repo:write"},
				{claims: map[string]any{"scp": []string{"repo:write"}}, tool: "github__list_issues"},
				{claims: map[string]any{"tenant": "acme"}, tool: "github__list_issues", allow: true},
				{claims: map[string]any{"tenant": []string{"acme"}}, tool: "github__list_issues"}, // String type: a list does not match
				{claims: map[string]any{"roles": []string{"user", "admin"}}, tool: "slack__post", allow: true},
				{claims: map[string]any{"roles": "admin"}, tool: "slack__post", allow: true},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			az := c.az
			a := newAuthorizer(t, &config.MCPAuth{
				JWT:           &config.MCPJWT{Issuer: testIssuer, JWKS: jwks(t, k)},
				Authorization: &az,
			}, Options{})
			for i, cl := range c.calls {
				ctx := callerContext(t, a, sign(t, k, cl.claims), cl.hdr)
				err := a.Allow(ctx, MethodToolsCall, cl.tool, cl.args)
				if (err == nil) != cl.allow {
					t.Errorf("call %d (%s): allowed=%v, want %v (%v)", i, cl.tool, err == nil, cl.allow, err)
					continue
				}
				if err != nil {
					var d *DeniedError
					if !errors.As(err, &d) || d.Code() != DeniedCode {
						t.Errorf("call %d: %T is not a *DeniedError", i, err)
					}
					if !strings.Contains(err.Error(), cl.msg) {
						t.Errorf("call %d: %q lacks %q", i, err, cl.msg)
					}
				}
				// tools/list shows a tool when a call of it without arguments would be allowed.
				if cl.args == nil && a.VisibleTool(ctx, cl.tool) != cl.allow {
					t.Errorf("call %d: VisibleTool(%s) = %v", i, cl.tool, !cl.allow)
				}
			}
		})
	}
}

func TestRulesOnlyDecideToolsCall(t *testing.T) {
	a := newAuthorizer(t, &config.MCPAuth{Authorization: &config.MCPAuthorization{}}, Options{}) // deny everything
	ctx := callerContext(t, a, "", nil)
	for _, m := range []string{"initialize", "tools/list", "prompts/get", "resources/read"} {
		if err := a.Allow(ctx, m, "", nil); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if err := a.Allow(ctx, MethodToolsCall, "x__y", nil); err == nil {
		t.Error("tools/call allowed by an authorization without rules (its default is deny)")
	}
	if a.VisibleTool(ctx, "x__y") {
		t.Error("tool visible")
	}
}

func TestBackendSelector(t *testing.T) {
	a := newAuthorizer(t, &config.MCPAuth{BackendSelector: &config.MCPAuthorization{Rules: []config.MCPAuthRule{
		{Allow: true, CEL: `("," + request.headers["x-backends"] + ",").contains("," + request.mcp.backend + ",")`},
	}}}, Options{})
	ctx := callerContext(t, a, "", http.Header{"X-Backends": {"fs,web"}})
	for b, want := range map[string]bool{"fs": true, "web": true, "github": false} {
		if got := a.VisibleBackend(ctx, b); got != want {
			t.Errorf("VisibleBackend(%s) = %v", b, got)
		}
	}
	if a.VisibleTool(ctx, "github__x") || !a.VisibleTool(ctx, "fs__read") {
		t.Error("VisibleTool ignores the backend selector")
	}
	err := a.Allow(ctx, "prompts/get", "github__p", nil)
	if err == nil || !strings.Contains(err.Error(), `MCP server "github" is not available`) {
		t.Errorf("prompts/get of a deselected backend: %v", err)
	}
	if err := a.Allow(ctx, "resources/read", "fs+file:///tmp/a__b", nil); err != nil {
		t.Errorf("a resource URI with __ taken for a backend name: %v", err)
	}
}

func TestNilAuthorizerAllows(t *testing.T) {
	var a *Authorizer
	ctx := context.Background()
	if a.Allow(ctx, MethodToolsCall, "a__b", nil) != nil || !a.VisibleTool(ctx, "a__b") || !a.VisibleBackend(ctx, "a") || a.MetadataPaths() != nil {
		t.Error("a nil Authorizer restricts")
	}
	if a, err := New(nil, Options{}); a != nil || err != nil {
		t.Error("New(nil) is not a nil Authorizer")
	}
}

func TestInvalidRule(t *testing.T) {
	_, err := New(&config.MCPAuth{Authorization: &config.MCPAuthorization{Rules: []config.MCPAuthRule{{CEL: `request.mcp.tool ==`}}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "rule 0: invalid CEL expression") {
		t.Errorf("%v", err)
	}
	if _, err := config.CompileMCPRule(`request.mcp.tool + "x"`); err == nil {
		t.Error("a string expression compiled")
	}
	// A dynamic expression compiles; one that yields a non-boolean when it runs does not match.
	a := newAuthorizer(t, &config.MCPAuth{Authorization: &config.MCPAuthorization{DefaultAllow: true, Rules: []config.MCPAuthRule{{CEL: `request.mcp.tool`}}}}, Options{})
	if err := a.Allow(callerContext(t, a, "", nil), MethodToolsCall, "a__b", nil); err != nil {
		t.Errorf("a non-boolean result matched: %v", err)
	}
}
