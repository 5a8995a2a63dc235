package mcpstdio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// post sends body to the streamable endpoint with the given extra headers.
func post(t *testing.T, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// rpcErrorCode decodes the JSON-RPC error code of a response body, 0 if there is none.
func rpcErrorCode(t *testing.T, body []byte) int {
	t.Helper()
	var r struct {
		Error *struct{ Code int } `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Error == nil {
		t.Fatalf("body %q is not a JSON-RPC error", body)
	}
	return r.Error.Code
}

// TestBadInput sends broken requests; each gets the right status and a JSON-RPC error, and
// neither the child nor an open session notices.
func TestBadInput(t *testing.T) {
	cfg := testServerConfig(t)
	cfg.MaxBodyBytes = 4096
	b, srv := startBridge(t, cfg)
	url := endpoint(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := connect(t, url, version20251125, nil)
	pid := b.ChildPIDs()[0]
	sid := cs.ID()

	cases := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   int
	}{
		{"not JSON", `{"jsonrpc":"2.0",`, nil, 400, codeParseError},
		{"not JSON-RPC", `{"hello":"world"}`, nil, 400, codeInvalidRequest},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, nil, 400, codeInvalidRequest},
		{"too large", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` +
			strings.Repeat("x", 5000) + `"}}}`, map[string]string{headerSessionID: sid}, 413, codeInvalidRequest},
		{"unknown session", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{headerSessionID: "nope"}, 404, codeInvalidRequest},
		{"no session", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil, 400, codeInvalidRequest},
		{"bad JSON in a session", `{"jsonrpc":"2.0","id":1,"method":`, map[string]string{headerSessionID: sid}, 400, codeParseError},
		{"wrong content type", `{}`, map[string]string{"Content-Type": "text/plain"}, 415, codeInvalidRequest},
		// Issue 12, defect 5.
		{"neither request nor response", `{"jsonrpc":"2.0","id":7}`, map[string]string{headerSessionID: sid}, 400, codeInvalidRequest},
		{"response with result and error", `{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"x"}}`,
			map[string]string{headerSessionID: sid}, 400, codeInvalidRequest},
		{"Accept without event-stream", `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			map[string]string{headerSessionID: sid, "Accept": "application/json"}, 406, codeInvalidRequest},
		{"Accept without JSON", `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			map[string]string{headerSessionID: sid, "Accept": "text/event-stream"}, 406, codeInvalidRequest},
		{"unsupported protocol version in a session", `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			map[string]string{headerSessionID: sid, headerProtocolVersion: "1999-01-01"}, 400, codeInvalidRequest},
		{"invalid protocol version", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			map[string]string{headerProtocolVersion: "latest"}, 400, codeInvalidRequest},
		{"second initialize", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`,
			map[string]string{headerSessionID: sid}, 400, codeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, url, tc.body, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if code := rpcErrorCode(t, body); code != tc.code {
				t.Errorf("JSON-RPC code %d, want %d", code, tc.code)
			}
		})
	}
	// A method the child does not know is answered by the child, in the session.
	resp, body := post(t, url, `{"jsonrpc":"2.0","id":"x","method":"no/such"}`, map[string]string{
		headerSessionID: sid, headerProtocolVersion: version20251125})
	if resp.StatusCode != 200 || rpcErrorCode(t, body) != codeMethodNotFound {
		t.Errorf("unknown method: %d %s", resp.StatusCode, body)
	}
	// A DNS-rebinding Host is refused.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Host = "evil.example:80"
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %v %v", r, err)
	}
	// A foreign Origin is refused on every endpoint; a loopback or same-host one is not.
	for _, tc := range []struct {
		method, path, origin string
		status               int
	}{
		{http.MethodPost, "/mcp", "http://evil.example", http.StatusForbidden},
		{http.MethodPost, "/mcp", "null", http.StatusForbidden},
		{http.MethodGet, "/mcp", "https://evil.example:443", http.StatusForbidden},
		{http.MethodGet, "/sse", "http://evil.example", http.StatusForbidden},
		{http.MethodPost, "/message?sessionId=x", "http://evil.example", http.StatusForbidden},
		{http.MethodPost, "/mcp", "http://localhost:6274", http.StatusOK},
		{http.MethodPost, "/mcp", srv.URL, http.StatusOK},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set(headerSessionID, sid)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tc.status {
			t.Errorf("%s %s with Origin %s: status %d, want %d", tc.method, tc.path, tc.origin, r.StatusCode, tc.status)
		}
	}

	if got := callText(t, ctx, cs, "echo", map[string]any{"text": "unharmed"}); got != "echo: unharmed" {
		t.Errorf("session after bad input: %q", got)
	}
	if now := b.ChildPIDs(); len(now) != 1 || now[0] != pid {
		t.Errorf("child changed from %d to %v", pid, now)
	}
	// A deleted session is gone: 404, which makes clients re-initialise.
	req, _ = http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set(headerSessionID, sid)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %v %v", r, err)
	}
	if r, _ := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{headerSessionID: sid}); r.StatusCode != 404 {
		t.Errorf("after DELETE: status %d, want 404", r.StatusCode)
	}
}

// TestReplyFormats checks a plain answer comes back as application/json and an answer with
// progress before it as an SSE stream.
func TestReplyFormats(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	url := endpoint(srv)
	resp, _ := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil)
	sid := resp.Header.Get(headerSessionID)
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, sid)
	}
	hdr := map[string]string{headerSessionID: sid, headerProtocolVersion: version20251125}
	resp, body := post(t, url, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"j"}}}`, hdr)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !bytes.Contains(body, []byte(`"echo: j"`)) || !bytes.Contains(body, []byte(`"id":2`)) {
		t.Errorf("plain call: %s %s", ct, body)
	}
	resp, body = post(t, url, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow","arguments":{"steps":2,"delayMs":1},"_meta":{"progressToken":99}}}`, hdr)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" ||
		bytes.Count(body, []byte(`"progressToken":99`)) != 2 || !bytes.Contains(body, []byte(`"id":3`)) {
		t.Errorf("progress call: %s %s", ct, body)
	}
}

// syncBuffer is a log sink tests can search.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestCancellation cancels slow calls from both revisions; the child sees each cancellation
// (and logs it on stderr, which reaches the bridge's log with the server's prefix).
func TestCancellation(t *testing.T) {
	logs := &syncBuffer{}
	cfg := testServerConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	_, srv := startBridge(t, cfg)
	for i, version := range []string{version20251125, ""} {
		cs := connect(t, endpoint(srv), version, nil)
		ctx, cancel := context.WithCancel(context.Background())
		token := "cancel-me-" + strconv.Itoa(i)
		go func() { time.Sleep(200 * time.Millisecond); cancel() }()
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow",
			Arguments: map[string]any{"steps": 100, "delayMs": 50}, Meta: mcp.Meta{"progressToken": token}})
		if err == nil {
			t.Fatal("cancelled call succeeded")
		}
		// The child sees the bridge's token, not the client's; any cancellation line will do,
		// one per revision.
		want := i + 1
		waitFor(t, "the child to see the cancellation", func() bool {
			logs.mu.Lock()
			defer logs.mu.Unlock()
			return strings.Count(logs.buf.String(), "[testserver] slow cancelled") >= want
		})
	}
}

// TestLegacySSE serves a go-sdk client over the HTTP+SSE transport.
func TestLegacySSE(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev := &events{}
	client := mcp.NewClient(&mcp.Implementation{Name: "sse-test"}, ev.clientOptions())
	cs, err := client.Connect(ctx, &mcp.SSEClientTransport{Endpoint: srv.URL + "/sse"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := callText(t, ctx, cs, "echo", map[string]any{"text": "over sse"}); got != "echo: over sse" {
		t.Errorf("echo = %q", got)
	}
	if got := callText(t, ctx, cs, "sample", map[string]any{"text": "q"}); got != "sampled: model says q" {
		t.Errorf("sample = %q", got)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 2, "delayMs": 1},
		Meta: mcp.Meta{"progressToken": 5}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "progress over SSE", ev.count(func() int { return len(ev.progress) }))
	resp, body := post(t, srv.URL+"/message?sessionId=unknown", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown SSE session: %d %s", resp.StatusCode, body)
	}
}
