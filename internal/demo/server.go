// Package demo is an in-process simulated LLM provider. It speaks the OpenAI and Anthropic wire
// protocols over real HTTP so `aigw run --demo`, the end-to-end tests and the benchmark can
// exercise the gateway exactly as they would a real provider, offline and deterministically.
package demo

import (
	"context"
	"errors"
	"hash/maphash"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune how the simulator paces its answers.
type Options struct {
	TimeToFirstToken time.Duration // delay before the first streamed chunk (and before non-streamed responses); 0 = none
	TokensPerSecond  float64       // streamed output pace; 0 = as fast as possible
	OutputTokens     int           // default completion length in tokens when the request sets no max; default 24 if 0
}

// defaultOutputTokens is the answer length when neither Options nor the request say otherwise:
// long enough to see streaming happen, short enough to keep tests fast.
const defaultOutputTokens = 24

// maxBodyBytes bounds a request body so a runaway client gets a 413 instead of exhausting memory.
const maxBodyBytes = 32 << 20

// Server is the simulator; it is an http.Handler.
//
// All per-request state lives on the stack of the handling goroutine; the only shared mutable
// state is the prompt-cache LRU (one short critical section, and only for long prompts) and an
// atomic id counter, so concurrent requests do not contend.
type Server struct {
	opts     Options
	interval time.Duration // time between streamed deltas; 0 = no pacing

	answer   pool // the canned answer pool, cycled to produce output text
	thinking pool // the canned reasoning pool for Anthropic extended thinking

	seed    maphash.Seed // keys prompt-cache entries; process-local by design
	idBase  uint64       // makes ids differ between server instances
	idCount atomic.Uint64
	cache   *prefixCache
	bufs    sync.Pool // *[]byte scratch buffers for bodies and events

	mu      sync.Mutex
	httpSrv *http.Server
	served  chan struct{} // closed when Serve returns
	stop    chan struct{} // closed by Close to release the context watcher
}

// New returns a simulator with the given options; the zero Options give an instant 24-token answer.
func New(opts Options) *Server {
	if opts.OutputTokens <= 0 {
		opts.OutputTokens = defaultOutputTokens
	}
	s := &Server{
		opts:     opts,
		answer:   newPool(answerSentences()),
		thinking: newPool(thinkingSentences()),
		seed:     maphash.MakeSeed(),
		idBase:   uint64(time.Now().UnixNano()),
		cache:    newPrefixCache(1024),
	}
	if opts.TokensPerSecond > 0 {
		s.interval = time.Duration(float64(time.Second) / opts.TokensPerSecond)
	}
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s
}

// ServeHTTP routes by exact provider path. Anything else gets the 404 OpenAI sends for an
// unknown URL, since OpenAI-shaped clients are the majority.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	switch r.URL.Path {
	case "/v1/chat/completions":
		if r.Method == http.MethodPost {
			s.chatCompletions(w, r, start)
			return
		}
	case "/v1/completions":
		if r.Method == http.MethodPost {
			s.completions(w, r, start)
			return
		}
	case "/v1/responses":
		if r.Method == http.MethodPost {
			s.responses(w, r, start)
			return
		}
	case "/v1/embeddings":
		if r.Method == http.MethodPost {
			s.embeddings(w, r, start)
			return
		}
	case "/v1/models":
		if r.Method == http.MethodGet {
			s.listModels(w, r, start)
			return
		}
	case "/v1/messages":
		if r.Method == http.MethodPost {
			s.messages(w, r, start)
			return
		}
		s.anthropicError(w, http.StatusNotFound, errNotFound, "Not Found")
		return
	case "/v1/messages/count_tokens":
		if r.Method == http.MethodPost {
			s.countTokens(w, r)
			return
		}
		s.anthropicError(w, http.StatusNotFound, errNotFound, "Not Found")
		return
	}
	s.openAIError(w, http.StatusNotFound, apiError{
		Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")",
		Type:    "invalid_request_error",
	})
}

// Start listens on addr (e.g. "127.0.0.1:0"), serves until ctx is done or Close; returns the base URL "http://127.0.0.1:PORT".
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return "", errors.New("demo: server already started")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx }, // ctx done ends streams in flight
	}
	s.httpSrv = srv
	s.served = make(chan struct{})
	s.stop = make(chan struct{})
	served, stop := s.served, s.stop
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // always returns an error once closed; nothing to report
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = srv.Close()
		case <-stop:
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener and drops open connections, ending streams in flight; it waits until
// the serving goroutine has returned so nothing outlives it. Closing a server never started is a no-op.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, served, stop := s.httpSrv, s.served, s.stop
	s.stop = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if stop != nil {
		close(stop)
	}
	err := srv.Close()
	<-served
	return err
}

// getBuf hands out a scratch buffer; putBuf returns it unless it grew too big to be worth keeping.
func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}
