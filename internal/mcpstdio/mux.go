package mcpstdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// mux multiplexes client sessions onto one child. Every request a client sends is forwarded
// under a fresh bridge id (and, if it carries one, a fresh progress token), so the child's
// responses, progress and cancellations map back to exactly one session; requests the child
// sends are given bridge ids on the way out for the same reason. A supervisor goroutine
// restarts the child when it dies.
type mux struct {
	cfg Config
	log *slog.Logger
	// client is what the child was told about its client in initialize.
	client childClient
	// owner is the one session a dedicated child serves (isolated mode, or a session that
	// declared sampling, elicitation or roots); nil for the shared child and pooled children.
	owner *session
	// pooled marks a child serving one 2026-07-28 request at a time, so a request it sends
	// belongs to that request (children.go).
	pooled bool
	// modern marks a child that speaks 2026-07-28 itself: discovered, not initialised, and
	// given 2026-07-28 requests unchanged (modern.go).
	modern bool

	mu        sync.Mutex
	p         *proc         // current child; nil while (re)starting
	gen       int           // increments with every child started
	ready     chan struct{} // closed once p is set; replaced when the child goes away
	init      *initResult   // what the current child answered to initialize
	closing   bool
	nextID    int64
	calls     map[int64]*call    // bridge id → in-flight request to the child
	s2c       map[int64]*s2cReq  // bridge id → request from the child awaiting a client
	s2cByKey  map[string]int64   // child's id key → bridge id, for cancellations
	sessions  map[*session]bool  // stateful sessions (streamable and SSE)
	subs      map[string]int     // resource URI → subscribers; subscribed on the child while > 0
	listeners map[*listener]bool // 2026-07-28 subscriptions/listen streams
	mrtr      map[string]*mrtrOp // requestState token → stateless request awaiting client input
	// learnedRoots is set once a client's roots reached a pooled child: it must not serve
	// another client afterwards.
	learnedRoots bool
	// fanout, if set, also relays the child's list_changed notifications to the 2026-07-28
	// subscriptions/listen streams (held by the shared child's multiplexer).
	fanout func(*jsonrpc.Request)
	// settled, if set, learns that a parked request was given up (pooled children go idle).
	settled func()

	stop chan struct{} // closed by close to end the supervisor
	done chan struct{} // closed when the supervisor has exited
}

// s2cReq is a request from the child routed to one client session.
type s2cReq struct {
	childID jsonrpc.ID
	sess    *session
	call    *call // the client request believed to have triggered it; may be nil
	method  string
	params  []byte
	gen     int
}

func newMux(cfg Config, client childClient) *mux {
	return &mux{
		cfg:       cfg,
		log:       cfg.Logger,
		client:    client,
		ready:     make(chan struct{}),
		calls:     map[int64]*call{},
		s2c:       map[int64]*s2cReq{},
		s2cByKey:  map[string]int64{},
		sessions:  map[*session]bool{},
		subs:      map[string]int{},
		listeners: map[*listener]bool{},
		mrtr:      map[string]*mrtrOp{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// current waits until a child is ready (bounded by ctx and InitTimeout) and returns it.
func (m *mux) current(ctx context.Context) (*proc, int, error) {
	m.mu.Lock()
	p, gen := m.p, m.gen
	m.mu.Unlock()
	if p != nil {
		return p, gen, nil // the usual case: no timer needed
	}
	timer := time.NewTimer(m.cfg.InitTimeout)
	defer timer.Stop()
	for {
		m.mu.Lock()
		p, gen, ready, closing := m.p, m.gen, m.ready, m.closing
		m.mu.Unlock()
		if closing {
			return nil, 0, errors.New("aigw is shutting down")
		}
		if p != nil {
			return p, gen, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-timer.C:
			return nil, 0, errors.New("the MCP server is not running (restarting)")
		}
	}
}

// write sends one message to the child p.
func (m *mux) write(p *proc, msg jsonrpc.Message) error {
	// Writes use their own context: a client that goes away mid-write must not leave a
	// half-written line on the child's stdin.
	return p.conn.Write(context.Background(), msg)
}

// callChild sends a request of the bridge's own to the child and waits for its answer.
func (m *mux) callChild(ctx context.Context, method string, params any) (*jsonrpc.Response, error) {
	data, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	req := &jsonrpc.Request{Method: method, Params: data}
	c := &call{method: method, done: make(chan *jsonrpc.Response, 1)}
	if err := m.send(ctx, c, req); err != nil {
		return nil, err
	}
	select {
	case resp := <-c.done:
		if resp.Error != nil {
			return resp, resp.Error
		}
		return resp, nil
	case <-ctx.Done():
		m.mu.Lock()
		delete(m.calls, c.bridgeID)
		m.mu.Unlock()
		return nil, ctx.Err()
	}
}

// send registers c under a new bridge id and writes req (rewritten to that id) to the child.
func (m *mux) send(ctx context.Context, c *call, req *jsonrpc.Request) error {
	p, gen, err := m.current(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.gen != gen || m.p == nil {
		m.mu.Unlock()
		return errChildGone
	}
	if c.sess != nil {
		if c.sess.closed {
			m.mu.Unlock()
			return errors.New("session closed")
		}
		key := idKey(c.clientID)
		if _, dup := c.sess.calls[key]; dup {
			m.mu.Unlock()
			return fmt.Errorf("request id %v is already in flight in this session", c.clientID.Raw())
		}
		c.sess.calls[key] = c
	}
	m.nextID++
	c.bridgeID, c.gen = m.nextID, gen
	m.calls[c.bridgeID] = c
	m.mu.Unlock()

	out := &jsonrpc.Request{ID: intID(c.bridgeID), Method: req.Method, Params: req.Params}
	if c.token != nil {
		out.Params = setParam(out.Params, "_meta.progressToken", idJSON(out.ID))
	}
	if err := m.write(p, out); err != nil {
		m.mu.Lock()
		m.dropCallLocked(c)
		m.mu.Unlock()
		return err
	}
	return nil
}

// dropCallLocked forgets an in-flight request without answering it.
func (m *mux) dropCallLocked(c *call) {
	delete(m.calls, c.bridgeID)
	if c.sess != nil {
		if cur := c.sess.calls[idKey(c.clientID)]; cur == c {
			delete(c.sess.calls, idKey(c.clientID))
		}
	}
}

// finishLocked delivers the final response of c and forgets it.
func (m *mux) finishLocked(c *call, resp *jsonrpc.Response) {
	m.dropCallLocked(c)
	if c.after != nil {
		c.after(resp)
	}
	if c.sess == nil {
		if c.done != nil {
			c.done <- resp
		}
		return
	}
	if op := c.mrtr; op != nil {
		if c.stream == nil {
			// Parked awaiting the client's input, which the child did not need after all
			// (or the input request was not this request's): keep the answer for the retry.
			op.final = resp
			return
		}
		delete(m.mrtr, op.token)
		op.stopTimer()
	}
	resp.ID = c.clientID
	m.deliverLocked(c.sess, c, resp)
}

// deliverLocked sends msg to a session: on the stream of the request it relates to while
// that is open, otherwise on the session's standalone stream.
func (m *mux) deliverLocked(s *session, c *call, msg jsonrpc.Message) {
	if c != nil && c.stream != nil {
		if c.stream.push(msg) {
			return
		}
	}
	if s.out == nil {
		return
	}
	if _, isResp := msg.(*jsonrpc.Response); isResp && !s.outTakesResponses {
		m.log.Debug("dropping a response whose request stream has closed", "session", s.id)
		return
	}
	if !s.out.push(msg) {
		m.log.Warn("session stream full or closed; dropping a message", "session", s.id)
	}
}

// addSession registers a stateful session for broadcasts.
func (m *mux) addSession(s *session) {
	m.mu.Lock()
	m.sessions[s] = true
	m.mu.Unlock()
}
