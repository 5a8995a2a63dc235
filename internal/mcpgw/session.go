package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/mcpgw/authz"
)

// session is one client session of a route. It has its own mcp.Server (so what the gateway sends
// it, list_changed included, reaches it alone) and its own MCP session on each backend, opened
// when it first needs that backend and reused after: whatever a backend sends on that session
// (progress, log messages, sampling, elicitation and roots requests) belongs to this client.
type session struct {
	rt      *route
	subject string
	srv     *mcp.Server

	mu       sync.Mutex
	ss       *mcp.ServerSession
	conns    map[*backend]*conn
	inflight map[string]*request // gateway progress token → the client request
	last     *request            // the newest client request in flight, for backend requests
	seen     map[string]string   // list kind → the visible names the client last got, joined
	subs     map[string]bool     // exposed URIs the client subscribed to (restored on a new backend session)
	closed   bool
	// stateless marks the session that serves a subject's 2026-07-28 requests: each request has
	// its own go-sdk session (request.ss), none lasts.
	stateless bool
	// used is when a stateless session last served a request (UnixNano), for sweepStateless.
	used atomic.Int64
	// suspended and idle serve 2026-07-28 calls whose backend asks the client (mrtr.go): calls
	// waiting for the client's retry, by requestState; idle lent backend sessions, by lendKey.
	suspended map[string]*suspendable
	idle      map[string][]*lent
}

// request is a client request in flight: where to send what a backend sends about it.
type request struct {
	ctx   context.Context
	ss    *mcp.ServerSession
	token any // the client's progress token, nil for none
}

// conn is a session's MCP session on one backend; ready closes when dialling ends.
type conn struct {
	ready  chan struct{}
	cs     *mcp.ClientSession
	client *mcp.Client // cs's, to tell the backend the client's roots changed
	err    error
}

// newSession builds the mcp.Server of a client session that is initialising (StreamableHTTPHandler's
// getServer), with an id bound to the request's subject.
func (rt *route) newSession(r *http.Request) *mcp.Server {
	if r.Header.Get("Mcp-Session-Id") != "" || r.Method != http.MethodPost {
		// The go-sdk asks for a server on every request, also to check the protocol version of
		// one that belongs to a session it already has: a server without a session answers it.
		return rt.probe
	}
	return rt.buildSession(Subject(r.Context()), false).srv
}

// buildSession makes a session and its mcp.Server.
func (rt *route) buildSession(subject string, stateless bool) *session {
	s := &session{rt: rt, subject: subject, conns: map[*backend]*conn{}, inflight: map[string]*request{}, seen: map[string]string{}, stateless: stateless,
		suspended: map[string]*suspendable{}, idle: map[string][]*lent{}, subs: map[string]bool{}}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "aigw", Version: rt.g.opts.Version}, &mcp.ServerOptions{
		Capabilities: &mcp.ServerCapabilities{
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
		},
		GetSessionID:            func() string { return rt.g.ids.newID(s.subject) },
		SubscribeHandler:        s.subscribe,
		UnsubscribeHandler:      s.unsubscribe,
		CompletionHandler:       s.complete,
		RootsListChangedHandler: s.rootsChanged,
	})
	s.srv.AddReceivingMiddleware(s.middleware)
	return s
}

// statelessServer serves 2026-07-28 requests (StreamableHTTPHandler's getServer in stateless
// mode): one session per subject, made on its first request and kept with the route, so its
// backend sessions are reused across requests, until it has been idle for SessionIdleTimeout.
func (rt *route) statelessServer(r *http.Request) *mcp.Server {
	subject := Subject(r.Context())
	now := time.Now()
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return rt.probe
	}
	idle := rt.sweepStateless(now)
	s := rt.stateless[subject]
	if s == nil {
		s = rt.buildSession(subject, true)
		rt.stateless[subject] = s
		rt.sessions[s] = true
	}
	s.used.Store(now.UnixNano())
	rt.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
	return s.srv
}

// sweepStateless takes the stateless sessions idle for SessionIdleTimeout, with no call
// waiting for its client's input, out of the route (at most once per sweep interval) and returns
// them to be closed. rt.mu is held.
func (rt *route) sweepStateless(now time.Time) []*session {
	timeout := rt.g.opts.SessionIdleTimeout
	if now.Sub(rt.swept) < min(timeout, time.Minute) {
		return nil
	}
	rt.swept = now
	var idle []*session
	for subject, s := range rt.stateless {
		s.mu.Lock()
		busy := len(s.suspended) > 0 || (s.last != nil && s.last.ctx.Err() == nil)
		s.mu.Unlock()
		if !busy && now.Sub(time.Unix(0, s.used.Load())) >= timeout {
			delete(rt.stateless, subject)
			delete(rt.sessions, s)
			idle = append(idle, s)
		}
	}
	return idle
}

// attach learns the go-sdk session on the first request and registers the session with its
// route until the go-sdk session ends.
func (s *session) attach(ss *mcp.ServerSession) {
	if s.stateless {
		return // registered when made; each request's go-sdk session ends with the request
	}
	s.mu.Lock()
	if s.ss != nil {
		s.mu.Unlock()
		return
	}
	s.ss = ss
	s.mu.Unlock()
	if !s.rt.add(s) {
		ss.Close()
		return
	}
	go func() {
		ss.Wait()
		s.rt.remove(s)
		s.close()
	}()
}

// close ends the session's backend sessions.
func (s *session) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*backend]*conn{}
	s.mu.Unlock()
	s.closeLent(nil)
	for _, c := range conns {
		go func() {
			<-c.ready
			if c.cs != nil {
				c.cs.Close()
			}
		}()
	}
}

// dropConns closes the session's sessions on backends that are no longer in keep.
func (s *session) dropConns(keep map[*backend]bool) {
	s.mu.Lock()
	var gone []*conn
	for b, c := range s.conns {
		if !keep[b] {
			gone = append(gone, c)
			delete(s.conns, b)
		}
	}
	s.mu.Unlock()
	s.closeLent(keep)
	for _, c := range gone {
		go func() {
			<-c.ready
			if c.cs != nil {
				c.cs.Close()
			}
		}()
	}
}

// codeRejected is the go-sdk's JSON-RPC error for a message its transport could not deliver
// (the backend went away): not an answer of the backend.
const codeRejected = -32005

// answer returns err as the backend's JSON-RPC error answer, if it is one.
func answer(err error) (*jsonrpc.Error, bool) {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) && werr.Code != codeRejected {
		return werr, true
	}
	return nil, false
}

// dialTimeout bounds opening a session on a backend (a stdio server's first start included).
const dialTimeout = 60 * time.Second

// conn returns the session's MCP session on b, opening it when there is none (or the last one
// broke). Concurrent callers share one attempt.
func (s *session) conn(ctx context.Context, b *backend) (*mcp.ClientSession, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("session closed")
	}
	c := s.conns[b]
	if c == nil {
		c = &conn{ready: make(chan struct{})}
		s.conns[b] = c
		s.mu.Unlock()
		c.cs, c.client, c.err = s.dial(ctx, b)
		if c.err == nil {
			s.restore(ctx, b, c.cs)
		}
		close(c.ready)
		if c.err != nil {
			b.setDown(c.err)
			s.forget(b, c)
		} else {
			b.setUp()
		}
		return c.cs, c.err
	}
	s.mu.Unlock()
	select {
	case <-c.ready:
		return c.cs, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget drops c (failed or broken) so that the next request dials b again.
func (s *session) forget(b *backend, c *conn) {
	s.mu.Lock()
	if s.conns[b] == c {
		delete(s.conns, b)
	}
	s.mu.Unlock()
	if c.cs != nil {
		c.cs.Close()
	}
}

// broken handles an error from a backend call: a JSON-RPC error is the backend's answer; anything
// else means the session on it broke, which is dropped (and the backend marked down).
func (s *session) broken(b *backend, cs *mcp.ClientSession, err error) {
	if _, ok := answer(err); ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.mu.Lock()
	c := s.conns[b]
	s.mu.Unlock()
	if c != nil && c.cs == cs {
		b.setDown(err)
		s.forget(b, c)
	}
}

// dial opens an MCP session on b that declares what this session's client declared, and relays
// what the backend sends to this client.
func (s *session) dial(ctx context.Context, b *backend) (*mcp.ClientSession, *mcp.Client, error) {
	s.mu.Lock()
	ss := s.ss
	s.mu.Unlock()
	var caps *mcp.ClientCapabilities
	var info *mcp.Implementation
	if ss != nil {
		if p := ss.InitializeParams(); p != nil {
			caps, info = p.Capabilities, p.ClientInfo
		}
	}
	if s.stateless {
		// The shared session of 2026-07-28 requests declares nothing a backend could ask: calls
		// of clients that can answer run on lent sessions of their own (mrtr.go).
		caps = nil
	}
	return s.dialWith(ctx, b, caps, info, nil)
}

// dialWith opens an MCP session on b declaring caps; on a lent session (l not nil), what the
// backend asks goes to the call l serves, else to this session's client.
func (s *session) dialWith(ctx context.Context, b *backend, caps *mcp.ClientCapabilities, info *mcp.Implementation, l *lent) (*mcp.ClientSession, *mcp.Client, error) {
	// The request that needs the backend lends it the caller (forwarded headers and claims, see
	// authz), not its cancellation or its other values: the backend session outlives it.
	caller := authz.Detached(ctx)
	ctx, cancel := context.WithTimeout(caller, dialTimeout)
	defer cancel()
	o := newOrder()
	t, err := b.transport(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if caps == nil {
		caps = &mcp.ClientCapabilities{}
	}
	if info == nil {
		info = &mcp.Implementation{Name: "aigw"}
	}
	opts := &mcp.ClientOptions{
		Capabilities: caps,
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			tok, _ := r.Params.ProgressToken.(string)
			if req := s.request(tok); req != nil && req.token != nil {
				p := *r.Params
				p.ProgressToken = req.token
				if req.ss.NotifyProgress(req.ctx, &p) == nil {
					if f := s.rt.g.opts.ProgressRelayed; f != nil {
						f(s.rt.name(), b.cfg.Name)
					}
				}
			}
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			p := *r.Params
			if p.Logger == "" {
				p.Logger = b.cfg.Name
			} else {
				p.Logger = b.cfg.Name + "/" + p.Logger
			}
			if req := s.request(""); req != nil {
				_ = req.ss.Log(req.ctx, &p)
			}
		},
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { s.notify(kindTools) },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { s.notify(kindPrompts) },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { s.notify(kindResources) },
		ResourceUpdatedHandler: func(ctx context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			p := *r.Params
			p.URI = exposedURI(b.token, p.URI)
			_ = s.srv.ResourceUpdated(ctx, &p)
		},
	}
	switch {
	case l != nil:
		if caps.Sampling != nil {
			opts.CreateMessageWithToolsHandler = func(ctx context.Context, r *mcp.CreateMessageWithToolsRequest) (*mcp.CreateMessageWithToolsResult, error) {
				res, err := l.ask(ctx, r.Params)
				if err != nil {
					return nil, err
				}
				return res.(*mcp.CreateMessageWithToolsResult), nil
			}
		}
		if caps.Elicitation != nil {
			opts.ElicitationHandler = func(ctx context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				res, err := l.ask(ctx, r.Params)
				if err != nil {
					return nil, err
				}
				return res.(*mcp.ElicitResult), nil
			}
		}
	case caps.Sampling != nil:
		opts.CreateMessageHandler = func(_ context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			req := s.request("")
			if req == nil {
				return nil, errNoClient
			}
			return req.ss.CreateMessage(req.ctx, r.Params)
		}
	}
	if caps.Elicitation != nil && l == nil {
		opts.ElicitationHandler = func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			req := s.request("")
			if req == nil {
				return nil, errNoClient
			}
			return req.ss.Elicit(req.ctx, r.Params)
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: info.Name, Title: info.Title, Version: info.Version}, opts)
	client.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if relayed(method) {
				defer o.done() // a response after it may go on now (order.go)
			}
			if method == "roots/list" && l != nil {
				res, err := l.ask(ctx, &mcp.ListRootsParams{})
				if err != nil {
					return nil, err
				}
				return res.(*mcp.ListRootsResult), nil
			}
			if method == "roots/list" {
				req := s.request("")
				if req == nil {
					return nil, errNoClient
				}
				return req.ss.ListRoots(req.ctx, nil)
			}
			return next(ctx, method, req)
		}
	})
	// The session revision, named: ctx may carry a 2026-07-28 client request's version, which
	// the SDK's transport would otherwise send the backend.
	// The session's own context, not the dial's: a legacy SSE transport holds its event stream
	// on the context it connects with, so one cancelled when dialling ends ended the stream (every
	// call after initialize failed with EOF). It ends with the session; dialTimeout bounds the
	// connect.
	life, end := context.WithCancel(caller)
	timer := time.AfterFunc(dialTimeout, end)
	cs, err := client.Connect(life, t, &mcp.ClientSessionOptions{ProtocolVersion: backendRevision})
	if !timer.Stop() && err == nil {
		cs.Close()
		err = fmt.Errorf("connecting to MCP server %q timed out after %s", b.cfg.Name, dialTimeout)
	}
	if err != nil {
		end()
		return nil, nil, err
	}
	go func() {
		cs.Wait()
		end()
	}()
	return cs, client, nil
}

// restore subscribes a new session on b (the first, or one that replaces a broken one) to the
// client's subscriptions to b's resources, so that resources/updated keeps coming.
func (s *session) restore(ctx context.Context, b *backend, cs *mcp.ClientSession) {
	cfg := s.rt.config()
	s.mu.Lock()
	var uris []string
	for exposed := range s.subs {
		if bb, uri, ok := cfg.resource(exposed); ok && bb == b {
			uris = append(uris, uri)
		}
	}
	s.mu.Unlock()
	for _, uri := range uris {
		if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
			b.log.Debug("MCP backend: restoring a resource subscription failed", "error", err)
		}
	}
}

// rootsListChanged is a root the gateway adds to a backend session's client to make the go-sdk
// send notifications/roots/list_changed; backends never see it, as roots/list is answered with
// the client's roots.
const rootsListChanged = "aigw:roots-list-changed"

// rootsChanged forwards a client's notifications/roots/list_changed to the backends this
// session has sessions on.
func (s *session) rootsChanged(context.Context, *mcp.RootsListChangedRequest) {
	s.mu.Lock()
	var clients []*mcp.Client
	for _, c := range s.conns {
		select {
		case <-c.ready:
			if c.client != nil {
				clients = append(clients, c.client)
			}
		default: // still dialling: it will ask for the roots it needs
		}
	}
	s.mu.Unlock()
	for _, cl := range clients {
		cl.AddRoots(&mcp.Root{URI: rootsListChanged})
	}
}

// backendRevision is the protocol revision the gateway speaks to backends (stdio ones get
// 2026-07-28 clients' requests translated by the bridge anyway).
const backendRevision = "2025-11-25"

var errNoClient = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the client of this session is not connected"}

// request is where to send what a backend sends: the client request whose (gateway) progress
// token is token, else the newest request in flight (so the message travels on that request's
// stream), else, in a lasting session, its standalone stream; nil when there is none.
func (s *session) request(token string) *request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != "" {
		if r, ok := s.inflight[token]; ok {
			if r.ctx.Err() != nil {
				// Answered already: the SDK hands notifications over concurrently, so one the
				// backend sent before its result can arrive after it; the standalone stream
				// takes it.
				return &request{ctx: context.Background(), ss: r.ss, token: r.token}
			}
			return r
		}
	}
	if s.last != nil && s.last.ctx.Err() == nil {
		return s.last
	}
	if s.ss != nil {
		return &request{ctx: context.Background(), ss: s.ss}
	}
	return nil
}

// lateProgress is how long a request's progress token still maps to its client after the answer.
const lateProgress = 2 * time.Second

type gatewayTokenKey struct{}

// requestKey holds the *request of a client request in its context (track).
type requestKey struct{}

// gatewayToken is the progress token the gateway sends backends for the client request of ctx.
func gatewayToken(ctx context.Context) string {
	t, _ := ctx.Value(gatewayTokenKey{}).(string)
	return t
}

// track records a client request in flight until the returned function runs. A request with a
// progress token gets a token of the gateway's own for the backend (the client's may clash with
// another client's on a shared backend session), returned in the context.
func (s *session) track(ctx context.Context, ss *mcp.ServerSession, token any) (context.Context, func()) {
	r := &request{ctx: ctx, ss: ss, token: token}
	var key string
	if token != nil {
		key = fmt.Sprintf("aigw-%d", s.rt.g.seq.Add(1))
		ctx = context.WithValue(ctx, gatewayTokenKey{}, key)
		r.ctx = ctx
	}
	ctx = context.WithValue(ctx, requestKey{}, r)
	s.mu.Lock()
	prev := s.last
	s.last = r
	if key != "" {
		s.inflight[key] = r
	}
	s.mu.Unlock()
	return ctx, func() {
		if key != "" {
			time.AfterFunc(lateProgress, func() {
				s.mu.Lock()
				if s.inflight[key] == r { // a resumed call may have taken the token over
					delete(s.inflight, key)
				}
				s.mu.Unlock()
			})
		}
		s.mu.Lock()
		if s.last == r {
			s.last = prev
		}
		s.mu.Unlock()
	}
}
