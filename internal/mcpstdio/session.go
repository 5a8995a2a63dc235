package mcpstdio

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// queue is an unbounded-until-max FIFO of outgoing messages. Pushing never blocks, so one
// slow client can never stall the child's reader and, through it, every other session.
type queue struct {
	mu     sync.Mutex
	items  []jsonrpc.Message
	wake   chan struct{}
	closed bool
	max    int
}

func newQueue(max int) *queue {
	return &queue{wake: make(chan struct{}, 1), max: max}
}

// push appends msg; it reports false when the queue is closed or full (the message is dropped).
func (q *queue) push(msg jsonrpc.Message) bool {
	q.mu.Lock()
	if q.closed || len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, msg)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// pop waits for the next message; ok is false when ctx ends or the queue is closed and empty.
func (q *queue) pop(ctx context.Context) (jsonrpc.Message, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			msg := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			return msg, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// session is one client session as the multiplexer sees it: a streamable HTTP session, an
// HTTP+SSE session, or one stateless 2026-07-28 request.
type session struct {
	id        string
	version   string          // protocol revision the client speaks
	caps      map[string]bool // client capabilities: sampling, elicitation, roots
	stateless bool
	// mx is the child serving the session, set when its client initialises (children.go).
	mx atomic.Pointer[mux]
	// bound is set once initialize has chosen the child; a second initialize is an error.
	bound atomic.Bool
	// ownChild is set when the session's child serves it alone (reclaimable when idle).
	ownChild bool

	// out carries messages not tied to a live request stream (the GET stream of a streamable
	// session, the only stream of an SSE session); nil for stateless requests.
	out *queue
	// outTakesResponses is true when responses may travel on out (HTTP+SSE), false when the
	// transport forbids it (the streamable GET stream).
	outTakesResponses bool

	lastUsed atomic.Int64 // unix nanos of the last request or stream activity
	streams  atomic.Int32 // open HTTP streams (GET or POST) of this session
	getOpen  atomic.Bool  // a GET stream is being served
	// sse is the transport of an HTTP+SSE session, set once its stream is connected.
	sse atomic.Pointer[mcp.SSEServerTransport]

	// Guarded by mux.mu.
	calls    map[string]*call // client id key → in-flight request
	logLevel string
	subs     map[string]bool // resource URIs this session subscribed to
	closed   bool

	closeOnce sync.Once
	onClose   func() // set by the owner (isolated mode stops the child)
}

func newSession(id string, m *mux) *session {
	s := &session{id: id, calls: map[string]*call{}, subs: map[string]bool{}, caps: map[string]bool{}}
	if m != nil {
		s.mx.Store(m)
		s.bound.Store(true)
	}
	s.touch()
	return s
}

// busy reports whether the session has a request in flight.
func (s *session) busy() bool {
	m := s.mx.Load()
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(s.calls) > 0
}

// reply answers a request of the session without a child: on the request's stream, or on the
// session's standalone stream.
func (s *session) reply(stream *queue, resp *jsonrpc.Response) {
	if stream != nil && stream.push(resp) {
		return
	}
	if s.out != nil {
		s.out.push(resp)
	}
}

func (s *session) touch() { s.lastUsed.Store(time.Now().UnixNano()) }

// idleSince reports how long the session has had no request and no open stream.
func (s *session) idleFor(now time.Time) time.Duration {
	if s.streams.Load() > 0 {
		return 0
	}
	return now.Sub(time.Unix(0, s.lastUsed.Load()))
}

// close detaches the session from its multiplexer and releases its streams.
func (s *session) close() {
	s.closeOnce.Do(func() {
		if m := s.mx.Load(); m != nil {
			m.removeSession(s)
		}
		if s.out != nil {
			s.out.close()
		}
		if s.onClose != nil {
			s.onClose()
		}
	})
}

// call is one client request forwarded to the child under a bridge id.
type call struct {
	sess     *session
	clientID jsonrpc.ID
	bridgeID int64
	method   string
	token    json.RawMessage // the client's progress token, nil if none
	gen      int             // child generation the request was sent to

	// stream receives the response and everything related to the request; nil once the
	// HTTP request that carried it is gone. Guarded by mux.mu.
	stream *queue
	// after, if set, sees the child's response before the client does (subscribe bookkeeping).
	after func(*jsonrpc.Response)
	// done, for the bridge's own requests (sess == nil), receives the response.
	done chan *jsonrpc.Response
	// mrtr is the pending multi-round-trip state of a stateless request awaiting client input.
	mrtr *mrtrOp
}
