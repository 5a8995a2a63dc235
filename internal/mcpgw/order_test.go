package mcpgw

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
)

// burstMCP is the server of burstServer.
func burstMCP(n int) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "burst"}, nil)
	srv.AddTool(&mcp.Tool{Name: "burst", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tok := req.Params.GetProgressToken()
		for i := range n {
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: float64(n)}); err != nil {
				return nil, err
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
	})
	return srv
}

// burstServer is a go-sdk MCP server (url backend) whose tool "burst" sends n progress
// notifications back to back and answers at once: the go-sdk client reads the answer while the
// last notifications still wait in its handler queue.
func burstServer(t *testing.T, n int) *httptest.Server {
	t.Helper()
	srv := burstMCP(n)
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	return hs
}

// rawSession speaks MCP over plain HTTP, so a test sees the order of messages on the wire (a
// go-sdk client reorders them the same way the gateway's did).
type rawSession struct {
	t   *testing.T
	url string
	id  string
}

func rawConnect(t *testing.T, url string) *rawSession {
	t.Helper()
	s := &rawSession{t: t, url: url}
	resp := s.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	s.id = resp.Header.Get("Mcp-Session-Id")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if s.id == "" {
		t.Fatal("no session id")
	}
	resp = s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp.Body.Close()
	return s
}

func (s *rawSession) post(body string) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
	}
	return resp
}

// messages returns the JSON-RPC messages of an SSE response, in order, up to the response.
func messages(t *testing.T, resp *http.Response) []map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &m); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		out = append(out, m)
		if _, isResp := m["result"]; isResp {
			return out
		}
		if _, isErr := m["error"]; isErr {
			return out
		}
	}
	t.Fatalf("no response in the stream (%v)", sc.Err())
	return nil
}

// TestProgressBeforeResult: every progress notification a backend sends before its result
// reaches the client before the result, on the call's own stream.
func TestProgressBeforeResult(t *testing.T) {
	const n = 30
	t.Run("streamable", func(t *testing.T) { progressBeforeResult(t, urlBackend("b", burstServer(t, n).URL), n) })
	t.Run("legacy SSE", func(t *testing.T) {
		srv := burstMCP(n)
		hs := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil))
		t.Cleanup(hs.Close)
		progressBeforeResult(t, &config.MCPBackend{Name: "b", URL: hs.URL, Transport: config.MCPTransportSSE}, n)
	})
}

func progressBeforeResult(t *testing.T, backend *config.MCPBackend, n int) {
	var relayed atomic.Int64
	var mu sync.Mutex
	var initEvents []*Event
	opts := Options{
		ProgressRelayed: func(route, b string) {
			if route == "test" && b == "b" {
				relayed.Add(1)
			}
		},
		Events: func(ev *Event) {
			if ev.Method == "initialize" {
				mu.Lock()
				initEvents = append(initEvents, ev)
				mu.Unlock()
			}
		},
	}
	_, gw := newGateway(t, opts, remoteRoute(backend))
	s := rawConnect(t, gw.URL+"/mcp")
	mu.Lock()
	if len(initEvents) != 1 || !slices.Contains(initEvents[0].ServerCapabilities, "tools") {
		t.Errorf("initialize events %+v: want one naming the tools capability the gateway answered", initEvents)
	}
	mu.Unlock()
	defer func() {
		if got := relayed.Load(); got != 5*int64(n) {
			t.Errorf("ProgressRelayed counted %d, want %d", got, 5*n)
		}
	}()
	for call := range 5 {
		start := time.Now()
		resp := s.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"b__burst","arguments":{},"_meta":{"progressToken":"p%d"}}}`, 10+call, call))
		msgs := messages(t, resp)
		progress := 0
		for _, m := range msgs[:len(msgs)-1] {
			if m["method"] != "notifications/progress" {
				t.Fatalf("call %d: unexpected %v", call, m)
			}
			p := m["params"].(map[string]any)
			if p["progressToken"] != fmt.Sprintf("p%d", call) {
				t.Fatalf("call %d: progress with token %v", call, p["progressToken"])
			}
			progress++
			if p["progress"] != float64(progress) {
				t.Fatalf("call %d: progress %v in place %d", call, p["progress"], progress)
			}
		}
		if progress != n {
			t.Errorf("call %d: %d of %d progress notifications before the result", call, progress, n)
		}
		if d := time.Since(start); d > orderWait {
			t.Errorf("call %d took %v: the result waited for a notification that never came", call, d)
		}
	}
}
