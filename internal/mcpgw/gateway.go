// Package mcpgw is the MCP gateway of `aigw run`: one streamable-HTTP endpoint per MCP route in
// front of all of the route's MCP servers (stdio servers through the stdio bridge, remote ones
// over streamable HTTP or legacy SSE). See README.md.
package mcpgw

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw/authz"
	"github.com/aigw/aigw/internal/observe"
)

// Event is one MCP request, as published to Options.Events.
type Event = observe.MCPEvent

// Options configure a Gateway.
type Options struct {
	Logger  *slog.Logger
	Version string
	// DataHome holds the session seed file (SeedFileName) unless SeedPath names another.
	DataHome, SeedPath string
	// KeyIterations > 0 derives the session key with PBKDF2 (the reference's
	// --mcp-session-encryption-iterations), once at start; 0 uses HKDF.
	KeyIterations int
	// Auth authenticates and authorises clients; nil admits everyone with the empty subject.
	Auth Authorizer
	// Events receives one Event per request; nil drops them.
	Events func(*Event)
	// BackendUnreachable is called for every failed attempt to reach a backend (a metric);
	// the log says when a backend goes down and when it is back.
	BackendUnreachable func(route, backend string)
	// ProgressRelayed is called for every progress notification relayed from a backend to a
	// client (a metric).
	ProgressRelayed func(route, backend string)
	// PageSize bounds the items of one list page; 0 answers a list in one page.
	PageSize int
	// MaxBodyBytes bounds a POSTed message (default 4 MiB).
	MaxBodyBytes int64
	// SessionIdleTimeout ends client sessions idle this long (default 30 minutes).
	SessionIdleTimeout time.Duration
}

// Gateway serves every MCP route of the Model in force.
type Gateway struct {
	opts Options
	log  *slog.Logger
	ids  *sessionCipher
	ctx  context.Context
	stop context.CancelFunc

	seq    atomic.Int64 // gateway progress tokens
	mu     sync.Mutex
	routes map[string]*route // by path
	closed bool
}

// New loads (or creates) the session seed and returns a Gateway serving no route yet.
func New(opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.SessionIdleTimeout <= 0 {
		opts.SessionIdleTimeout = 30 * time.Minute
	}
	if opts.Auth == nil {
		// Routes whose configuration has an Auth (an MCPRoute securityPolicy) are enforced.
		opts.Auth = authz.NewRoutes(authz.Options{Logger: opts.Logger})
	}
	path := opts.SeedPath
	if path == "" && opts.DataHome != "" {
		path = filepath.Join(opts.DataHome, SeedFileName)
	}
	var seed []byte
	if path == "" {
		// Without a data home (embedded uses, tests), session ids hold for this process only.
		seed = make([]byte, seedBytes)
		rand.Read(seed)
	} else {
		var err error
		if seed, err = loadSeed(path); err != nil {
			return nil, err
		}
	}
	ids, err := newSessionCipher(seed, opts.KeyIterations)
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, log: opts.Logger, ids: ids, routes: map[string]*route{}}
	g.ctx, g.stop = context.WithCancel(context.Background())
	return g, nil
}

// Update serves routes from now on: routes and backends that did not change keep running (and
// their client sessions stay up); added stdio servers start, removed ones stop; sessions whose
// visible tools, prompts or resources changed are sent list_changed notifications.
func (g *Gateway) Update(routes []*config.MCPRoute) error {
	seen := map[string]bool{}
	for _, rc := range routes {
		p := rc.Path
		if p == "" {
			p = config.DefaultMCPPath
		}
		if seen[p] {
			return fmt.Errorf("two MCP routes are served at %s", p)
		}
		seen[p] = true
	}
	if rs, ok := g.opts.Auth.(*authz.Routes); ok {
		if err := rs.Update(routes); err != nil {
			return err
		}
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errors.New("mcp gateway closed")
	}
	var gone []*route
	for p, rt := range g.routes {
		if !seen[p] {
			gone = append(gone, rt)
			delete(g.routes, p)
		}
	}
	var updates []func()
	for _, rc := range routes {
		p := rc.Path
		if p == "" {
			p = config.DefaultMCPPath
		}
		rt := g.routes[p]
		if rt == nil {
			rt = newRoute(g, p)
			g.routes[p] = rt
		}
		updates = append(updates, func() { rt.update(rc) })
	}
	g.mu.Unlock()
	for _, u := range updates {
		u()
	}
	for _, rt := range gone {
		rt.close()
	}
	return nil
}

// Close ends every session and stops every stdio server.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	routes := g.routes
	g.routes = map[string]*route{}
	g.mu.Unlock()
	g.stop()
	for _, rt := range routes {
		rt.close()
	}
}

func (g *Gateway) publish(ev *Event) {
	if g.opts.Events != nil {
		g.opts.Events(ev)
	}
}

// Paths lists the paths served now, for logs.
func (g *Gateway) Paths() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.routes))
	for p := range g.routes {
		out = append(out, p)
	}
	return out
}

// uniqueTokens gives each backend a distinct URI scheme token (see names.go).
func uniqueTokens(bs []*config.MCPBackend) []string {
	out := make([]string, len(bs))
	used := map[string]bool{}
	for i, b := range bs {
		t := schemeToken(b.Name)
		for n := 2; used[t]; n++ {
			t = schemeToken(b.Name) + "-" + strconv.Itoa(n)
		}
		used[t] = true
		out[i] = t
	}
	return out
}
