package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/run"
)

// sectionSetup gives a section a temporary directory (named after prefix) and the simulator;
// cleanup stops the one and removes the other.
func sectionSetup(ctx context.Context, cfg Config, prefix string) (tmp, simURL string, cleanup func(), err error) {
	tmp, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", nil, err
	}
	simURL, stopSim, err := startSimulator(ctx, cfg.OutputTokens)
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", nil, err
	}
	return tmp, simURL, func() { stopSim(); os.RemoveAll(tmp) }, nil
}

// startSimulator starts the demo provider on 127.0.0.1 with no pacing at all, so what the
// targets in front of it add is as visible as it can be.
func startSimulator(ctx context.Context, outputTokens int) (string, func(), error) {
	sim := demo.New(demo.Options{OutputTokens: outputTokens})
	base, err := sim.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the simulator: %w", err)
	}
	if err := checkLocal(base); err != nil {
		sim.Close()
		return "", nil, err
	}
	return base, func() { sim.Close() }, nil
}

// gatewayTransport is the upstream transport a gateway would use (the builtin data plane's
// settings): keep-alive pools far larger than the bench's concurrency, bounded dials.
func gatewayTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// startBareProxy serves a stdlib reverse proxy to upstream: the floor any Go gateway pays for
// one extra HTTP hop, with streams flushed as they arrive.
func startBareProxy(upstream string) (string, func(), error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport:     gatewayTransport(),
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bare proxy listener: %w", err)
	}
	// Full duplex lets the transport finish reading the client's body after the response has
	// begun. Without it the HTTP/1 server closes that body when the simulator's answer starts, the
	// transport's final body read fails, and it tears down the upstream connection mid-response
	// (golang/go#40747): streams are cut ("unexpected EOF") and connections are redialled.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns ErrServerClosed once stopped
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// gateway is one aigw started in process with run.Run.
type gateway struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

// startGateway runs the real gateway on 127.0.0.1 with env as its whole environment (so the
// caller's own provider keys never leak in), state under dir, and waits until it serves; with
// sets changing its options (a config file, a rate limit store).
func startGateway(ctx context.Context, env map[string]string, dir string, with ...func(*run.Options)) (*gateway, error) {
	dirs := config.Dirs{
		ConfigHome: filepath.Join(dir, "config"),
		DataHome:   filepath.Join(dir, "data"),
		StateHome:  filepath.Join(dir, "state"),
		RuntimeDir: filepath.Join(dir, "run"),
	}
	for _, d := range []string{dirs.ConfigHome, dirs.DataHome, dirs.StateHome, dirs.RuntimeDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan run.Ready, 1)
	opts := run.Options{
		Dirs:          dirs,
		Host:          "127.0.0.1",
		AdminHost:     "127.0.0.1",
		ShutdownGrace: 2 * time.Second,
		Getenv:        func(k string) string { return env[k] },
		OnReady:       func(r run.Ready) { ready <- r },
	}
	for _, f := range with {
		f(&opts)
	}
	// Every goroutine the gateway starts carries the label gateway=<dir's name>, so a CPU profile
	// of the run (-cpuprofile) tells the gateways apart: go tool pprof -tagfocus gateway=on.
	go pprof.Do(ctx, pprof.Labels("gateway", filepath.Base(dir)), func(ctx context.Context) { g.done <- run.Run(ctx, opts) })
	select {
	case r := <-ready:
		g.url = r.Gateway
		if err := checkLocal(g.url); err != nil {
			g.stop()
			return nil, err
		}
		return g, nil
	case err := <-g.done:
		cancel()
		if err == nil {
			err = errors.New("it stopped before serving")
		}
		return nil, fmt.Errorf("starting aigw: %w", err)
	case <-time.After(20 * time.Second):
		cancel()
		return nil, errors.New("starting aigw: not ready after 20s")
	}
}

// stop shuts the gateway down and returns what run.Run returned.
func (g *gateway) stop() error {
	g.cancel()
	select {
	case err := <-g.done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("aigw did not stop within 10s")
	}
}
