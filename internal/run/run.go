// Package run is `aigw run`: it builds the configuration Model, then runs the admin server, the
// data plane and (with --demo) the simulator under one context, and stops them all together.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/proxy"
	"github.com/aigw/aigw/internal/ratelimit"
)

// Options configure one run.
type Options struct {
	Dirs       config.Dirs
	ConfigPath string
	Demo       bool
	// DemoOptions tune the simulator behind --demo.
	DemoOptions demo.Options
	Host        string
	Port        int
	AdminHost   string
	AdminPort   int
	RunID       string
	Debug       bool
	// LogMaxSize is the size at which the run log rotates (0: never); LogMaxFiles how many
	// rotated files are kept (aigw.log.1 the newest).
	LogMaxSize  int64
	LogMaxFiles int
	// PortFromConfig lets a Gateway listener port in the configuration replace Port (the port
	// was not given on the command line).
	PortFromConfig bool
	// MaxRequestBodyBytes overrides the configuration's request body limit when > 0.
	MaxRequestBodyBytes int64
	// Limits bound the builtin data plane (body timeout, connections, upstream body and event
	// sizes); zero fields take proxy's defaults.
	Limits proxy.Limits
	// ReloadInterval is how often the configuration files are checked for changes (default 1s).
	ReloadInterval time.Duration
	// ShutdownGrace is how long requests in flight may run on once ctx is done (default 30s);
	// past it, their connections are closed and Run returns a *proxy.DrainCutError.
	ShutdownGrace time.Duration
	// Forced, closed while draining (a second SIGINT/SIGTERM), ends the drain at once; Run then
	// returns a *proxy.DrainCutError when requests were cut off.
	Forced <-chan struct{}
	Getenv func(string) string
	// PricesPath is a price catalog to consult before the built-in one (--prices); without it,
	// prices.yaml in the config home is used when it exists.
	PricesPath string
	// CaptureContent puts each request's messages and tool calls on its end event in the event
	// stream (under the OPENINFERENCE_HIDE_* privacy settings), for aigw tui's Trace view.
	CaptureContent bool
	// RateLimitRedis keeps global rate limit and quota counters in this Redis server
	// (--ratelimit-redis), shared by every aigw using it; "" keeps them in memory.
	// RateLimitFailOpen admits requests while it is unreachable; otherwise they get 503.
	RateLimitRedis    string
	RateLimitFailOpen bool
	// Status receives human status lines (the ready line, warnings).
	Status io.Writer
	// OnReady is called once both servers listen, with their base URLs.
	OnReady func(Ready)
	// MCPConfigPath and MCPJSON give MCP servers ({"mcpServers": {...}}) to serve at /mcp.
	MCPConfigPath, MCPJSON string
	// MCPSessionIterations is --mcp-session-encryption-iterations (mcpgw.Options.KeyIterations).
	MCPSessionIterations int
	// DataPlane is builtin (""), envoy or auto (--data-plane); EnvoyPath an Envoy binary to use
	// as is (--envoy-path); EnvoyVersionsURL replaces func-e's release list (tests).
	DataPlane, EnvoyPath, EnvoyVersionsURL string
	// envoyLookPath replaces exec.LookPath when looking for envoy on PATH (tests).
	envoyLookPath func(string) (string, error)
}

// Ready describes a gateway that is serving.
type Ready struct {
	Gateway string // e.g. http://127.0.0.1:1975
	Admin   string // e.g. http://127.0.0.1:1064
	LogFile string
}

// Run serves until ctx is done, then shuts down gracefully. It returns an error only when the
// gateway could not start or failed while running.
func Run(ctx context.Context, opts Options) error {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	if opts.RunID == "" {
		opts.RunID = strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	runDir := filepath.Join(opts.Dirs.StateHome, "runs", opts.RunID)
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return fmt.Errorf("creating the run directory: %w", err)
	}
	logFile, err := observe.OpenRotatingFile(filepath.Join(runDir, "aigw.log"), opts.LogMaxSize, opts.LogMaxFiles)
	if err != nil {
		return fmt.Errorf("opening the run log: %w", err)
	}
	defer logFile.Close()
	log := newLogger(logFile, opts.Status, opts.Debug)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	model, stopDemo, err := buildModel(ctx, opts)
	model, err = withMCP(opts, model, err)
	if err != nil {
		stopDemo()
		return err
	}
	defer stopDemo()
	var envoy *envoyPlane // the Envoy data plane, when it is the one
	adjust := func(m *config.Model) {
		if opts.MaxRequestBodyBytes > 0 {
			m.MaxRequestBodyBytes = opts.MaxRequestBodyBytes
		}
		if envoy != nil {
			envoy.update(m)
		}
	}
	adjust(model)
	for _, w := range model.Warnings {
		log.Warn(w)
	}
	if opts.PortFromConfig && model.Port != 0 {
		opts.Port = model.Port
	}

	tel, stopTelemetry, err := startTelemetry(opts, log)
	if err != nil {
		return err
	}
	// Deferred first, so it runs after the event queue closes: the queued logs are exported.
	defer stopTelemetry()
	var pipeline *extproc.Pipeline // set below, before any request is served
	metrics, err := observe.NewMetrics(observe.WithKnownModels(func(name string) bool { return pipeline.Model().KnowsModel(name) }),
		observe.WithMeterProviderOptions(tel.MeterOptions...))
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: with an OTLP metric reader attached, a dead collector must not hold up the exit.
		ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdown)
		defer cancel()
		_ = metrics.Shutdown(ctx)
	}()
	bus := &observe.Bus{}
	bus.Subscribe(metrics)
	bus.Subscribe(observe.NewAccessLog(logFile))
	hub, stats := observe.NewHub(0, 0), observe.NewStats()
	bus.Subscribe(stats)
	if err := metrics.ObserveHub(hub); err != nil {
		return err
	}
	prices, err := loadPrices(opts)
	if err != nil {
		return err
	}
	costs, err := metrics.CostCounter()
	if err != nil {
		return err
	}
	bus.Subscribe(costs)
	if tel.Logs != nil {
		bus.Subscribe(tel.Logs)
	}
	if err := tel.ObserveExport(metrics); err != nil {
		return err
	}
	events := observe.NewQueue(bus, 4096)
	defer events.Close() // runs before the log file closes: every event is written
	mcpGW, err := startMCP(ctx, opts, model, log, metrics, logFile, hub, tel.Tracing)
	if err != nil {
		return err
	}
	defer mcpGW.close()

	popts := []extproc.Option{extproc.WithHub(hub), extproc.WithPrices(prices),
		extproc.WithTracing(tel.Tracing), extproc.WithLogHeaders(tel.Headers.Log),
		extproc.WithMetricHeaders(tel.Headers.Metrics)}
	if opts.CaptureContent {
		popts = append(popts, extproc.WithContentCapture(observe.PrivacyFromEnv(opts.Getenv)))
	}
	limiter, closeLimiter, err := ratelimit.Open(ctx, opts.RateLimitRedis, opts.RateLimitFailOpen, log)
	if err != nil {
		return err
	}
	defer closeLimiter()
	popts = append(popts, extproc.WithLimiter(limiter))
	pipeline = extproc.New(model, events, popts...)
	dp := proxy.New(pipeline, proxy.Options{Logger: log, ShutdownGrace: opts.ShutdownGrace, Forced: opts.Forced, Limits: opts.Limits,
		Fallback: mcpGW.handler})

	envoyPath, err := chooseEnvoy(ctx, opts, log)
	if err != nil {
		return err
	}
	var gwLn net.Listener
	if envoyPath != "" {
		// Envoy listens on the gateway port; the builtin server answers behind it what the
		// pipeline does not (its fallback route).
		if envoy, err = startEnvoyPlane(ctx, opts, envoyPath, pipeline, log); err != nil {
			return err
		}
		gwLn = envoy.fallback
	} else if gwLn, err = net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))); err != nil {
		return fmt.Errorf("gateway listener: %w (is another aigw running? use --port)", err)
	}
	adminHost := opts.AdminHost
	if adminHost == "" {
		adminHost = "127.0.0.1"
	}
	adminLn, err := net.Listen("tcp", net.JoinHostPort(adminHost, strconv.Itoa(opts.AdminPort)))
	if err != nil {
		gwLn.Close()
		if envoy != nil {
			cancel()
			_ = envoy.wait()
		}
		return fmt.Errorf("admin listener: %w (use --admin-port)", err)
	}
	// The admin server outlives the data plane's drain, so /health can say "draining" (503)
	// instead of refusing connections while requests in flight finish.
	draining := func() bool { return ctx.Err() != nil }
	admin := newAdminServer(dp, metrics, draining)
	if envoy != nil {
		admin.planeReady = envoy.ready
	}
	admin.observeHandlers(hub, stats)
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	dpDone, adminDone := make(chan error, 1), make(chan error, 1)
	go func() {
		err := dp.Serve(ctx, gwLn)
		if envoy != nil {
			err = errors.Join(err, envoy.wait())
		}
		dpDone <- err
	}()
	go func() { adminDone <- admin.serve(adminCtx, adminLn, opts.Forced) }()

	if path := configPath(opts); path != "" {
		interval := opts.ReloadInterval
		if interval <= 0 {
			interval = time.Second
		}
		rl := &reloader{path: path, pipeline: pipeline, log: log, interval: interval, adjust: adjust,
			load: func() (*config.Model, error) { return served(config.LoadFile(path, opts.Getenv)) }}
		mcpGW.wrapReload(rl, opts)
		reloading := make(chan struct{})
		go func() { defer close(reloading); rl.run(ctx) }()
		defer func() { <-reloading }() // the reloader logs; it must stop before the log closes
	}
	if wait := mcpGW.watchMCPOnly(ctx, opts, pipeline, log, adjust); wait != nil {
		defer wait()
	}

	ready := Ready{Gateway: "http://" + gwLn.Addr().String(), Admin: "http://" + adminLn.Addr().String(), LogFile: logFile.Name()}
	plane := "builtin data plane"
	if envoy != nil {
		ready.Gateway, plane = envoy.gateway, "envoy data plane ("+envoyPath+")"
	}
	fmt.Fprintf(opts.Status, "aigw ready: gateway %s, admin %s (%s, %s, %d backend(s)); log %s\n",
		ready.Gateway, ready.Admin, model.Source, plane, len(model.Backends), ready.LogFile)
	log.Info("ready", "gateway", ready.Gateway, "admin", ready.Admin, "source", model.Source)
	if opts.OnReady != nil {
		opts.OnReady(ready)
	}

	var dpErr, adminErr error
	select {
	case dpErr = <-dpDone: // ctx done and the drain over, or the data plane failed
		stopAdmin()
		adminErr = <-adminDone
	case adminErr = <-adminDone: // the admin server failed: stop the data plane too
		cancel()
		dpErr = <-dpDone
	}
	firstErr := errors.Join(serveErr(dpErr), serveErr(adminErr))
	if firstErr != nil {
		log.Info("stopped", "error", firstErr) // the caller reports the error on the terminal
	} else {
		log.Info("stopped")
	}
	return firstErr
}

// serveErr is err unless it only says that a server was closed.
func serveErr(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// buildModel compiles the inputs into a Model, starting the simulator for --demo.
func buildModel(ctx context.Context, opts Options) (*config.Model, func(), error) {
	noop := func() {}
	switch {
	case opts.Demo:
		// The simulator is the upstream of streams that may still be draining after ctx is done,
		// so it stops when Run is over, not with ctx.
		simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
		sim := demo.New(opts.DemoOptions)
		url, err := sim.Start(simCtx, "127.0.0.1:0")
		if err != nil {
			stopSim()
			return nil, noop, fmt.Errorf("starting the demo simulator: %w", err)
		}
		stop := func() { stopSim(); sim.Close() }
		m, err := config.Demo(url, demo.Models())
		if err != nil {
			stop()
			return nil, noop, err
		}
		return m, stop, nil
	}
	m, err := loadConfig(opts)
	return m, noop, err
}

// loadConfig reads the configuration file, or else the provider environment variables.
func loadConfig(opts Options) (*config.Model, error) {
	if path := configPath(opts); path != "" {
		return served(config.LoadFile(path, opts.Getenv))
	}
	return served(config.FromEnv(opts.Getenv))
}

// configPath is the configuration file to load: the one named, else config.yaml in the config
// home when it exists; "" for none (--demo, or the environment).
func configPath(opts Options) string {
	if opts.Demo {
		return ""
	}
	if opts.ConfigPath != "" {
		return opts.ConfigPath
	}
	if opts.Dirs.ConfigHome != "" {
		p := filepath.Join(opts.Dirs.ConfigHome, "config.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Validate loads the configuration Run would serve, without serving it, and returns a summary.
func Validate(opts Options) (string, error) {
	m, err := loadConfig(opts)
	m, err = withMCP(opts, m, err)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, w := range m.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	b.WriteString(config.Summary(m))
	return b.String(), nil
}

// newLogger logs everything to the run log, and warnings (or everything with --debug) to status.
func newLogger(file io.Writer, status io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	statusLevel := slog.LevelWarn
	if debug {
		level, statusLevel = slog.LevelDebug, slog.LevelDebug
	}
	return slog.New(fanout{
		slog.NewJSONHandler(file, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(status, &slog.HandlerOptions{Level: statusLevel}),
	})
}
