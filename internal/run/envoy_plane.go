package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/xds"
)

// Data planes `aigw run --data-plane` chooses from.
const (
	DataPlaneBuiltin = "builtin"
	DataPlaneEnvoy   = "envoy"
	DataPlaneAuto    = "auto"
)

// autoDownloadTimeout bounds the download `auto` tries before it settles for the builtin plane.
const autoDownloadTimeout = 90 * time.Second

// chooseEnvoy returns the Envoy binary the run uses, or "" for the builtin data plane. `envoy`
// fails at once without one; `auto` says in one line why it serves with the builtin plane.
func chooseEnvoy(ctx context.Context, opts Options, log *slog.Logger) (string, error) {
	switch opts.DataPlane {
	case "", DataPlaneBuiltin:
		return "", nil
	case DataPlaneEnvoy, DataPlaneAuto:
	default:
		return "", fmt.Errorf("unknown data plane %q (use builtin, envoy or auto)", opts.DataPlane)
	}
	f := &EnvoyFinder{DataHome: opts.Dirs.DataHome, Version: opts.Getenv("ENVOY_VERSION"), Path: opts.EnvoyPath,
		VersionsURL: opts.EnvoyVersionsURL, Out: &lineLog{log: log}, LookPath: opts.envoyLookPath}
	if opts.DataPlane == DataPlaneAuto {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, autoDownloadTimeout)
		defer cancel()
	}
	p, err := f.Ensure(ctx)
	if err == nil {
		return p, nil
	}
	if opts.DataPlane == DataPlaneEnvoy {
		return "", fmt.Errorf("--data-plane envoy: no Envoy binary: %w (pass --envoy-path, put envoy on PATH, or run `aigw download-envoy` with network access)", err)
	}
	fmt.Fprintf(opts.Status, "aigw: builtin data plane: no Envoy binary at hand and none could be downloaded (%v)\n", err)
	log.Info("builtin data plane: no Envoy", "error", err)
	return "", nil
}

// envoyPlane is the Envoy data plane of one run: aigw's ext_proc and ADS servers on unix
// sockets in the runtime directory, the bootstrap, and the supervised Envoy. The builtin server
// listens on a unix socket behind Envoy's fallback route (/v1/models, MCP, unknown paths).
type envoyPlane struct {
	grpc     *grpc.Server
	ext      *extproc.GRPCServer
	xds      *xds.Server
	proc     *EnvoyProcess
	fallback net.Listener
	dir      string
	gateway  string
	done     chan error
	log      *slog.Logger
	// ctx is the run's: a reload stops waiting for Envoy when the run ends.
	ctx context.Context
}

// startEnvoyPlane starts the servers, writes the bootstrap and starts Envoy; it returns once
// Envoy is ready, or with Envoy's own error lines when it could not start.
func startEnvoyPlane(ctx context.Context, opts Options, envoyPath string, pipeline *extproc.Pipeline, log *slog.Logger) (*envoyPlane, error) {
	dir := filepath.Join(opts.Dirs.RuntimeDir, opts.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	pl := &envoyPlane{dir: dir, done: make(chan error, 1), log: log, ctx: ctx}
	sock := func(name string) string { return filepath.Join(dir, name) }
	port := opts.Port
	if port == 0 {
		// Envoy would pick a port nobody could learn without asking its admin API: pick one here.
		ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
		if err != nil {
			return nil, fmt.Errorf("gateway listener: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	pl.gateway = "http://" + net.JoinHostPort(host, strconv.Itoa(port))

	var listeners []net.Listener
	fail := func(err error) (*envoyPlane, error) {
		for _, ln := range listeners {
			ln.Close()
		}
		if pl.grpc != nil {
			pl.grpc.Stop()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	for _, name := range []string{"extproc.sock", "xds.sock", "builtin.sock"} {
		ln, err := xds.ListenUnix(sock(name))
		if err != nil {
			return fail(fmt.Errorf("envoy data plane: %w", err))
		}
		listeners = append(listeners, ln)
	}
	pl.fallback = listeners[2]
	pl.xds = xds.NewServer(xds.Options{Address: host, Port: port, FallbackSocket: sock("builtin.sock")}, log)
	if err := pl.xds.Update(pipeline.Model()); err != nil {
		return fail(err)
	}
	pl.ext = extproc.NewGRPCServer(pipeline, log, opts.Limits.MaxStreamEventBytes)
	pl.ext.PassUnknownPaths()
	pl.grpc = grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(pl.grpc, pl.ext)
	// The ADS streams end with the run's context; Envoy reconnects to a restarted aigw.
	pl.xds.Register(ctx, pl.grpc)
	for _, ln := range listeners[:2] {
		go func() { _ = pl.grpc.Serve(ln) }()
	}
	js, err := xds.BootstrapJSON(xds.BootstrapOptions{AdminSocket: sock("envoy-admin.sock"), XDSSocket: sock("xds.sock"), ExtProcSocket: sock("extproc.sock")})
	if err != nil {
		return fail(err)
	}
	cfg := sock("envoy.json")
	if err := os.WriteFile(cfg, js, 0o600); err != nil {
		return fail(err)
	}
	pl.proc = &EnvoyProcess{Path: envoyPath, ConfigPath: cfg, AdminSocket: sock("envoy-admin.sock"), Log: log,
		Grace: opts.ShutdownGrace, Forced: opts.Forced}
	started := make(chan error, 1)
	go func() { pl.done <- pl.proc.Run(ctx, func(err error) { started <- err }) }()
	if err := <-started; err != nil {
		<-pl.done
		return fail(fmt.Errorf("envoy data plane: %w", err))
	}
	return pl, nil
}

// envoyApplyTimeout bounds how long a reload waits for Envoy to apply the new snapshot before
// the pipeline takes the new Model anyway (Envoy restarting, say).
const envoyApplyTimeout = 5 * time.Second

// update serves a reloaded Model to Envoy as a new snapshot, and returns once Envoy has applied
// it: the caller swaps the pipeline's Model after, so the router filter never names a rule
// Envoy has no route for. The snapshot keeps the previous Model's rules, for the requests that
// took it.
func (pl *envoyPlane) update(m *config.Model) {
	err := pl.xds.UpdateAndWait(pl.ctx, m, envoyApplyTimeout)
	switch {
	case errors.Is(err, context.Canceled):
		// The run is ending; the pipeline may as well take the Model.
	case errors.Is(err, context.DeadlineExceeded):
		pl.log.Warn("envoy: the reloaded configuration is served, but Envoy has not applied it yet; new rules may answer 404 until it does", "error", err)
	case err != nil:
		pl.log.Warn("envoy: the reloaded configuration could not be served to Envoy; it keeps the previous one", "error", err)
	}
}

// ready reports Envoy's readiness for /health.
func (pl *envoyPlane) ready() error {
	if !pl.proc.Ready() {
		return errors.New("envoy not ready")
	}
	return nil
}

// wait returns once Envoy has drained and stopped (the run's context is done), then stops the
// gRPC servers and removes the sockets.
func (pl *envoyPlane) wait() error {
	err := <-pl.done
	stopped := make(chan struct{})
	go func() { pl.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		pl.grpc.Stop()
	}
	os.RemoveAll(pl.dir)
	return err
}
