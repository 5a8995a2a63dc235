package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/proxy"
	"github.com/aigw/aigw/internal/run"
)

// RunOptions are the inputs of `aigw run`.
type RunOptions struct {
	IO                  *IOStreams
	Dirs                config.Dirs
	ConfigPath          string
	Debug               bool
	Host                string
	Port                int
	AdminPort           int
	RunID               string
	Demo                bool
	ValidateOnly        bool
	DemoTTFT            time.Duration
	DemoTokensPerSecond float64
	PortSet             bool
	MaxRequestBodyBytes int64
	PricesPath          string
	// Limits are the data plane bounds from --request-body-timeout, --max-connections,
	// --max-upstream-body-bytes and --max-stream-event-bytes.
	Limits        proxy.Limits
	ShutdownGrace time.Duration
	LogMaxSize    int64
	LogMaxFiles   int
	// Forced ends a shutdown's drain at once when closed (a second SIGINT/SIGTERM).
	Forced <-chan struct{}
	Getenv func(string) string
	// OnReady, for tests, learns the listening addresses.
	OnReady func(run.Ready)
	// TUI shows the `aigw tui` view in this terminal while the gateway runs (--tui).
	TUI bool
	// MCPConfigPath, MCPJSON and MCPSessionIterations are --mcp-config, --mcp-json and
	// --mcp-session-encryption-iterations.
	MCPConfigPath, MCPJSON string
	MCPSessionIterations   int
	// CaptureContent puts each request's messages on the event stream (--capture-content).
	CaptureContent bool
	// DataPlane is --data-plane (builtin, envoy or auto); EnvoyPath is --envoy-path.
	DataPlane, EnvoyPath string
	// RateLimitRedis and RateLimitFailClosed are --ratelimit-redis and --ratelimit-fail-closed.
	RateLimitRedis      string
	RateLimitFailClosed bool
}

func newRunCmd(f *Factory, g *globalOptions, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Getenv: f.Getenv, Forced: f.Forced}
	cmd := &cobra.Command{
		Use:   "run [config.yaml]",
		Short: "Run the gateway",
		Long: `Run the gateway on 127.0.0.1:1975 with its admin server (/health, /metrics) on 127.0.0.1:1064.

Backends come from a config file (Envoy AI Gateway CRD YAML), from provider environment
variables (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, AZURE_OPENAI_API_KEY, ...), or
from --demo, a built-in simulated provider that works offline.`,
		Example: `  aigw run --demo
  OPENAI_API_KEY=sk-... aigw run
  OPENAI_BASE_URL=http://localhost:11434/v1 aigw run`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ConfigPath = args[0]
			}
			opts.PortSet = cmd.Flags().Changed("port")
			if opts.Demo && opts.ConfigPath != "" {
				return usageErrorf("--demo and a config file cannot be used together")
			}
			if !cmd.Flags().Changed("debug") {
				if v, err := strconv.ParseBool(f.Getenv("AIGW_DEBUG")); err == nil {
					opts.Debug = v
				}
			}
			if opts.RunID == "" {
				opts.RunID = f.Getenv("AIGW_RUN_ID")
			}
			if opts.Port < 0 || opts.Port > 65535 || opts.AdminPort < 0 || opts.AdminPort > 65535 {
				return usageErrorf("ports must be between 0 and 65535")
			}
			if opts.DemoTTFT < 0 || opts.DemoTokensPerSecond < 0 {
				return usageErrorf("--demo-ttft and --demo-tps must not be negative")
			}
			if opts.MaxRequestBodyBytes < 0 {
				return usageErrorf("--max-request-body-bytes must not be negative")
			}
			if l := opts.Limits; l.RequestBodyTimeout <= 0 || l.MaxConnections <= 0 || l.MaxUpstreamBodyBytes <= 0 || l.MaxStreamEventBytes <= 0 {
				return usageErrorf("--request-body-timeout, --max-connections, --max-upstream-body-bytes and --max-stream-event-bytes must be positive")
			}
			if opts.MCPSessionIterations < 0 {
				return usageErrorf("--mcp-session-encryption-iterations must not be negative")
			}
			switch opts.DataPlane {
			case run.DataPlaneBuiltin, run.DataPlaneEnvoy, run.DataPlaneAuto:
			default:
				return usageErrorf("--data-plane must be builtin, envoy or auto, not %q", opts.DataPlane)
			}
			if opts.EnvoyPath != "" && opts.DataPlane == run.DataPlaneBuiltin {
				return usageErrorf("--envoy-path needs --data-plane envoy or auto")
			}
			if opts.ShutdownGrace <= 0 {
				return usageErrorf("--shutdown-grace must be positive")
			}
			if opts.LogMaxSize < 0 || opts.LogMaxFiles < 0 {
				return usageErrorf("--log-max-size and --log-max-files must not be negative")
			}
			dirs, err := g.dirs(f)
			if err != nil {
				return err
			}
			opts.Dirs = dirs
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Debug, "debug", false, "log debug detail to stderr (env AIGW_DEBUG)")
	fl.StringVar(&opts.Host, "host", "127.0.0.1", "address the gateway listens on (0.0.0.0 for all interfaces)")
	fl.IntVar(&opts.Port, "port", 1975, "gateway port (0 picks a free one)")
	fl.IntVar(&opts.AdminPort, "admin-port", 1064, "admin server port on 127.0.0.1 (0 picks a free one)")
	fl.StringVar(&opts.RunID, "run-id", "", "name of this run's log directory (env AIGW_RUN_ID; default a timestamp)")
	fl.BoolVar(&opts.Demo, "demo", false, "serve a built-in simulated OpenAI/Anthropic provider (offline)")
	fl.DurationVar(&opts.DemoTTFT, "demo-ttft", 150*time.Millisecond, "with --demo: the simulated time to first token")
	fl.Float64Var(&opts.DemoTokensPerSecond, "demo-tps", 60, "with --demo: simulated output tokens per second (0 for as fast as possible)")
	fl.BoolVar(&opts.ValidateOnly, "validate-only", false, "check the configuration, print what it resolves to, and exit")
	fl.BoolVar(&opts.TUI, "tui", false, "watch the gateway in this terminal (the aigw tui view); status and logs go to the run log only")
	fl.BoolVar(&opts.CaptureContent, "capture-content", false, "put each request's messages and tool calls on the admin event stream, for aigw tui's Trace view (OPENINFERENCE_HIDE_* still apply)")
	fl.Int64Var(&opts.MaxRequestBodyBytes, "max-request-body-bytes", config.DefaultMaxRequestBodyBytes, "largest request body accepted (413 above it)")
	fl.DurationVar(&opts.Limits.RequestBodyTimeout, "request-body-timeout", proxy.DefaultRequestBodyTimeout, "time a client has to send its whole request body (408 past it)")
	fl.IntVar(&opts.Limits.MaxConnections, "max-connections", proxy.DefaultMaxConnections, "most client connections open at once; more wait in the listen queue")
	fl.Int64Var(&opts.Limits.MaxUpstreamBodyBytes, "max-upstream-body-bytes", proxy.DefaultMaxUpstreamBodyBytes, "largest non-streamed provider response, decompressed (502 above it)")
	fl.IntVar(&opts.Limits.MaxStreamEventBytes, "max-stream-event-bytes", proxy.DefaultMaxStreamEventBytes, "largest provider stream event (the stream ends with an error event above it)")
	fl.StringVar(&opts.MCPConfigPath, "mcp-config", "", `MCP servers to serve at /mcp: a {"mcpServers": {...}} JSON file (Claude Desktop, Cursor, VS Code); reloaded on change`)
	fl.StringVar(&opts.MCPJSON, "mcp-json", "", `MCP servers to serve at /mcp, as {"mcpServers": {...}} JSON text`)
	fl.IntVar(&opts.MCPSessionIterations, "mcp-session-encryption-iterations", 0, "derive the MCP session id key with PBKDF2 of this many iterations, once at start (0: HKDF); the key's seed is random, kept mode 0600 in the data home")
	fl.StringVar(&opts.PricesPath, "prices", "", "price catalog consulted before the built-in one (default: prices.yaml in the config home, when present)")
	fl.Int64Var(&opts.LogMaxSize, "log-max-size", observe.DefaultLogMaxSize, "size in bytes at which the run log rotates (0 never rotates)")
	fl.IntVar(&opts.LogMaxFiles, "log-max-files", observe.DefaultLogMaxFiles, "rotated run logs kept (aigw.log.1 is the newest)")
	fl.StringVar(&opts.DataPlane, "data-plane", run.DataPlaneBuiltin, "builtin (aigw forwards itself), envoy (Envoy, downloaded with func-e when missing; fails without it) or auto (Envoy when at hand or downloadable, else builtin)")
	fl.StringVar(&opts.EnvoyPath, "envoy-path", "", "Envoy binary to use as is with --data-plane envoy or auto (default: envoy on PATH, else one downloaded into the data home; ENVOY_VERSION picks the version)")
	fl.StringVar(&opts.RateLimitRedis, "ratelimit-redis", "", "keep global rate limit and quota counters in this Redis server (redis://[user:password@]host:port/db, rediss://, unix://), shared by every aigw using it (default: in memory)")
	fl.BoolVar(&opts.RateLimitFailClosed, "ratelimit-fail-closed", false, "refuse requests with 503 while the --ratelimit-redis server is unreachable (default: admit them, as Envoy's rate limit filter does); a check never waits more than 250ms")
	fl.DurationVar(&opts.ShutdownGrace, "shutdown-grace", 30*time.Second, "on SIGINT/SIGTERM, how long requests in flight may finish (a second signal stops at once; exit 1 if any were cut off)")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	ro := run.Options{
		Dirs:                opts.Dirs,
		ConfigPath:          opts.ConfigPath,
		Demo:                opts.Demo,
		DemoOptions:         demo.Options{TimeToFirstToken: opts.DemoTTFT, TokensPerSecond: opts.DemoTokensPerSecond},
		Host:                opts.Host,
		Port:                opts.Port,
		AdminPort:           opts.AdminPort,
		RunID:               opts.RunID,
		Debug:               opts.Debug,
		MaxRequestBodyBytes: opts.MaxRequestBodyBytes,
		Limits:              opts.Limits,
		ShutdownGrace:       opts.ShutdownGrace,
		LogMaxSize:          opts.LogMaxSize,
		LogMaxFiles:         opts.LogMaxFiles,
		PricesPath:          opts.PricesPath,
		CaptureContent:      opts.CaptureContent,
		Forced:              opts.Forced,
		Getenv:              opts.Getenv,
		Status:              opts.IO.ErrOut,
		OnReady:             opts.OnReady,
		PortFromConfig:      !opts.PortSet,
	}
	ro.MCPConfigPath, ro.MCPJSON, ro.MCPSessionIterations = opts.MCPConfigPath, opts.MCPJSON, opts.MCPSessionIterations
	ro.DataPlane, ro.EnvoyPath = opts.DataPlane, opts.EnvoyPath
	ro.RateLimitRedis, ro.RateLimitFailOpen = opts.RateLimitRedis, !opts.RateLimitFailClosed
	if opts.ValidateOnly {
		summary, err := run.Validate(ro)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(opts.IO.Out, summary)
		return err
	}
	if opts.TUI {
		return runWithTUI(ctx, ro, opts.IO, opts.Getenv("NO_COLOR") != "", nil)
	}
	return run.Run(ctx, ro)
}
