package mcpstdio

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestEverythingServer bridges the real @modelcontextprotocol/server-everything from npm and
// drives it with the go-sdk client in both revisions.
func TestEverythingServer(t *testing.T) {
	cfg := everythingConfig(t)
	cfg.Modern = ModernAuto // the probe must find a session-revision server and translate
	b, srv := startBridge(t, cfg)
	for _, version := range []string{version20251125, ""} {
		t.Run("version="+version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ev := &events{}
			var mu sync.Mutex
			resourcesChanged := 0
			opts := ev.clientOptions()
			opts.ResourceListChangedHandler = func(context.Context, *mcp.ResourceListChangedRequest) {
				mu.Lock()
				resourcesChanged++
				mu.Unlock()
			}
			cs := connect(t, endpoint(srv), version, opts)
			if name := cs.InitializeResult().ServerInfo.Name; !strings.Contains(name, "everything") {
				t.Errorf("server name %q", name)
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, tool := range tools.Tools {
				names[tool.Name] = true
			}
			for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request"} {
				if !names[want] {
					t.Errorf("tool %q missing from %v", want, names)
				}
			}
			if got := callText(t, ctx, cs, "echo", map[string]any{"message": "hello"}); got != "Echo: hello" {
				t.Errorf("echo = %q", got)
			}
			if got := callText(t, ctx, cs, "get-sum", map[string]any{"a": 2, "b": 40}); !strings.Contains(got, "42") {
				t.Errorf("get-sum = %q", got)
			}
			res, err := cs.ListResources(ctx, nil)
			if err != nil || len(res.Resources) == 0 {
				t.Fatalf("list resources: %v", err)
			}
			rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: res.Resources[0].URI})
			if err != nil || len(rr.Contents) == 0 {
				t.Fatalf("read %s: %v", res.Resources[0].URI, err)
			}
			pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "simple-prompt"})
			if err != nil || len(pr.Messages) == 0 {
				t.Fatalf("get prompt: %v", err)
			}
			// Progress.
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-long-running-operation",
				Arguments: map[string]any{"duration": 0.2, "steps": 2}, Meta: mcp.Meta{"progressToken": "p"}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "progress", ev.count(func() int { return len(ev.progress) }))
			// Sampling answered by this client.
			if got := callText(t, ctx, cs, "trigger-sampling-request", map[string]any{"prompt": "hi", "maxTokens": 5}); !strings.Contains(got, "model says") {
				t.Errorf("sampling result %q", got)
			}
			// A tool that registers a resource: resources/list_changed reaches the client.
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "gzip-file-as-resource", Arguments: map[string]any{
				"name": "x-" + fmt.Sprint(time.Now().UnixNano()) + ".gz", "data": "data:text/plain;base64,aGVsbG8=",
			}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "resources/list_changed", func() bool { mu.Lock(); defer mu.Unlock(); return resourcesChanged > 0 })
		})
	}

	<-b.modernKnown
	if b.modern != nil {
		t.Errorf("the probe took server-everything (session revisions only) for a 2026-07-28 server")
	}

	// Concurrent sessions get their own answers.
	t.Run("concurrent", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i := range 20 {
			cs := connect(t, endpoint(srv), []string{version20251125, ""}[i%2], nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 5 {
					want := fmt.Sprintf("s%d-c%d", i, j)
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": want}})
					if err != nil {
						t.Error(err)
						return
					}
					if got := res.Content[0].(*mcp.TextContent).Text; got != "Echo: "+want {
						t.Errorf("session %d got %q, want %q", i, got, "Echo: "+want)
					}
				}
			}()
		}
		wg.Wait()
	})

	// Killing the child mid-session is survived.
	t.Run("killed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs := connect(t, endpoint(srv), version20251125, nil)
		pid := b.shared.pid() // the session declares nothing: it is served by the shared child
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		assertGone(t, pid)
		waitFor(t, "a new child", func() bool { p := b.shared.pid(); return p != 0 && p != pid })
		if got := callText(t, ctx, cs, "echo", map[string]any{"message": "again"}); got != "Echo: again" {
			t.Errorf("after restart: %q", got)
		}
	})
}
