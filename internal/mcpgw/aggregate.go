package mcpgw

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/mcpgw/authz"
)

// List kinds, for list_changed bookkeeping.
const (
	kindTools     = "tools"
	kindPrompts   = "prompts"
	kindResources = "resources"
)

// middleware answers every request that concerns backends from them, and leaves the rest
// (initialize, ping, logging level bookkeeping, ...) to the session's own mcp.Server.
func (s *session) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
			s.attach(ss)
		}
		var hdr http.Header
		if x := req.GetExtra(); x != nil {
			hdr = x.Header
		}
		ctx = authz.WithRequest(ctx, s.rt.path, hdr) // the route and headers the rules see
		if rs, ok := s.rt.g.opts.Auth.(*authz.Routes); ok {
			ctx = rs.WithUpstreamHeaders(ctx, s.subject) // claimToHeaders, sent by headerTransport
		}
		ev := &Event{Method: method, Subject: s.subject, Route: s.rt.name(), Start: time.Now()}
		var token any
		if c, ok := req.(*mcp.CallToolRequest); ok && c.Params != nil {
			token = c.Params.GetProgressToken()
		}
		ss, _ := req.GetSession().(*mcp.ServerSession)
		if !strings.HasPrefix(method, "notifications/") {
			// A notification is no request in flight: nothing can be sent on its behalf (its
			// HTTP response is over at once), and what a backend asks meanwhile goes elsewhere.
			var done func()
			ctx, done = s.track(ctx, ss, token)
			defer done()
		}
		res, err := s.handle(ctx, method, req, next, ev)
		ev.Duration = time.Since(ev.Start)
		if method == "initialize" {
			negotiated(ev, req, res)
		}
		switch {
		case err != nil:
			ev.Status, ev.Error = "error", err.Error()
		case isToolError(res):
			ev.Status = "tool_error"
		default:
			ev.Status = "ok"
		}
		s.rt.g.publish(ev)
		return res, err
	}
}

// negotiated puts on an initialize request's event the capabilities the client declared and
// those the gateway answered, as the reference's mcp.capabilities.negotiated counts them (one
// per experimental capability).
func negotiated(ev *Event, req mcp.Request, res mcp.Result) {
	if r, ok := req.(*mcp.InitializeRequest); ok && r.Params != nil && r.Params.Capabilities != nil {
		c := r.Params.Capabilities
		for range c.Experimental {
			ev.ClientCapabilities = append(ev.ClientCapabilities, "experimental")
		}
		if c.RootsV2 != nil || c.Roots.ListChanged {
			ev.ClientCapabilities = append(ev.ClientCapabilities, "roots")
		}
		if c.Sampling != nil {
			ev.ClientCapabilities = append(ev.ClientCapabilities, "sampling")
		}
		if c.Elicitation != nil {
			ev.ClientCapabilities = append(ev.ClientCapabilities, "elicitation")
		}
	}
	r, ok := res.(*mcp.InitializeResult)
	if !ok || r == nil || r.Capabilities == nil {
		return
	}
	c := r.Capabilities
	for range c.Experimental {
		ev.ServerCapabilities = append(ev.ServerCapabilities, "experimental")
	}
	for _, kv := range []struct {
		name string
		on   bool
	}{
		{"completions", c.Completions != nil}, {"logging", c.Logging != nil}, {"prompts", c.Prompts != nil},
		{"resources", c.Resources != nil}, {"tools", c.Tools != nil},
	} {
		if kv.on {
			ev.ServerCapabilities = append(ev.ServerCapabilities, kv.name)
		}
	}
}

func isToolError(r mcp.Result) bool {
	c, ok := r.(*mcp.CallToolResult)
	return ok && c.IsError
}

func (s *session) handle(ctx context.Context, method string, req mcp.Request, next mcp.MethodHandler, ev *Event) (mcp.Result, error) {
	cfg := s.rt.config()
	switch method {
	case "tools/list":
		return s.listTools(ctx, cfg, req.(*mcp.ListToolsRequest).Params)
	case "tools/call":
		r := req.(*mcp.CallToolRequest)
		return s.callTool(ctx, cfg, r.Params, r.ClientCapabilities(), ev)
	case "prompts/list":
		return s.listPrompts(ctx, cfg, req.(*mcp.ListPromptsRequest).Params)
	case "prompts/get":
		r := req.(*mcp.GetPromptRequest)
		return s.getPrompt(ctx, cfg, r.Params, r.ClientCapabilities(), ev)
	case "resources/list":
		return s.listResources(ctx, cfg, req.(*mcp.ListResourcesRequest).Params)
	case "resources/templates/list":
		return s.listTemplates(ctx, cfg, req.(*mcp.ListResourceTemplatesRequest).Params)
	case "resources/read":
		r := req.(*mcp.ReadResourceRequest)
		return s.readResource(ctx, cfg, r.Params, r.ClientCapabilities(), ev)
	case "logging/setLevel":
		p, _ := req.GetParams().(*mcp.SetLoggingLevelParams)
		if p == nil {
			break
		}
		s.eachBackend(ctx, cfg, func(c *mcp.InitializeResult) bool { return c.Capabilities.Logging != nil },
			func(ctx context.Context, b *backend, cs *mcp.ClientSession) error { return cs.SetLoggingLevel(ctx, p) })
	}
	return next(ctx, method, req)
}

// hopMeta is the _meta a client request's forwarded copy carries: without the protocol's own
// per-hop keys (io.modelcontextprotocol/...: the client's revision and capabilities are not the
// gateway's), and with the gateway's progress token in place of the client's.
func hopMeta(ctx context.Context, m mcp.Meta) mcp.Meta {
	tok := gatewayToken(ctx)
	if len(m) == 0 && tok == "" {
		return m
	}
	out := make(mcp.Meta, len(m))
	for k, v := range m {
		if !strings.HasPrefix(k, "io.modelcontextprotocol/") && k != "progressToken" {
			out[k] = v
		}
	}
	if tok != "" {
		out["progressToken"] = tok
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func invalidParams(format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

// eachBackend runs f, concurrently, on the session's session on every backend whose initialize
// result passes has; backends that cannot be reached are skipped (and marked down).
func (s *session) eachBackend(ctx context.Context, cfg *routeConfig, has func(*mcp.InitializeResult) bool, f func(context.Context, *backend, *mcp.ClientSession) error) {
	var wg sync.WaitGroup
	for _, b := range cfg.backends {
		if s.reachable(ctx, "", b) != nil {
			continue // the backendSelector hides it from this caller
		}
		wg.Go(func() {
			cs, err := s.conn(ctx, b)
			if err != nil {
				return
			}
			if ir := cs.InitializeResult(); ir == nil || ir.Capabilities == nil || !has(ir) {
				return
			}
			if err := f(ctx, b, cs); err != nil {
				s.broken(b, cs, err)
				b.log.Debug("MCP backend request failed", "error", err)
			}
		})
	}
	wg.Wait()
}

// collect lists one kind from every backend that offers it, in backend order.
func collect[T any](s *session, ctx context.Context, cfg *routeConfig, has func(*mcp.InitializeResult) bool, list func(context.Context, *backend, *mcp.ClientSession) ([]T, error)) []T {
	per := make([][]T, len(cfg.backends))
	index := make(map[*backend]int, len(cfg.backends))
	for i, b := range cfg.backends {
		index[b] = i
	}
	s.eachBackend(ctx, cfg, has, func(ctx context.Context, b *backend, cs *mcp.ClientSession) error {
		items, err := list(ctx, b, cs)
		per[index[b]] = items
		return err
	})
	return slices.Concat(per...)
}

// allPages follows a backend's cursors to the end.
func allPages[T any](ctx context.Context, fetch func(ctx context.Context, cursor string) ([]T, string, error)) ([]T, error) {
	var out []T
	cursor := ""
	for range 1000 {
		items, next, err := fetch(ctx, cursor)
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		if next == "" || next == cursor {
			return out, nil
		}
		cursor = next
	}
	return out, nil
}

func hasTools(r *mcp.InitializeResult) bool     { return r.Capabilities.Tools != nil }
func hasPrompts(r *mcp.InitializeResult) bool   { return r.Capabilities.Prompts != nil }
func hasResources(r *mcp.InitializeResult) bool { return r.Capabilities.Resources != nil }

// visibleTools lists the tools this session may see, with exposed names.
func (s *session) visibleTools(ctx context.Context, cfg *routeConfig) []*mcp.Tool {
	tools := collect(s, ctx, cfg, hasTools, func(ctx context.Context, b *backend, cs *mcp.ClientSession) ([]*mcp.Tool, error) {
		all, err := allPages(ctx, func(ctx context.Context, c string) ([]*mcp.Tool, string, error) {
			r, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: c})
			if err != nil {
				return nil, "", err
			}
			return r.Tools, r.NextCursor, nil
		})
		var out []*mcp.Tool
		for _, t := range all {
			if t == nil || !b.cfg.Tools.Allows(t.Name) {
				continue
			}
			c := *t
			c.Name = exposedName(b.cfg.Name, t.Name)
			out = append(out, &c)
		}
		return out, err
	})
	if az := s.rt.g.opts.Auth; az != nil {
		names := make([]string, len(tools))
		for i, t := range tools {
			names[i] = t.Name
		}
		keep := map[string]bool{}
		for _, n := range az.FilterTools(authz.WithRequest(ctx, s.rt.path, nil), s.subject, names) {
			keep[n] = true
		}
		tools = slices.DeleteFunc(tools, func(t *mcp.Tool) bool { return !keep[t.Name] })
	}
	return tools
}

func (s *session) listTools(ctx context.Context, cfg *routeConfig, p *mcp.ListToolsParams) (*mcp.ListToolsResult, error) {
	tools := s.visibleTools(ctx, cfg)
	s.remember(kindTools, names(tools, func(t *mcp.Tool) string { return t.Name }))
	cursor := ""
	if p != nil {
		cursor = p.Cursor
	}
	pg, next, err := pageOf(tools, cursor, s.rt.g.opts.PageSize)
	if err != nil {
		return nil, err
	}
	return &mcp.ListToolsResult{Tools: pg, NextCursor: next}, nil
}

func names[T any](items []T, name func(T) string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return strings.Join(out, "\x00")
}

// remember records what the client was shown, for list_changed after a reload.
func (s *session) remember(kind, visible string) {
	s.mu.Lock()
	s.seen[kind] = visible
	s.mu.Unlock()
}

// route resolves an exposed tool or prompt name to its backend and local name.
func (cfg *routeConfig) lookup(exposed string) (*backend, string, bool) {
	bn, local, ok := splitName(exposed)
	if !ok {
		return nil, "", false
	}
	b := cfg.byName[bn]
	return b, local, b != nil
}

func (s *session) callTool(ctx context.Context, cfg *routeConfig, p *mcp.CallToolParamsRaw, caps *mcp.ClientCapabilities, ev *Event) (mcp.Result, error) {
	if p == nil {
		return nil, invalidParams("missing params")
	}
	ev.Tool = p.Name
	b, tool, ok := cfg.lookup(p.Name)
	if !ok || !b.cfg.Tools.Allows(tool) {
		return nil, invalidParams("unknown tool %q", p.Name)
	}
	ev.Backend = b.cfg.Name
	if az := s.rt.g.opts.Auth; az != nil {
		if err := az.Allow(ctx, s.subject, "tools/call", p.Name, p.Arguments); err != nil {
			return nil, denied(err)
		}
	}
	var args any
	if len(p.Arguments) > 0 {
		args = json.RawMessage(p.Arguments)
	}
	q := &mcp.CallToolParams{Meta: hopMeta(ctx, p.Meta), Name: tool, Arguments: args}
	if s.suspends(p.RequestState, caps) {
		return s.callSuspendable(ctx, b, "tools/call", p.RequestState, p.InputResponses, caps, func(ctx context.Context, cs *mcp.ClientSession) (mcp.Result, error) {
			res, err := cs.CallTool(ctx, q)
			if err != nil {
				return nil, err
			}
			return res, nil
		})
	}
	cs, err := s.conn(ctx, b)
	if err != nil {
		return unavailable(b, err), nil
	}
	res, err := cs.CallTool(ctx, q)
	if err != nil {
		s.broken(b, cs, err)
		if werr, ok := answer(err); ok {
			return nil, werr
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return unavailable(b, err), nil
	}
	return res, nil
}

// unavailable is the tool result of a call whose backend could not be reached: a failed tool,
// not a protocol error, so the model sees it and can carry on.
func unavailable(b *backend, err error) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("MCP server %q is unavailable: %v", b.cfg.Name, err)}}}
}

func (s *session) listPrompts(ctx context.Context, cfg *routeConfig, p *mcp.ListPromptsParams) (*mcp.ListPromptsResult, error) {
	prompts := s.visiblePrompts(ctx, cfg)
	s.remember(kindPrompts, names(prompts, func(x *mcp.Prompt) string { return x.Name }))
	cursor := ""
	if p != nil {
		cursor = p.Cursor
	}
	pg, next, err := pageOf(prompts, cursor, s.rt.g.opts.PageSize)
	if err != nil {
		return nil, err
	}
	return &mcp.ListPromptsResult{Prompts: pg, NextCursor: next}, nil
}

// visiblePrompts lists the prompts of the backends this session may reach, with exposed names.
func (s *session) visiblePrompts(ctx context.Context, cfg *routeConfig) []*mcp.Prompt {
	return collectRenamed(s, ctx, cfg, hasPrompts,
		func(ctx context.Context, cs *mcp.ClientSession, c string) ([]*mcp.Prompt, string, error) {
			r, err := cs.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: c})
			if err != nil {
				return nil, "", err
			}
			return r.Prompts, r.NextCursor, nil
		},
		func(b *backend, x *mcp.Prompt) { x.Name = exposedName(b.cfg.Name, x.Name) })
}

// collectRenamed lists one kind of item from every backend that has it, every page, and gives
// each a copy renamed to what the client sees.
func collectRenamed[T any](s *session, ctx context.Context, cfg *routeConfig, has func(*mcp.InitializeResult) bool,
	fetch func(ctx context.Context, cs *mcp.ClientSession, cursor string) ([]*T, string, error), rename func(*backend, *T)) []*T {
	return collect(s, ctx, cfg, has, func(ctx context.Context, b *backend, cs *mcp.ClientSession) ([]*T, error) {
		all, err := allPages(ctx, func(ctx context.Context, c string) ([]*T, string, error) { return fetch(ctx, cs, c) })
		out := make([]*T, 0, len(all))
		for _, x := range all {
			if x != nil {
				c := *x
				rename(b, &c)
				out = append(out, &c)
			}
		}
		return out, err
	})
}

// pageOf is the page of a merged list that cursor asks for (never nil, so that it encodes as
// []) and the next page's cursor; a cursor the gateway did not make is invalid params.
func pageOf[T any](items []T, cursor string, size int) ([]T, string, error) {
	pg, next, ok := page(items, cursor, size)
	if !ok {
		return nil, "", invalidParams("invalid cursor")
	}
	if pg == nil {
		pg = []T{}
	}
	return pg, next, nil
}

func (s *session) getPrompt(ctx context.Context, cfg *routeConfig, p *mcp.GetPromptParams, caps *mcp.ClientCapabilities, ev *Event) (mcp.Result, error) {
	if p == nil {
		return nil, invalidParams("missing params")
	}
	ev.Tool = p.Name
	b, name, ok := cfg.lookup(p.Name)
	if !ok {
		return nil, invalidParams("unknown prompt %q", p.Name)
	}
	ev.Backend = b.cfg.Name
	if err := s.allow(ctx, "prompts/get", p.Name, p.Arguments); err != nil {
		return nil, err
	}
	q := *p
	q.Name = name
	q.Meta = hopMeta(ctx, p.Meta)
	q.InputResponses, q.RequestState = nil, "" // the gateway's, not the backend's (mrtr.go)
	if s.suspends(p.RequestState, caps) {
		return s.callSuspendable(ctx, b, "prompts/get", p.RequestState, p.InputResponses, caps, func(ctx context.Context, cs *mcp.ClientSession) (mcp.Result, error) {
			res, err := cs.GetPrompt(ctx, &q)
			if err != nil {
				return nil, err
			}
			return res, nil
		})
	}
	cs, err := s.conn(ctx, b)
	if err != nil {
		return failed("prompts/get", b, err)
	}
	res, err := cs.GetPrompt(ctx, &q)
	if err != nil {
		s.broken(b, cs, err)
		return nil, err
	}
	return res, nil
}

// allow asks the Authorizer about a request other than tools/call.
func (s *session) allow(ctx context.Context, method, name string, args any) error {
	az := s.rt.g.opts.Auth
	if az == nil {
		return nil
	}
	raw, _ := json.Marshal(args)
	if err := az.Allow(ctx, s.subject, method, name, raw); err != nil {
		return denied(err)
	}
	return nil
}

func (s *session) listResources(ctx context.Context, cfg *routeConfig, p *mcp.ListResourcesParams) (*mcp.ListResourcesResult, error) {
	res := s.visibleResources(ctx, cfg)
	s.remember(kindResources, names(res, func(x *mcp.Resource) string { return x.URI }))
	cursor := ""
	if p != nil {
		cursor = p.Cursor
	}
	pg, next, err := pageOf(res, cursor, s.rt.g.opts.PageSize)
	if err != nil {
		return nil, err
	}
	return &mcp.ListResourcesResult{Resources: pg, NextCursor: next}, nil
}

// visibleResources lists the resources of the backends this session may reach, URIs exposed.
func (s *session) visibleResources(ctx context.Context, cfg *routeConfig) []*mcp.Resource {
	return collectRenamed(s, ctx, cfg, hasResources,
		func(ctx context.Context, cs *mcp.ClientSession, c string) ([]*mcp.Resource, string, error) {
			r, err := cs.ListResources(ctx, &mcp.ListResourcesParams{Cursor: c})
			if err != nil {
				return nil, "", err
			}
			return r.Resources, r.NextCursor, nil
		},
		func(b *backend, x *mcp.Resource) { x.URI = exposedURI(b.token, x.URI) })
}

func (s *session) listTemplates(ctx context.Context, cfg *routeConfig, p *mcp.ListResourceTemplatesParams) (*mcp.ListResourceTemplatesResult, error) {
	res := collectRenamed(s, ctx, cfg, hasResources,
		func(ctx context.Context, cs *mcp.ClientSession, c string) ([]*mcp.ResourceTemplate, string, error) {
			r, err := cs.ListResourceTemplates(ctx, &mcp.ListResourceTemplatesParams{Cursor: c})
			if err != nil {
				return nil, "", err
			}
			return r.ResourceTemplates, r.NextCursor, nil
		},
		func(b *backend, x *mcp.ResourceTemplate) { x.URITemplate = exposedURI(b.token, x.URITemplate) })
	cursor := ""
	if p != nil {
		cursor = p.Cursor
	}
	pg, next, err := pageOf(res, cursor, s.rt.g.opts.PageSize)
	if err != nil {
		return nil, err
	}
	return &mcp.ListResourceTemplatesResult{ResourceTemplates: pg, NextCursor: next}, nil
}

// resource resolves an exposed resource URI.
func (cfg *routeConfig) resource(exposed string) (*backend, string, bool) {
	tok, uri, ok := splitURI(exposed)
	if !ok {
		return nil, "", false
	}
	b := cfg.byToken[tok]
	return b, uri, b != nil
}

func (s *session) readResource(ctx context.Context, cfg *routeConfig, p *mcp.ReadResourceParams, caps *mcp.ClientCapabilities, ev *Event) (mcp.Result, error) {
	if p == nil {
		return nil, invalidParams("missing params")
	}
	ev.Tool = p.URI
	b, uri, ok := cfg.resource(p.URI)
	if !ok {
		return nil, &jsonrpc.Error{Code: -32002, Message: fmt.Sprintf("resource not found: %s", p.URI)}
	}
	ev.Backend = b.cfg.Name
	if err := s.reachable(ctx, "resources/read", b); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "resources/read", p.URI, nil); err != nil {
		return nil, err
	}
	q := *p
	q.URI = uri
	q.Meta = hopMeta(ctx, p.Meta)
	q.InputResponses, q.RequestState = nil, "" // the gateway's, not the backend's (mrtr.go)
	if s.suspends(p.RequestState, caps) {
		return s.callSuspendable(ctx, b, "resources/read", p.RequestState, p.InputResponses, caps, func(ctx context.Context, cs *mcp.ClientSession) (mcp.Result, error) {
			res, err := cs.ReadResource(ctx, &q)
			if err != nil {
				return nil, err
			}
			exposeContents(b, res)
			return res, nil
		})
	}
	cs, err := s.conn(ctx, b)
	if err != nil {
		return failed("resources/read", b, err)
	}
	res, err := cs.ReadResource(ctx, &q)
	if err != nil {
		s.broken(b, cs, err)
		return nil, err
	}
	exposeContents(b, res)
	return res, nil
}

// exposeContents gives the contents of a read resource the URIs the client knows.
func exposeContents(b *backend, res *mcp.ReadResourceResult) {
	for _, c := range res.Contents {
		if c != nil && c.URI != "" {
			c.URI = exposedURI(b.token, c.URI)
		}
	}
}

func (s *session) subscribe(ctx context.Context, r *mcp.SubscribeRequest) error {
	err := s.subscription(ctx, r.Params.URI, func(cs *mcp.ClientSession, uri string) error {
		return cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri})
	})
	if err == nil {
		s.mu.Lock()
		s.subs[r.Params.URI] = true
		s.mu.Unlock()
	}
	return err
}

func (s *session) unsubscribe(ctx context.Context, r *mcp.UnsubscribeRequest) error {
	s.mu.Lock()
	delete(s.subs, r.Params.URI)
	s.mu.Unlock()
	return s.subscription(ctx, r.Params.URI, func(cs *mcp.ClientSession, uri string) error {
		return cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uri})
	})
}

func (s *session) subscription(ctx context.Context, exposed string, f func(*mcp.ClientSession, string) error) error {
	b, uri, ok := s.rt.config().resource(exposed)
	if !ok {
		return invalidParams("unknown resource %q", exposed)
	}
	if err := s.reachable(ctx, "resources/subscribe", b); err != nil {
		return err
	}
	cs, err := s.conn(ctx, b)
	if err != nil {
		return err
	}
	if err := f(cs, uri); err != nil {
		s.broken(b, cs, err)
		return err
	}
	return nil
}

func (s *session) complete(ctx context.Context, r *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	cfg := s.rt.config()
	p := *r.Params
	if p.Ref == nil {
		return nil, invalidParams("completion without a ref")
	}
	ref := *p.Ref
	var b *backend
	var ok bool
	switch ref.Type {
	case "ref/prompt":
		b, ref.Name, ok = cfg.lookup(ref.Name)
	case "ref/resource":
		b, ref.URI, ok = cfg.resource(ref.URI)
	}
	if !ok {
		return nil, invalidParams("unknown completion reference")
	}
	if err := s.reachable(ctx, "completion/complete", b); err != nil {
		return nil, err
	}
	p.Ref = &ref
	cs, err := s.conn(ctx, b)
	if err != nil {
		return nil, err
	}
	if ir := cs.InitializeResult(); ir == nil || ir.Capabilities == nil || ir.Capabilities.Completions == nil {
		return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}, nil
	}
	res, err := cs.Complete(ctx, &p)
	if err != nil {
		s.broken(b, cs, err)
	}
	return res, err
}
