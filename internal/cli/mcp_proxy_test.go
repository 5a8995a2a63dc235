package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestMCPProxyFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want func(*MCPProxyOptions) bool
		code ExitCode
	}{
		{"defaults", []string{"--", "npx", "-y", "srv"}, func(o *MCPProxyOptions) bool {
			return o.Host == "127.0.0.1" && o.Port == 1976 && o.Path == "/mcp" && !o.Isolated && o.MaxSessions == 0 &&
				o.Command == "npx" && slices.Equal(o.Args, []string{"-y", "srv"}) && o.Dir == "" && len(o.Env) == 0
		}, ExitOK},
		{"everything set", []string{"--host", "0.0.0.0", "--port", "0", "--path", "/x", "--env", "A=1", "--env", "B=two=2",
			"--cwd", "/tmp", "--isolated", "--max-sessions", "3", "--max-children", "5", "--clear-env", "--", "uvx", "mcp-server-git"}, func(o *MCPProxyOptions) bool {
			return o.Host == "0.0.0.0" && o.Port == 0 && o.Path == "/x" && slices.Equal(o.Env, []string{"A=1", "B=two=2"}) &&
				o.Dir == "/tmp" && o.Isolated && o.MaxSessions == 3 && o.MaxChildren == 5 && o.ClearEnv && o.Command == "uvx"
		}, ExitOK},
		{"server flags are the server's", []string{"--port", "0", "srv", "--port", "9", "-v"}, func(o *MCPProxyOptions) bool {
			return o.Port == 0 && o.Command == "srv" && slices.Equal(o.Args, []string{"--port", "9", "-v"})
		}, ExitOK},
		{"no command", []string{"--port", "0"}, nil, ExitUsage},
		{"bad env", []string{"--env", "NOEQUALS", "--", "srv"}, nil, ExitUsage},
		{"bad port", []string{"--port", "70000", "--", "srv"}, nil, ExitUsage},
		{"negative sessions", []string{"--max-sessions", "-1", "--", "srv"}, nil, ExitUsage},
		{"negative children", []string{"--max-children", "-1", "--", "srv"}, nil, ExitUsage},
		{"bad path", []string{"--path", "mcp", "--", "srv"}, nil, ExitUsage},
		{"unknown flag", []string{"--nope", "--", "srv"}, nil, ExitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, errOut := testFactory(nil)
			var got *MCPProxyOptions
			root := testRoot()
			mcpCmd := newMCPCmd(f)
			for _, sub := range mcpCmd.Commands() {
				mcpCmd.RemoveCommand(sub)
			}
			mcpCmd.AddCommand(newMCPProxyCmd(f, func(_ context.Context, o *MCPProxyOptions) error { got = o; return nil }))
			root.AddCommand(mcpCmd)
			if code := runCommand(root, errOut, append([]string{"mcp", "proxy"}, c.args...)); code != c.code {
				t.Fatalf("exit %d, want %d (%s)", code, c.code, errOut)
			}
			if c.want != nil && !c.want(got) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// syncBuf is a goroutine-safe buffer for the command's streams.
type syncBuf struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// TestMCPProxyRun runs the command against the npm server-everything (installed by the
// mcpstdio tests or `make npm-deps`), calls a tool through it, and shuts it down.
func TestMCPProxyRun(t *testing.T) {
	server, err := filepath.Abs("../../node_modules/.bin/mcp-server-everything")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(server); err != nil {
		t.Skip("skipping: node_modules is not installed (run `make npm-deps`)")
	}
	out, errOut := &syncBuf{}, &syncBuf{}
	ready := make(chan string, 1)
	opts := &MCPProxyOptions{
		IO:   &IOStreams{Out: out, ErrOut: errOut},
		Host: "127.0.0.1", Port: 0, Path: "/mcp",
		Command: server, Args: []string{"stdio"},
		Env:     []string{"AIGW_TEST=1"},
		Environ: os.Environ,
		OnReady: func(url string) { ready <- url },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mcpProxyRun(ctx, opts) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("proxy exited: %v\n%s", err, errOut)
	case <-time.After(30 * time.Second):
		t.Fatalf("proxy never became ready\n%s", errOut)
	}
	if !strings.Contains(out.String(), url) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("ready line %q does not name %s", out, url)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "cli-test"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "via cli"}})
	if err != nil || res.Content[0].(*mcp.TextContent).Text != "Echo: via cli" {
		t.Fatalf("echo: %v %+v", err, res)
	}
	cs.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("proxy did not shut down")
	}
	if !strings.Contains(errOut.String(), "[mcp-server-everything]") {
		t.Errorf("the server's stderr is not in the log with its prefix:\n%s", errOut)
	}
}
