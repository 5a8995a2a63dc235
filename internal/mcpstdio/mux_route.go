package mcpstdio

import (
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// This file routes what the child sends to the sessions it belongs to.

func (m *mux) fromChild(msg jsonrpc.Message) {
	switch msg := msg.(type) {
	case *jsonrpc.Response:
		id, ok := msg.ID.Raw().(int64)
		if !ok {
			m.log.Debug("dropping a response with a foreign id", "id", msg.ID.Raw())
			return
		}
		m.mu.Lock()
		if c := m.calls[id]; c != nil {
			m.finishLocked(c, msg)
		}
		m.mu.Unlock()
	case *jsonrpc.Request:
		if msg.IsCall() {
			m.childRequest(msg)
		} else {
			m.childNotification(msg)
		}
	}
}

// triggers lists the requests during which a server may ask the client for something.
var triggers = map[string]bool{
	"tools/call": true, "prompts/get": true, "resources/read": true, "completion/complete": true,
}

// routeLocked picks the session a request from the child is meant for. The stdio wire does
// not say which client request triggered it, so the bridge picks the most recent in-flight
// request (tools/call, prompts/get, resources/read, completion) of a session that declared the
// needed capability; with one such request in flight — the usual case — this is exact.
// Without one (a roots/list after a list_changed, say) it picks the most recently active
// session with the capability.
func (m *mux) routeLocked(capability string) (*session, *call) {
	var best *call
	for _, c := range m.calls {
		if c.sess == nil || c.sess.closed || !triggers[c.method] {
			continue
		}
		if capability != "" && !c.sess.caps[capability] {
			continue
		}
		if best == nil || c.bridgeID > best.bridgeID {
			best = c
		}
	}
	if best != nil {
		return best.sess, best
	}
	var bs *session
	for s := range m.sessions {
		if capability != "" && !s.caps[capability] {
			continue
		}
		if bs == nil || s.lastUsed.Load() > bs.lastUsed.Load() {
			bs = s
		}
	}
	return bs, nil
}

// childRequest forwards a request of the child (sampling, elicitation, roots) to one session
// under a bridge id, or answers it when no session can.
func (m *mux) childRequest(req *jsonrpc.Request) {
	m.mu.Lock()
	p := m.p
	if req.Method == methodPing {
		m.mu.Unlock()
		m.writeTo(p, &jsonrpc.Response{ID: req.ID, Result: emptyResult})
		return
	}
	capability := capabilityFor(req.Method)
	s, c := m.routeLocked(capability)
	if s == nil {
		m.mu.Unlock()
		what := capability
		if what == "" {
			what = req.Method
		}
		if req.Method == methodListRoots {
			// No client offers roots: an empty list is the truthful answer.
			m.writeTo(p, &jsonrpc.Response{ID: req.ID, Result: []byte(`{"roots":[]}`)})
			return
		}
		m.writeTo(p, errorResponse(req.ID, codeMethodNotFound, "no connected client supports "+what))
		return
	}
	m.nextID++
	bid := m.nextID
	r := &s2cReq{childID: req.ID, sess: s, call: c, method: req.Method, params: req.Params, gen: m.gen}
	m.s2c[bid] = r
	m.s2cByKey[idKey(req.ID)] = bid
	if s.stateless {
		m.inputRequiredLocked(c, bid, r)
	} else {
		m.deliverLocked(s, c, &jsonrpc.Request{ID: intID(bid), Method: req.Method, Params: req.Params})
	}
	m.mu.Unlock()
}

// writeTo sends msg to the child p, logging failures (the child may just have died).
func (m *mux) writeTo(p *proc, msg jsonrpc.Message) {
	if p == nil {
		return
	}
	if err := m.write(p, msg); err != nil {
		m.log.Debug("writing to MCP server", "server", m.cfg.Name, "err", err)
	}
}

// childNotification routes a notification of the child: progress and cancellations to the
// session they belong to, resource updates to subscribers, list changes and log messages to
// every session (log messages filtered by each session's level).
func (m *mux) childNotification(n *jsonrpc.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch n.Method {
	case notifProgress:
		tok := param(n.Params, "progressToken")
		id, ok := tok.Value().(float64)
		if !ok {
			return
		}
		c := m.calls[int64(id)]
		if c == nil || c.sess == nil || c.token == nil {
			return
		}
		params := setParam(n.Params, "progressToken", string(c.token))
		m.deliverLocked(c.sess, c, &jsonrpc.Request{Method: n.Method, Params: params})
	case notifCancelled:
		id, ok := idFromJSON(param(n.Params, "requestId"))
		if !ok {
			return
		}
		bid, ok := m.s2cByKey[idKey(id)]
		if !ok {
			return
		}
		r := m.s2c[bid]
		delete(m.s2c, bid)
		delete(m.s2cByKey, idKey(id))
		if r == nil || r.sess.stateless {
			return
		}
		params := setParam(n.Params, "requestId", idJSON(intID(bid)))
		m.deliverLocked(r.sess, r.call, &jsonrpc.Request{Method: n.Method, Params: params})
	case notifMessage:
		level := param(n.Params, "level").Str
		for s := range m.sessions {
			if levelAllows(s.logLevel, level) {
				m.deliverLocked(s, nil, n)
			}
		}
		// Stateless requests receive log messages on their own stream if they asked for a level.
		seen := map[*session]bool{}
		for _, c := range m.calls {
			if s := c.sess; s != nil && s.stateless && s.logLevel != "" && !seen[s] && c.stream != nil {
				seen[s] = true
				if levelAllows(s.logLevel, level) {
					c.stream.push(n)
				}
			}
		}
	case notifResourceUpdated:
		uri := param(n.Params, "uri").Str
		for s := range m.sessions {
			for sub := range s.subs {
				if uriCovers(sub, uri) {
					m.deliverLocked(s, nil, n)
					break
				}
			}
		}
		for l := range m.listeners {
			for _, sub := range l.want.uris {
				if uriCovers(sub, uri) {
					l.notify(n)
					break
				}
			}
		}
	case notifToolsChanged, notifPromptsChanged, notifResourcesChange:
		for s := range m.sessions {
			m.deliverLocked(s, nil, n)
		}
		for l := range m.listeners {
			if l.want.wants(n.Method) {
				l.notify(n)
			}
		}
	default:
		for s := range m.sessions {
			m.deliverLocked(s, nil, n)
		}
	}
}

// uriCovers reports whether an update of uri concerns a subscription to sub: the resource
// itself or, as the spec allows, a sub-resource of it.
func uriCovers(sub, uri string) bool {
	return uri == sub || strings.HasPrefix(uri, strings.TrimSuffix(sub, "/")+"/")
}
