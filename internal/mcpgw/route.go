package mcpgw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw/authz"
)

// route serves one MCP route: its go-sdk streamable HTTP handler (one mcp.Server per client
// session, see session.go) and the backends of the configuration in force.
type route struct {
	g    *Gateway
	path string
	cfg  atomic.Pointer[routeConfig]
	sdk  http.Handler
	// probe answers the go-sdk's protocol version check of requests that are not new sessions.
	probe *mcp.Server

	// sdkStateless serves 2026-07-28 requests (no session; statelessServer).
	sdkStateless http.Handler

	mu        sync.Mutex
	sessions  map[*session]bool
	stateless map[string]*session // by subject
	swept     time.Time           // the last sweep of idle stateless sessions
	closed    bool
}

// routeConfig is a route's configuration with its running backends; replaced whole on reload.
type routeConfig struct {
	route    *config.MCPRoute
	backends []*backend
	byName   map[string]*backend
	byToken  map[string]*backend
}

func newRoute(g *Gateway, path string) *route {
	rt := &route{g: g, path: path, sessions: map[*session]bool{}, stateless: map[string]*session{}}
	rt.probe = mcp.NewServer(&mcp.Implementation{Name: "aigw", Version: g.opts.Version}, nil)
	rt.cfg.Store(&routeConfig{route: &config.MCPRoute{Path: path}, byName: map[string]*backend{}, byToken: map[string]*backend{}})
	rt.sdk = mcp.NewStreamableHTTPHandler(rt.newSession, &mcp.StreamableHTTPOptions{
		Logger:              g.log,
		SessionTimeout:      g.opts.SessionIdleTimeout,
		MaxRequestBodyBytes: g.opts.MaxBodyBytes,
	})
	rt.sdkStateless = mcp.NewStreamableHTTPHandler(rt.statelessServer, &mcp.StreamableHTTPOptions{
		Logger:                       g.log,
		Stateless:                    true,
		MaxRequestBodyBytes:          g.opts.MaxBodyBytes,
		PropagateRequestCancellation: true,
	})
	return rt
}

func (rt *route) config() *routeConfig { return rt.cfg.Load() }

func (rt *route) name() string { return rt.config().route.Name }

// update swaps in rc: unchanged backends are kept, new ones started, removed ones stopped once
// no session uses them.
func (rt *route) update(rc *config.MCPRoute) {
	old := rt.config()
	cur := &routeConfig{route: rc, byName: map[string]*backend{}, byToken: map[string]*backend{}}
	tokens := uniqueTokens(rc.Backends)
	keep := map[*backend]bool{}
	for i, bc := range rc.Backends {
		b := old.byName[bc.Name]
		if b == nil || b.print != fingerprint(bc) || b.token != tokens[i] {
			b = newBackend(bc, rt.g.log)
			if f := rt.g.opts.BackendUnreachable; f != nil {
				route, name := rc.Name, bc.Name
				b.unreachable = func(error) { f(route, name) }
			}
			b.token = tokens[i]
			if bc.Stdio() {
				go b.start(rt.g.ctx) // errors are logged by start; sessions retry
			}
		}
		keep[b] = true
		cur.backends = append(cur.backends, b)
		cur.byName[bc.Name] = b
		cur.byToken[b.token] = b
	}
	rt.cfg.Store(cur)
	for _, b := range old.backends {
		if !keep[b] {
			b.close()
		}
	}
	changed := len(old.backends) != len(cur.backends)
	for i := range cur.backends {
		if !changed && old.backends[i] != cur.backends[i] {
			changed = true
		}
	}
	if !changed && authPrint(old.route.Auth) == authPrint(rc.Auth) {
		return
	}
	// Backends or authorization changed: what a session may see may have changed too.
	for _, s := range rt.list() {
		s.dropConns(keep)
		go s.recheck(rt.g.ctx, cur)
	}
}

// authPrint is what an authorization configuration says, to tell whether a reload changed it
// (compiled CEL programs left out: their source is compared).
func authPrint(a *config.MCPAuth) string {
	if a == nil {
		return ""
	}
	c := *a
	strip := func(az *config.MCPAuthorization) *config.MCPAuthorization {
		if az == nil {
			return nil
		}
		out := *az
		out.Rules = make([]config.MCPAuthRule, len(az.Rules))
		for i, r := range az.Rules {
			r.Program = nil
			out.Rules[i] = r
		}
		return &out
	}
	c.Authorization, c.BackendSelector = strip(a.Authorization), strip(a.BackendSelector)
	j, _ := json.Marshal(c)
	return string(j)
}

// recheck sends list_changed for every list the client has seen that differs now.
func (s *session) recheck(ctx context.Context, cfg *routeConfig) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	lists := map[string]func() string{
		kindTools: func() string { return names(s.visibleTools(ctx, cfg), func(t *mcp.Tool) string { return t.Name }) },
		kindPrompts: func() string {
			return names(s.visiblePrompts(ctx, cfg), func(x *mcp.Prompt) string { return x.Name })
		},
		kindResources: func() string {
			return names(s.visibleResources(ctx, cfg), func(x *mcp.Resource) string { return x.URI })
		},
	}
	for kind, list := range lists {
		s.mu.Lock()
		before, saw := s.seen[kind]
		s.mu.Unlock()
		if !saw {
			continue
		}
		if now := list(); now != before {
			s.remember(kind, now)
			s.notify(kind)
		}
	}
}

// hidden is a name registered on a session's own mcp.Server for an instant: the go-sdk sends
// list_changed to a server's sessions when its lists change, and has no other way to send one.
// The gateway answers lists itself, so no client ever sees it.
const hidden = "aigw-list-changed"

// notify sends the client notifications/<kind>/list_changed.
func (s *session) notify(kind string) {
	switch kind {
	case kindTools:
		s.srv.AddTool(&mcp.Tool{Name: hidden, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
		s.srv.RemoveTools(hidden)
	case kindPrompts:
		s.srv.AddPrompt(&mcp.Prompt{Name: hidden}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) { return nil, nil })
		s.srv.RemovePrompts(hidden)
	case kindResources:
		uri := "aigw:" + hidden
		s.srv.AddResource(&mcp.Resource{URI: uri, Name: hidden}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) { return nil, nil })
		s.srv.RemoveResources(uri)
	}
}

func (rt *route) add(s *session) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return false
	}
	rt.sessions[s] = true
	return true
}

func (rt *route) remove(s *session) {
	rt.mu.Lock()
	delete(rt.sessions, s)
	rt.mu.Unlock()
}

func (rt *route) list() []*session {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]*session, 0, len(rt.sessions))
	for s := range rt.sessions {
		out = append(out, s)
	}
	return out
}

// close ends the route's sessions and stops its backends.
func (rt *route) close() {
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	for _, s := range rt.list() {
		s.mu.Lock()
		ss := s.ss
		s.mu.Unlock()
		if ss != nil {
			ss.Close()
		}
		s.close()
	}
	for _, b := range rt.config().backends {
		b.close()
	}
}

// Handler returns the handler of the MCP route r is for, or nil when r's path is none.
func (g *Gateway) Handler(r *http.Request) http.Handler {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rt := g.routes[r.URL.Path]; rt != nil {
		return rt
	}
	if rs, ok := g.opts.Auth.(*authz.Routes); ok {
		return rs.Handler(r) // protected resource metadata (RFC 9728) of routes with OAuth
	}
	return nil
}

// ServeHTTP serves MCP routes, 404 for other paths.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.Handler(r); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	writeRPCError(w, http.StatusNotFound, -32601, "no MCP route at "+r.URL.Path)
}

// ServeHTTP checks the Origin, authenticates the client, refuses session ids that are not its
// own, then lets the go-sdk handler serve the request.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !originAllowed(r) {
		writeRPCError(w, http.StatusForbidden, -32600, "forbidden: Origin "+r.Header.Get("Origin")+" is not allowed")
		return
	}
	subject := ""
	if az := rt.g.opts.Auth; az != nil {
		var err error
		subject, err = az.Authenticate(r)
		if err != nil {
			if h, ok := err.(http.Handler); ok {
				h.ServeHTTP(w, r)
				return
			}
			writeRPCError(w, http.StatusUnauthorized, -32600, "unauthorized: "+err.Error())
			return
		}
	}
	modern := false
	if r.Method == http.MethodPost {
		// The body is read whole here (it is one JSON-RPC message, bounded), so that the read
		// deadline a data plane may have set for it can be lifted before a long response.
		body, err := io.ReadAll(io.LimitReader(r.Body, rt.g.opts.MaxBodyBytes+1))
		if err != nil {
			writeRPCError(w, http.StatusBadRequest, -32700, "reading the request body: "+err.Error())
			return
		}
		if int64(len(body)) > rt.g.opts.MaxBodyBytes {
			writeRPCError(w, http.StatusRequestEntityTooLarge, -32600, fmt.Sprintf("request body exceeds %d bytes", rt.g.opts.MaxBodyBytes))
			return
		}
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		if isBatch(body) {
			writeRPCError(w, http.StatusBadRequest, -32600, "JSON-RPC batches are not supported (removed in MCP 2025-06-18)")
			return
		}
		if rt.stepUp(w, r, subject, body) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		modern = isModern(r, body)
	}
	ctx := context.WithValue(r.Context(), subjectKey{}, subject)
	if modern {
		// 2026-07-28: no session; each request says who it is (server/discover first).
		rt.sdkStateless.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	if id := r.Header.Get("Mcp-Session-Id"); id != "" && !rt.g.ids.valid(id, subject) {
		writeRPCError(w, http.StatusNotFound, -32600, "session not found")
		return
	}
	rt.sdk.ServeHTTP(w, r.WithContext(ctx))
}

// stepUp decides a tools/call before it is served when the route's rules could refuse it for
// want of scopes, and answers such a refusal with 403 and an insufficient_scope challenge
// (authz.Routes.StepUp): a JSON-RPC error inside a 200 would not tell an OAuth client to get a
// token with more scopes. Other refusals are left to the session (a JSON-RPC error).
func (rt *route) stepUp(w http.ResponseWriter, r *http.Request, subject string, body []byte) bool {
	rs, ok := rt.g.opts.Auth.(*authz.Routes)
	if !ok || !rs.Guards(rt.path) {
		return false
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &m) != nil || m.Method != "tools/call" {
		return false
	}
	err := rs.Allow(authz.WithRequest(r.Context(), rt.path, r.Header), subject, "tools/call", m.Params.Name, m.Params.Arguments)
	return err != nil && rs.StepUp(w, r, m.ID, err)
}

// modernRevision is the first protocol revision without sessions.
const modernRevision = "2026-07-28"

// isModern reports whether a POST speaks the 2026-07-28 revision: its MCP-Protocol-Version
// header, or the protocol version in its _meta, or server/discover (which a client sends to
// learn the revisions, before it has chosen one).
func isModern(r *http.Request, body []byte) bool {
	if v := r.Header.Get("MCP-Protocol-Version"); v != "" {
		return v >= modernRevision
	}
	var m struct {
		Method string `json:"method"`
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	if m.Method == "server/discover" {
		return true
	}
	v, _ := m.Params.Meta[mcp.MetaKeyProtocolVersion].(string)
	return v >= modernRevision
}

// isBatch reports whether body is a JSON array.
func isBatch(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '['
}

// originAllowed guards browsers against DNS rebinding: an Origin, when sent, must be a loopback
// origin or the request's own host.
func originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func writeRPCError(w http.ResponseWriter, status int, code int, msg string) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
