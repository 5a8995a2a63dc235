package mcpstdio

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestModernChild: the test server (go-sdk) speaks 2026-07-28 over stdio, so by default the
// bridge gives 2026-07-28 requests to a child of their own, unchanged, while sessions keep the
// shared child; progress and subscription notifications of that child reach the request that
// asked, under the client's ids.
func TestModernChild(t *testing.T) {
	cfg := testServerConfig(t)
	cfg.Modern = ModernAuto
	b, srv := startBridge(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := &events{}
	modern := connect(t, endpoint(srv), "", &mcp.ClientOptions{
		ProgressNotificationHandler: ev.clientOptions().ProgressNotificationHandler,
		ToolListChangedHandler:      ev.clientOptions().ToolListChangedHandler,
	})
	legacy := connect(t, endpoint(srv), version20251125, nil)
	if v := modern.InitializeResult().ProtocolVersion; v != version20260728 {
		t.Fatalf("negotiated %q", v)
	}
	modernPID, _ := strconv.Atoi(callText(t, ctx, modern, "pid", nil))
	legacyPID, _ := strconv.Atoi(callText(t, ctx, legacy, "pid", nil))
	b.mu.Lock()
	want := 0
	if b.modern != nil {
		want = b.modern.pid()
	}
	b.mu.Unlock()
	if modernPID == legacyPID || modernPID != want || legacyPID != b.shared.pid() {
		t.Fatalf("2026-07-28 request served by %d, session by %d; modern child %d, shared %d",
			modernPID, legacyPID, want, b.shared.pid())
	}
	if got := callText(t, ctx, modern, "echo", map[string]any{"text": "as is"}); got != "echo: as is" {
		t.Errorf("echo = %q", got)
	}
	res, err := modern.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "delayMs": 5},
		Meta: mcp.Meta{"progressToken": "mine"}})
	if err != nil || resultText(t, res) != "slow done after 3 steps" {
		t.Fatalf("slow: %v", err)
	}
	waitFor(t, "progress from the modern child", ev.count(func() int {
		if len(ev.progress) == 3 {
			return 1
		}
		return 0
	}))
	rr, err := modern.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://static/hello"})
	if err != nil || rr.Contents[0].Text != "hello, world" {
		t.Fatalf("read resource: %v", err)
	}
	callText(t, ctx, modern, "add_tool", map[string]any{"name": "added_on_modern"})
	waitFor(t, "tools/list_changed through subscriptions/listen", ev.count(func() int { return ev.toolsChg }))
}
