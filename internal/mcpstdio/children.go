package mcpstdio

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/tidwall/gjson"
)

// This file decides which child serves which client. A stdio server keeps per-connection
// state about its client: the capabilities it declared (which can change the tools offered),
// its roots (which bound what the server may touch), and the fact that any request it sends
// (sampling, elicitation, roots/list) goes to "the" client. So a child may be shared only by
// clients the server cannot tell apart:
//
//   - the shared child is initialised with no client capabilities and serves every session
//     and 2026-07-28 request that declares none of sampling, elicitation or roots;
//   - a session that declares any of them (and, with Config.Isolated, every session) gets a
//     dedicated child initialised with that client's own capabilities and client info;
//   - a 2026-07-28 request that declares any of them is served by a pooled child initialised
//     with the same capabilities, which serves one request at a time (so a request it sends
//     belongs to that request) and is retired instead of reused once it learned a client's roots.
//
// Children besides the shared one are bounded by Config.MaxChildren: at the bound the least
// recently used idle child is reclaimed first (a reclaimed session gets 404 and initialises
// again, as the transport specifies).

// perClientCaps are the client capabilities that make a child per-client.
var perClientCaps = []string{"sampling", "elicitation", "roots"}

// needsOwnChild reports whether a client declaring caps cannot share the shared child.
func needsOwnChild(caps gjson.Result) bool {
	for _, c := range perClientCaps {
		if caps.Get(c).Exists() {
			return true
		}
	}
	return false
}

// canonicalCaps renders a capabilities object with sorted keys, so clients that declare the
// same capabilities share a pool key however they order them.
func canonicalCaps(raw string) json.RawMessage {
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return json.RawMessage(`{}`)
	}
	if _, ok := v.(map[string]any); !ok {
		return json.RawMessage(`{}`)
	}
	out, _ := json.Marshal(v)
	return out
}

// pooled is one child serving 2026-07-28 requests of one capability set, one at a time.
type pooled struct {
	m        *mux
	busy     bool
	lastUsed time.Time
}

// reclaimPoll is how often a client waiting for room looks for a child to reclaim.
const reclaimPoll = 100 * time.Millisecond

// errNoChildRoom is returned when MaxChildren children run and none can be reclaimed.
var errNoChildRoom = errors.New("too many MCP server processes are busy; try again later")

// reserveChild makes room for one more child: under MaxChildren, or by reclaiming the least
// recently used idle one, waiting (bounded by ctx and InitTimeout) for one to become idle.
// The caller must call releaseChild once that child is gone.
func (b *Bridge) reserveChild(ctx context.Context) error {
	deadline := time.NewTimer(b.cfg.InitTimeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return errors.New("the bridge is shutting down")
		}
		if b.children < b.cfg.MaxChildren {
			b.children++
			b.mu.Unlock()
			return nil
		}
		// An idle pooled child is the cheapest to give up: nobody is attached to it.
		var victim *pooled
		var victimKey string
		for key, list := range b.pool {
			for _, pc := range list {
				if !pc.busy && (victim == nil || pc.lastUsed.Before(victim.lastUsed)) {
					victim, victimKey = pc, key
				}
			}
		}
		if victim != nil {
			b.removePooledLocked(victimKey, victim)
			b.mu.Unlock()
			b.cfg.Logger.Info("reclaiming an idle MCP server process for a new client", "pid", victim.m.pid())
			b.stopChild(victim.m)
			continue
		}
		idle := b.idlestLocked(true)
		b.mu.Unlock()
		if idle == nil {
			select {
			case <-ctx.Done():
				return errNoChildRoom
			case <-deadline.C:
				return errNoChildRoom
			case <-time.After(reclaimPoll):
				continue
			}
		}
		b.cfg.Logger.Info("reclaiming the MCP server process of an idle session", "session", idle.id)
		b.endSession(idle)
	}
}

// idlestLocked picks the least recently used session that may be reclaimed: no request in
// flight, no open stream, idle for ReclaimIdle at least; with ownChild, only sessions that
// have a child of their own. Clients that go away without DELETE (the TypeScript SDK's
// close() sends none) leave exactly such sessions behind.
func (b *Bridge) idlestLocked(ownChild bool) *session {
	var idle *session
	now := time.Now()
	for _, s := range b.sessions {
		if (ownChild && !s.ownChild) || s.idleFor(now) < b.cfg.ReclaimIdle || s.busy() {
			continue
		}
		if idle == nil || s.lastUsed.Load() < idle.lastUsed.Load() {
			idle = s
		}
	}
	return idle
}

// releaseChild frees the room of a child that has gone.
func (b *Bridge) releaseChild() {
	b.mu.Lock()
	b.children--
	b.mu.Unlock()
}

// stopChild frees a child's room and stops it in the background, so a client waiting for
// room does not wait for a slow shutdown (for StopTimeout or two, one more process may exist).
func (b *Bridge) stopChild(m *mux) {
	b.releaseChild()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		m.close()
	}()
}

// startChild reserves room for and starts a child declared as cc; prepare configures its
// multiplexer before the child can send anything.
func (b *Bridge) startChild(ctx context.Context, cc childClient, prepare func(*mux)) (*mux, error) {
	if err := b.reserveChild(ctx); err != nil {
		return nil, err
	}
	m := newMux(b.cfg, cc)
	prepare(m)
	if err := m.start(ctx); err != nil {
		b.releaseChild()
		return nil, err
	}
	return m, nil
}

// bind attaches a session to the child that will serve it, when its client initialises.
func (b *Bridge) bind(ctx context.Context, s *session, req *jsonrpc.Request) error {
	if !s.bound.CompareAndSwap(false, true) {
		return errAlreadyInitialized
	}
	caps := param(req.Params, "capabilities")
	if !b.cfg.Isolated && !needsOwnChild(caps) {
		b.shared.addSession(s)
		s.mx.Store(b.shared)
		return nil
	}
	cc := childClient{Capabilities: json.RawMessage(`{}`)}
	if caps.IsObject() {
		cc.Capabilities = json.RawMessage(caps.Raw)
	}
	if info := param(req.Params, "clientInfo"); info.IsObject() {
		cc.ClientInfo = json.RawMessage(info.Raw)
	}
	m, err := b.startChild(ctx, cc, func(m *mux) { m.owner = s })
	if err != nil {
		s.bound.Store(false)
		return err
	}
	s.onClose = func() { b.stopChild(m) }
	m.addSession(s)
	s.mx.Store(m)
	b.mu.Lock()
	s.ownChild = true
	gone := b.closed || b.sessions[s.id] != s
	b.mu.Unlock()
	if gone { // ended (or the bridge closed) while its child started
		s.close()
		return errors.New("the session ended")
	}
	return nil
}

// errAlreadyInitialized answers a second initialize in one session.
var errAlreadyInitialized = errors.New("the session is already initialized")

// statelessChild picks the child for one 2026-07-28 request declaring caps: the shared child,
// or an idle pooled child of the same capabilities (started if none is idle). release hands
// a pooled child back once the request is over.
func (b *Bridge) statelessChild(ctx context.Context, caps gjson.Result) (*mux, func(), error) {
	if !needsOwnChild(caps) {
		return b.shared, func() {}, nil
	}
	cc := childClient{Capabilities: canonicalCaps(caps.Raw)}
	key := cc.key()
	b.mu.Lock()
	for _, pc := range b.pool[key] {
		if !pc.busy {
			pc.busy = true
			b.mu.Unlock()
			return pc.m, func() { b.releasePooled(key, pc) }, nil
		}
	}
	b.mu.Unlock()
	pc := &pooled{busy: true}
	m, err := b.startChild(ctx, cc, func(m *mux) {
		pc.m = m
		m.pooled = true
		m.fanout = b.shared.notifyListeners
		m.settled = func() { b.releasePooled(key, pc) }
	})
	if err != nil {
		return nil, nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.stopChild(m)
		return nil, nil, errors.New("the bridge is shutting down")
	}
	b.pool[key] = append(b.pool[key], pc)
	b.mu.Unlock()
	return m, func() { b.releasePooled(key, pc) }, nil
}

// releasePooled returns a pooled child to the pool once its request is fully over (not parked
// awaiting the client's input), or retires it if it has learned a client's roots.
func (b *Bridge) releasePooled(key string, pc *pooled) {
	pc.m.mu.Lock()
	parked, learned := len(pc.m.mrtr) > 0, pc.m.learnedRoots
	pc.m.mu.Unlock()
	if parked {
		return
	}
	b.mu.Lock()
	if !pc.busy {
		b.mu.Unlock()
		return
	}
	pc.busy = false
	pc.lastUsed = time.Now()
	retire := learned && b.removePooledLocked(key, pc)
	b.mu.Unlock()
	if retire {
		b.stopChild(pc.m)
	}
}

// removePooledLocked takes pc out of the pool; it reports false if it was not there.
func (b *Bridge) removePooledLocked(key string, pc *pooled) bool {
	list := b.pool[key]
	for i, x := range list {
		if x == pc {
			b.pool[key] = append(list[:i:i], list[i+1:]...)
			if len(b.pool[key]) == 0 {
				delete(b.pool, key)
			}
			return true
		}
	}
	return false
}

// parkedMux finds the child holding a parked 2026-07-28 request by its requestState.
func (b *Bridge) parkedMux(token string) *mux {
	b.mu.Lock()
	muxes := []*mux{b.shared}
	for _, list := range b.pool {
		for _, pc := range list {
			muxes = append(muxes, pc.m)
		}
	}
	b.mu.Unlock()
	for _, m := range muxes {
		if m == nil {
			continue
		}
		m.mu.Lock()
		op := m.mrtr[token]
		m.mu.Unlock()
		if op != nil {
			return m
		}
	}
	return nil
}
