package mcpgw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Server→client requests for 2026-07-28 clients. That revision has no requests from server to
// client: a server that needs the client's input answers with an input_required result naming
// what it needs (inputRequests) and an opaque requestState, and the client retries the request
// with inputResponses and that state (multi round-trip requests, SEP-2322). Backends are spoken
// to in 2025-11-25, where they ask with a request in the middle of the call. The gateway turns
// one into the other: a tools/call of a 2026-07-28 client that declares sampling, elicitation or
// roots runs on a backend session of its own (lent from a pool, so whatever the backend asks
// belongs to that call alone); when the backend asks, the call is suspended — the backend's
// request waits, the client gets input_required — and the retry that brings the answers resumes
// it. requestState is a random key to the suspended call, kept with the subject's session (so
// another subject cannot resume it) for inputWait.

// inputWait is how long a suspended call waits for the client's retry (elicitation waits for
// a person) before it is cancelled on the backend.
const inputWait = 10 * time.Minute

// maxIdleLent bounds the idle lent sessions kept per backend and capability set.
const maxIdleLent = 4

// lent is a backend session of a 2026-07-28 subject, made with a request's declared
// capabilities and lent to one call at a time.
type lent struct {
	b    *backend
	key  string
	cs   *mcp.ClientSession
	mu   sync.Mutex
	call *suspendable
	// askedRoots retires the session after the call: the backend may keep the roots it learned.
	askedRoots bool
}

// ask hands what the backend asks to the call it serves.
func (l *lent) ask(ctx context.Context, p mcp.InputRequest) (mcp.InputResponse, error) {
	l.mu.Lock()
	c := l.call
	if _, ok := p.(*mcp.ListRootsParams); ok {
		l.askedRoots = true
	}
	l.mu.Unlock()
	if c == nil {
		return nil, errNoClient
	}
	return c.ask(ctx, p)
}

// suspendable is a tools/call of a 2026-07-28 client on a lent session: its backend call runs
// in its own goroutine; what the backend asks reaches the client request (round) in progress.
type suspendable struct {
	ctx    context.Context // the backend call's
	cancel context.CancelFunc
	key    string // the gateway progress token the backend call carries, "" for none
	asks   chan *inputAsk
	done   chan callOutcome

	mu    sync.Mutex
	open  map[string]*inputAsk // asked of the client, not answered yet
	seq   int
	timer *time.Timer
}

type inputAsk struct {
	params mcp.InputRequest
	reply  chan mcp.InputResponse
}

type callOutcome struct {
	res mcp.Result
	err error
}

// backendCall is the request a suspendable call makes of its backend session.
type backendCall func(ctx context.Context, cs *mcp.ClientSession) (mcp.Result, error)

// ask waits for the client's answer to p.
func (c *suspendable) ask(ctx context.Context, p mcp.InputRequest) (mcp.InputResponse, error) {
	a := &inputAsk{params: p, reply: make(chan mcp.InputResponse, 1)}
	select {
	case c.asks <- a:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
	select {
	case r := <-a.reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
}

// answer hands the client's inputResponses to the asks they answer; every open ask needs one.
func (c *suspendable) answer(responses mcp.InputResponseMap) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, a := range c.open {
		r, ok := responses[id]
		if !ok || r == nil {
			return invalidParams("inputResponses has no answer to input request %q", id)
		}
		if !answers(a.params, r) {
			return invalidParams("inputResponses[%q] does not answer a %s request", id, inputMethod(a.params))
		}
	}
	for id, a := range c.open {
		a.reply <- responses[id]
		delete(c.open, id)
	}
	return nil
}

func answers(q mcp.InputRequest, r mcp.InputResponse) bool {
	switch q.(type) {
	case *mcp.CreateMessageWithToolsParams:
		_, ok := r.(*mcp.CreateMessageWithToolsResult)
		return ok
	case *mcp.ElicitParams:
		_, ok := r.(*mcp.ElicitResult)
		return ok
	case *mcp.ListRootsParams:
		_, ok := r.(*mcp.ListRootsResult)
		return ok
	}
	return false
}

func inputMethod(q mcp.InputRequest) string {
	switch q.(type) {
	case *mcp.CreateMessageWithToolsParams:
		return "sampling/createMessage"
	case *mcp.ElicitParams:
		return "elicitation/create"
	case *mcp.ListRootsParams:
		return "roots/list"
	}
	return fmt.Sprintf("%T", q)
}

// asksInput reports whether a 2026-07-28 client declared something a backend can ask of it.
func asksInput(caps *mcp.ClientCapabilities) bool {
	return caps != nil && (caps.Sampling != nil || caps.Elicitation != nil || caps.RootsV2 != nil)
}

// suspends reports whether a 2026-07-28 request (tools/call, prompts/get, resources/read) runs
// as a suspendable call: it resumes one, or its client can answer what a backend asks.
func (s *session) suspends(state string, caps *mcp.ClientCapabilities) bool {
	return s.stateless && (state != "" || asksInput(caps))
}

// callSuspendable runs (or, with a requestState, resumes) a 2026-07-28 client's tools/call,
// prompts/get or resources/read whose backend may ask the client for input.
func (s *session) callSuspendable(ctx context.Context, b *backend, method, state string, responses mcp.InputResponseMap, caps *mcp.ClientCapabilities, call backendCall) (mcp.Result, error) {
	var c *suspendable
	if state != "" {
		c = s.resume(state)
		if c == nil {
			return nil, invalidParams("requestState is unknown or expired: send the request again without it")
		}
		if err := c.answer(responses); err != nil {
			s.park(c, state) // the client may retry with the right answers
			return nil, err
		}
		s.retarget(ctx, c.key)
	} else {
		l, err := s.lend(ctx, b, caps)
		if err != nil {
			return failed(method, b, err)
		}
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &suspendable{ctx: cctx, cancel: cancel, key: gatewayToken(ctx), asks: make(chan *inputAsk), done: make(chan callOutcome, 1), open: map[string]*inputAsk{}}
		l.mu.Lock()
		l.call = c
		l.mu.Unlock()
		go func() {
			res, err := call(cctx, l.cs)
			s.giveBack(l, err)
			c.done <- callOutcome{res, err}
		}()
	}
	select {
	case a := <-c.asks:
		reqs := mcp.InputRequestMap{}
		c.mu.Lock()
		for {
			c.seq++
			id := strconv.Itoa(c.seq)
			c.open[id] = a
			reqs[id] = a.params
			select {
			case a = <-c.asks: // asked at the same time: in the same round
				continue
			default:
			}
			break
		}
		c.mu.Unlock()
		state := newState()
		s.park(c, state)
		return inputRequired(method, reqs, state)
	case o := <-c.done:
		s.finished(c)
		if o.err != nil {
			if werr, ok := answer(o.err); ok {
				return nil, werr
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return failed(method, b, o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		c.cancel()
		s.finished(c)
		return nil, ctx.Err()
	}
}

// failed is the answer to a suspendable request whose backend could not be reached: for a
// tool, a failed tool result (as callTool answers); else a JSON-RPC error.
func failed(method string, b *backend, err error) (mcp.Result, error) {
	if method == "tools/call" {
		return unavailable(b, err), nil
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("MCP server %q is unavailable: %v", b.cfg.Name, err)}
}

// inputRequired is the input_required result of method asking reqs. Its result type is set by
// decoding, the only way the go-sdk lets a result carry one.
func inputRequired(method string, reqs mcp.InputRequestMap, state string) (mcp.Result, error) {
	raw, err := json.Marshal(struct {
		InputRequests mcp.InputRequestMap `json:"inputRequests"`
		RequestState  string              `json:"requestState"`
		ResultType    string              `json:"resultType"`
	}{reqs, state, "input_required"})
	var res mcp.Result
	switch method {
	case "tools/call":
		res = &mcp.CallToolResult{Content: []mcp.Content{}}
	case "prompts/get":
		res = &mcp.GetPromptResult{}
	default:
		res = &mcp.ReadResourceResult{}
	}
	if err == nil {
		err = json.Unmarshal(raw, res)
	}
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "encoding input requests: " + err.Error()}
	}
	return res, nil
}

func newState() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// park keeps c under state until the client retries, cancelling it after inputWait.
func (s *session) park(c *suspendable, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.cancel()
		return
	}
	s.suspended[state] = c
	c.timer = time.AfterFunc(inputWait, func() {
		if s.resume(state) == c {
			c.cancel()
		}
	})
}

// resume takes the call parked under state.
func (s *session) resume(state string) *suspendable {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.suspended[state]
	if c != nil {
		delete(s.suspended, state)
		c.timer.Stop()
	}
	return c
}

// retarget sends the progress of a resumed call to the round in progress (with its own token,
// if it asked for progress).
func (s *session) retarget(ctx context.Context, key string) {
	r, _ := ctx.Value(requestKey{}).(*request)
	if key == "" || r == nil {
		return
	}
	s.mu.Lock()
	s.inflight[key] = &request{ctx: r.ctx, ss: r.ss, token: r.token}
	s.mu.Unlock()
}

// finished forgets the progress route of a call that ended (late progress may still come).
func (s *session) finished(c *suspendable) {
	if c.key == "" {
		return
	}
	s.mu.Lock()
	r := s.inflight[c.key]
	s.mu.Unlock()
	time.AfterFunc(lateProgress, func() {
		s.mu.Lock()
		if s.inflight[c.key] == r {
			delete(s.inflight, c.key)
		}
		s.mu.Unlock()
	})
}

// lendKey groups lent sessions by backend and declared capabilities.
func lendKey(b *backend, caps *mcp.ClientCapabilities) string {
	j, _ := json.Marshal(caps)
	return b.cfg.Name + "\x00" + string(j)
}

// lend returns an idle lent session on b made with caps, or opens one.
func (s *session) lend(ctx context.Context, b *backend, caps *mcp.ClientCapabilities) (*lent, error) {
	key := lendKey(b, caps)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("session closed")
	}
	for idle := s.idle[key]; len(idle) > 0; idle = s.idle[key] {
		l := idle[len(idle)-1]
		s.idle[key] = idle[:len(idle)-1]
		if l.b == b {
			s.mu.Unlock()
			return l, nil
		}
		go l.cs.Close() // its backend was replaced by a reload
	}
	s.mu.Unlock()
	l := &lent{b: b, key: key}
	cs, _, err := s.dialWith(ctx, b, caps, &mcp.Implementation{Name: "aigw"}, l)
	if err != nil {
		b.setDown(err)
		return nil, err
	}
	b.setUp()
	l.cs = cs
	return l, nil
}

// giveBack returns l to the pool after a call, unless the call broke it or it learned roots.
func (s *session) giveBack(l *lent, err error) {
	l.mu.Lock()
	l.call = nil
	retire := l.askedRoots
	l.mu.Unlock()
	if err != nil {
		if _, ok := answer(err); !ok {
			retire = true
		}
	}
	s.mu.Lock()
	if !retire && !s.closed && len(s.idle[l.key]) < maxIdleLent && s.rt.config().byName[l.b.cfg.Name] == l.b {
		s.idle[l.key] = append(s.idle[l.key], l)
		l = nil
	}
	s.mu.Unlock()
	if l != nil {
		l.cs.Close()
	}
}

// closeLent ends the lent sessions and suspended calls (the session ends), or those on backends
// that are not in keep (a reload removed them).
func (s *session) closeLent(keep map[*backend]bool) {
	s.mu.Lock()
	var gone []*lent
	for k, idle := range s.idle {
		kept := idle[:0]
		for _, l := range idle {
			if keep != nil && keep[l.b] {
				kept = append(kept, l)
			} else {
				gone = append(gone, l)
			}
		}
		s.idle[k] = kept
	}
	var calls []*suspendable
	if keep == nil {
		for state, c := range s.suspended {
			calls = append(calls, c)
			delete(s.suspended, state)
			c.timer.Stop()
		}
	}
	s.mu.Unlock()
	for _, l := range gone {
		l.cs.Close()
	}
	for _, c := range calls {
		c.cancel()
	}
}
