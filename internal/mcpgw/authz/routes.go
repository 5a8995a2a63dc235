package authz

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// Routes authorises the clients of every MCP route the gateway serves (it implements
// mcpgw.Authorizer). The gateway calls Authenticate for each HTTP request, and Allow and
// FilterTools while it serves the MCP requests of a session, with a context that WithRequest
// gave the route and the HTTP headers of the request being served.
type Routes struct {
	opts Options

	mu     sync.RWMutex
	byPath map[string]*Authorizer
	meta   map[string]*Authorizer // by metadata path

	// callers remembers who presented which token (by its hash) and each subject's latest
	// principal, so that Allow and FilterTools see the claims of the request they decide.
	cmu       sync.Mutex
	byToken   map[[32]byte]*Principal
	bySubj    map[string]*Principal
	lastSweep time.Time
}

// maxCallers bounds the remembered tokens and subjects.
const maxCallers = 10000

// NewRoutes returns Routes serving no route; Update gives it the routes.
func NewRoutes(opts Options) *Routes {
	return &Routes{opts: opts, byPath: map[string]*Authorizer{}, meta: map[string]*Authorizer{},
		byToken: map[[32]byte]*Principal{}, bySubj: map[string]*Principal{}}
}

// Update builds the Authorizers of routes (those with an Auth). A route whose JWT settings did
// not change keeps its fetched keys.
func (rs *Routes) Update(routes []*config.MCPRoute) error {
	byPath, meta := map[string]*Authorizer{}, map[string]*Authorizer{}
	var oauth []*Authorizer
	rs.mu.RLock()
	old := rs.byPath
	rs.mu.RUnlock()
	for _, r := range routes {
		if r.Auth == nil {
			continue
		}
		path := r.Path
		if path == "" {
			path = config.DefaultMCPPath
		}
		opts := rs.opts
		opts.Path = path
		a, err := New(r.Auth, opts)
		if err != nil {
			return err
		}
		if prev := old[path]; prev != nil && prev.keys != nil && a.keys != nil && reflect.DeepEqual(prev.cfg.JWT, a.cfg.JWT) {
			a.keys = prev.keys
		}
		byPath[path] = a
		for _, p := range a.MetadataPaths() {
			meta[p] = a
		}
		if a.cfg.JWT != nil {
			oauth = append(oauth, a)
		}
	}
	if len(oauth) == 1 {
		// Clients that do not follow the challenge's link look at the root too; with one OAuth
		// route there is no doubt which metadata it is.
		meta[WellKnownPath] = oauth[0]
	}
	rs.mu.Lock()
	rs.byPath, rs.meta = byPath, meta
	rs.mu.Unlock()
	return nil
}

func (rs *Routes) route(path string) *Authorizer {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return rs.byPath[path]
}

// Handler returns the protected resource metadata handler when r asks for it, else nil.
func (rs *Routes) Handler(r *http.Request) http.Handler {
	rs.mu.RLock()
	a := rs.meta[r.URL.Path]
	rs.mu.RUnlock()
	if a == nil {
		return nil
	}
	return a.MetadataHandler()
}

// Authenticate checks the bearer token of a request to a route that requires one and returns
// the caller's subject ("" without authentication). A refusal is an *Unauthorized, which
// writes the 401 with its WWW-Authenticate challenge.
func (rs *Routes) Authenticate(r *http.Request) (string, error) {
	a := rs.route(r.URL.Path)
	if a == nil || r.Method == http.MethodOptions { // a CORS preflight carries no credentials
		return "", nil
	}
	p, uerr := a.authenticate(r)
	if uerr != nil {
		return "", uerr
	}
	if p == nil {
		return "", nil
	}
	token, _ := bearer(r.Header.Get("Authorization"))
	rs.remember(token, p)
	return p.Subject, nil
}

// remember records the caller of a bearer token ("" for none).
func (rs *Routes) remember(token string, p *Principal) {
	rs.cmu.Lock()
	defer rs.cmu.Unlock()
	now := time.Now()
	if len(rs.byToken) >= maxCallers || len(rs.bySubj) >= maxCallers || now.Sub(rs.lastSweep) > time.Minute {
		rs.lastSweep = now
		for k, v := range rs.byToken {
			if now.After(v.Expiry.Add(Leeway)) {
				delete(rs.byToken, k)
			}
		}
		for k, v := range rs.bySubj {
			if now.After(v.Expiry.Add(Leeway)) {
				delete(rs.bySubj, k)
			}
		}
		if len(rs.byToken) >= maxCallers {
			clear(rs.byToken) // every token still valid: their next request re-verifies them
		}
		if len(rs.bySubj) >= maxCallers {
			clear(rs.bySubj)
		}
	}
	if token != "" {
		rs.byToken[sha256.Sum256([]byte(token))] = p
	}
	rs.bySubj[p.Subject] = p
}

// caller finds the principal of the request being decided: by the token in its headers, or
// else the subject's latest (when no client request is being served, as on a reload).
func (rs *Routes) caller(subject string, h http.Header) *Principal {
	if subject == "" {
		return nil
	}
	rs.cmu.Lock()
	defer rs.cmu.Unlock()
	if token, ok := bearer(h.Get("Authorization")); ok {
		if p := rs.byToken[sha256.Sum256([]byte(token))]; p != nil && p.Subject == subject {
			return p
		}
	}
	return rs.bySubj[subject]
}

type requestKey struct{}

type routeRequest struct {
	route    string
	header   http.Header
	upstream http.Header
}

// WithRequest tells Allow and FilterTools which route a decision is for and the HTTP headers of
// the client request being served (nil when none is). With nil headers, a ctx that already
// carries the same route's request is returned as it is.
func WithRequest(ctx context.Context, route string, header http.Header) context.Context {
	if rr, ok := ctx.Value(requestKey{}).(routeRequest); ok && header == nil && rr.route == route {
		return ctx
	}
	return context.WithValue(ctx, requestKey{}, routeRequest{route: route, header: header})
}

// Detached returns a context with no deadline, cancellation or values but the caller's request
// that ctx carries (WithRequest, WithUpstreamHeaders, Middleware): for work that outlives the
// request but acts for its caller, such as opening a backend session, without the request's
// other values (the go-sdk keeps per-request protocol state in its context).
func Detached(ctx context.Context) context.Context {
	out := context.Background()
	if rr, ok := ctx.Value(requestKey{}).(routeRequest); ok {
		out = context.WithValue(out, requestKey{}, rr)
	}
	if r, ok := ctx.Value(ctxKey{}).(*request); ok {
		out = context.WithValue(out, ctxKey{}, r)
	}
	return out
}

// ClientHeader returns the HTTP headers of the client request in ctx (see WithRequest), or nil.
func ClientHeader(ctx context.Context) http.Header {
	if rr, ok := ctx.Value(requestKey{}).(routeRequest); ok {
		return rr.header
	}
	return nil
}

// WithUpstreamHeaders adds the claimToHeaders headers of the caller (subject) of the request in
// ctx (see WithRequest) to ctx; UpstreamHeaders returns them to whoever sends the request on
// to a backend.
func (rs *Routes) WithUpstreamHeaders(ctx context.Context, subject string) context.Context {
	rr, ok := ctx.Value(requestKey{}).(routeRequest)
	if !ok {
		return ctx
	}
	a, req, _ := rs.decision(ctx, subject)
	if a == nil || req.principal == nil {
		return ctx
	}
	rr.upstream = a.upstreamHeaders(req.principal)
	if rr.upstream == nil {
		return ctx
	}
	return context.WithValue(ctx, requestKey{}, rr)
}

// decision builds what the rules of the route in ctx see; nil Authorizer: the route has no
// auth. ok is false when ctx names no route while some route has auth (refuse: fail closed).
func (rs *Routes) decision(ctx context.Context, subject string) (a *Authorizer, req *request, ok bool) {
	rr, _ := ctx.Value(requestKey{}).(routeRequest)
	if rr.route == "" {
		rs.mu.RLock()
		n := len(rs.byPath)
		rs.mu.RUnlock()
		return nil, nil, n == 0
	}
	a = rs.route(rr.route)
	if a == nil {
		return nil, nil, true
	}
	req = &request{method: http.MethodPost, path: rr.route, principal: rs.caller(subject, rr.header)}
	req.setHeaders(rr.header)
	return a, req, true
}

// Allow decides one MCP request (see Authorizer.Allow); args are the tool's JSON arguments.
func (rs *Routes) Allow(ctx context.Context, subject, method, tool string, args json.RawMessage) error {
	a, req, ok := rs.decision(ctx, subject)
	if !ok {
		return &DeniedError{Method: method, Tool: tool, Rule: -1}
	}
	if a == nil {
		return nil
	}
	var m map[string]any
	if len(args) > 0 && string(args) != "null" {
		if err := json.Unmarshal(args, &m); err != nil {
			m = nil // not an object: the rules see no arguments
		}
	}
	return a.allow(req, method, tool, m)
}

// FilterTools keeps the exposed tool names the caller may see (see Authorizer.VisibleTool).
func (rs *Routes) FilterTools(ctx context.Context, subject string, tools []string) []string {
	a, req, ok := rs.decision(ctx, subject)
	if !ok {
		return nil
	}
	if a == nil {
		return tools
	}
	out := make([]string, 0, len(tools))
	for _, t := range tools {
		if a.visibleTool(req, t) {
			out = append(out, t)
		}
	}
	return out
}

// upstreamHeaders renders a caller's claims as the route's claimToHeaders say.
func (a *Authorizer) upstreamHeaders(p *Principal) http.Header {
	if p == nil {
		return nil
	}
	var h http.Header
	set := func(k, v string) {
		if h == nil {
			h = http.Header{}
		}
		h.Set(k, v)
	}
	if j := a.cfg.JWT; j != nil {
		for _, c := range j.ClaimToHeaders {
			if v, ok := claimString(p.Claims, c.Claim); ok {
				set(c.Header, v)
			}
		}
	}
	if k := a.cfg.APIKey; k != nil && k.ForwardClientIDHeader != "" && p.ClientID != "" {
		set(k.ForwardClientIDHeader, p.ClientID)
	}
	return h
}
