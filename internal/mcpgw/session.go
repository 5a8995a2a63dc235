package mcpgw

import (
	"context"
	"errors"
	"net/http"
	"sync"
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
	inflight map[any]context.Context // progress token → the client request's context
	last     context.Context         // the newest client request in flight, for backend requests
	seen     map[string]string       // list kind → the visible names the client last got, joined
	closed   bool
}

// conn is a session's MCP session on one backend; ready closes when dialling ends.
type conn struct {
	ready chan struct{}
	cs    *mcp.ClientSession
	err   error
}

// newSession builds the mcp.Server of a client session that is initialising (StreamableHTTPHandler's
// getServer), with an id bound to the request's subject.
func (rt *route) newSession(r *http.Request) *mcp.Server {
	if r.Header.Get("Mcp-Session-Id") != "" || r.Method != http.MethodPost {
		// The go-sdk asks for a server on every request, also to check the protocol version of
		// one that belongs to a session it already has: a server without a session answers it.
		return rt.probe
	}
	s := &session{rt: rt, subject: Subject(r.Context()), conns: map[*backend]*conn{}, inflight: map[any]context.Context{}, seen: map[string]string{}}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "aigw", Version: rt.g.opts.Version}, &mcp.ServerOptions{
		Capabilities: &mcp.ServerCapabilities{
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
		},
		GetSessionID:       func() string { return rt.g.ids.newID(s.subject) },
		SubscribeHandler:   s.subscribe,
		UnsubscribeHandler: s.unsubscribe,
		CompletionHandler:  s.complete,
	})
	s.srv.AddReceivingMiddleware(s.middleware)
	return s.srv
}

// attach learns the go-sdk session on the first request and registers the session with its
// route until the go-sdk session ends.
func (s *session) attach(ss *mcp.ServerSession) {
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
	for _, c := range gone {
		go func() {
			<-c.ready
			if c.cs != nil {
				c.cs.Close()
			}
		}()
	}
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
		c.cs, c.err = s.dial(ctx, b)
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
	var werr *jsonrpc.Error
	if errors.As(err, &werr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
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
func (s *session) dial(ctx context.Context, b *backend) (*mcp.ClientSession, error) {
	// The request that needs the backend lends it the caller (forwarded headers and claims, see
	// authz), not its cancellation or its other values: the backend session outlives it.
	ctx, cancel := context.WithTimeout(authz.Detached(ctx), dialTimeout)
	defer cancel()
	t, err := b.transport(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	ss := s.ss
	s.mu.Unlock()
	var caps *mcp.ClientCapabilities
	var info *mcp.Implementation
	if p := ss.InitializeParams(); p != nil {
		caps, info = p.Capabilities, p.ClientInfo
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
			_ = ss.NotifyProgress(s.requestContext(r.Params.ProgressToken), r.Params)
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			p := *r.Params
			if p.Logger == "" {
				p.Logger = b.cfg.Name
			} else {
				p.Logger = b.cfg.Name + "/" + p.Logger
			}
			_ = ss.Log(s.requestContext(nil), &p)
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
	if caps.Sampling != nil {
		opts.CreateMessageHandler = func(_ context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return ss.CreateMessage(s.requestContext(nil), r.Params)
		}
	}
	if caps.Elicitation != nil {
		opts.ElicitationHandler = func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return ss.Elicit(s.requestContext(nil), r.Params)
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: info.Name, Title: info.Title, Version: info.Version}, opts)
	client.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "roots/list" {
				return ss.ListRoots(s.requestContext(nil), nil)
			}
			return next(ctx, method, req)
		}
	})
	return client.Connect(ctx, t, nil)
}

// requestContext is the context to send a message to the client in: that of the client request
// with this progress token, else the newest request in flight (so the message travels on that
// request's stream), else a background one (the client's standalone stream).
func (s *session) requestContext(token any) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != nil {
		if ctx, ok := s.inflight[normToken(token)]; ok && ctx.Err() == nil {
			return ctx
		}
	}
	if s.last != nil && s.last.Err() == nil {
		return s.last
	}
	return context.Background()
}

// normToken makes JSON numbers and their Go forms compare equal as map keys.
func normToken(t any) any {
	switch v := t.(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	}
	return t
}

// track records a client request in flight until the returned function runs.
func (s *session) track(ctx context.Context, token any) func() {
	s.mu.Lock()
	prev := s.last
	s.last = ctx
	if token != nil {
		s.inflight[normToken(token)] = ctx
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if token != nil {
			delete(s.inflight, normToken(token))
		}
		if s.last == ctx {
			s.last = prev
		}
		s.mu.Unlock()
	}
}
