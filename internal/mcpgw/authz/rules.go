package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/aigw/aigw/internal/config"
)

// DeniedCode is the JSON-RPC error code of a request the rules deny.
const DeniedCode = -32003

// MethodToolsCall is the MCP method the authorization rules decide.
const MethodToolsCall = "tools/call"

// rule is a config.MCPAuthRule with its CEL program.
type rule struct {
	config.MCPAuthRule
	prg cel.Program
}

// ruleSet is an ordered list of rules and the decision when none matches.
type ruleSet struct {
	rules        []rule
	defaultAllow bool
}

func compileRules(az *config.MCPAuthorization) (*ruleSet, error) {
	if az == nil {
		return nil, nil
	}
	rs := &ruleSet{defaultAllow: az.DefaultAllow}
	for i, r := range az.Rules {
		cr := rule{MCPAuthRule: r, prg: r.Program}
		if cr.prg == nil && strings.TrimSpace(r.CEL) != "" {
			prg, err := config.CompileMCPRule(r.CEL)
			if err != nil {
				return nil, fmt.Errorf("rule %d: invalid CEL expression: %w", i, err)
			}
			cr.prg = prg
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs, nil
}

// target is what one decision is about.
type target struct {
	method, backend, tool string
	params                map[string]any
}

// decision is the outcome of a rule set: allowed or not, the rule that decided (-1: the
// default), and the scopes that would have let a denied caller in.
type decision struct {
	allow  bool
	rule   int
	scopes []string
}

// decide runs the rules in order; the first that matches decides, as the reference does. A
// rule matches when its CEL expression is true (an error or a non-boolean is no match), the
// target is one of its tools, and the caller's token has its claims and all its scopes.
func (a *Authorizer) decide(rs *ruleSet, req *request, t target) decision {
	var act map[string]any
	var need []string
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.prg != nil {
			if act == nil {
				act = activation(req, t)
			}
			out, _, err := r.prg.Eval(act)
			if err != nil {
				a.log.Debug("mcp authz: rule expression failed; the rule does not match", "rule", i, "error", err)
				continue
			}
			if b, ok := out.(types.Bool); !ok || !bool(b) {
				continue
			}
		}
		if len(r.Tools) > 0 && !slices.Contains(r.Tools, config.MCPToolRef{Backend: t.backend, Tool: t.tool}) {
			continue
		}
		if len(r.Claims) == 0 && len(r.Scopes) == 0 {
			return decision{allow: r.Allow, rule: i}
		}
		p := req.principal
		if p == nil || !claimsMatch(p.Claims, r.Claims) {
			continue
		}
		if hasAll(p.Scopes, r.Scopes) {
			return decision{allow: r.Allow, rule: i}
		}
		if r.Allow && (need == nil || len(r.Scopes) < len(need)) {
			need = r.Scopes
		}
	}
	return decision{allow: rs.defaultAllow, rule: -1, scopes: need}
}

// activation is the CEL view of a request, with the reference's attribute names.
func activation(req *request, t target) map[string]any {
	claims, scopes := map[string]any{}, []string{}
	if p := req.principal; p != nil {
		claims, scopes = p.Claims, p.Scopes
	}
	var params any
	if t.params != nil {
		params = t.params
	}
	return map[string]any{"request": map[string]any{
		"method":      req.method,
		"host":        req.host,
		"path":        req.path,
		"headers":     req.headers,
		"headers_all": req.all,
		"auth":        map[string]any{"jwt": map[string]any{"claims": claims, "scopes": scopes}},
		"mcp": map[string]any{
			"method":  t.method,
			"backend": t.backend,
			"tool":    t.tool,
			"params":  params,
		},
	}}
}

func claimsMatch(claims map[string]any, want []config.MCPClaimMatch) bool {
	for _, c := range want {
		v, ok := lookupClaim(claims, c.Name)
		if !ok {
			return false
		}
		if !claimHasValue(v, c.Values, c.Array) {
			return false
		}
	}
	return true
}

// claimHasValue reports whether a String claim equals one of values, or an element of a
// StringArray claim does (a lone string counts as a one-element array, as in the reference).
func claimHasValue(v any, values []string, array bool) bool {
	switch v := v.(type) {
	case string:
		return slices.Contains(values, v)
	case []any:
		if !array {
			return false
		}
		for _, e := range v {
			if s, ok := e.(string); ok && slices.Contains(values, s) {
				return true
			}
		}
	}
	return false
}

func hasAll(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// DeniedError is a request the rules refuse. Its message is meant for the client.
type DeniedError struct {
	Method string
	// Tool is the exposed tool name ("backend__tool"), or the backend for a backend denial.
	Tool string
	// Rule is the index of the authorization rule that denied it, or -1 (no rule allowed it).
	Rule int
	// Scopes would have allowed the call (an allow rule matched all but these scopes).
	Scopes []string
	// Backend is set when the backend selector, not the rules, refused it.
	Backend bool
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("access denied: ")
	switch {
	case e.Backend:
		fmt.Fprintf(&b, "MCP server %q is not available to this caller (backendSelector)", e.Tool)
		return b.String()
	case e.Tool != "":
		fmt.Fprintf(&b, "%s of tool %q is not allowed", e.Method, e.Tool)
	default:
		fmt.Fprintf(&b, "%s is not allowed", e.Method)
	}
	switch {
	case len(e.Scopes) > 0:
		fmt.Fprintf(&b, " (the token lacks the scopes %s)", strings.Join(e.Scopes, " "))
	case e.Rule >= 0:
		fmt.Fprintf(&b, " (authorization rule %d denies it)", e.Rule)
	default:
		b.WriteString(" (no authorization rule allows it)")
	}
	return b.String()
}

// Code is the JSON-RPC error code of the denial.
func (e *DeniedError) Code() int64 { return DeniedCode }

func requestOf(ctx context.Context) *request {
	if r, ok := ctx.Value(ctxKey{}).(*request); ok {
		return r
	}
	return &request{}
}

// splitTool splits an exposed tool name into its backend and the backend's own name.
func splitTool(name string) (backend, tool string) {
	backend, tool, ok := strings.Cut(name, config.MCPToolSeparator)
	if !ok {
		return "", name
	}
	return backend, tool
}

// Allow decides a request of the caller in ctx (put there by Middleware). For tools/call, tool
// is the exposed name ("backend__tool") and args its arguments: the backend selector and the
// authorization rules decide. The rules decide tools/call only, as the reference's do; for
// prompts/get only the backend selector applies, and other methods are allowed. It returns nil
// or a *DeniedError.
func (a *Authorizer) Allow(ctx context.Context, method, tool string, args map[string]any) error {
	if a == nil {
		return nil
	}
	return a.allow(requestOf(ctx), method, tool, args)
}

func (a *Authorizer) allow(req *request, method, tool string, args map[string]any) error {
	backend, local := splitTool(tool)
	if method != MethodToolsCall && method != "prompts/get" {
		backend = "" // a resource URI names its server otherwise; the selector is not asked
	}
	if backend != "" && !a.visibleBackend(req, backend) {
		return &DeniedError{Method: method, Tool: backend, Rule: -1, Backend: true}
	}
	if method != MethodToolsCall || a.rules == nil {
		return nil
	}
	params := map[string]any{"name": local}
	if args != nil {
		params["arguments"] = args
	}
	d := a.decide(a.rules, req, target{method: method, backend: backend, tool: local, params: params})
	if d.allow {
		return nil
	}
	return &DeniedError{Method: method, Tool: tool, Rule: d.rule, Scopes: d.scopes}
}

// VisibleTool reports whether tools/list shows a tool (exposed name) to the caller in ctx:
// whether a tools/call of it without arguments could be allowed, as the reference filters.
func (a *Authorizer) VisibleTool(ctx context.Context, tool string) bool {
	if a == nil {
		return true
	}
	return a.visibleTool(requestOf(ctx), tool)
}

func (a *Authorizer) visibleTool(req *request, tool string) bool {
	backend, local := splitTool(tool)
	if backend != "" && !a.visibleBackend(req, backend) {
		return false
	}
	if a.rules == nil {
		return true
	}
	return a.decide(a.rules, req, target{method: MethodToolsCall, backend: backend, tool: local}).allow
}

// VisibleBackend reports whether the caller in ctx may reach a backend at all (the route's
// backendSelector; every backend when it has none).
func (a *Authorizer) VisibleBackend(ctx context.Context, backend string) bool {
	if a == nil {
		return true
	}
	return a.visibleBackend(requestOf(ctx), backend)
}

func (a *Authorizer) visibleBackend(req *request, backend string) bool {
	if a.selector == nil {
		return true
	}
	return a.decide(a.selector, req, target{backend: backend}).allow
}
