package mcpstdio

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The test binary doubles as a small stdio MCP server: run with testServerEnv=1 it serves
// the tools below on stdin/stdout instead of running tests. Tests start it through the bridge
// with testServerConfig.
const testServerEnv = "AIGW_MCPSTDIO_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(testServerEnv) == "1" {
		if err := runTestServer(); err != nil {
			fmt.Fprintln(os.Stderr, "test server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if leaked := strayGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintln(os.Stderr, "goroutines of the bridge outlived the tests:\n"+leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// strayGoroutines waits up to d for every goroutine running this package's code to end and
// returns the stacks of those that did not.
func strayGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var stray []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "internal/mcpstdio.") && !strings.Contains(g, "internal/mcpstdio.TestMain") &&
				!strings.Contains(g, "internal/mcpstdio.strayGoroutines") {
				stray = append(stray, g)
			}
		}
		if len(stray) == 0 || time.Now().After(deadline) {
			return strings.Join(stray, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testServerConfig is a bridge Config that runs the test binary as the stdio server.
func testServerConfig(t testing.TB) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Name:            "testserver",
		Command:         exe,
		Env:             []string{testServerEnv + "=1"},
		StopTimeout:     time.Second,
		MaxRestartDelay: 200 * time.Millisecond,
		InitTimeout:     20 * time.Second,
		// The test server (go-sdk) speaks 2026-07-28 over stdio too; most tests exercise the
		// translation for a session-revision server, TestModernChild the other path.
		Modern: ModernTranslate,
	}
}

type echoIn struct {
	Text string `json:"text"`
}
type slowIn struct {
	Steps   int `json:"steps"`
	DelayMS int `json:"delayMs"`
}
type nameIn struct {
	Name string `json:"name"`
}
type logIn struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}
type uriIn struct {
	URI string `json:"uri"`
}
type none struct{}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func runTestServer() error {
	var srv *mcp.Server
	srv = mcp.NewServer(&mcp.Implementation{Name: "aigw-testserver", Version: "1.0.0"}, &mcp.ServerOptions{
		Instructions: "a server for aigw's bridge tests",
		CompletionHandler: func(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{
				Values: []string{req.Params.Argument.Value + "-one", req.Params.Argument.Value + "-two"},
			}}, nil
		},
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		HasTools:           true,
		HasPrompts:         true,
		HasResources:       true,
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes text"},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, none, error) {
			return text("echo: " + in.Text), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "pid", Description: "the server's process id"},
		func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, none, error) {
			return text(strconv.Itoa(os.Getpid())), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "slow", Description: "reports progress, then answers"},
		func(ctx context.Context, req *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, none, error) {
			tok := req.Params.GetProgressToken()
			for i := 1; i <= in.Steps; i++ {
				select {
				case <-ctx.Done():
					fmt.Fprintln(os.Stderr, "slow cancelled:", tok)
					return nil, none{}, ctx.Err()
				case <-time.After(time.Duration(in.DelayMS) * time.Millisecond):
				}
				if tok != nil {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps),
					})
				}
			}
			return text(fmt.Sprintf("slow done after %d steps", in.Steps)), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "sample", Description: "asks the client's model"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, none, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Text}}},
				MaxTokens: 10,
			})
			if err != nil {
				return nil, none{}, err
			}
			t, _ := res.Content.(*mcp.TextContent)
			if t == nil {
				return text("sampled: <non-text>"), none{}, nil
			}
			return text("sampled: " + t.Text), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "elicit", Description: "asks the user"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, none, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: in.Text, RequestedSchema: map[string]any{
				"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string"}},
			}})
			if err != nil {
				return nil, none{}, err
			}
			return text(fmt.Sprintf("elicited: %s %v", res.Action, res.Content["answer"])), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "roots", Description: "lists the client's roots"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, none, error) {
			res, err := req.Session.ListRoots(ctx, nil)
			if err != nil {
				return nil, none{}, err
			}
			var uris []string
			for _, r := range res.Roots {
				uris = append(uris, r.URI)
			}
			return text(fmt.Sprintf("roots: %v", uris)), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "add_tool", Description: "adds a tool (list_changed)"},
		func(_ context.Context, _ *mcp.CallToolRequest, in nameIn) (*mcp.CallToolResult, none, error) {
			mcp.AddTool(srv, &mcp.Tool{Name: in.Name, Description: "added at run time"},
				func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, none, error) {
					return text("I am " + in.Name), none{}, nil
				})
			return text("added " + in.Name), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "log", Description: "sends a log message"},
		func(ctx context.Context, req *mcp.CallToolRequest, in logIn) (*mcp.CallToolResult, none, error) {
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: mcp.LoggingLevel(in.Level), Data: in.Text})
			return text("logged"), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "touch", Description: "reports a resource as updated"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in uriIn) (*mcp.CallToolResult, none, error) {
			_ = srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: in.URI})
			return text("touched " + in.URI), none{}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "crash", Description: "exits the process"},
		func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, none, error) {
			fmt.Fprintln(os.Stderr, "crashing on request")
			os.Exit(3)
			return nil, none{}, nil
		})
	srv.AddResource(&mcp.Resource{URI: "test://static/hello", Name: "hello", MIMEType: "text/plain"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "hello, world"}}}, nil
		})
	srv.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "test://item/{id}", Name: "item"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "item " + req.Params.URI}}}, nil
		})
	srv.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "name", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{
				Role: "user", Content: &mcp.TextContent{Text: "Hello, " + req.Params.Arguments["name"] + "!"},
			}}}, nil
		})
	fmt.Fprintln(os.Stderr, "test server ready")
	return srv.Run(context.Background(), &mcp.StdioTransport{})
}
