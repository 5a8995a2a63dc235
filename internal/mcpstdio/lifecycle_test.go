package mcpstdio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestChildCrashIsSurvived kills the child under a session with a request in flight: that
// request fails with a JSON-RPC error, the child is restarted and re-initialised, and both
// revisions' sessions keep working on the new process.
func TestChildCrashIsSurvived(t *testing.T) {
	b, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	changed := 0
	legacy := connect(t, endpoint(srv), version20251125, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { mu.Lock(); changed++; mu.Unlock() },
	})
	modern := connect(t, endpoint(srv), "", nil)
	before, _ := strconv.Atoi(callText(t, ctx, legacy, "pid", nil))
	if pids := b.ChildPIDs(); len(pids) != 1 || pids[0] != before {
		t.Fatalf("ChildPIDs = %v, child says %d", pids, before)
	}

	// A slow call in flight when the child dies gets an error.
	slowErr := make(chan error, 1)
	go func() {
		_, err := modern.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 50, "delayMs": 100}})
		slowErr <- err
	}()
	time.Sleep(100 * time.Millisecond)
	_, err := legacy.CallTool(ctx, &mcp.CallToolParams{Name: "crash"})
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) || werr.Code != codeUnavailable {
		t.Fatalf("crash call: err = %v, want a JSON-RPC error %d", err, codeUnavailable)
	}
	select {
	case err := <-slowErr:
		if !errors.As(err, &werr) || !strings.Contains(werr.Message, "exited") {
			t.Fatalf("in-flight call: err = %v, want the child-exited error", err)
		}
	case <-ctx.Done():
		t.Fatal("the in-flight call never ended")
	}
	assertGone(t, before)

	// Both sessions keep working on the restarted child.
	after, _ := strconv.Atoi(callText(t, ctx, legacy, "pid", nil))
	if after == before || after == 0 {
		t.Fatalf("pid after restart = %d, before %d", after, before)
	}
	if got := callText(t, ctx, modern, "echo", map[string]any{"text": "still here"}); got != "echo: still here" {
		t.Errorf("after restart: %q", got)
	}
	// Clients are told to re-list what the new process offers.
	waitFor(t, "list_changed after restart", func() bool { mu.Lock(); defer mu.Unlock(); return changed > 0 })
}

// TestShutdownLeavesNoProcess closes the bridge with sessions open and a call in flight, with
// a child that ignores stdin closing and SIGTERM (a shell wrapper whose grandchild is the
// server); nothing of it may remain.
func TestShutdownLeavesNoProcess(t *testing.T) {
	cfg := testServerConfig(t)
	// The shell ignores TERM and starts the server as a grandchild, like npx does; once the
	// server has gone it leaves a sleeping grandchild behind that also ignores TERM.
	exe := cfg.Command
	cfg.Command = "/bin/sh"
	cfg.Args = []string{"-c", `trap '' TERM; "$0"; sleep 1000`, exe}
	cfg.StopTimeout = 300 * time.Millisecond
	cfg.Logger = testLogger(t)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srvPIDs := b.ChildPIDs()
	srv := newServer(t, b)
	cs := connect(t, endpoint(srv), version20251125, nil)
	grandchild, _ := strconv.Atoi(callText(t, ctx, cs, "pid", nil))
	go func() {
		_, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 100, "delayMs": 100}})
	}()
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	srv.CloseClientConnections()
	srv.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("shutdown took %v", time.Since(start))
	for _, pid := range append(srvPIDs, grandchild) {
		assertGone(t, pid)
	}
	// The whole process group (the sleeping grandchild included) is gone.
	assertGone(t, -srvPIDs[0])
	if len(b.ChildPIDs()) != 0 {
		t.Errorf("children after Close: %v", b.ChildPIDs())
	}
}

// TestEnvAndDir checks --env and --cwd reach the child and the environment is inherited.
func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AIGW_INHERITED", "from-parent")
	cfg := Config{
		Command:     "/bin/sh",
		Args:        []string{"-c", `printf '%s|%s|%s' "$AIGW_SET" "$AIGW_INHERITED" "$PWD" > out.txt; exec "$0"`, testServerConfig(t).Command},
		Env:         []string{testServerEnv + "=1", "AIGW_SET=by-flag"},
		Dir:         dir,
		StopTimeout: time.Second,
	}
	startBridge(t, cfg)
	data, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	if got, want := string(data), "by-flag|from-parent|"+realDir; got != want && got != "by-flag|from-parent|"+dir {
		t.Errorf("child saw %q, want %q", got, want)
	}
}

// TestIsolatedSessions gives each session its own child, bounded by MaxSessions, and stops a
// session's child when the session ends.
func TestIsolatedSessions(t *testing.T) {
	cfg := testServerConfig(t)
	cfg.Isolated = true
	cfg.MaxSessions = 2
	b, srv := startBridge(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if pids := b.ChildPIDs(); len(pids) != 0 {
		t.Fatalf("isolated bridge started children before any session: %v", pids)
	}
	// A 2026-07-28 client falls back to initialize, since isolation needs sessions.
	a := connect(t, endpoint(srv), "", nil)
	if v := a.InitializeResult().ProtocolVersion; v != version20251125 {
		t.Errorf("isolated session negotiated %q, want the session revision", v)
	}
	c := connect(t, endpoint(srv), version20251125, nil)
	pa, _ := strconv.Atoi(callText(t, ctx, a, "pid", nil))
	pc, _ := strconv.Atoi(callText(t, ctx, c, "pid", nil))
	if pa == pc {
		t.Fatalf("two isolated sessions share child %d", pa)
	}
	if pids := b.ChildPIDs(); len(pids) != 2 {
		t.Fatalf("ChildPIDs = %v, want 2", pids)
	}
	// A third session is refused.
	client := mcp.NewClient(&mcp.Implementation{Name: "third"}, nil)
	if _, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint(srv), MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version20251125}); err == nil {
		t.Fatal("a third session was accepted with MaxSessions 2")
	}
	// Ending a session ends its child.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pa)
	waitFor(t, "one child left", func() bool { return len(b.ChildPIDs()) == 1 })
	if got := callText(t, ctx, c, "echo", map[string]any{"text": "ok"}); got != "echo: ok" {
		t.Errorf("remaining session: %q", got)
	}
}

// TestIsolatedResources is defect 6 of issue 12: in isolated mode a refused or merely opened
// GET /sse starts no child, and sessions left behind by clients that close without DELETE
// (the TypeScript SDK) are reclaimed least-recently-used first when the bound is reached; a
// reclaimed session gets 404.
func TestIsolatedResources(t *testing.T) {
	t.Parallel() // mostly waits on Node processes
	root := nodeModules(t)
	cfg := testServerConfig(t)
	cfg.Isolated = true
	cfg.MaxSessions = 2
	cfg.ReclaimIdle = 300 * time.Millisecond
	b, srv := startBridge(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A cross-origin GET /sse is refused before anything starts; a same-origin one opens a
	// session but no child until its client initialises.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sse", nil)
	req.Header.Set("Origin", "http://evil.example")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin GET /sse: %v %v", r, err)
	}
	sseCtx, sseCancel := context.WithCancel(ctx)
	req, _ = http.NewRequestWithContext(sseCtx, http.MethodGet, srv.URL+"/sse", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET /sse: %v %v", r, err)
	}
	if pids := b.ChildPIDs(); len(pids) != 0 {
		t.Errorf("children after GET /sse without initialize: %v", pids)
	}
	sseCancel()
	r.Body.Close()
	waitFor(t, "the SSE session to end", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.sessions) == 0 })

	// Two Node clients work and close without DELETE, filling MaxSessions.
	type idleOut struct{ Session, PID string }
	var idle []idleOut
	for range 2 {
		cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "internal", "mcpstdio", "testdata", "idle.mjs"), endpoint(srv))
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node idle client: %v %s", err, out)
		}
		var o idleOut
		if err := json.Unmarshal(out, &o); err != nil || o.Session == "" {
			t.Fatalf("node idle client printed %q: %v", out, err)
		}
		idle = append(idle, o)
		time.Sleep(50 * time.Millisecond) // distinct last-use times
	}
	if pids := b.ChildPIDs(); len(pids) != 2 {
		t.Fatalf("children after two closed clients: %v, want 2 (no DELETE was sent)", pids)
	}
	// A new client is served by reclaiming the least recently used idle session.
	time.Sleep(cfg.ReclaimIdle)
	c := connect(t, endpoint(srv), version20251125, nil)
	if got := callText(t, ctx, c, "echo", map[string]any{"text": "room"}); got != "echo: room" {
		t.Errorf("new session: %q", got)
	}
	oldest, _ := strconv.Atoi(idle[0].PID)
	assertGone(t, oldest)
	resp, body := post(t, endpoint(srv), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{headerSessionID: idle[0].Session})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("reclaimed session: status %d (%s), want 404", resp.StatusCode, body)
	}
	resp, body = post(t, endpoint(srv), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{headerSessionID: idle[1].Session})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the other idle session: status %d (%s), want it kept", resp.StatusCode, body)
	}
	if pids := b.ChildPIDs(); len(pids) > 2 {
		t.Errorf("children: %v, want at most MaxSessions", pids)
	}
}
