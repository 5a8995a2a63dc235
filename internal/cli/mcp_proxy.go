package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/mcpstdio"
)

// MCPProxyOptions are the inputs of `aigw mcp proxy`.
type MCPProxyOptions struct {
	IO          *IOStreams
	Host        string
	Port        int
	Path        string
	Env         []string // KEY=VALUE for the child, on top of the inherited environment
	ClearEnv    bool
	Dir         string
	Isolated    bool
	MaxSessions int
	MaxChildren int
	Debug       bool
	Command     string
	Args        []string
	// Environ is the environment the child inherits.
	Environ func() []string
	// OnReady, for tests, learns the streamable HTTP URL once the proxy serves.
	OnReady func(url string)
}

func newMCPProxyCmd(f *Factory, runF func(context.Context, *MCPProxyOptions) error) *cobra.Command {
	opts := &MCPProxyOptions{IO: f.IO, Environ: f.Environ}
	cmd := &cobra.Command{
		Use:   "proxy [flags] -- COMMAND [ARGS...]",
		Short: "Serve a stdio MCP server over streamable HTTP",
		Long: `Run a stdio MCP server (a command speaking JSON-RPC on stdin/stdout) and serve it over MCP's
streamable HTTP transport at http://HOST:PORT/PATH, and over the older HTTP+SSE transport at /sse.

By default client sessions share one server process; every request is forwarded under an id of
aigw's own, so each answer, progress notification and cancellation reaches the session that
asked. The shared process is told its client declares no capabilities, so a bare client sees
what the server shows a bare client. A client that declares sampling, elicitation or roots gets
a process of its own, initialised with its capabilities, so what the server asks (and the roots
it is confined to) belongs to that client alone. --isolated starts one process per session.
At --max-children such processes, the least recently used idle one is reclaimed (its session
gets 404 and initialises again). A server that crashes is restarted. Its stderr goes to aigw's
log, prefixed with its name.`,
		Example: `  aigw mcp proxy -- npx -y @modelcontextprotocol/server-everything
  aigw mcp proxy --port 0 --env GIT_DIR=/src/.git -- uvx mcp-server-git
  aigw mcp proxy --isolated --max-sessions 4 -- ./my-server --verbose`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs the command of the MCP server to run, after --", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command, opts.Args = args[0], args[1:]
			if opts.Port < 0 || opts.Port > 65535 {
				return usageErrorf("--port must be between 0 and 65535, not %d", opts.Port)
			}
			if opts.MaxSessions < 0 {
				return usageErrorf("--max-sessions must not be negative, not %d", opts.MaxSessions)
			}
			if opts.MaxChildren < 0 {
				return usageErrorf("--max-children must not be negative, not %d", opts.MaxChildren)
			}
			if !strings.HasPrefix(opts.Path, "/") || opts.Path == "/sse" || opts.Path == "/message" {
				return usageErrorf("--path must start with / and not be /sse or /message, not %q", opts.Path)
			}
			for _, kv := range opts.Env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					return usageErrorf("--env takes KEY=VALUE, not %q", kv)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return mcpProxyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// Everything after the server's command belongs to the server, flags included.
	fl.SetInterspersed(false)
	fl.StringVar(&opts.Host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)")
	fl.IntVar(&opts.Port, "port", 1976, "port to listen on (0 picks a free one)")
	fl.StringVar(&opts.Path, "path", "/mcp", "URL path of the streamable HTTP endpoint")
	fl.StringArrayVar(&opts.Env, "env", nil, "KEY=VALUE set in the server's environment (repeatable)")
	fl.BoolVar(&opts.ClearEnv, "clear-env", false, "do not pass aigw's environment to the server, only --env")
	fl.StringVar(&opts.Dir, "cwd", "", "working directory of the server (default: aigw's)")
	fl.BoolVar(&opts.Isolated, "isolated", false, "run one server process per client session")
	fl.IntVar(&opts.MaxSessions, "max-sessions", 0, "most concurrent client sessions (0: unlimited, or 16 with --isolated)")
	fl.IntVar(&opts.MaxChildren, "max-children", 0, "most server processes besides the shared one (0: 16, or --max-sessions with --isolated)")
	fl.BoolVar(&opts.Debug, "debug", false, "log debug detail to stderr")
	return cmd
}

// mcpProxyRun serves the bridge until ctx ends, then stops the server process and returns.
func mcpProxyRun(ctx context.Context, opts *MCPProxyOptions) error {
	level := slog.LevelInfo
	if opts.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	var base []string
	if opts.Environ != nil {
		base = opts.Environ()
	}
	bridge, err := mcpstdio.New(mcpstdio.Config{
		Command:     opts.Command,
		Args:        opts.Args,
		Env:         opts.Env,
		ClearEnv:    opts.ClearEnv,
		BaseEnv:     base,
		Dir:         opts.Dir,
		Isolated:    opts.Isolated,
		MaxSessions: opts.MaxSessions,
		MaxChildren: opts.MaxChildren,
		Path:        opts.Path,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another process using the port? --port 0 picks a free one)", addr, err)
	}
	if err := bridge.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("%w; check that %q runs as a stdio MCP server", err, opts.Command)
	}
	srv := &http.Server{Handler: bridge.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	origin := "http://" + ln.Addr().String()
	url := origin + opts.Path
	if _, err := fmt.Fprintf(opts.IO.Out, "aigw mcp proxy: serving %s at %s (HTTP+SSE at %s/sse)\n",
		opts.Command, url, origin); err != nil {
		log.Warn("writing the ready line", "err", err)
	}
	if opts.OnReady != nil {
		opts.OnReady(url)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// Ending the bridge first ends every open stream, so Shutdown does not wait on them.
	_ = bridge.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", url, serveErr)
	}
	return nil
}
