package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
)

// hostileGateway serves the usual test rules over the given backend with explicit limits.
func hostileGateway(t *testing.T, limits Limits, b *config.Backend) (*httptest.Server, *recorder, *extproc.Pipeline) {
	t.Helper()
	ref := &config.BackendRef{Backend: b, Weight: 1}
	m := &config.Model{
		Source:              "test",
		MaxRequestBodyBytes: 32 << 20,
		Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{
			{Name: "r/claude", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "claude-only"}}}},
				Backends: []*config.BackendRef{ref}, Timeout: 5 * time.Second},
			{Name: "r/gpt", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "gpt-test"}}}},
				Backends: []*config.BackendRef{ref}, Timeout: 5 * time.Second,
				Retry: &config.RetryPolicy{NumRetries: 2, ConnectFailure: true, Statuses: []int{502, 503}, BaseBackoff: time.Millisecond}},
		}}},
	}
	rec := &recorder{}
	p := extproc.New(m, rec)
	srv := httptest.NewServer(New(p, Options{Limits: limits}).Handler())
	t.Cleanup(srv.Close)
	return srv, rec, p
}

// doStream posts a body and reads the whole answer, returning the read error instead of failing:
// an aborted stream is what some tests expect.
func doStream(t *testing.T, url, body string, hdr ...string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// waitEvent waits for the request event of the last request (published after the response).
func waitEvent(t *testing.T, rec *recorder, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		rec.mu.Lock()
		got := len(rec.events)
		rec.mu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("fewer than %d request events", n)
}

// dieMidStream writes the first events of a stream, then drops the connection without ending
// the chunked body, as a crashed provider does.
func dieMidStream(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			_, _ = io.WriteString(w, e)
		}
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

const (
	oaChunk = `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hel"}}]}` + "\n\n"
	anStart = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hel\"}}\n\n"
)

// TestStreamFailuresAreNotSuccesses is item 5 of issue 18: a provider that dies mid-stream, or
// a stream the translator cannot carry on, must end in an error event of the client's API, no
// [DONE], an aborted transfer, and a failed request in the event.
func TestStreamFailuresAreNotSuccesses(t *testing.T) {
	cases := []struct {
		name      string
		schema    config.SchemaName
		upstream  http.HandlerFunc
		path      string
		body      string
		anthropic bool
		want      string // a fragment of the recorded error
	}{
		{"openai passthrough, provider dies", config.SchemaOpenAI, dieMidStream(oaChunk, `data: {"id":"c","choi`),
			"/v1/chat/completions", `{"model":"gpt-test","stream":true}`, false, "broke off"},
		{"anthropic passthrough, provider dies", config.SchemaAnthropic, dieMidStream(anStart, "event: content_block_delta\ndata: {\"ty"),
			"/v1/messages", `{"model":"claude-only","max_tokens":5,"stream":true,"messages":[]}`, true, "broke off"},
		{"openai client, anthropic provider dies", config.SchemaAnthropic, dieMidStream(anStart),
			"/v1/chat/completions", `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`, false, "broke off"},
		{"anthropic client, openai provider dies", config.SchemaOpenAI, dieMidStream(oaChunk),
			"/v1/messages", `{"model":"claude-only","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, true, "broke off"},
		{"translator cannot read an event", config.SchemaAnthropic, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, anStart+"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\"x\"}\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
			_, _ = io.WriteString(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
		}, "/v1/chat/completions", `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`, false, "error event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(c.upstream)
			defer up.Close()
			b := backend(t, "b", c.schema, up.URL)
			gw, rec, _ := hostileGateway(t, Limits{}, b)
			resp, body, err := doStream(t, gw.URL+c.path, c.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if err == nil {
				t.Errorf("the transfer ended cleanly; want it aborted: %s", body)
			}
			if !strings.Contains(body, "hel") {
				t.Errorf("the events before the failure did not arrive: %q", body)
			}
			if strings.Contains(body, "[DONE]") || strings.Contains(body, "message_stop") {
				t.Errorf("the failed stream looks complete: %q", body)
			}
			if c.anthropic && !strings.Contains(body, "event: error\ndata: {\"type\":\"error\"") {
				t.Errorf("no Anthropic error event: %q", body)
			}
			if !c.anthropic && !strings.Contains(body, "data: {\"error\":{") {
				t.Errorf("no OpenAI error event: %q", body)
			}
			waitEvent(t, rec, 1)
			if ev := rec.last(t); ev.Status < 500 || !strings.Contains(ev.Error, c.want) {
				t.Errorf("recorded status %d error %q", ev.Status, ev.Error)
			}
		})
	}
}

// TestUpstreamBodyBounds is item 4 of issue 18: bodies over the limit (plain or a compression
// bomb) and bodies nested too deep are a 502 in the client's shape, never a cut 200.
func TestUpstreamBodyBounds(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	big := []byte(`{"id":"x","choices":[{"message":{"content":"` + strings.Repeat("a", 2<<20) + `"}}]}`)
	bomb := gz(append([]byte(`{"id":"x","pad":"`), bytes.Repeat([]byte("0"), 8<<20)...))
	var brBomb bytes.Buffer
	bw := brotli.NewWriter(&brBomb)
	_, _ = bw.Write(append([]byte(`{"id":"x","pad":"`), bytes.Repeat([]byte("0"), 8<<20)...))
	_ = bw.Close()
	deep := []byte(`{"choices":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)
	for _, c := range []struct {
		name string
		enc  string
		body []byte
		want string
	}{
		{"plain body over the limit", "", big, "larger than"},
		{"gzip bomb", "gzip", bomb, "larger than"},
		{"brotli bomb", "br", brBomb.Bytes(), "larger than"},
		{"deeply nested body", "", deep, "nested"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if c.enc != "" {
					w.Header().Set("Content-Encoding", c.enc)
				}
				_, _ = w.Write(c.body)
			}))
			defer up.Close()
			gw, _, _ := hostileGateway(t, Limits{MaxUpstreamBodyBytes: 1 << 20}, backend(t, "b", config.SchemaOpenAI, up.URL))
			for _, anthropic := range []bool{false, true} {
				path, body := "/v1/chat/completions", `{"model":"gpt-test"}`
				if anthropic {
					path, body = "/v1/messages", `{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
				}
				resp, out := do(t, "POST", gw.URL+path, body)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d: %.200s", resp.StatusCode, out)
				}
				if msg := errorShape(t, anthropic, out); !strings.Contains(msg, c.want) {
					t.Errorf("message %q", msg)
				}
			}
		})
	}
}

// TestUpstreamStreamBounds: an event line that never ends, an oversized event, a deeply nested
// event and a gzipped stream bomb end the stream with an error event, quickly.
func TestUpstreamStreamBounds(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	streamBomb := gz(append([]byte(oaChunk+"data: "), bytes.Repeat([]byte("y"), 8<<20)...))
	for _, c := range []struct {
		name string
		send func(w http.ResponseWriter)
	}{
		{"endless line in small writes", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, oaChunk+"data: ")
			chunk := bytes.Repeat([]byte("x"), 512)
			for i := 0; i < 8<<10; i++ { // 4 MiB, in 512-byte writes
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}},
		{"deeply nested event", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, oaChunk)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			_, _ = io.WriteString(w, "data: "+strings.Repeat(`{"a":`, 10000)+"\n\n")
		}},
		{"gzipped stream bomb", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(streamBomb)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				c.send(w)
			}))
			defer up.Close()
			gw, rec, _ := hostileGateway(t, Limits{MaxStreamEventBytes: 1 << 20}, backend(t, "b", config.SchemaOpenAI, up.URL))
			start := time.Now()
			_, body, err := doStream(t, gw.URL+"/v1/chat/completions", `{"model":"gpt-test","stream":true}`)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			if err == nil || !strings.Contains(body, "hel") || !strings.Contains(body, "data: {\"error\":{") || len(body) > 64<<10 {
				t.Fatalf("read error %v, %d bytes: %.300q", err, len(body), body)
			}
			waitEvent(t, rec, 1)
			if ev := rec.last(t); ev.Status != http.StatusBadGateway || ev.Error == "" {
				t.Errorf("recorded %d %q", ev.Status, ev.Error)
			}
		})
	}
}

// TestHostileRequests covers items 1, 2 and 7 of issue 18 at the HTTP level: each is a 400 in
// the client's shape, reaches no backend and is not retried.
func TestHostileRequests(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
	defer up.Close()
	gw, _, _ := hostileGateway(t, Limits{}, backend(t, "b", config.SchemaOpenAI, up.URL))
	for _, c := range []struct {
		name, path, body, want string
	}{
		{"ten million [", "/v1/chat/completions", strings.Repeat("[", 10_000_000), "nested"},
		{"deep nesting in an object", "/v1/messages", `{"model":"gpt-test","messages":` + strings.Repeat(`[{"a":`, 1<<20), "nested"},
		{"duplicate model", "/v1/chat/completions", `{"model":"gpt-test","model":"o1-pro"}`, "`model`"},
		{"duplicate stream", "/v1/messages", `{"model":"gpt-test","stream":false,"stream":true}`, "`stream`"},
		{"model with LF", "/v1/chat/completions", `{"model":"gpt-test\nX-Injected: 1"}`, "control"},
		{"model with CR", "/v1/messages", `{"model":"gpt-test\r"}`, "control"},
		{"model with NUL", "/v1/chat/completions", `{"model":"gpt\u0000test"}`, "control"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			resp, out := do(t, "POST", gw.URL+c.path, c.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %.200s", resp.StatusCode, out)
			}
			if msg := errorShape(t, strings.HasPrefix(c.path, "/v1/messages"), out); !strings.Contains(msg, c.want) {
				t.Errorf("message %q lacks %q", msg, c.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the backend was called %d times", n)
	}
}

// TestStalledBodies is item 3 of issue 18: bodies that never finish are cut at the body timeout
// and their connections closed; the connection cap holds and the gateway serves afterwards.
func TestStalledBodies(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
	defer up.Close()
	m := &config.Model{Source: "test", MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{
		{Name: "r/gpt", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "gpt-test"}}}},
			Backends: []*config.BackendRef{{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1}}},
	}}}}
	s := New(extproc.New(m, &recorder{}), Options{Limits: Limits{RequestBodyTimeout: 300 * time.Millisecond, MaxConnections: 100}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	addr := ln.Addr().String()

	// 300 stalled connections: 100 fit under the cap, the rest wait in the listen queue.
	const n = 300
	dialed := time.Now()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		header := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		if i%2 == 0 {
			header += "Content-Length: 1000\r\n\r\n{\"model\":" // shorter than its Content-Length
		} else {
			header += "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"mod\r\n" // a chunked body that never ends
		}
		if _, err := io.WriteString(c, header); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	closed := 0
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("connection %d: %d %s", i, resp.StatusCode, body)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("connection %d stayed open after its body timed out", i)
		}
		closed++
	}
	// Three rounds of at most 100 connections, each cut after 300ms: the last connection cannot
	// have been served before two earlier rounds timed out, unless the cap let it in at once.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled connections took %s to clear", d)
	}
	if d := time.Since(dialed); d < 850*time.Millisecond {
		t.Errorf("all %d stalled connections were served within %s: the cap of 100 did not hold", n, d)
	}
	resp, body, err := doStream(t, fmt.Sprintf("http://%s/v1/chat/completions", addr), `{"model":"gpt-test"}`)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the flood: %v %d %s", err, resp.StatusCode, body)
	}
	if closed != n {
		t.Fatalf("%d of %d closed", closed, n)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context ended early")
	}
}

// TestHeadersToProviders is item 8 of issue 18: only each API's allow-listed client headers
// reach a provider; the gateway's key is never combined with the client's organization or
// project; configuration still adds headers explicitly.
func TestHeadersToProviders(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
	defer up.Close()
	client := []string{
		"Cookie", "session=secret", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-Host", "evil",
		"X-Envoy-Original-Path", "/x", "X-Ai-Eg-Model", "gpt-test", "X-Goog-Api-Key", "goog-secret",
		"OpenAI-Organization", "org-client", "OpenAI-Project", "proj-client", "Authorization", "Bearer client-key",
		"X-Api-Key", "client-anthropic-key", "X-Custom", "1",
		"OpenAI-Beta", "assistants=v2", "Idempotency-Key", "idem-1", "X-Stainless-Lang", "go", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Anthropic-Beta", "tools-2024", "Anthropic-Version", "2023-06-01",
	}
	stripped := []string{"Cookie", "X-Forwarded-For", "X-Forwarded-Host", "X-Envoy-Original-Path", "X-Ai-Eg-Model", "X-Goog-Api-Key", "X-Custom", "X-Api-Key"}
	for _, c := range []struct {
		name   string
		schema config.SchemaName
		auth   bool
		kept   []string
		gone   []string
		auth0  string // the Authorization the provider must see
	}{
		{"openai with the gateway's key", config.SchemaOpenAI, true,
			[]string{"OpenAI-Beta", "Idempotency-Key", "X-Stainless-Lang", "Traceparent"},
			append([]string{"OpenAI-Organization", "OpenAI-Project", "Anthropic-Beta", "Anthropic-Version"}, stripped...), "Bearer sk-backend"},
		{"openai-compatible server without a key", config.SchemaOpenAI, false,
			[]string{"OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta"},
			append([]string{"Anthropic-Beta"}, stripped...), "Bearer client-key"},
		{"anthropic with the gateway's key", config.SchemaAnthropic, true,
			[]string{"Anthropic-Beta", "Anthropic-Version", "Idempotency-Key", "X-Stainless-Lang"},
			append([]string{"OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta", "Authorization"}, stripped...), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := backend(t, "b", c.schema, up.URL)
			if c.schema == config.SchemaAnthropic {
				b.Auth = &config.Auth{Type: config.AuthAnthropicAPIKey, Key: "sk-ant-backend"}
			}
			if !c.auth {
				b.Auth = nil
			}
			b.HeaderMutation = &config.HeaderMutation{Set: []config.Header{{Name: "X-Added-By-Config", Value: "yes"}}}
			gw, _, _ := hostileGateway(t, Limits{}, b)
			path, body := "/v1/chat/completions", `{"model":"gpt-test"}`
			if c.schema == config.SchemaAnthropic {
				path, body = "/v1/messages", `{"model":"claude-only","max_tokens":5,"messages":[]}`
			}
			resp, _, err := doStream(t, gw.URL+path, body, client...)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			h := <-got
			for _, k := range c.kept {
				if h.Get(k) == "" {
					t.Errorf("%s was not forwarded", k)
				}
			}
			for _, k := range c.gone {
				if v := h.Get(k); v != "" && !(k == "X-Api-Key" && v == "sk-ant-backend") {
					t.Errorf("%s: %q reached the provider", k, v)
				}
			}
			if h.Get("Authorization") != c.auth0 {
				t.Errorf("Authorization %q, want %q", h.Get("Authorization"), c.auth0)
			}
			if h.Get("X-Added-By-Config") != "yes" {
				t.Error("a header added by configuration was not sent")
			}
		})
	}
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted past the cap of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // closing twice is harmless
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("closing a connection did not free its slot")
	}
	second.Close()
	ln.Close()
	for range accepted { // Accept returns once the listener is closed
	}
}
