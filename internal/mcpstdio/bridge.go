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
	started  bool
	closed   bool

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
	b := &Bridge{cfg: cfg, sessions: map[string]*session{}, stopJan: make(chan struct{})}
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
		m := newMux(b.cfg)
		if err := m.start(ctx); err != nil {
			return fmt.Errorf("mcp stdio bridge: %w", err)
		}
		b.mu.Lock()
		b.shared = m
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
	shared := b.shared
	started := b.started
	b.mu.Unlock()
	if started {
		close(b.stopJan)
	}
	for _, s := range sessions {
		b.endSession(s)
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
		if s.mux != b.shared {
			muxes = append(muxes, s.mux)
		}
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

// newSession opens a stateful session: on the shared child, or on a new child when isolated.
// An HTTP+SSE session (legacySSE) has one stream that carries responses too.
func (b *Bridge) newSession(ctx context.Context, legacySSE bool) (*session, error) {
	b.mu.Lock()
	if b.closed || !b.started {
		b.mu.Unlock()
		return nil, errors.New("the bridge is not running")
	}
	if b.cfg.MaxSessions > 0 && len(b.sessions) >= b.cfg.MaxSessions {
		b.mu.Unlock()
		return nil, errTooManySessions
	}
	id := rand.Text()
	// Reserve the slot while an isolated child starts, so MaxSessions holds under a burst.
	b.sessions[id] = nil
	m := b.shared
	b.mu.Unlock()

	if m == nil {
		m = newMux(b.cfg)
		if err := m.start(ctx); err != nil {
			b.mu.Lock()
			delete(b.sessions, id)
			b.mu.Unlock()
			return nil, err
		}
	}
	s := newSession(id, m)
	s.out = newQueue(maxStandalone)
	s.outTakesResponses = legacySSE
	if m != b.shared {
		s.onClose = func() {
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				m.close()
			}()
		}
	}
	m.addSession(s)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.close()
		return nil, errors.New("the bridge is shutting down")
	}
	b.sessions[id] = s
	b.mu.Unlock()
	return s, nil
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
				if s != nil && s.idleFor(now) > b.cfg.SessionIdleTimeout {
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
