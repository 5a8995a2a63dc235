// Package mcpstdio bridges one stdio MCP server (a command speaking JSON-RPC on stdin/stdout)
// to MCP over HTTP: streamable HTTP for 2025-11-25 and 2026-07-28 clients, and the older
// HTTP+SSE transport. See README.md for how messages flow.
package mcpstdio

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Bridge serves one stdio MCP server over HTTP. By default every client session shares one
// child process; with Config.Isolated each session gets its own.
//
// The life of a Bridge is New, Start, serving Handler, Close.
type Bridge struct {
	cfg    Config
	shared *mux // the one child of shared mode; nil when isolated

	mu       sync.Mutex
	sessions map[string]*session
	children int                  // children besides the shared one, running or starting
	pool     map[string][]*pooled // capability set → children serving 2026-07-28 requests
	// toolHeaders knows which tool arguments 2026-07-28 clients mirror in headers.
	toolHeaders toolHeaderCache
	// modern is the child that takes 2026-07-28 requests unchanged, if the server speaks that
	// revision; modernKnown is closed once the probe has decided (modern.go).
	modern      *mux
	modernKnown chan struct{}
	started     bool
	closed      bool

	wg      sync.WaitGroup // background work: janitor, isolated children stopping
	stopJan chan struct{}
	handler http.Handler
}

// New validates cfg and returns a Bridge that is not running yet.
func New(cfg Config) (*Bridge, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bridge{cfg: cfg, sessions: map[string]*session{}, pool: map[string][]*pooled{}, stopJan: make(chan struct{})}
	b.handler = b.routes()
	return b, nil
}

// Start launches and initialises the shared child (in isolated mode it only checks that the
// command exists; children start with their sessions). ctx bounds the start-up only: the
// bridge runs until Close.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.started || b.closed {
		b.mu.Unlock()
		return errors.New("mcp stdio bridge: Start called twice or after Close")
	}
	b.started = true
	b.mu.Unlock()
	if b.cfg.Isolated {
		if _, err := exec.LookPath(b.cfg.Command); err != nil {
			return fmt.Errorf("mcp stdio bridge: %w", err)
		}
	} else {
		m := newMux(b.cfg, childClient{})
		if err := m.start(ctx); err != nil {
			return fmt.Errorf("mcp stdio bridge: %w", err)
		}
		b.mu.Lock()
		b.shared = m
		if b.cfg.Modern == ModernAuto {
			b.modernKnown = make(chan struct{})
			b.wg.Add(1)
			go b.probeModern()
		}
		b.mu.Unlock()
	}
	b.wg.Add(1)
	go b.janitor()
	return nil
}

// Handler serves Config.Path (streamable HTTP), Config.SSEPath and Config.MessagePath
// (HTTP+SSE); other paths get 404.
func (b *Bridge) Handler() http.Handler { return b.handler }

// Close ends every session and stops every child (stdin closed, then SIGTERM, then SIGKILL
// to the process group), returning once all are gone.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	sessions := make([]*session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	clear(b.sessions)
	var pool []*mux
	for _, list := range b.pool {
		for _, pc := range list {
			pool = append(pool, pc.m)
		}
	}
	clear(b.pool)
	modern := b.modern
	shared := b.shared
	started := b.started
	b.mu.Unlock()
	if started {
		close(b.stopJan)
	}
	for _, s := range sessions {
		b.endSession(s)
	}
	for _, m := range pool {
		b.stopChild(m)
	}
	if modern != nil {
		modern.close()
	}
	if shared != nil {
		shared.close()
	}
	b.wg.Wait()
	return nil
}

// ChildPIDs lists the process ids of the running children, for status output and tests.
func (b *Bridge) ChildPIDs() []int {
	b.mu.Lock()
	var muxes []*mux
	if b.shared != nil {
		muxes = append(muxes, b.shared)
	}
	for _, s := range b.sessions {
		if m := s.mx.Load(); s.ownChild && m != nil {
			muxes = append(muxes, m)
		}
	}
	for _, list := range b.pool {
		for _, pc := range list {
			muxes = append(muxes, pc.m)
		}
	}
	if b.modern != nil {
		muxes = append(muxes, b.modern)
	}
	b.mu.Unlock()
	var pids []int
	for _, m := range muxes {
		if pid := m.pid(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// errTooManySessions is returned when MaxSessions are open.
var errTooManySessions = errors.New("too many sessions")

// newSession opens a stateful session. It has no child until its client initialises (bind),
// so opening a stream (GET /sse) costs no process. An HTTP+SSE session (legacySSE) has one
// stream that carries responses too.
func (b *Bridge) newSession(legacySSE bool) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed || !b.started {
			return nil, errors.New("the bridge is not running")
		}
		if b.cfg.MaxSessions == 0 || len(b.sessions) < b.cfg.MaxSessions {
			break
		}
		idle := b.idlestLocked(false)
		if idle == nil {
			return nil, errTooManySessions
		}
		b.cfg.Logger.Info("ending the least recently used idle session for a new one", "session", idle.id)
		b.mu.Unlock()
		b.endSession(idle)
		b.mu.Lock()
	}
	s := newSession(rand.Text(), nil)
	s.out = newQueue(maxStandalone)
	s.outTakesResponses = legacySSE
	b.sessions[s.id] = s
	return s, nil
}

// handle processes one message of a stateful session: initialize binds the session to its
// child; everything else goes to that child's multiplexer.
func (b *Bridge) handle(ctx context.Context, s *session, msg jsonrpc.Message, stream *queue) {
	s.touch()
	req, isReq := msg.(*jsonrpc.Request)
	if isReq && req.Method == methodInitialize && req.IsCall() && s.mx.Load() == nil {
		if err := b.bind(ctx, s, req); err != nil {
			s.reply(stream, errorResponse(req.ID, codeInvalidRequest, err.Error()))
			return
		}
	}
	m := s.mx.Load()
	if m == nil {
		if isReq && req.IsCall() {
			s.reply(stream, errorResponse(req.ID, codeInvalidRequest, "the session is not initialized: send initialize first"))
		}
		return
	}
	m.handle(ctx, s, msg, stream)
}

// lookup finds an open session by id.
func (b *Bridge) lookup(id string) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[id]
}

// endSession removes and closes a session.
func (b *Bridge) endSession(s *session) {
	b.mu.Lock()
	if b.sessions[s.id] == s {
		delete(b.sessions, s.id)
	}
	b.mu.Unlock()
	s.close()
}

// janitor ends sessions whose client went away without saying so.
func (b *Bridge) janitor() {
	defer b.wg.Done()
	tick := time.NewTicker(min(b.cfg.SessionIdleTimeout/4, time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-b.stopJan:
			return
		case now := <-tick.C:
			b.mu.Lock()
			var idle []*session
			for _, s := range b.sessions {
				if s.idleFor(now) > b.cfg.SessionIdleTimeout {
					idle = append(idle, s)
				}
			}
			b.mu.Unlock()
			for _, s := range idle {
				b.cfg.Logger.Info("ending idle MCP session", "session", s.id)
				b.endSession(s)
			}
		}
	}
}

// maxStandalone bounds messages buffered for a session's standalone stream while no client
// listens; older messages are dropped beyond it.
const maxStandalone = 1024

// maxPerRequest bounds messages queued on one request's stream.
const maxPerRequest = 8192
