package mcpgw

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
)

// nodeModules returns the repository root, skipping the test when npm packages are not installed.
func nodeModules(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "mcp-server-everything")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("node_modules is absent (run npm ci): skipping tests with real npm MCP servers")
		}
		dir = parent
	}
}

func stdioBackends(t testing.TB) []*config.MCPBackend {
	root := nodeModules(t)
	bin := filepath.Join(root, "node_modules", ".bin")
	return []*config.MCPBackend{
		{Name: "everything", Command: filepath.Join(bin, "mcp-server-everything"), Args: []string{"stdio"}},
		{Name: "memory", Command: filepath.Join(bin, "mcp-server-memory"),
			Env:   []config.EnvVar{{Name: "MEMORY_FILE_PATH", Value: filepath.Join(t.TempDir(), "memory.jsonl")}},
			Tools: config.ToolFilter{Include: []string{"read_graph", "create_entities"}}},
	}
}

// TestStdioAndRemote serves server-everything and server-memory (stdio, through the bridge in
// process) and a go-sdk server (url) behind one /mcp.
func TestStdioAndRemote(t *testing.T) {
	bs := stdioBackends(t)
	remote := remoteServer(t, "r")
	bs = append(bs, urlBackend("remote", remote.URL))
	g, gw := newGateway(t, Options{}, remoteRoute(bs...))
	var mu sync.Mutex
	var progress int
	cs := connect(t, gw.URL+"/mcp", clientOpts{sample: "model says hi", progress: func(*mcp.ProgressNotificationParams) {
		mu.Lock()
		progress++
		mu.Unlock()
	}})
	got := toolNames(t, cs)
	for _, want := range []string{"everything__echo", "everything__get-sum", "everything__trigger-sampling-request", "memory__read_graph", "memory__create_entities", "remote__echo"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	if slices.Contains(got, "memory__delete_entities") {
		t.Errorf("memory__delete_entities is filtered out but listed")
	}
	if text, isErr := callText(t, cs, &mcp.CallToolParams{Name: "everything__echo", Arguments: map[string]any{"message": "hello"}}); text != "Echo: hello" || isErr {
		t.Errorf("everything__echo: %q", text)
	}
	if _, isErr := callText(t, cs, &mcp.CallToolParams{Name: "memory__create_entities", Arguments: map[string]any{"entities": []map[string]any{{"name": "aigw", "entityType": "gateway", "observations": []string{"serves MCP"}}}}}); isErr {
		t.Error("memory__create_entities failed")
	}
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "memory__read_graph"}); !strings.Contains(text, "serves MCP") {
		t.Errorf("memory__read_graph: %q", text)
	}
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "remote__echo", Arguments: map[string]any{"text": "x"}}); text != "r:x" {
		t.Errorf("remote__echo: %q", text)
	}
	p := &mcp.CallToolParams{Name: "everything__trigger-long-running-operation", Arguments: map[string]any{"duration": 0.2, "steps": 2}}
	p.SetProgressToken("p1")
	if _, isErr := callText(t, cs, p); isErr {
		t.Error("long running operation failed")
	}
	// Both progress notifications are relayed before the result (TestProgressBeforeResult checks
	// the order on the wire). This client's own go-sdk may run its progress handler after
	// CallTool returns, so the count is awaited briefly.
	deadline := time.Now().Add(time.Second)
	for {
		mu.Lock()
		got := progress
		mu.Unlock()
		if got == 2 {
			break
		}
		if got > 2 || time.Now().After(deadline) {
			t.Fatalf("%d progress notifications from everything, want 2", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "everything__trigger-sampling-request", Arguments: map[string]any{"prompt": "hi", "maxTokens": 5}}); !strings.Contains(text, "model says hi") {
		t.Errorf("sampling through everything: %q", text)
	}
	// Resources of a stdio server, read back through the rewritten URI.
	rl, err := cs.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uri string
	for _, r := range rl.Resources {
		if strings.HasPrefix(r.URI, "everything+") {
			uri = r.URI
			break
		}
	}
	if uri == "" {
		t.Fatalf("no everything resource in %d", len(rl.Resources))
	}
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
	if err != nil || len(rr.Contents) == 0 || rr.Contents[0].URI != uri {
		t.Fatalf("read %s: %v %+v", uri, err, rr)
	}
	// Reload without memory: its child stops, the others keep serving the same session.
	pids := g.childPIDs("memory")
	if len(pids) == 0 {
		t.Fatal("no memory child")
	}
	if err := g.Update([]*config.MCPRoute{remoteRoute(bs[0], bs[2])}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for alive(pids[0]) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pids[0]) {
		t.Error("the removed stdio server still runs")
	}
	if got := toolNames(t, cs); slices.Contains(got, "memory__read_graph") || !slices.Contains(got, "everything__echo") {
		t.Errorf("after removing memory: %v", got)
	}
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscallZero), os.ErrProcessDone) && p.Signal(syscallZero) == nil
}

// TestStdioBackendKilled kills a stdio server's process mid-session: the bridge starts it again
// and the same client session reaches it, while the other backend answers throughout.
func TestStdioBackendKilled(t *testing.T) {
	bs := stdioBackends(t)[:1]
	remote := remoteServer(t, "r")
	bs = append(bs, urlBackend("remote", remote.URL))
	g, gw := newGateway(t, Options{}, remoteRoute(bs...))
	cs := connect(t, gw.URL+"/mcp", clientOpts{})
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "everything__echo", Arguments: map[string]any{"message": "one"}}); text != "Echo: one" {
		t.Fatalf("before: %q", text)
	}
	pids := g.childPIDs("everything")
	if len(pids) == 0 {
		t.Fatal("no child")
	}
	// The shared child and the one the bridge gave this session (its client declares roots).
	for _, pid := range pids {
		p, _ := os.FindProcess(pid)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "remote__echo", Arguments: map[string]any{"text": "x"}}); text != "r:x" {
		t.Errorf("the other backend while everything restarts: %q", text)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// While it restarts, calls fail (a JSON-RPC error from the bridge, or a tool error).
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "everything__echo", Arguments: map[string]any{"message": "two"}})
		if err == nil && !res.IsError && res.Content[0].(*mcp.TextContent).Text == "Echo: two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("everything did not come back: %v %+v", err, res)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, pid := range g.childPIDs("everything") {
		if slices.Contains(pids, pid) {
			t.Errorf("child pids before %v after %v", pids, g.childPIDs("everything"))
		}
	}
}
