package mcpgw

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkCallTool calls a go-sdk echo tool from 16 client sessions at once (each goroutine
// its own session), directly and through the gateway, for the ratio and for profiling the
// gateway's share of a call:
// go test ./internal/mcpgw -run '^$' -bench CallTool/gateway -cpuprofile cpu.out
func BenchmarkCallTool(b *testing.B) {
	a := remoteServer(b, "a")
	_, hs := newGateway(b, Options{}, remoteRoute(urlBackend("alpha", a.URL)))
	b.Run("direct", func(b *testing.B) { benchCalls(b, a.URL, "echo") })
	b.Run("gateway", func(b *testing.B) { benchCalls(b, hs.URL+"/mcp", "alpha__echo") })
}

func benchCalls(b *testing.B, url, tool string) {
	const sessions = 16
	css := make([]*mcp.ClientSession, sessions)
	for i := range css {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		css[i] = cs
	}
	var next atomic.Int64
	b.SetParallelism((sessions + 1) / 2) // GOMAXPROCS 2 → 16 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cs := css[int(next.Add(1)-1)%sessions]
		for pb.Next() {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}})
			if err != nil || res.IsError {
				b.Error(err, res)
				return
			}
		}
	})
}
