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
			return
		}
		m.childNotification(msg)
		if m.fanout != nil {
			m.fanout(msg)
		}
	}
}

// routeLocked attributes a request of the child (sampling, elicitation, roots) to the one
// client session it belongs to, or explains why none may answer it. The stdio wire does not
// say which client request made a server ask (the SDKs keep "related request" to themselves),
// so the bridge never guesses among sessions; it arranges that there is nothing to guess:
//   - the shared child was initialised without client capabilities, so a well-behaved server
//     never asks it; if it does anyway, it gets an error;
//   - a dedicated child serves one session, which is the only possible asker;
//   - a pooled child serves one 2026-07-28 request at a time, which is the asker.
//
// The call returned, if any, is the in-flight request the answer travels with (its stream).
func (m *mux) routeLocked(capability string) (*session, *call, string) {
	var s *session
	var c *call
	switch {
	case m.owner != nil:
		s = m.owner
		// Any in-flight request of the session may carry it; the newest is the likeliest asker.
		for _, cc := range s.calls {
			if cc.stream != nil && (c == nil || cc.bridgeID > c.bridgeID) {
				c = cc
			}
		}
	case m.pooled:
		for _, cc := range m.calls {
			if cc.sess == nil {
				continue
			}
			if c != nil {
				return nil, nil, "more than one request in flight" // cannot happen: the pool hands out one at a time
			}
			c = cc
		}
		if c == nil {
			return nil, nil, "no client request is in flight"
		}
		s = c.sess
	default:
		return nil, nil, "this server was told no client supports it (sessions share it)"
	}
	if s.closed {
		return nil, nil, "the client session ended"
	}
	if capability != "" && !s.caps[capability] {
		return nil, nil, "the client did not declare the " + capability + " capability"
	}
	return s, c, ""
}

// childRequest forwards a request of the child (sampling, elicitation, roots) to the session
// it belongs to under a bridge id, or answers it with an error when it belongs to none.
func (m *mux) childRequest(req *jsonrpc.Request) {
	m.mu.Lock()
	p := m.p
	if req.Method == methodPing {
		m.mu.Unlock()
		m.writeTo(p, &jsonrpc.Response{ID: req.ID, Result: emptyResult})
		return
	}
	capability := capabilityFor(req.Method)
	s, c, why := m.routeLocked(capability)
	if s == nil {
		m.mu.Unlock()
		m.log.Debug("refusing a request of the MCP server", "method", req.Method, "reason", why)
		m.writeTo(p, errorResponse(req.ID, codeMethodNotFound, req.Method+" is not available: "+why))
		return
	}
	m.nextID++
	bid := m.nextID
	r := &s2cReq{childID: req.ID, sess: s, call: c, method: req.Method, params: req.Params, gen: m.gen}
	m.s2c[bid] = r
	m.s2cByKey[idKey(req.ID)] = bid
	if s.stateless {
		if req.Method == methodListRoots {
			m.learnedRoots = true
		}
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
	if m.modern && m.subscriptionNotificationLocked(n) {
		return
	}
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
		m.relayUnattributedLocked(n, func(s *session) bool {
			if s.stateless {
				// A 2026-07-28 request receives log messages only if it asked for a level.
				return s.logLevel != "" && levelAllows(s.logLevel, level)
			}
			return levelAllows(s.logLevel, level)
		})
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
		m.relayUnattributedLocked(n, func(s *session) bool { return !s.stateless })
	}
}

// relayUnattributedLocked relays a notification of the child that does not say which client
// it is about (a log message, a notification the bridge does not know), and may carry a
// client's data. With exactly one client's request in flight it goes to that client, on that
// request's stream; with none it is about the server itself and goes to every session; with
// several it could be any one's, so it goes to none. wants filters the recipients.
func (m *mux) relayUnattributedLocked(n *jsonrpc.Request, wants func(*session) bool) {
	var only *call
	for _, c := range m.calls {
		if c.sess == nil {
			continue
		}
		if only != nil && only.sess != c.sess {
			m.log.Debug("not relaying a notification of the MCP server: several clients have requests in flight",
				"server", m.cfg.Name, "method", n.Method)
			return
		}
		if only == nil || c.stream != nil {
			only = c
		}
	}
	if only == nil {
		for s := range m.sessions {
			if wants(s) {
				m.deliverLocked(s, nil, n)
			}
		}
		return
	}
	if !wants(only.sess) {
		return
	}
	if only.sess.stateless {
		if only.stream != nil {
			only.stream.push(n)
		}
		return
	}
	m.deliverLocked(only.sess, only, n)
}

// uriCovers reports whether an update of uri concerns a subscription to sub: the resource
// itself or, as the spec allows, a sub-resource of it.
func uriCovers(sub, uri string) bool {
	return uri == sub || strings.HasPrefix(uri, strings.TrimSuffix(sub, "/")+"/")
}
