package mcpstdio

import (
	"context"
	"errors"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// This file serves 2026-07-28 requests with a child that speaks that revision itself. Such a
// server needs no per-client child: the revision has no session, every request carries its
// client's capabilities, and a server needing input answers input_required instead of asking.
// So one child takes every 2026-07-28 request unchanged (under bridge ids, as always), and
// answers discovery, input requests, cache hints and capability errors itself; the bridge
// still checks the HTTP edge (stateless_wire.go) and routes what the child sends.

// probeModern starts the modern child if the server speaks 2026-07-28 over stdio. The probe
// runs on a child of its own (a server that exits on a request before initialize costs only
// that child), which, if the server answers, becomes the modern child.
func (b *Bridge) probeModern() {
	defer b.wg.Done()
	defer close(b.modernKnown)
	// A server that neither answers nor exits holds 2026-07-28 clients until the verdict, so the
	// probe gets less time than a start does (the shared child has already warmed up caches).
	ctx, cancel := context.WithTimeout(context.Background(), min(b.cfg.InitTimeout, maxProbe))
	defer cancel()
	go func() {
		select {
		case <-b.stopJan:
			cancel()
		case <-ctx.Done():
		}
	}()
	m := newMux(b.cfg, childClient{})
	m.modern = true
	if err := m.start(ctx); err != nil {
		level := b.cfg.Logger.Info
		if !errors.Is(err, errNotModern) {
			level = b.cfg.Logger.Warn
		}
		level("2026-07-28 requests are translated for the server's session revision", "server", b.cfg.Name, "reason", err)
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		m.close()
		return
	}
	b.modern = m
	b.mu.Unlock()
	b.cfg.Logger.Info("the server speaks 2026-07-28 over stdio; its requests go to it unchanged", "server", b.cfg.Name, "pid", m.pid())
}

// maxProbe bounds the wait for a server's answer to the probe.
const maxProbe = 10 * time.Second

// modernChild waits (bounded by ctx and InitTimeout) until the probe has decided, and returns
// the modern child, or nil to translate.
func (b *Bridge) modernChild(ctx context.Context) *mux {
	if b.modernKnown == nil {
		return nil
	}
	select {
	case <-b.modernKnown:
	case <-ctx.Done():
		return nil
	case <-time.After(b.cfg.InitTimeout):
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.modern
}

// subscriptionNotificationLocked routes a notification of a modern child that belongs to a
// subscriptions/listen request (its _meta names the request's bridge id) to that request's
// stream, under the client's id. It reports whether n was one.
func (m *mux) subscriptionNotificationLocked(n *jsonrpc.Request) bool {
	sub := param(n.Params, metaPath(metaSubscriptionID))
	if !sub.Exists() {
		return false
	}
	c := m.calls[sub.Int()]
	if c == nil || c.sess == nil || c.stream == nil {
		return true // a subscription that has ended: nobody to tell
	}
	params := setParam(n.Params, metaPath(metaSubscriptionID), idJSON(c.clientID))
	c.stream.push(&jsonrpc.Request{Method: n.Method, Params: params})
	return true
}
