package mcpstdio

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// events records what the client's handlers saw.
type events struct {
	mu       sync.Mutex
	progress []float64
	toolsChg int
	logs     []string
	updated  []string
	sampled  []string
}

func (e *events) clientOptions() *mcp.ClientOptions {
	return &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			prompt := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			e.mu.Lock()
			e.sampled = append(e.sampled, prompt)
			e.mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "test-model",
				Content: &mcp.TextContent{Text: "model says " + prompt}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"answer": "yes to " + req.Params.Message}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			e.mu.Lock()
			e.progress = append(e.progress, req.Params.Progress)
			e.mu.Unlock()
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			e.mu.Lock()
			e.toolsChg++
			e.mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			e.mu.Lock()
			e.logs = append(e.logs, string(req.Params.Level)+":"+req.Params.Data.(string))
			e.mu.Unlock()
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			e.mu.Lock()
			e.updated = append(e.updated, req.Params.URI)
			e.mu.Unlock()
		},
	}
}

func (e *events) count(f func() int) func() bool {
	return func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return f() > 0
	}
}

// TestSurface drives the whole MCP surface through the bridge with the go-sdk client, in
// both protocol revisions, against the Go test server.
func TestSurface(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	for _, version := range []string{version20251125, ""} {
		name := version
		if name == "" {
			name = "2026-07-28 (default)"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ev := &events{}
			cs := connect(t, endpoint(srv), version, ev.clientOptions())
			res := cs.InitializeResult()
			if res.ServerInfo == nil || res.ServerInfo.Name != "aigw-testserver" {
				t.Fatalf("server info = %+v, want the child's", res.ServerInfo)
			}
			wantVersion := version
			if wantVersion == "" {
				wantVersion = version20260728
			}
			if res.ProtocolVersion != wantVersion {
				t.Fatalf("negotiated %q, want %q", res.ProtocolVersion, wantVersion)
			}
			if res.Instructions != "a server for aigw's bridge tests" {
				t.Errorf("instructions = %q", res.Instructions)
			}

			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(tools.Tools) < 5 {
				t.Fatalf("listed %d tools", len(tools.Tools))
			}
			if got := callText(t, ctx, cs, "echo", map[string]any{"text": "hi"}); got != "echo: hi" {
				t.Errorf("echo = %q", got)
			}
			// The 2026-07-28 revision has no ping: 404 with -32601, as the spec says.
			if err := cs.Ping(ctx, nil); (err != nil) != (version == "") {
				t.Errorf("ping: %v", err)
			}

			// Resources, templates, prompts, completion.
			rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://static/hello"})
			if err != nil || rr.Contents[0].Text != "hello, world" {
				t.Fatalf("read resource: %v %+v", err, rr)
			}
			rt, err := cs.ListResourceTemplates(ctx, nil)
			if err != nil || len(rt.ResourceTemplates) != 1 {
				t.Fatalf("templates: %v %+v", err, rt)
			}
			ri, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://item/7"})
			if err != nil || ri.Contents[0].Text != "item test://item/7" {
				t.Fatalf("read template resource: %v %+v", err, ri)
			}
			pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"name": "Ada"}})
			if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "Hello, Ada!" {
				t.Fatalf("get prompt: %v %+v", err, pr)
			}
			cr, err := cs.Complete(ctx, &mcp.CompleteParams{
				Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "greet"},
				Argument: mcp.CompleteParamsArgument{Name: "name", Value: "Ad"},
			})
			if err != nil || len(cr.Completion.Values) != 2 || cr.Completion.Values[0] != "Ad-one" {
				t.Fatalf("complete: %v %+v", err, cr)
			}

			// Progress on a slow tool.
			slow, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow",
				Arguments: map[string]any{"steps": 3, "delayMs": 10}, Meta: mcp.Meta{"progressToken": "tok-1"}})
			if err != nil || resultText(t, slow) != "slow done after 3 steps" {
				t.Fatalf("slow: %v", err)
			}
			waitFor(t, "progress notifications", ev.count(func() int {
				if len(ev.progress) >= 3 {
					return 1
				}
				return 0
			}))

			// Server-to-client requests: sampling, elicitation, roots.
			if got := callText(t, ctx, cs, "sample", map[string]any{"text": "2+2?"}); got != "sampled: model says 2+2?" {
				t.Errorf("sample = %q", got)
			}
			if got := callText(t, ctx, cs, "elicit", map[string]any{"text": "proceed?"}); got != "elicited: accept yes to proceed?" {
				t.Errorf("elicit = %q", got)
			}

			// list_changed reaches the session.
			toolName := "added_" + strings.ReplaceAll(strings.ReplaceAll(name, " ", "_"), "(", "")
			toolName = strings.NewReplacer(")", "", "-", "_", ".", "_").Replace(toolName)
			// A 2026-07-28 client that declares sampling is served by a pooled child, and a tool
			// added there is that child's alone; list changes of the shared child reach a client
			// that declares nothing (children.go).
			lc, lcEv := cs, ev
			if version == "" {
				lcEv = &events{}
				lc = connect(t, endpoint(srv), version, &mcp.ClientOptions{
					ToolListChangedHandler: lcEv.clientOptions().ToolListChangedHandler})
			}
			callText(t, ctx, lc, "add_tool", map[string]any{"name": toolName})
			waitFor(t, "tools/list_changed", lcEv.count(func() int { return lcEv.toolsChg }))
			if got := callText(t, ctx, lc, toolName, map[string]any{}); got != "I am "+toolName {
				t.Errorf("added tool = %q", got)
			}

			if version == version20251125 {
				// Logging level and messages; resource subscriptions (session revision only).
				if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
					t.Fatal(err)
				}
				callText(t, ctx, cs, "log", map[string]any{"level": "debug", "text": "too chatty"})
				callText(t, ctx, cs, "log", map[string]any{"level": "warning", "text": "careful"})
				waitFor(t, "log message", ev.count(func() int { return len(ev.logs) }))
				ev.mu.Lock()
				if len(ev.logs) != 1 || ev.logs[0] != "warning:careful" {
					t.Errorf("logs = %v, want only the warning", ev.logs)
				}
				ev.mu.Unlock()
				if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://static/hello"}); err != nil {
					t.Fatal(err)
				}
				callText(t, ctx, cs, "touch", map[string]any{"uri": "test://static/hello"})
				waitFor(t, "resources/updated", ev.count(func() int { return len(ev.updated) }))
				if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "test://static/hello"}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
