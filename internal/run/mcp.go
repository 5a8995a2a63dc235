package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/mcpgw"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/version"
)

// This file wires the MCP gateway (internal/mcpgw) into `aigw run`: --mcp-config and --mcp-json
// compile into the Model's MCPRoutes, the gateway serves them on the gateway listener beside the
// LLM endpoints, and a reload of the configuration updates it.

// hasMCPInput reports whether the command line gives MCP servers.
func hasMCPInput(opts Options) bool { return opts.MCPConfigPath != "" || opts.MCPJSON != "" }

// withMCP adds the MCP routes of --mcp-config and --mcp-json to a loaded Model. With MCP input,
// no LLM configuration is needed: the Model then serves MCP only.
func withMCP(opts Options, m *config.Model, err error) (*config.Model, error) {
	if !hasMCPInput(opts) {
		return m, err
	}
	if errors.Is(err, config.ErrNoConfiguration) {
		m, err = &config.Model{Source: "MCP servers", MaxRequestBodyBytes: config.DefaultMaxRequestBodyBytes}, nil
	}
	if err != nil {
		return nil, err
	}
	var routes []*config.MCPRoute
	var warnings, files []string
	add := func(name string, data []byte) error {
		r, w, err := config.LoadMCPJSON(name, data, opts.Getenv)
		if err != nil {
			return err
		}
		routes = append(routes, r)
		warnings = append(warnings, w...)
		return nil
	}
	if p := opts.MCPConfigPath; p != "" {
		data, err := config.ReadRegularFile(p, config.MaxConfigFileBytes)
		if err != nil {
			return nil, fmt.Errorf("--mcp-config: %w", err)
		}
		if err := add(p, data); err != nil {
			return nil, err
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		files = append(files, p)
	}
	if opts.MCPJSON != "" {
		if err := add("--mcp-json", []byte(opts.MCPJSON)); err != nil {
			return nil, err
		}
	}
	if len(routes) == 2 {
		// Both name servers for /mcp: one route with both sets, names unique across them.
		seen := map[string]bool{}
		for _, b := range routes[0].Backends {
			seen[b.Name] = true
		}
		for _, b := range routes[1].Backends {
			if seen[b.Name] {
				return nil, fmt.Errorf("MCP server %q is named in both --mcp-config and --mcp-json", b.Name)
			}
			routes[0].Backends = append(routes[0].Backends, b)
		}
		routes = routes[:1]
	}
	// A Model is immutable once built; this one is fresh from loading and not yet shared.
	for _, r := range routes {
		for _, have := range m.MCPRoutes {
			if have.Path == r.Path {
				return nil, fmt.Errorf("the MCP servers of --mcp-config/--mcp-json and MCPRoute %q are both served at %s", have.Name, r.Path)
			}
		}
	}
	m.MCPRoutes = append(m.MCPRoutes, routes...)
	m.Warnings = append(m.Warnings, warnings...)
	m.Files = append(m.Files, files...)
	if m.Source == "" || m.Source == "MCP servers" {
		m.Source = strings.TrimSpace("MCP servers " + opts.MCPConfigPath)
	}
	return m, nil
}

// mcpGateway is the MCP gateway of one run.
type mcpGateway struct {
	gw     *mcpgw.Gateway
	log    *slog.Logger
	events *observe.MCPQueue
}

// startMCP starts the MCP gateway (always: a reload may add MCP routes, and a gateway with none
// costs nothing). Its events go to the run's access log, metrics, the admin event stream (hub,
// for aigw tui's MCP view) and traces (a nil tracing traces nothing). Its sessions end when ctx
// is done, so that their streams do not hold up the data plane's drain.
func startMCP(ctx context.Context, opts Options, m *config.Model, log *slog.Logger, metrics *observe.Metrics, accessLog io.Writer, hub *observe.Hub, tracing *observe.Tracing) (*mcpGateway, error) {
	mm, err := metrics.MCPMetrics()
	if err != nil {
		return nil, err
	}
	events := observe.NewMCPQueue(1024, observe.NewAccessLog(accessLog), mm, hub, tracing)
	gw, err := mcpgw.New(mcpgw.Options{
		Logger:             log.With("component", "mcp"),
		Version:            version.Version(),
		DataHome:           opts.Dirs.DataHome,
		KeyIterations:      opts.MCPSessionIterations,
		Events:             events.Publish,
		BackendUnreachable: mm.BackendUnreachable,
		ProgressRelayed:    mm.ProgressRelayed,
	})
	if err != nil {
		events.Close()
		return nil, err
	}
	g := &mcpGateway{gw: gw, log: log, events: events}
	if err := g.update(m); err != nil {
		g.close()
		return nil, err
	}
	go func() {
		<-ctx.Done()
		gw.Close()
	}()
	return g, nil
}

// update serves m's MCP routes.
func (g *mcpGateway) update(m *config.Model) error {
	if g == nil {
		return nil
	}
	if err := g.gw.Update(m.MCPRoutes); err != nil {
		return err
	}
	for _, r := range m.MCPRoutes {
		names := make([]string, len(r.Backends))
		for i, b := range r.Backends {
			names[i] = b.Name
		}
		g.log.Info("MCP route", "path", r.Path, "servers", strings.Join(names, ","))
	}
	return nil
}

// handler is the data plane's fallback: the MCP route a request is for, if any.
func (g *mcpGateway) handler(r *http.Request) http.Handler {
	if h := g.gw.Handler(r); h != nil {
		return h
	}
	return nil
}

// close stops every session and stdio server.
func (g *mcpGateway) close() {
	g.gw.Close()
	g.events.Close()
}

// wrapReload makes a reloader load the MCP input too and update the gateway with each Model it
// swaps in.
func (g *mcpGateway) wrapReload(rl *reloader, opts Options) {
	load, adjust := rl.load, rl.adjust
	rl.load = func() (*config.Model, error) {
		m, err := load()
		return withMCP(opts, m, err)
	}
	rl.adjust = func(m *config.Model) {
		adjust(m)
		if err := g.update(m); err != nil {
			rl.log.Error("MCP configuration not applied", "error", err)
		}
	}
}

// watchMCPOnly reloads --mcp-config when no configuration file is watched already; it returns a
// function that waits for the watcher to stop (nil when there is nothing to watch).
func (g *mcpGateway) watchMCPOnly(ctx context.Context, opts Options, pipeline *extproc.Pipeline, log *slog.Logger, adjust func(*config.Model)) func() {
	if opts.MCPConfigPath == "" || configPath(opts) != "" {
		return nil
	}
	interval := opts.ReloadInterval
	if interval <= 0 {
		interval = time.Second
	}
	rl := &reloader{path: opts.MCPConfigPath, pipeline: pipeline, log: log, interval: interval, adjust: adjust,
		load: func() (*config.Model, error) { return loadConfig(opts) }}
	g.wrapReload(rl, opts)
	done := make(chan struct{})
	go func() { defer close(done); rl.run(ctx) }()
	return func() { <-done }
}
