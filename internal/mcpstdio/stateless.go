package mcpstdio

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/tidwall/gjson"
)

// This file serves clients of the 2026-07-28 revision (SEP-2575): no session, every request
// carries its protocol version and client capabilities in _meta, server/discover replaces
// initialize, subscriptions/listen replaces the GET stream and resources/subscribe, and a
// server that needs input from the client answers "input_required" and is called again
// (SEP-2322 multi round-trip requests) instead of sending the client a request. The child
// still speaks the session-based revision; this file translates.

// metaPath is the gjson/sjson path of a key inside params._meta (keys contain dots).
func metaPath(key string) string {
	return "_meta." + strings.ReplaceAll(key, ".", `\.`)
}

// isStateless reports whether a POST without a session comes from a 2026-07-28 client.
func isStateless(r *http.Request, msg jsonrpc.Message) bool {
	if r.Header.Get(headerProtocolVersion) == version20260728 {
		return true
	}
	req, ok := msg.(*jsonrpc.Request)
	if !ok {
		return false
	}
	return req.Method == methodDiscover || param(req.Params, metaPath(metaProtocolVersion)).Exists()
}

// serveStateless answers one request of a 2026-07-28 client.
func (b *Bridge) serveStateless(w http.ResponseWriter, r *http.Request, msg jsonrpc.Message) {
	req, ok := msg.(*jsonrpc.Request)
	if !ok {
		writeRPCError(w, http.StatusBadRequest, msgID(msg), codeInvalidRequest, "a stateless client has no requests to answer")
		return
	}
	if b.cfg.Isolated {
		// One child per session needs sessions: a 2026-07-28 client falls back to initialize.
		writeRPCError(w, http.StatusNotFound, req.ID, codeMethodNotFound,
			req.Method+" is not available: this bridge runs one server per session; use initialize")
		return
	}
	if rej := b.checkStateless(r, req); rej != nil {
		if !req.IsCall() {
			w.WriteHeader(rej.status)
			return
		}
		writeRPCResponse(w, rej.status, rej.resp)
		return
	}
	caps := param(req.Params, metaPath(metaClientCapabilities))
	if modern := b.modernChild(r.Context()); modern != nil {
		b.forwardStateless(w, r, modern, req)
		return
	}
	if req.IsCall() {
		switch req.Method {
		case methodDiscover:
			resp := b.shared.discover(req)
			writeRPCResponse(w, b.shapeStateless(req.Method, resp), resp)
			return
		case methodSubscriptionsListen:
			b.serveListen(w, r, b.shared, req)
			return
		}
	}
	var m *mux
	release := func() {}
	token := ""
	if req.IsCall() {
		token = param(req.Params, "requestState").Str
	}
	if !strings.HasPrefix(token, requestStatePrefix) {
		token = "" // the child's own requestState: a new request as far as the bridge is concerned
	}
	if token != "" {
		// A retry carrying input continues on the child holding the parked request.
		if m = b.parkedMux(token); m == nil {
			writeRPCResponse(w, http.StatusBadRequest, errorResponse(req.ID, codeInvalidParams, "unknown or expired requestState"))
			return
		}
		if m.settled != nil {
			release = m.settled
		}
	} else if req.IsCall() {
		var err error
		if m, release, err = b.statelessChild(r.Context(), caps); err != nil {
			writeRPCError(w, http.StatusServiceUnavailable, req.ID, codeUnavailable, err.Error())
			return
		}
	} else {
		m = b.shared
	}
	s := newSession("", m)
	// done ends the request's use of its child, once: as soon as its final answer is known
	// (so the client's next request finds a pooled child idle), or when the client went away.
	done := sync.OnceFunc(func() {
		m.endStateless(s)
		release()
	})
	defer done()
	s.stateless = true
	s.version = param(req.Params, metaPath(metaProtocolVersion)).Str
	s.caps = capsFrom(caps)
	s.logLevel = param(req.Params, metaPath(metaLogLevel)).Str
	if !req.IsCall() {
		if req.Method != notifCancelled { // cancellation is the POST's connection closing
			m.handle(r.Context(), s, req, nil)
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	q := newQueue(maxPerRequest)
	defer q.close()
	if token != "" {
		m.resume(s, req, q, token)
	} else {
		m.handle(r.Context(), s, req, q)
	}
	streamReplies(w, r.Context(), q, req.ID, func(resp *jsonrpc.Response) int {
		done()
		return b.shapeStateless(req.Method, resp)
	})
}

// forwardStateless hands a 2026-07-28 request unchanged to a child that speaks the revision.
func (b *Bridge) forwardStateless(w http.ResponseWriter, r *http.Request, m *mux, req *jsonrpc.Request) {
	s := newSession("", m)
	s.stateless = true
	s.caps = capsFrom(param(req.Params, metaPath(metaClientCapabilities)))
	s.logLevel = param(req.Params, metaPath(metaLogLevel)).Str
	if !req.IsCall() {
		if req.Method != notifCancelled { // cancellation is the POST's connection closing
			m.handle(r.Context(), s, req, nil)
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	q := newQueue(maxPerRequest)
	defer q.close()
	m.forward(r.Context(), s, req, q, nil)
	streamReplies(w, r.Context(), q, req.ID, func(resp *jsonrpc.Response) int { return b.shapeStateless(req.Method, resp) })
	m.endStateless(s)
}

// writeRPCResponse answers with one JSON-RPC response; status 0 means 200.
func writeRPCResponse(w http.ResponseWriter, status int, resp *jsonrpc.Response) {
	data, _ := jsonrpc.EncodeMessage(resp)
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = w.Write(data)
}

// endStateless cancels on the child what a finished stateless request left in flight (the
// client went away), except a request parked awaiting the client's input.
func (m *mux) endStateless(s *session) {
	m.mu.Lock()
	var cancels []int64
	for _, c := range s.calls {
		if c.mrtr != nil && c.stream == nil {
			continue
		}
		m.dropCallLocked(c)
		if c.gen == m.gen {
			cancels = append(cancels, c.bridgeID)
		}
	}
	p := m.p
	m.mu.Unlock()
	for _, id := range cancels {
		params, _ := json.Marshal(map[string]any{"requestId": id, "reason": "the client went away"})
		m.writeTo(p, &jsonrpc.Request{Method: notifCancelled, Params: params})
	}
}

// mrtrTimeout is how long a request awaiting client input is kept for the client's retry.
const mrtrTimeout = 2 * time.Minute

// mrtrOp is a stateless request parked at the child while its client fulfils input requests.
type mrtrOp struct {
	token   string
	call    *call
	pending map[string]int64  // input key sent to the client → bridge id of the child's request
	queued  []int64           // child requests that arrived while no client request was attached
	final   *jsonrpc.Response // the child's answer, if it came while the request was parked
	timer   *time.Timer
	// gathering is set while the bridge waits for more input requests before asking.
	gathering bool
}

func (op *mrtrOp) stopTimer() {
	if op.timer != nil {
		op.timer.Stop()
	}
}

// inputRequiredLocked turns a request of the child into an "input_required" result for the
// stateless client whose request triggered it; the child's request waits for the retry.
func (m *mux) inputRequiredLocked(c *call, bid int64, r *s2cReq) {
	if c == nil {
		return
	}
	op := c.mrtr
	if op == nil {
		op = &mrtrOp{token: newRequestState(), call: c, pending: map[string]int64{}}
		c.mrtr = op
		m.mrtr[op.token] = op
	}
	op.queued = append(op.queued, bid)
	if c.stream == nil || op.gathering {
		return
	}
	// A server often asks for several inputs at once; gather what arrives together into one
	// input_required result rather than one round per input.
	op.gathering = true
	time.AfterFunc(gatherInputs, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		op.gathering = false
		if m.mrtr[op.token] == op && op.call.stream != nil && len(op.queued) > 0 {
			m.askClientLocked(op)
		}
	})
}

// gatherInputs is how long the bridge waits for more requests of the child before asking the
// client for input.
const gatherInputs = 30 * time.Millisecond

// requestStatePrefix marks the requestState tokens the bridge makes; any other requestState
// belongs to the child (a server that answers input_required itself) and goes to it.
const requestStatePrefix = "aigw-bridge."

func newRequestState() string { return requestStatePrefix + rand.Text() }

// askClientLocked answers the attached client request with every queued input request.
func (m *mux) askClientLocked(op *mrtrOp) {
	type inputRequest struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params,omitempty"`
	}
	reqs := map[string]inputRequest{}
	for _, bid := range op.queued {
		if r := m.s2c[bid]; r != nil {
			op.pending[fmt.Sprintf("input-%d", bid)] = bid
		}
	}
	op.queued = nil
	for key, bid := range op.pending {
		if r := m.s2c[bid]; r != nil {
			params := r.params
			if len(params) == 0 || string(params) == "null" {
				params = json.RawMessage(`{}`) // clients decode params of every input request
			}
			reqs[key] = inputRequest{Method: r.method, Params: params}
		}
	}
	// Every round gets a fresh requestState, so a client cannot replay an earlier round.
	delete(m.mrtr, op.token)
	op.token = newRequestState()
	m.mrtr[op.token] = op
	c := op.call
	resp := resultResponse(c.clientID, map[string]any{
		"resultType":    "input_required",
		"inputRequests": reqs,
		"requestState":  op.token,
	})
	c.stream.push(resp)
	c.stream = nil
	op.stopTimer()
	op.timer = time.AfterFunc(mrtrTimeout, func() { m.expire(op) })
}

// resume continues a parked request with the client's input responses.
func (m *mux) resume(s *session, req *jsonrpc.Request, q *queue, token string) {
	m.mu.Lock()
	op := m.mrtr[token]
	if op == nil || op.call.stream != nil {
		m.mu.Unlock()
		q.push(errorResponse(req.ID, codeInvalidParams, "unknown or expired requestState"))
		return
	}
	op.stopTimer()
	c := op.call
	delete(c.sess.calls, idKey(c.clientID))
	c.sess, c.clientID, c.stream = s, req.ID, q
	if op.final == nil {
		s.calls[idKey(req.ID)] = c
	}
	answers := param(req.Params, "inputResponses")
	var writes []*jsonrpc.Response
	for key, bid := range op.pending {
		res := answers.Get(gjsonEscape(key))
		if !res.Exists() {
			continue
		}
		delete(op.pending, key)
		r := m.s2c[bid]
		delete(m.s2c, bid)
		if r == nil {
			continue
		}
		delete(m.s2cByKey, idKey(r.childID))
		if r.gen == m.gen {
			writes = append(writes, &jsonrpc.Response{ID: r.childID, Result: json.RawMessage(res.Raw)})
		}
	}
	if op.final != nil {
		delete(m.mrtr, op.token)
		c.mrtr = nil
		op.final.ID = req.ID
		q.push(op.final)
	} else if len(op.pending) > 0 || len(op.queued) > 0 {
		m.askClientLocked(op)
	} else {
		delete(m.mrtr, op.token)
		c.mrtr = nil
	}
	p := m.p
	m.mu.Unlock()
	for _, w := range writes {
		m.writeTo(p, w)
	}
}

// expire gives up on a parked request whose client never came back.
func (m *mux) expire(op *mrtrOp) {
	m.mu.Lock()
	if m.mrtr[op.token] != op || op.call.stream != nil {
		m.mu.Unlock()
		return
	}
	delete(m.mrtr, op.token)
	c := op.call
	m.dropCallLocked(c)
	var orphans []jsonrpc.ID
	for _, bid := range op.pending {
		if r := m.s2c[bid]; r != nil {
			delete(m.s2c, bid)
			delete(m.s2cByKey, idKey(r.childID))
			orphans = append(orphans, r.childID)
		}
	}
	p := m.p
	if c.gen != m.gen {
		p = nil
	}
	m.mu.Unlock()
	for _, id := range orphans {
		m.writeTo(p, errorResponse(id, codeUnavailable, "the client did not provide the input in time"))
	}
	if op.final == nil { // else the child already answered; nothing to cancel
		params, _ := json.Marshal(map[string]any{"requestId": c.bridgeID, "reason": "input not provided in time"})
		m.writeTo(p, &jsonrpc.Request{Method: notifCancelled, Params: params})
	}
	if m.settled != nil {
		m.settled()
	}
}

func gjsonEscape(key string) string {
	r := strings.NewReplacer(".", `\.`, "*", `\*`, "?", `\?`)
	return r.Replace(key)
}

// subWant is what a subscriptions/listen stream asked for and the bridge agreed to.
type subWant struct {
	Tools     bool     `json:"toolsListChanged,omitempty"`
	Prompts   bool     `json:"promptsListChanged,omitempty"`
	Resources bool     `json:"resourcesListChanged,omitempty"`
	uris      []string // resourceSubscriptions
}

func (w subWant) wants(method string) bool {
	switch method {
	case notifToolsChanged:
		return w.Tools
	case notifPromptsChanged:
		return w.Prompts
	case notifResourcesChange:
		return w.Resources
	}
	return false
}

// listener is one open subscriptions/listen stream.
type listener struct {
	id   jsonrpc.ID
	q    *queue
	want subWant
}

// notify queues n for the listener, stamped with the listen request's id.
func (l *listener) notify(n *jsonrpc.Request) {
	params := setParam(n.Params, metaPath(metaSubscriptionID), idJSON(l.id))
	l.q.push(&jsonrpc.Request{Method: n.Method, Params: params})
}

// serveListen holds a subscriptions/listen stream open, acknowledging what the child can
// deliver and relaying matching notifications until the client disconnects.
func (b *Bridge) serveListen(w http.ResponseWriter, r *http.Request, m *mux, req *jsonrpc.Request) {
	asked := param(req.Params, "notifications")
	m.mu.Lock()
	res := m.init
	m.mu.Unlock()
	if res == nil || !asked.Exists() {
		writeRPCError(w, http.StatusBadRequest, req.ID, codeInvalidParams, "subscriptions/listen needs notifications")
		return
	}
	l := &listener{id: req.ID, q: newQueue(maxStandalone)}
	l.want.Tools = asked.Get("toolsListChanged").Bool() && res.hasListChanged("tools")
	l.want.Prompts = asked.Get("promptsListChanged").Bool() && res.hasListChanged("prompts")
	l.want.Resources = asked.Get("resourcesListChanged").Bool() && res.hasListChanged("resources")
	if gjson.GetBytes(res.Capabilities, "resources.subscribe").Bool() {
		asked.Get("resourceSubscriptions").ForEach(func(_, v gjson.Result) bool {
			l.want.uris = append(l.want.uris, v.Str)
			return true
		})
	}
	m.addListener(r.Context(), l)
	defer m.removeListener(l)

	ack := map[string]any{
		"notifications": map[string]any{
			"toolsListChanged": l.want.Tools, "promptsListChanged": l.want.Prompts,
			"resourcesListChanged": l.want.Resources, "resourceSubscriptions": l.want.uris,
		},
		"_meta": map[string]any{metaSubscriptionID: req.ID.Raw()},
	}
	params, _ := json.Marshal(ack)
	sse := newSSEWriter(w)
	if err := sse.message(&jsonrpc.Request{Method: notifSubscriptionAck, Params: params}); err != nil {
		return
	}
	for {
		msg, ok := sse.next(r.Context(), l.q)
		if !ok {
			if r.Context().Err() == nil { // the bridge is closing: end the subscription cleanly
				_ = sse.message(resultResponse(req.ID, map[string]any{"_meta": map[string]any{metaSubscriptionID: req.ID.Raw()}}))
			}
			return
		}
		if err := sse.message(msg); err != nil {
			return
		}
	}
}

// notifyListeners relays a list_changed notification of a pooled child to the listeners
// that asked for it.
func (m *mux) notifyListeners(n *jsonrpc.Request) {
	switch n.Method {
	case notifToolsChanged, notifPromptsChanged, notifResourcesChange:
	default:
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for l := range m.listeners {
		if l.want.wants(n.Method) {
			l.notify(n)
		}
	}
}

// addListener registers l and subscribes the child to resources nobody watched yet.
func (m *mux) addListener(ctx context.Context, l *listener) {
	m.mu.Lock()
	m.listeners[l] = true
	var first []string
	for _, uri := range l.want.uris {
		m.subs[uri]++
		if m.subs[uri] == 1 {
			first = append(first, uri)
		}
	}
	m.mu.Unlock()
	for _, uri := range first {
		_, _ = m.callChild(ctx, methodSubscribe, map[string]string{"uri": uri})
	}
}

// removeListener drops l and unsubscribes the child from resources nobody watches anymore.
func (m *mux) removeListener(l *listener) {
	m.mu.Lock()
	delete(m.listeners, l)
	var last []string
	for _, uri := range l.want.uris {
		m.subs[uri]--
		if m.subs[uri] <= 0 {
			delete(m.subs, uri)
			last = append(last, uri)
		}
	}
	m.mu.Unlock()
	if len(last) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StopTimeout)
	defer cancel()
	for _, uri := range last {
		_, _ = m.callChild(ctx, methodUnsubscribe, map[string]string{"uri": uri})
	}
}
