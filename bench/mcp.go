package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw"
)

// mcpSection measures the MCP gateway (internal/mcpgw, as aigw run serves it at /mcp) in front
// of a go-sdk MCP server over streamable HTTP, against the same server called directly:
// the gateway CPU one new client session costs, connect latency, and tools/call latency with
// 1 and 16 concurrent sessions (each worker its own session), rounds alternating the targets.
func mcpSection(ctx context.Context, cfg Config) error {
	backend, stopBackend, err := startMCPEcho()
	if err != nil {
		return err
	}
	defer stopBackend()
	gw, err := mcpgw.New(mcpgw.Options{})
	if err != nil {
		return err
	}
	defer gw.Close()
	route := &config.MCPRoute{Name: "bench", Path: "/mcp", Backends: []*config.MCPBackend{
		{Name: "echo", URL: backend, Transport: config.MCPTransportStreamableHTTP}}}
	if err := gw.Update([]*config.MCPRoute{route}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	gwURL := "http://" + ln.Addr().String() + "/mcp"

	perSession, err := newSessionCPU(gw, 2000)
	if err != nil {
		return err
	}

	targets := []struct{ name, url, tool string }{{"direct", backend, "echo"}, {"aigw /mcp", gwURL, "echo__echo"}}
	t := &Table{Title: "mcp: go-sdk server direct vs through aigw /mcp (streamable HTTP)",
		Header: []string{"measure", "conc", "target", "p50", "p99", "calls/s", "errors"}}
	connect := func(ctx context.Context, url string) (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "bench"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}})
		return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true},
			&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	}
	// Connect: initialize + initialized + DELETE, one session after another.
	for _, tg := range targets {
		var rs []result
		for range cfg.Rounds {
			rs = append(rs, runLoad(ctx, 1, cfg.MaxRequests, cfg.Duration, func(ctx context.Context) error {
				cs, err := connect(ctx, tg.url)
				if err != nil {
					return err
				}
				return cs.Close()
			}))
		}
		s := summarize(rs)
		t.Add("new session", "1", tg.name, fmtDur(s.p50), fmtDur(s.p99), fmt.Sprintf("%.0f", s.rps), errText(s))
	}
	// tools/call with conc sessions, each worker calling on its own.
	for _, conc := range []int{1, 16} {
		results := make([][]result, len(targets))
		for r := range cfg.Rounds {
			for i := range targets {
				tg := targets[(i+r)%len(targets)]
				sessions := make(chan *mcp.ClientSession, conc)
				for range conc {
					cs, err := connect(ctx, tg.url)
					if err != nil {
						return fmt.Errorf("%s: %w", tg.name, err)
					}
					sessions <- cs
				}
				all := make([]*mcp.ClientSession, 0, conc)
				for range conc {
					all = append(all, <-sessions)
				}
				next := make(chan *mcp.ClientSession, conc)
				for _, cs := range all {
					next <- cs
				}
				call := func(ctx context.Context) error {
					cs := <-next
					defer func() { next <- cs }()
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tg.tool, Arguments: map[string]any{"text": "hi"}})
					if err == nil && res.IsError {
						err = errors.New("tool error")
					}
					return err
				}
				if r == 0 {
					runLoad(ctx, conc, cfg.MaxRequests, cfg.Warmup, call)
				}
				results[(i+r)%len(targets)] = append(results[(i+r)%len(targets)], runLoad(ctx, conc, cfg.MaxRequests, cfg.Duration, call))
				for _, cs := range all {
					cs.Close()
				}
			}
		}
		for i, tg := range targets {
			s := summarize(results[i])
			t.Add("tools/call", fmt.Sprint(conc), tg.name, fmtDur(s.p50), fmtDur(s.p99), fmt.Sprintf("%.0f", s.rps), errText(s))
		}
	}
	t.Notes = append(t.Notes,
		fmt.Sprintf("gateway CPU per new client session (initialize answered, id sealed; backends are dialled lazily): %s (target <= 1ms)", fmtDur(perSession)),
		"a tools/call through the gateway makes one more streamable-HTTP round trip than direct; 16 sessions each call on their own")
	return t.Fprint(cfg.Out)
}

// newSessionCPU measures the process CPU (user+system) that n initialize requests cost the
// gateway's handler alone, called in process with no client or network, per request.
func newSessionCPU(gw *mcpgw.Gateway, n int) (time.Duration, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`
	do := func() error {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Mcp-Session-Id") == "" {
			return fmt.Errorf("initialize: %d %s", rec.Code, rec.Body.String())
		}
		// End the session, as a client's DELETE does.
		del := httptest.NewRequest(http.MethodDelete, "http://127.0.0.1/mcp", nil)
		del.Header.Set("Mcp-Session-Id", rec.Header().Get("Mcp-Session-Id"))
		gw.ServeHTTP(httptest.NewRecorder(), del)
		return nil
	}
	for range 50 {
		if err := do(); err != nil {
			return 0, err
		}
	}
	before := cpuTime()
	for range n {
		if err := do(); err != nil {
			return 0, err
		}
	}
	return (cpuTime() - before) / time.Duration(n), nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startMCPEcho serves a go-sdk MCP server with one echo tool on a loopback port.
func startMCPEcho() (string, func(), error) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "echo"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String() + "/mcp", func() { hs.Close() }, nil
}

func errText(s stats) string {
	if s.errs == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%v)", s.errs, s.firstErr)
}
