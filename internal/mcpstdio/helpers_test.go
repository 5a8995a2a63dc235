package mcpstdio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// testLogger sends the bridge's log (including the child's stderr) to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(&tWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// startBridge starts a bridge for cfg on a free loopback port and returns it with the URL
// of its streamable endpoint. Cleanup closes it and checks that no child survived.
func startBridge(t testing.TB, cfg Config) (*Bridge, *httptest.Server) {
	t.Helper()
	lw := &tWriter{t: t}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		pids := b.ChildPIDs()
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			assertGone(t, pid)
		}
		lw.mu.Lock()
		lw.done = true
		lw.mu.Unlock()
	})
	return b, srv
}

// assertGone fails unless process pid has exited and been reaped.
func assertGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("child process %d is still there after shutdown (kill 0: %v)", pid, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connect opens a go-sdk client session on the bridge. version "" lets the client pick its
// newest revision (2026-07-28, server/discover first); version20251125 forces the session-based
// revision. Unless opts says otherwise the client declares only what its handlers need (the
// SDK would declare roots by default, which gives a session a child of its own).
func connect(t testing.TB, url, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	if opts == nil {
		opts = &mcp.ClientOptions{}
	}
	if opts.Capabilities == nil {
		opts.Capabilities = &mcp.ClientCapabilities{}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "aigw-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect (%q): %v", version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callText calls a tool and returns its first text content, failing the test on any error.
func callText(t testing.TB, ctx context.Context, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return resultText(t, res)
}

func resultText(t testing.TB, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %v", res.Content)
	}
	if len(res.Content) == 0 {
		t.Fatal("tool result has no content")
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("tool result is %T, not text", res.Content[0])
	}
	return tc.Text
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// endpoint is the streamable URL of a test server.
func endpoint(srv *httptest.Server) string { return srv.URL + "/mcp" }

// newServer serves b on a free loopback port; the caller closes it.
func newServer(t testing.TB, b *Bridge) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return srv
}

var _ = http.StatusOK
