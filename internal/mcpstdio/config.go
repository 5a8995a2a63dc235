package mcpstdio

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config describes one stdio MCP server and how the bridge serves it. The zero values of the
// optional fields are sensible defaults; only Command is required.
type Config struct {
	// Name prefixes the child's log lines; it defaults to the base name of Command.
	Name string
	// Command and Args start the child, e.g. "npx", ["-y", "@modelcontextprotocol/server-everything"].
	Command string
	Args    []string
	// Env holds KEY=VALUE pairs set in the child's environment on top of the inherited one.
	Env []string
	// ClearEnv starts the child with Env only instead of inheriting BaseEnv.
	ClearEnv bool
	// BaseEnv is the environment the child inherits (KEY=VALUE); nil means aigw's own.
	BaseEnv []string
	// Dir is the child's working directory; empty means aigw's.
	Dir string

	// Isolated runs one child per client session instead of one shared child.
	Isolated bool
	// MaxSessions bounds concurrent client sessions (0: unlimited when shared, 16 when isolated).
	MaxSessions int
	// MaxChildren bounds the children started besides the shared one (and the one serving
	// 2026-07-28 requests of a server that speaks that revision): one per isolated session,
	// per session that declares sampling, elicitation or roots, and per concurrent 2026-07-28
	// request that declares them (default 16, or MaxSessions when isolated). When the bound is
	// reached the least recently used idle child is reclaimed (its session gets 404 and
	// re-initialises); if none is idle the new session or request is refused.
	MaxChildren int
	// ReclaimIdle is how long a session must have had no request and no open stream before its
	// child may be reclaimed for another client when MaxChildren (or MaxSessions) is reached
	// (default 2s). Clients keep a stream open while they listen; one that has none for this
	// long has usually gone (the TypeScript SDK's close() sends no DELETE) and, if not, gets
	// 404 and initialises again, as the transport specifies.
	ReclaimIdle time.Duration

	// Path serves the streamable HTTP transport (default "/mcp"); SSEPath and MessagePath serve
	// the older HTTP+SSE transport (defaults "/sse" and "/message"). Handler routes by these.
	Path, SSEPath, MessagePath string
	// MaxBodyBytes bounds one POSTed message (default 4 MiB); larger bodies get 413.
	MaxBodyBytes int64
	// SessionIdleTimeout ends sessions with no request and no open stream for this long
	// (default 30m), so clients that vanish without DELETE do not keep children or subscriptions.
	SessionIdleTimeout time.Duration

	// InitTimeout bounds starting and initialising the child (default 60s).
	InitTimeout time.Duration
	// StopTimeout is how long shutdown waits after closing the child's stdin, and again after
	// SIGTERM, before escalating (default 2s).
	StopTimeout time.Duration
	// MaxRestartDelay caps the back-off between restarts of a crashed child (default 10s).
	MaxRestartDelay time.Duration

	// Modern decides how 2026-07-28 requests reach the server. ModernAuto (the default) asks a
	// second child, at Start, with server/discover: a server that speaks 2026-07-28 over stdio
	// gets those requests unchanged on that child (it answers input_required, caching hints and
	// capability errors itself); any other server gets them translated onto a child of the
	// session revision. ModernTranslate always translates.
	Modern ModernMode

	// Logger receives the bridge's own log and the child's stderr; nil discards both.
	Logger *slog.Logger
}

// ModernMode is Config.Modern.
type ModernMode string

// The values of ModernMode.
const (
	ModernAuto      ModernMode = ""
	ModernTranslate ModernMode = "translate"
)

// defaultIsolatedMaxSessions bounds children in isolated mode when MaxSessions is unset.
const defaultIsolatedMaxSessions = 16

// withDefaults returns a copy of c with defaults filled in, or an error for an unusable config.
func (c Config) withDefaults() (Config, error) {
	if strings.TrimSpace(c.Command) == "" {
		return c, errors.New("mcp stdio bridge: no command to run")
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return c, fmt.Errorf("mcp stdio bridge: environment entry %q is not KEY=VALUE", kv)
		}
	}
	if c.MaxSessions < 0 {
		return c, fmt.Errorf("mcp stdio bridge: max sessions must not be negative, got %d", c.MaxSessions)
	}
	if c.Name == "" {
		c.Name = filepath.Base(c.Command)
	}
	if c.Modern != ModernAuto && c.Modern != ModernTranslate {
		return c, fmt.Errorf("mcp stdio bridge: unknown modern mode %q (want %q or %q)", c.Modern, ModernAuto, ModernTranslate)
	}
	if c.MaxChildren < 0 {
		return c, fmt.Errorf("mcp stdio bridge: max children must not be negative, got %d", c.MaxChildren)
	}
	if c.Isolated && c.MaxSessions == 0 {
		c.MaxSessions = defaultIsolatedMaxSessions
	}
	if c.MaxChildren == 0 {
		c.MaxChildren = defaultIsolatedMaxSessions
		if c.Isolated {
			c.MaxChildren = c.MaxSessions
		}
	}
	if c.ReclaimIdle <= 0 {
		c.ReclaimIdle = 2 * time.Second
	}
	if c.Path == "" {
		c.Path = "/mcp"
	}
	if c.SSEPath == "" {
		c.SSEPath = "/sse"
	}
	if c.MessagePath == "" {
		c.MessagePath = "/message"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.SessionIdleTimeout <= 0 {
		c.SessionIdleTimeout = 30 * time.Minute
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = 60 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 2 * time.Second
	}
	if c.MaxRestartDelay <= 0 {
		c.MaxRestartDelay = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

// childEnv is the environment of the child: inherited (unless ClearEnv) with Env on top.
func (c Config) childEnv() []string {
	var env []string
	if !c.ClearEnv {
		inherited := c.BaseEnv
		if inherited == nil {
			inherited = os.Environ()
		}
		env = append(env, inherited...)
	}
	// exec.Cmd keeps the last value of a duplicated key, so appending overrides.
	return append(env, c.Env...)
}
