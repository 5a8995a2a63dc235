package mcpgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw/authz"
	"github.com/aigw/aigw/internal/mcpstdio"
)

// backend is the running side of one config.MCPBackend, shared by every client session of the
// route: for a stdio server, the stdio bridge (internal/mcpstdio) in process, served on a
// loopback port only aigw uses; for a url, the HTTP client that adds the configured headers.
// Client sessions open their own MCP sessions on it (see session.go).
type backend struct {
	cfg   *config.MCPBackend
	print string // what the config was, to keep a backend across a reload that did not change it
	token string // resource URI scheme token, see names.go
	log   *slog.Logger

	mu      sync.Mutex
	bridge  *mcpstdio.Bridge
	srv     *http.Server
	url     string
	startAt time.Time // no new start attempt before it, after a failure
	closed  bool
	client  *http.Client
	conns   *http.Transport // the backend's own connection pool (idleConns)

	down atomic.Bool // last attempt to reach it failed (logged once per change)
	// unreachable, when set, is told of every failed attempt to reach it (a metric).
	unreachable func(error)
}

func fingerprint(b *config.MCPBackend) string {
	j, _ := json.Marshal(b)
	return string(j)
}

// idleConns is how many idle connections to one backend are kept. Every client session has
// sessions of its own on the backends, so calls of concurrent sessions go to the same host at
// once; with net/http's default of 2, most of them would dial a new connection (measured: 16
// sessions calling at once through the gateway, BenchmarkCallTool).
const idleConns = 128

func newBackend(cfg *config.MCPBackend, log *slog.Logger) *backend {
	b := &backend{cfg: cfg, print: fingerprint(cfg), log: log.With("mcp_backend", cfg.Name)}
	b.conns = http.DefaultTransport.(*http.Transport).Clone()
	b.conns.MaxIdleConnsPerHost = idleConns
	b.conns.MaxIdleConns = idleConns
	if !cfg.Stdio() {
		b.url = cfg.URL
		b.client = &http.Client{Transport: headerTransport{headers: cfg.Headers, query: cfg.Query, forward: cfg.ForwardHeaders, base: b.conns}}
	} else {
		b.client = &http.Client{Transport: b.conns}
	}
	return b
}

// headerTransport sets the backend's configured headers on every request, the client's
// forwarded headers and the caller's claimToHeaders (both from the request context, see authz).
type headerTransport struct {
	headers []config.Header
	query   []config.Header
	forward []config.MCPForwardHeader
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	claims := authz.UpstreamHeaders(r.Context())
	var client http.Header
	if len(t.forward) > 0 {
		client = authz.ClientHeader(r.Context())
	}
	if len(t.headers) > 0 || len(t.query) > 0 || len(claims) > 0 || len(client) > 0 {
		r = r.Clone(r.Context())
		for _, h := range t.headers {
			r.Header.Set(h.Name, h.Value)
		}
		if len(t.query) > 0 {
			q := r.URL.Query()
			for _, p := range t.query {
				q.Set(p.Name, p.Value)
			}
			r.URL.RawQuery = q.Encode()
		}
		for _, f := range t.forward {
			if v := client.Values(f.Name); len(v) > 0 {
				name := f.BackendHeader
				if name == "" {
					name = f.Name
				}
				r.Header[http.CanonicalHeaderKey(name)] = v
			}
		}
		for k, v := range claims {
			r.Header[k] = v
		}
	}
	return t.base.RoundTrip(r)
}

// start runs a stdio server's bridge; for a url backend it does nothing. Errors leave the
// backend down; the next session that needs it tries again (no sooner than a few seconds on).
func (b *backend) start(ctx context.Context) error {
	if !b.cfg.Stdio() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("backend removed")
	}
	if b.bridge != nil {
		return nil
	}
	if time.Now().Before(b.startAt) {
		return fmt.Errorf("starting %s failed recently; retrying after %s", b.cfg.Command, b.startAt.Format(time.TimeOnly))
	}
	env := make([]string, 0, len(b.cfg.Env))
	for _, e := range b.cfg.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	br, err := mcpstdio.New(mcpstdio.Config{Name: b.cfg.Name, Command: b.cfg.Command, Args: b.cfg.Args, Env: env,
		BaseEnv: os.Environ(), Dir: b.cfg.Cwd, Modern: mcpstdio.ModernTranslate, Logger: b.log})
	if err == nil {
		err = br.Start(ctx)
	}
	if err != nil {
		if br != nil {
			br.Close()
		}
		b.startAt = time.Now().Add(5 * time.Second)
		b.setDown(err)
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		br.Close()
		return err
	}
	b.srv = &http.Server{Handler: br.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	b.bridge = br
	b.url = "http://" + ln.Addr().String() + "/mcp"
	return nil
}

// transport returns a fresh client transport to the backend, whose event streams go through o
// (see order.go).
func (b *backend) transport(ctx context.Context, o *order) (mcp.Transport, error) {
	if err := b.start(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	url := b.url
	b.mu.Unlock()
	base := b.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client := &http.Client{Transport: o.roundTripper(base)}
	if b.cfg.Transport == config.MCPTransportSSE {
		return &mcp.SSEClientTransport{Endpoint: url, HTTPClient: client}, nil
	}
	return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client, MaxRetries: -1}, nil
}

// setDown records a failure to reach the backend, logging when it goes down.
func (b *backend) setDown(err error) {
	if b.unreachable != nil {
		b.unreachable(err)
	}
	if !b.down.Swap(true) {
		b.log.Warn("MCP backend is unreachable; its tools are left out until it answers again", "error", err)
	}
}

// setUp records a success, logging when the backend comes back.
func (b *backend) setUp() {
	if b.down.Swap(false) {
		b.log.Warn("MCP backend answers again")
	}
}

// close stops the bridge of a stdio server.
func (b *backend) close() {
	b.mu.Lock()
	b.closed = true
	br, srv := b.bridge, b.srv
	b.bridge, b.srv = nil, nil
	b.mu.Unlock()
	b.conns.CloseIdleConnections()
	if srv != nil {
		srv.Close()
	}
	if br != nil {
		br.Close()
	}
}
