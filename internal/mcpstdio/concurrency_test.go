package mcpstdio

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConcurrentSessionsNoCrossTalk runs twenty sessions (both revisions) on one child, each
// calling tools with its own arguments and progress tokens that collide across sessions, and
// checks every answer and progress notification reaches only the session that asked.
func TestConcurrentSessionsNoCrossTalk(t *testing.T) {
	b, srv := startBridge(t, testServerConfig(t))
	const sessions, calls = 20, 15
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, sessions*calls)
	for i := range sessions {
		version := version20251125
		if i%2 == 1 {
			version = "" // 2026-07-28, stateless
		}
		var mu sync.Mutex
		var progress []float64
		opts := &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			if req.Params.ProgressToken != "same-token" {
				errs <- fmt.Errorf("session %d: progress with foreign token %v", i, req.Params.ProgressToken)
			}
			progress = append(progress, req.Params.Progress)
		}}
		cs := connect(t, endpoint(srv), version, opts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range calls {
				want := fmt.Sprintf("session-%d-call-%d", i, j)
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": want}})
				if err != nil {
					errs <- fmt.Errorf("session %d: %v", i, err)
					return
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != "echo: "+want {
					errs <- fmt.Errorf("session %d got %q, want %q", i, got, "echo: "+want)
				}
			}
			// Every session uses the same progress token; the bridge must keep them apart.
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow",
				Arguments: map[string]any{"steps": 2 + i%3, "delayMs": 5}, Meta: mcp.Meta{"progressToken": "same-token"}})
			if err != nil {
				errs <- fmt.Errorf("session %d slow: %v", i, err)
				return
			}
			want := fmt.Sprintf("slow done after %d steps", 2+i%3)
			if got := res.Content[0].(*mcp.TextContent).Text; got != want {
				errs <- fmt.Errorf("session %d slow got %q, want %q", i, got, want)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(progress)
				mu.Unlock()
				if n == 2+i%3 {
					break
				}
				if n > 2+i%3 || time.Now().After(deadline) {
					errs <- fmt.Errorf("session %d saw %d progress notifications, want %d", i, n, 2+i%3)
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if pids := b.ChildPIDs(); len(pids) != 1 {
		t.Errorf("shared mode runs %d children, want 1", len(pids))
	}
}

// TestSamplingGoesToTheAskingSession has two sessions with sampling handlers; only the one
// whose tool call triggered the request may see it.
func TestSamplingGoesToTheAskingSession(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mk := func(name string, seen *[]string, mu *sync.Mutex) *mcp.ClientOptions {
		return &mcp.ClientOptions{CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			mu.Lock()
			*seen = append(*seen, req.Params.Messages[0].Content.(*mcp.TextContent).Text)
			mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: name, Content: &mcp.TextContent{Text: name}}, nil
		}}
	}
	var mu sync.Mutex
	var seenA, seenB []string
	a := connect(t, endpoint(srv), version20251125, mk("A", &seenA, &mu))
	bs := connect(t, endpoint(srv), version20251125, mk("B", &seenB, &mu))
	for range 3 {
		if got := callText(t, ctx, a, "sample", map[string]any{"text": "from A"}); got != "sampled: A" {
			t.Errorf("A got %q", got)
		}
		if got := callText(t, ctx, bs, "sample", map[string]any{"text": "from B"}); got != "sampled: B" {
			t.Errorf("B got %q", got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seenA {
		if s != "from A" {
			t.Errorf("session A answered a sampling request of B: %q", s)
		}
	}
	for _, s := range seenB {
		if s != "from B" {
			t.Errorf("session B answered a sampling request of A: %q", s)
		}
	}
}
