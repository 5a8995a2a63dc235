package mcpstdio

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// This file handles what clients send: most requests are forwarded; the handshake, log level
// and resource subscriptions are answered or combined by the bridge, because the child is
// initialised once and shared.

// handle processes one message of session s. The answer to a request goes to stream (the
// request's own HTTP stream), or to the session's standalone stream when stream is nil.
func (m *mux) handle(ctx context.Context, s *session, msg jsonrpc.Message, stream *queue) {
	s.touch()
	switch msg := msg.(type) {
	case *jsonrpc.Response:
		m.clientResponse(s, msg)
	case *jsonrpc.Request:
		if !msg.IsCall() {
			m.clientNotification(ctx, s, msg)
			return
		}
		reply := func(resp *jsonrpc.Response) {
			m.mu.Lock()
			m.deliverLocked(s, &call{stream: stream}, resp)
			m.mu.Unlock()
		}
		switch msg.Method {
		case methodInitialize:
			reply(m.initialize(s, msg))
		case methodDiscover:
			if !s.stateless {
				// Sessions speak the session revision; this makes a 2026-07-28 client on the
				// HTTP+SSE transport fall back to initialize.
				reply(errorResponse(msg.ID, codeMethodNotFound, "server/discover is not available in a session"))
				return
			}
			reply(m.discover(msg))
		case methodSetLevel:
			m.setLevel(ctx, s, msg, stream, reply)
		case methodSubscribe:
			m.subscribe(ctx, s, msg, stream, reply)
		case methodUnsubscribe:
			m.unsubscribe(ctx, s, msg, stream, reply)
		default:
			m.forward(ctx, s, msg, stream, nil)
		}
	}
}

// forward sends a client request to the child under a bridge id.
func (m *mux) forward(ctx context.Context, s *session, req *jsonrpc.Request, stream *queue, after func(*jsonrpc.Response)) *call {
	c := &call{sess: s, clientID: req.ID, method: req.Method, stream: stream, after: after}
	if tok := param(req.Params, "_meta.progressToken"); tok.Exists() {
		c.token = json.RawMessage(tok.Raw)
	}
	if err := m.send(ctx, c, req); err != nil {
		m.mu.Lock()
		m.deliverLocked(s, &call{stream: stream}, errorResponse(req.ID, codeUnavailable, err.Error()))
		m.mu.Unlock()
		return nil
	}
	return c
}

// initialize answers a client's initialize from what the child answered the bridge: the same
// capabilities, server info and instructions, at the client's revision when it is older.
func (m *mux) initialize(s *session, req *jsonrpc.Request) *jsonrpc.Response {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.version != "" {
		return errorResponse(req.ID, codeInvalidRequest, "the session is already initialized")
	}
	res := m.init
	if res == nil {
		return errorResponse(req.ID, codeUnavailable, "the MCP server is not running")
	}
	version := res.ProtocolVersion
	if requested := param(req.Params, "protocolVersion").Str; isLegacyVersion(requested) && requested < version {
		version = requested
	}
	s.version = version
	s.caps = capsFrom(param(req.Params, "capabilities"))
	out := *res
	out.ProtocolVersion = version
	return resultResponse(req.ID, out)
}

// discover answers a 2026-07-28 server/discover from the child's initialize result.
func (m *mux) discover(req *jsonrpc.Request) *jsonrpc.Response {
	m.mu.Lock()
	res := m.init
	m.mu.Unlock()
	if res == nil {
		return errorResponse(req.ID, codeUnavailable, "the MCP server is not running")
	}
	versions := []string{version20260728}
	for _, v := range legacyVersions {
		if v <= res.ProtocolVersion {
			versions = append(versions, v)
		}
	}
	return resultResponse(req.ID, map[string]any{
		"supportedVersions": versions,
		"capabilities":      res.Capabilities,
		"instructions":      res.Instructions,
		"_meta":             map[string]any{metaServerInfo: res.ServerInfo},
	})
}

// setLevel records the session's log level; the child is asked for the most verbose level any
// session wants, and the bridge filters per session.
func (m *mux) setLevel(ctx context.Context, s *session, req *jsonrpc.Request, stream *queue, reply func(*jsonrpc.Response)) {
	level := param(req.Params, "level").Str
	if _, ok := logLevels[level]; !ok {
		reply(errorResponse(req.ID, codeInvalidParams, "unknown log level "+jsonQuote(level)))
		return
	}
	m.mu.Lock()
	before := m.minLevelLocked()
	s.logLevel = level
	after := m.minLevelLocked()
	m.mu.Unlock()
	if before == after {
		reply(&jsonrpc.Response{ID: req.ID, Result: emptyResult})
		return
	}
	forwarded := *req
	forwarded.Params, _ = json.Marshal(map[string]string{"level": after})
	m.forward(ctx, s, &forwarded, stream, nil)
}

// minLevelLocked is the most verbose level any stateful session asked for, "" if none did.
func (m *mux) minLevelLocked() string {
	best := ""
	for s := range m.sessions {
		if s.logLevel != "" && (best == "" || logLevels[s.logLevel] < logLevels[best]) {
			best = s.logLevel
		}
	}
	return best
}

// subscribe subscribes the child to a resource for the first subscriber only.
func (m *mux) subscribe(ctx context.Context, s *session, req *jsonrpc.Request, stream *queue, reply func(*jsonrpc.Response)) {
	uri := param(req.Params, "uri").Str
	if uri == "" {
		reply(errorResponse(req.ID, codeInvalidParams, "resources/subscribe needs a uri"))
		return
	}
	m.mu.Lock()
	if s.subs[uri] || m.subs[uri] > 0 {
		if !s.subs[uri] {
			s.subs[uri] = true
			m.subs[uri]++
		}
		m.mu.Unlock()
		reply(&jsonrpc.Response{ID: req.ID, Result: emptyResult})
		return
	}
	m.mu.Unlock()
	m.forward(ctx, s, req, stream, func(resp *jsonrpc.Response) {
		// Runs under m.mu when the child answers.
		if resp.Error == nil && !s.closed && !s.subs[uri] {
			s.subs[uri] = true
			m.subs[uri]++
		}
	})
}

// unsubscribe unsubscribes the child from a resource when its last subscriber leaves.
func (m *mux) unsubscribe(ctx context.Context, s *session, req *jsonrpc.Request, stream *queue, reply func(*jsonrpc.Response)) {
	uri := param(req.Params, "uri").Str
	m.mu.Lock()
	last := m.releaseSubLocked(s, uri)
	m.mu.Unlock()
	if !last {
		reply(&jsonrpc.Response{ID: req.ID, Result: emptyResult})
		return
	}
	m.forward(ctx, s, req, stream, nil)
}

// releaseSubLocked drops one subscriber of uri and reports whether it was the last one.
func (m *mux) releaseSubLocked(s *session, uri string) bool {
	if !s.subs[uri] {
		return false
	}
	delete(s.subs, uri)
	m.subs[uri]--
	if m.subs[uri] > 0 {
		return false
	}
	delete(m.subs, uri)
	return true
}

// clientNotification forwards a client notification; cancellations are mapped to bridge ids.
func (m *mux) clientNotification(ctx context.Context, s *session, n *jsonrpc.Request) {
	switch n.Method {
	case notifInitialized:
		return // the child was initialised once, by the bridge
	case notifCancelled:
		id, ok := idFromJSON(param(n.Params, "requestId"))
		if !ok {
			return
		}
		m.mu.Lock()
		c := s.calls[idKey(id)]
		var p *proc
		if c != nil {
			m.dropCallLocked(c)
			if c.stream != nil {
				c.stream.close()
			}
			if c.gen == m.gen {
				p = m.p
			}
		}
		m.mu.Unlock()
		if p != nil {
			params := setParam(n.Params, "requestId", idJSON(intID(c.bridgeID)))
			m.writeTo(p, &jsonrpc.Request{Method: n.Method, Params: params})
		}
	default:
		p, _, err := m.current(ctx)
		if err == nil {
			m.writeTo(p, n)
		}
	}
}

// clientResponse returns a client's answer (to sampling, elicitation, roots) to the child
// under the child's own request id.
func (m *mux) clientResponse(s *session, resp *jsonrpc.Response) {
	id, ok := resp.ID.Raw().(int64)
	if !ok {
		return
	}
	m.mu.Lock()
	r := m.s2c[id]
	if r == nil || r.sess != s {
		m.mu.Unlock()
		return
	}
	delete(m.s2c, id)
	delete(m.s2cByKey, idKey(r.childID))
	p := m.p
	if r.gen != m.gen {
		p = nil
	}
	m.mu.Unlock()
	m.writeTo(p, &jsonrpc.Response{ID: r.childID, Result: resp.Result, Error: resp.Error})
}

// removeSession detaches a closed session: its requests are cancelled on the child, its
// subscriptions released, and requests the child sent it are answered with an error.
func (m *mux) removeSession(s *session) {
	m.mu.Lock()
	s.closed = true
	delete(m.sessions, s)
	var cancels []int64
	for _, c := range s.calls {
		m.dropCallLocked(c)
		if c.stream != nil {
			c.stream.close()
		}
		if c.gen == m.gen {
			cancels = append(cancels, c.bridgeID)
		}
	}
	var unsub []string
	for uri := range s.subs {
		if m.releaseSubLocked(s, uri) {
			unsub = append(unsub, uri)
		}
	}
	var orphans []jsonrpc.ID
	for bid, r := range m.s2c {
		if r.sess == s {
			delete(m.s2c, bid)
			delete(m.s2cByKey, idKey(r.childID))
			if r.gen == m.gen {
				orphans = append(orphans, r.childID)
			}
		}
	}
	p := m.p
	m.mu.Unlock()
	if p == nil {
		return
	}
	for _, bid := range cancels {
		params, _ := json.Marshal(map[string]any{"requestId": bid, "reason": "the client session ended"})
		m.writeTo(p, &jsonrpc.Request{Method: notifCancelled, Params: params})
	}
	for _, id := range orphans {
		m.writeTo(p, errorResponse(id, codeUnavailable, "the client session ended"))
	}
	if len(unsub) > 0 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StopTimeout)
			defer cancel()
			for _, uri := range unsub {
				_, _ = m.callChild(ctx, methodUnsubscribe, map[string]string{"uri": uri})
			}
		}()
	}
}

func jsonQuote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
