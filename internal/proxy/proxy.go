// Package proxy is the builtin data plane: a net/http server that drives the extproc pipeline
// and forwards to providers itself, with connection reuse, immediate stream flushes and
// fallback across a rule's backends.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/translate"
)

// Options tune the data plane.
type Options struct {
	Logger *slog.Logger
	// Transport sends upstream requests; nil builds one tuned for many concurrent streams.
	Transport http.RoundTripper
	// ShutdownGrace is how long in-flight requests and streams may run on after shutdown begins.
	ShutdownGrace time.Duration
	// Forced, closed during a shutdown, ends it at once: remaining connections are closed.
	Forced <-chan struct{}
	// Limits bound what one client or one backend can make the data plane hold; zero fields take
	// their defaults.
	Limits Limits
	// Fallback, when set, may serve a request no LLM endpoint matches (the MCP gateway's routes);
	// it returns nil to leave it to the 404.
	Fallback func(*http.Request) http.Handler
}

// Server is the builtin data plane.
type Server struct {
	pipeline   *extproc.Pipeline
	transports *transports
	log        *slog.Logger
	grace      time.Duration
	forced     <-chan struct{}
	serving    atomic.Bool
	// active counts connections with a request in progress (http.StateActive), so a drain knows
	// when the last request is done: http.Server.Shutdown also waits, up to 5 s, for connections
	// that never sent a request (a client pool's spare dial), which must neither delay the exit
	// nor count as requests cut off.
	active      atomic.Int64
	activeConns sync.Map // net.Conn → struct{}, those counted in active
	models      *modelCache
	handler     http.Handler
	fallback    func(*http.Request) http.Handler
	limits      Limits
}

// New builds the data plane over a pipeline.
func New(p *extproc.Pipeline, opts Options) *Server {
	s := &Server{pipeline: p, log: opts.Logger, grace: opts.ShutdownGrace, limits: opts.Limits.withDefaults()}
	s.forced = opts.Forced
	s.fallback = opts.Fallback
	base := opts.Transport
	if base == nil {
		base = newTransport()
	}
	s.transports = newTransports(base)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.grace <= 0 {
		s.grace = 30 * time.Second
	}
	s.models = newModelCache(s.transports, p.Auth, time.Minute)
	s.handler = s.routes()
	return s
}

// Handler is the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serving reports whether the data plane is accepting requests (for /health).
func (s *Server) Serving() bool { return s.serving.Load() }

// routes maps every client endpoint's paths to the pipeline, /v1/models to the model list, and
// anything else to a 404 in the client's shape.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for e, paths := range translate.Endpoints() {
		h := s.endpointHandler(e)
		for _, p := range paths {
			mux.Handle("POST "+p, h)
		}
	}
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("GET /v1/models/{id...}", s.retrieveModel)
	mux.HandleFunc("/", s.notFound)
	return withRequestID(s.withBodyDeadline(mux))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.fallback != nil {
		if h := s.fallback(r); h != nil {
			h.ServeHTTP(w, r)
			return
		}
	}
	api := translate.APIOpenAI
	if len(r.URL.Path) >= len("/anthropic/") && r.URL.Path[:len("/anthropic/")] == "/anthropic/" {
		api = translate.APIAnthropic
	}
	status, msg := http.StatusNotFound, "unknown path "+r.URL.Path
	if h := findMethodMismatch(r); h {
		status, msg = http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path
	}
	writeJSON(w, status, translate.ErrorBody(api, &translate.Error{Status: status, Message: msg}))
}

// findMethodMismatch reports whether the path exists for another method.
func findMethodMismatch(r *http.Request) bool {
	if r.URL.Path == "/v1/models" {
		return r.Method != http.MethodGet
	}
	for _, paths := range translate.Endpoints() {
		for _, p := range paths {
			if p == r.URL.Path {
				return r.Method != http.MethodPost
			}
		}
	}
	return false
}

// Serve serves on ln until ctx is done, then stops accepting and lets requests in flight finish
// within the grace period.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ConnState:         s.trackActive,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln = limitListener(ln, s.limits.MaxConnections)
	errc := make(chan error, 1)
	s.serving.Store(true)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.serving.Store(false)
		return err
	case <-ctx.Done():
	}
	s.serving.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	go func() {
		select {
		case <-s.forced:
			cancel()
		case <-shutdownCtx.Done():
		}
	}()
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		_ = srv.Shutdown(shutdownCtx)
	}()
	cut := s.waitDrained(shutdownCtx, shutdownDone)
	// What remains is either connections that never sent a request, or requests cut off.
	_ = srv.Close()
	var err error
	if cut != nil && s.active.Load() > 0 {
		why := "grace period (" + s.grace.String() + ") over"
		if errors.Is(cut, context.Canceled) {
			why = "shutdown forced"
		}
		s.log.Warn(why+"; closing remaining connections", "requests", s.active.Load())
		err = &DrainCutError{Why: why}
	}
	<-shutdownDone
	<-errc
	return err
}

// trackActive keeps active: the connections with a request in progress.
func (s *Server) trackActive(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive:
		s.activeConns.Store(c, struct{}{})
		s.active.Add(1)
	case http.StateIdle, http.StateHijacked, http.StateClosed:
		if _, was := s.activeConns.LoadAndDelete(c); was {
			s.active.Add(-1)
		}
	}
}

// waitDrained returns nil once Shutdown has returned or no request is in progress any more, and
// ctx's error when the drain is cut short first.
func (s *Server) waitDrained(ctx context.Context, shutdownDone <-chan struct{}) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-shutdownDone:
			return ctx.Err()
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if s.active.Load() == 0 {
				return nil
			}
		}
	}
}

// DrainCutError is Serve's error when a shutdown closed connections with requests in flight.
type DrainCutError struct{ Why string }

func (e *DrainCutError) Error() string { return e.Why + ": requests in flight were cut off" }

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
