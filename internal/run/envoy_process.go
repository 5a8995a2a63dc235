package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvoyProcess supervises one Envoy: it starts it with aigw's bootstrap, waits until its admin
// API says it is ready, restarts it with back-off when it dies, and drains it when the run ends.
type EnvoyProcess struct {
	// Path is the Envoy binary; ConfigPath the bootstrap it reads; AdminSocket the unix socket
	// of its admin API (from the bootstrap).
	Path, ConfigPath, AdminSocket string
	// Log receives Envoy's output, one entry per line prefixed "envoy: ", at Envoy's level.
	Log *slog.Logger
	// ReadyTimeout bounds the wait for readiness (default 30s).
	ReadyTimeout time.Duration
	// Grace is how long a drain lets requests in flight finish (default 30s).
	Grace time.Duration
	// Forced, closed during a drain, stops Envoy at once.
	Forced <-chan struct{}
	// MinBackoff and MaxBackoff bound the wait before a restart (defaults 500ms and 30s); a run
	// that lasted a minute resets it.
	MinBackoff, MaxBackoff time.Duration

	mu       sync.Mutex
	restarts int
	ready    bool
}

// Restarts is how many times Envoy was restarted after dying.
func (e *EnvoyProcess) Restarts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restarts
}

// Ready reports whether Envoy's admin API last said it is ready (for /health).
func (e *EnvoyProcess) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ready
}

func (e *EnvoyProcess) setReady(v bool) {
	e.mu.Lock()
	e.ready = v
	e.mu.Unlock()
}

// Run starts Envoy and calls started once it is ready (or with why it could not start: then Run
// returns that error). It keeps Envoy running until ctx is done, then drains and stops it.
func (e *EnvoyProcess) Run(ctx context.Context, started func(error)) error {
	e.defaults()
	p, err := e.start()
	if err == nil {
		err = e.awaitReady(ctx, p)
	}
	started(err)
	if err != nil {
		if p != nil {
			p.stop()
		}
		return err
	}
	backoff := e.MinBackoff
	for {
		since := time.Now()
		select {
		case <-ctx.Done():
			return e.drain(p)
		case <-p.exited:
		}
		e.setReady(false)
		if time.Since(since) > time.Minute {
			backoff = e.MinBackoff
		}
		e.Log.Warn("envoy exited; restarting", "error", p.exitErr, "in", backoff, "last_lines", p.tail())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, e.MaxBackoff)
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		if p, err = e.start(); err != nil {
			e.Log.Warn("envoy restart failed", "error", err)
			p = &envoyProc{exited: make(chan struct{})}
			close(p.exited)
			continue
		}
		if err := e.awaitReady(ctx, p); err != nil && ctx.Err() == nil {
			e.Log.Warn("envoy did not become ready after a restart", "error", err)
		}
	}
}

func (e *EnvoyProcess) defaults() {
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.ReadyTimeout <= 0 {
		e.ReadyTimeout = 30 * time.Second
	}
	if e.Grace <= 0 {
		e.Grace = 30 * time.Second
	}
	if e.MinBackoff <= 0 {
		e.MinBackoff = 500 * time.Millisecond
	}
	if e.MaxBackoff < e.MinBackoff {
		e.MaxBackoff = max(30*time.Second, e.MinBackoff)
	}
}

// envoyProc is one Envoy process.
type envoyProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	lines   *lineLog
}

func (p *envoyProc) tail() string {
	if p.lines == nil {
		return ""
	}
	return p.lines.tail()
}

// stop ends the process at once, if there is one.
func (p *envoyProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// start runs Envoy on the bootstrap. Hot restart is off: aigw restarts Envoy itself, and two
// aigw runs on one host must not share Envoy's shared memory.
func (e *EnvoyProcess) start() (*envoyProc, error) {
	cmd := exec.Command(e.Path, "--config-path", e.ConfigPath, "--disable-hot-restart",
		"--log-level", "info", "--drain-time-s", strconv.Itoa(int(e.Grace.Seconds())), "--drain-strategy", "immediate")
	lines := &lineLog{log: e.Log}
	cmd.Stdout, cmd.Stderr = lines, lines
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting Envoy (%s): %w", e.Path, err)
	}
	p := &envoyProc{cmd: cmd, exited: make(chan struct{}), lines: lines}
	go func() {
		p.exitErr = cmd.Wait()
		lines.flush()
		close(p.exited)
	}()
	e.Log.Info("envoy started", "pid", cmd.Process.Pid, "path", e.Path)
	return p, nil
}

// awaitReady polls the admin API's /ready until it answers 200, the process exits (an error
// with Envoy's last lines), or the wait is over.
func (e *EnvoyProcess) awaitReady(ctx context.Context, p *envoyProc) error {
	deadline := time.NewTimer(e.ReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := e.adminClient(time.Second)
	for {
		if ok, _ := adminReady(ctx, client); ok {
			e.setReady(true)
			e.Log.Info("envoy ready")
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("envoy exited before it was ready (%v)%s", p.exitErr, indentLines(p.tail()))
		case <-deadline.C:
			return fmt.Errorf("envoy was not ready within %s%s", e.ReadyTimeout, indentLines(p.tail()))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// adminClient is an HTTP client of Envoy's admin API on its unix socket.
func (e *EnvoyProcess) adminClient(timeout time.Duration) *http.Client {
	return EnvoyAdminClient(e.AdminSocket, timeout)
}

// EnvoyAdminClient is an HTTP client of an Envoy admin API on a unix socket (for aigw
// healthcheck as well).
func EnvoyAdminClient(socket string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}

// adminReady asks /ready; Envoy answers 200 LIVE once initialised (listeners and clusters from
// xDS included).
func adminReady(ctx context.Context, c *http.Client) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://envoy/ready", nil)
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode == http.StatusOK, nil
}

// drain stops Envoy gracefully: its listeners stop taking connections, requests in flight (the
// HTTP manager's active requests) run on up to the grace period or until forced, then Envoy is
// told to quit, and killed if it does not.
func (e *EnvoyProcess) drain(p *envoyProc) error {
	e.setReady(false)
	select {
	case <-p.exited:
		return nil
	default:
	}
	client := e.adminClient(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), e.Grace)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://envoy/drain_listeners?graceful", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
	var cut error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		n, err := activeRequests(ctx, client)
		if err == nil && n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			cut = fmt.Errorf("envoy: grace period (%s) over with %d request(s) in flight", e.Grace, n)
			break wait
		case <-e.Forced:
			cut = errors.New("envoy: shutdown forced with requests in flight")
			break wait
		case <-p.exited:
			return nil
		case <-tick.C:
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		e.Log.Warn("envoy did not exit after SIGTERM; killing it")
		p.stop()
	}
	e.Log.Info("envoy stopped")
	return cut
}

var activeStat = regexp.MustCompile(`(?m)^http\.aigw\.downstream_rq_active: (\d+)`)

// activeRequests reads the gateway listener's active request count from the admin API.
func activeRequests(ctx context.Context, c *http.Client) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://envoy/stats?filter=^http\\.aigw\\.downstream_rq_active$", nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, err
	}
	m := activeStat.FindSubmatch(b)
	if m == nil {
		return 0, nil
	}
	return strconv.Atoi(string(m[1]))
}

// lineLog logs a process's output line by line and keeps the last lines for error messages.
type lineLog struct {
	log     *slog.Logger
	mu      sync.Mutex
	partial []byte
	last    []string
}

const keptLines = 20

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line that never ends
		l.line(string(l.partial))
		l.partial = nil
	}
	return len(b), nil
}

func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.line(string(l.partial))
		l.partial = nil
	}
}

// line logs one line at the level Envoy gave it ("[warning]", "[error]", "[critical]").
func (l *lineLog) line(s string) {
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return
	}
	l.last = append(l.last, s)
	if len(l.last) > keptLines {
		l.last = l.last[1:]
	}
	level := slog.LevelInfo
	switch {
	case strings.Contains(s, "[critical]"), strings.Contains(s, "[error]"):
		level = slog.LevelError
	case strings.Contains(s, "[warning]"):
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, "envoy: "+s)
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}

// indentLines prefixes Envoy's last lines for an error message, or says there were none.
func indentLines(s string) string {
	if s == "" {
		return "; envoy printed nothing"
	}
	return "; envoy's last lines:\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}
