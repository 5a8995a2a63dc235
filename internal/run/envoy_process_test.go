package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/xds"
)

// TestStandInEnvoyProcess is no test: with AIGW_STANDIN_ENVOY=1 the test binary becomes a stand-in
// for the Envoy binary, with Envoy's process interface as far as the supervisor uses it: its
// flags, the admin API on the bootstrap's unix socket (/ready, POST /drain_listeners, /stats),
// exit codes and "[critical]" lines. STANDIN_MODE picks a behaviour; STANDIN_RECORD names a file
// it appends what happened to. It is not Envoy and serves no traffic.
func TestStandInEnvoyProcess(t *testing.T) {
	if os.Getenv("AIGW_STANDIN_ENVOY") != "1" {
		t.Skip("the stand-in Envoy process of the supervision tests")
	}
	os.Exit(standInEnvoy(os.Args[slices.Index(os.Args, "--")+1:]))
}

func standInEnvoy(args []string) int {
	record := func(s string) {
		f, err := os.OpenFile(os.Getenv("STANDIN_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, s)
			f.Close()
		}
	}
	starts := 0
	if b, err := os.ReadFile(os.Getenv("STANDIN_RECORD")); err == nil {
		starts = strings.Count(string(b), "start\n")
	}
	record("start")
	i := slices.Index(args, "--config-path")
	if i < 0 || i+1 >= len(args) || !slices.Contains(args, "--disable-hot-restart") {
		fmt.Println("[critical][main] stand-in: missing --config-path or --disable-hot-restart")
		return 1
	}
	var bs struct {
		Admin struct {
			Address struct {
				Pipe struct{ Path string }
			}
		}
	}
	raw, err := os.ReadFile(args[i+1])
	if err == nil {
		err = json.Unmarshal(raw, &bs)
	}
	mode := os.Getenv("STANDIN_MODE")
	if err != nil || bs.Admin.Address.Pipe.Path == "" || mode == "bad-config" {
		fmt.Printf("[info][main] initializing epoch 0\n[critical][main] error initializing configuration '%s': stand-in refuses it (%v)\n", args[i+1], err)
		return 1
	}
	_ = os.Remove(bs.Admin.Address.Pipe.Path)
	ln, err := net.Listen("unix", bs.Admin.Address.Pipe.Path)
	if err != nil {
		fmt.Println("[critical][main] admin:", err)
		return 1
	}
	start := time.Now()
	var active atomic.Int64
	active.Store(1) // one request in flight until a drain has run for 300ms
	var drainAt atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if mode == "never-ready" || time.Since(start) < 100*time.Millisecond {
			w.WriteHeader(503)
			fmt.Fprintln(w, "PRE_INITIALIZING")
			return
		}
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("POST /drain_listeners", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["graceful"]; ok {
			drainAt.Store(time.Now().UnixNano())
			record("drain")
		}
		fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		if d := drainAt.Load(); d > 0 && mode != "stuck" && time.Since(time.Unix(0, d)) > 300*time.Millisecond {
			active.Store(0)
		}
		fmt.Fprintf(w, "http.aigw.downstream_rq_active: %d\n", active.Load())
	})
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Println("[info][main] starting main dispatch loop")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var crash <-chan time.Time
	if mode == "crash-once" && starts == 0 {
		crash = time.After(300 * time.Millisecond)
	}
	select {
	case <-sig:
		record("term active=" + strconv.FormatInt(active.Load(), 10))
		fmt.Println("[warning][main] caught SIGTERM")
		return 0
	case <-crash:
		fmt.Println("[critical][backtrace] Caught Segmentation fault, suspect faulting address 0x0")
		return 139
	}
}

// standInEnvoy returns an EnvoyProcess that runs the stand-in with a written bootstrap.
func standIn(t *testing.T, mode string) (*EnvoyProcess, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Unix socket paths are short: keep them out of long temp paths.
	sockDir, err := os.MkdirTemp("", "aigw-si-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	record := filepath.Join(dir, "record")
	t.Setenv("AIGW_STANDIN_ENVOY", "1")
	t.Setenv("STANDIN_MODE", mode)
	t.Setenv("STANDIN_RECORD", record)
	bin := filepath.Join(dir, "stand-in-envoy")
	script := "#!/bin/sh\nexec '" + exe + "' -test.run='^TestStandInEnvoyProcess$' -- \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	bo := xds.BootstrapOptions{AdminSocket: filepath.Join(sockDir, "admin.sock"), XDSSocket: filepath.Join(sockDir, "xds.sock"), ExtProcSocket: filepath.Join(sockDir, "extproc.sock")}
	js, err := xds.BootstrapJSON(bo)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "envoy.json")
	if err := os.WriteFile(cfg, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return &EnvoyProcess{Path: bin, ConfigPath: cfg, AdminSocket: bo.AdminSocket, ReadyTimeout: 5 * time.Second,
		Grace: 5 * time.Second, MinBackoff: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}, record
}

func records(t *testing.T, path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// runSupervised runs e until ctx ends; it returns the start result and Run's result.
func runSupervised(ctx context.Context, e *EnvoyProcess) (started chan error, done chan error) {
	started, done = make(chan error, 1), make(chan error, 1)
	go func() { done <- e.Run(ctx, func(err error) { started <- err }) }()
	return started, done
}

// TestEnvoySupervisorReadyAndDrain: Run waits for /ready; at the end it drains (graceful drain,
// then waits until the request in flight is done) before SIGTERM.
func TestEnvoySupervisorReadyAndDrain(t *testing.T) {
	e, record := standIn(t, "")
	ctx, cancel := context.WithCancel(t.Context())
	started, done := runSupervised(ctx, e)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if !e.Ready() {
		t.Fatal("not ready after start")
	}
	begin := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Errorf("stopped after %s, before the request in flight finished", d)
	}
	if got := strings.Join(records(t, record), ","); got != "start,drain,term_active=0" {
		t.Errorf("stand-in saw %s", got)
	}
}

// TestEnvoySupervisorStartupFailure: an Envoy that exits at start is an error carrying its own
// lines, at once.
func TestEnvoySupervisorStartupFailure(t *testing.T) {
	e, _ := standIn(t, "bad-config")
	begin := time.Now()
	started, done := runSupervised(t.Context(), e)
	err := <-started
	if err == nil || !strings.Contains(err.Error(), "[critical][main] error initializing configuration") {
		t.Fatalf("err %v", err)
	}
	if err2 := <-done; !errors.Is(err2, err) && err2.Error() != err.Error() {
		t.Errorf("Run returned %v", err2)
	}
	if time.Since(begin) > 3*time.Second {
		t.Errorf("took %s", time.Since(begin))
	}
}

// TestEnvoySupervisorNeverReady: the wait for readiness is bounded and the process is stopped.
func TestEnvoySupervisorNeverReady(t *testing.T) {
	e, _ := standIn(t, "never-ready")
	e.ReadyTimeout = 3 * time.Second
	started, done := runSupervised(t.Context(), e)
	if err := <-started; err == nil || !strings.Contains(err.Error(), "not ready within 3s") || !strings.Contains(err.Error(), "starting main dispatch loop") {
		t.Fatalf("err %v", err)
	}
	<-done
}

// TestEnvoySupervisorRestart: an Envoy that dies is restarted after a back-off and is ready again.
func TestEnvoySupervisorRestart(t *testing.T) {
	e, record := standIn(t, "crash-once")
	ctx, cancel := context.WithCancel(t.Context())
	started, done := runSupervised(ctx, e)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Restarts() < 1 || !e.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("restarts %d ready %v", e.Restarts(), e.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(records(t, record), ","); got != "start,start,drain,term_active=0" {
		t.Errorf("stand-in saw %s", got)
	}
}

// TestEnvoySupervisorGraceOver: requests still in flight when the grace period ends are cut off
// and Run says so.
func TestEnvoySupervisorGraceOver(t *testing.T) {
	e, record := standIn(t, "stuck")
	e.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	started, done := runSupervised(ctx, e)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "grace period") {
		t.Fatalf("err %v", err)
	}
	if got := strings.Join(records(t, record), ","); got != "start,drain,term_active=1" {
		t.Errorf("stand-in saw %s", got)
	}
}
