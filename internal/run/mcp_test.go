package run

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
)

// mcpTestServer is a go-sdk MCP server over streamable HTTP, a `url` entry.
func mcpTestServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: name}, nil)
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + a.Text}}}, nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "hidden"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	return hs
}

func mcpConnect(t *testing.T, url string, changed chan<- struct{}) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The session revision (list_changed on the session's stream); mcpgw tests 2026-07-28.
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, opts).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func mcpToolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tool := range res.Tools {
		out = append(out, tool.Name)
	}
	slices.Sort(out)
	return out
}

// TestMCPOnly starts aigw with --mcp-json alone (no LLM keys) and serves /mcp.
func TestMCPOnly(t *testing.T) {
	a := mcpTestServer(t, "a")
	j, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"alpha": map[string]any{"url": a.URL, "excludeTools": []string{"hidden"}}}})
	data := t.TempDir()
	g := startGateway(t, Options{MCPJSON: string(j), Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir(), DataHome: data}})
	cs := mcpConnect(t, g.Gateway+"/mcp", nil)
	if got := mcpToolNames(t, cs); !slices.Equal(got, []string{"alpha__echo"}) {
		t.Fatalf("tools %v", got)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil || res.Content[0].(*mcp.TextContent).Text != "a:hi" {
		t.Fatalf("call: %v %+v", err, res)
	}
	fi, err := os.Stat(filepath.Join(data, "mcp-session-seed"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session seed: %v %v", err, fi)
	}
	// The LLM endpoints still answer (404s in their own shape: no LLM backend is configured).
	resp, _ := post(t, g.Gateway+"/v1/nothing", `{}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown LLM path: %d", resp.StatusCode)
	}
	if v, _ := g.waitMetric(t, "mcp_method_count_total", `mcp_method_name="tools/call"`, `mcp_tool_name="alpha__echo"`, `status="success"`); v != "1" {
		t.Errorf("mcp.method.count for the call: %q", v)
	}
	// The reference's other MCP instruments (Envoy AI Gateway's mcp_metrics.go names).
	if v, _ := g.waitMetric(t, "mcp_initialization_duration_seconds_count", `mcp_route=`); v != "1" {
		t.Errorf("mcp.initialization.duration count: %q", v)
	}
	if v, _ := g.waitMetric(t, "mcp_capabilities_negotiated_total", `capability_side="server"`, `capability_type="tools"`); v != "1" {
		t.Errorf("mcp.capabilities.negotiated for the server's tools: %q", v)
	}
	log, _ := os.ReadFile(g.LogFile)
	if !strings.Contains(string(log), `"kind":"mcp"`) || !strings.Contains(string(log), `"mcp_tool_name":"alpha__echo"`) {
		t.Error("no MCP access log line")
	}
}

// TestMCPConfigReload edits --mcp-config while a session is open: the session stays up and gets
// tools/list_changed with the added server's tools.
func TestMCPConfigReload(t *testing.T) {
	a, b := mcpTestServer(t, "a"), mcpTestServer(t, "b")
	path := filepath.Join(t.TempDir(), "mcp.json")
	write := func(servers map[string]any) {
		j, _ := json.Marshal(map[string]any{"mcpServers": servers})
		if err := os.WriteFile(path, j, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"alpha": map[string]any{"url": a.URL}})
	g := startGateway(t, Options{MCPConfigPath: path, ReloadInterval: 50 * time.Millisecond,
		Getenv: env("OPENAI_API_KEY", "sk-test")})
	changed := make(chan struct{}, 1)
	cs := mcpConnect(t, g.Gateway+"/mcp", changed)
	if got := mcpToolNames(t, cs); len(got) != 2 {
		t.Fatalf("before: %v", got)
	}
	write(map[string]any{"alpha": map[string]any{"url": a.URL}, "beta": map[string]any{"url": b.URL, "includeTools": []string{"echo"}}})
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no tools/list_changed after --mcp-config gained a server")
	}
	if got := mcpToolNames(t, cs); !slices.Equal(got, []string{"alpha__echo", "alpha__hidden", "beta__echo"}) {
		t.Fatalf("after: %v", got)
	}
}

// TestMCPInspectorCLI lists and calls tools through aigw with the MCP Inspector CLI, with
// server-everything as a stdio entry.
func TestMCPInspectorCLI(t *testing.T) {
	root := repoRootDir(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	cli := filepath.Join(root, "node_modules", "@modelcontextprotocol", "inspector-cli", "build", "index.js")
	every := filepath.Join(root, "node_modules", ".bin", "mcp-server-everything")
	for _, p := range []string{node, cli, every} {
		if _, err := os.Stat(p); err != nil {
			t.Skip("node_modules is absent (run npm ci): " + p)
		}
	}
	a := mcpTestServer(t, "a")
	j, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{
		"everything": map[string]any{"command": every, "args": []string{"stdio"}, "includeTools": []string{"echo", "get-sum"}},
		"alpha":      map[string]any{"url": a.URL},
	}})
	g := startGateway(t, Options{MCPJSON: string(j)})
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{cli, g.Gateway + "/mcp", "--transport", "http"}, args...)...)
		// The CLI looks for its package.json relative to the working directory.
		cmd.Dir = filepath.Dir(cli)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("inspector %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	list := run("--method", "tools/list")
	for _, want := range []string{`"everything__echo"`, `"everything__get-sum"`, `"alpha__echo"`} {
		if !strings.Contains(list, want) {
			t.Errorf("%s missing from the Inspector's list:\n%s", want, list)
		}
	}
	if strings.Contains(list, "everything__trigger-sampling-request") {
		t.Error("a filtered tool is listed")
	}
	if out := run("--method", "tools/call", "--tool-name", "everything__get-sum", "--tool-arg", "a=2", "b=40"); !strings.Contains(out, "42") {
		t.Errorf("everything__get-sum: %s", out)
	}
	if out := run("--method", "tools/call", "--tool-name", "alpha__echo", "--tool-arg", "text=yo"); !strings.Contains(out, "a:yo") {
		t.Errorf("alpha__echo: %s", out)
	}
}

func repoRootDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no package.json above the test: node_modules is absent")
		}
		dir = parent
	}
}

// TestMCPShutdownWithOpenSession stops aigw while a client holds its MCP session (and the
// session's standalone SSE stream) open: the drain must not wait for the stream, and a backend
// that went away is counted in mcp.backend.unreachable.
func TestMCPShutdownWithOpenSession(t *testing.T) {
	a, gone := mcpTestServer(t, "a"), mcpTestServer(t, "gone")
	j, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"alpha": map[string]any{"url": a.URL}, "gone": map[string]any{"url": gone.URL}}})
	gone.Close()
	g := startGateway(t, Options{MCPJSON: string(j)})
	cs := mcpConnect(t, g.Gateway+"/mcp", nil)
	if got := mcpToolNames(t, cs); !slices.Equal(got, []string{"alpha__echo", "alpha__hidden"}) {
		t.Fatalf("tools with one backend down: %v", got)
	}
	if v, _ := g.waitMetric(t, "mcp_backend_unreachable_total", `mcp_backend="gone"`); v == "" || v == "0" {
		t.Errorf("mcp.backend.unreachable for the dead backend: %q", v)
	}
	start := time.Now()
	g.stop(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown with an open MCP session took %v", d)
	}
}
