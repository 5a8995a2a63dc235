package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/observe"
)

// recorder collects request events.
type recorder struct {
	mu     sync.Mutex
	events []observe.RequestEvent
}

func (r *recorder) Publish(ev *observe.RequestEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, *ev)
}

func (r *recorder) last(t *testing.T) observe.RequestEvent {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		t.Fatal("no request event was published")
	}
	return r.events[len(r.events)-1]
}

func backend(t *testing.T, name string, schema config.SchemaName, rawURL string) *config.Backend {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &config.Backend{Name: name, Schema: config.Schema{Name: schema, Prefix: "/v1"}, Endpoint: u,
		Auth: &config.Auth{Type: config.AuthAPIKey, Key: "sk-backend"}}
}

// gatewayFor serves a rule with the given backend references through the builtin data plane.
func gatewayFor(t *testing.T, timeout time.Duration, refs ...*config.BackendRef) (*httptest.Server, *recorder, *extproc.Pipeline) {
	t.Helper()
	m := &config.Model{
		Source:              "test",
		MaxRequestBodyBytes: 1 << 10,
		Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{
			{Name: "r/claude", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "claude-only"}}}},
				Backends: refs, Timeout: timeout},
			{Name: "r/gpt", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "gpt-test"}}}},
				Backends: refs, Timeout: timeout},
		}}},
	}
	rec := &recorder{}
	p := extproc.New(m, rec)
	s := New(p, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, rec, p
}

func do(t *testing.T, method, url, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
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
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// errorShape checks an error body's shape for the API and returns its message.
func errorShape(t *testing.T, anthropic bool, body []byte) string {
	t.Helper()
	var v struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	if v.Error.Message == "" || v.Error.Type == "" {
		t.Fatalf("error body lacks error.type/message: %s", body)
	}
	if anthropic != (v.Type == "error") {
		t.Fatalf("error body in the wrong shape (anthropic=%v): %s", anthropic, body)
	}
	return v.Error.Message
}

const chatOK = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-test-2025","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":4}}}`

func TestGatewayErrors(t *testing.T) {
	var mu sync.Mutex // handlers of timed-out requests may still run during later subtests
	var gotAuth, gotPath string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The request's user field picks the scenario (a test header would not pass the
		// gateway's header allow-list).
		var req struct{ User string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.User == "" {
			mu.Lock()
			gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
			mu.Unlock()
		}
		switch req.User {
		case "429":
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Retry-After-Ms", "7000")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		case "html502":
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		case "slow":
			time.Sleep(500 * time.Millisecond)
			_, _ = io.WriteString(w, chatOK)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, chatOK)
		}
	}))
	defer up.Close()
	ref := &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1}
	gw, rec, _ := gatewayFor(t, 200*time.Millisecond, ref)
	chat := gw.URL + "/v1/chat/completions"

	cases := []struct {
		name      string
		method    string
		url, body string
		hdr       []string
		status    int
		anthropic bool
		contains  string
	}{
		{"malformed json", "POST", chat, `{"model":`, nil, 400, false, "not valid JSON"},
		{"malformed json anthropic", "POST", gw.URL + "/v1/messages", `{"model":`, nil, 400, true, "not valid JSON"},
		{"missing model", "POST", chat, `{"messages":[]}`, nil, 400, false, "model"},
		{"model not a string", "POST", chat, `{"model":3}`, nil, 400, false, "model"},
		{"not an object", "POST", chat, `[1,2]`, nil, 400, false, "object"},
		{"empty body", "POST", chat, ``, nil, 400, false, "empty"},
		{"unknown model", "POST", chat, `{"model":"nope"}`, nil, 404, false, "nope"},
		{"unknown model anthropic", "POST", gw.URL + "/anthropic/v1/messages", `{"model":"nope","max_tokens":1}`, nil, 404, true, "nope"},
		{"unknown path", "POST", gw.URL + "/v1/unknown", `{}`, nil, 404, false, "/v1/unknown"},
		{"wrong method", "GET", chat, ``, nil, 405, false, "GET"},
		{"too large", "POST", chat, `{"model":"gpt-test","pad":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, false, "limit"},
		{"provider error passes through", "POST", chat, `{"model":"gpt-test","user":"429"}`, nil, 429, false, "Rate limit reached"},
		{"provider non-json error wrapped", "POST", chat, `{"model":"gpt-test","user":"html502"}`, nil, 502, false, "bad gateway"},
		{"provider timeout", "POST", chat, `{"model":"gpt-test","user":"slow"}`, nil, 504, false, "timed out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, c.method, c.url, c.body, c.hdr...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if msg := errorShape(t, c.anthropic, body); !strings.Contains(string(body), c.contains) {
				t.Errorf("message %q does not mention %q", msg, c.contains)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on an error")
			}
		})
	}
	t.Run("retry headers pass through", func(t *testing.T) {
		resp, _ := do(t, "POST", chat, `{"model":"gpt-test","user":"429"}`)
		if resp.Header.Get("Retry-After") != "7" || resp.Header.Get("Retry-After-Ms") != "7000" {
			t.Errorf("retry headers lost: %v", resp.Header)
		}
	})
	t.Run("success, credentials and usage", func(t *testing.T) {
		resp, body := do(t, "POST", chat, `{"model":"gpt-test"}`, "Authorization", "Bearer client-key", "X-Request-Id", "my-id")
		if resp.StatusCode != 200 || string(body) != chatOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		mu.Lock()
		auth, path := gotAuth, gotPath
		mu.Unlock()
		if auth != "Bearer sk-backend" {
			t.Errorf("upstream saw Authorization %q, want the backend's key", auth)
		}
		if path != "/v1/chat/completions" {
			t.Errorf("upstream path %q", path)
		}
		if resp.Header.Get("X-Request-Id") != "my-id" {
			t.Errorf("request id not propagated: %q", resp.Header.Get("X-Request-Id"))
		}
		ev := rec.last(t)
		if ev.ID != "my-id" || ev.Usage.InputTokens != 7 || ev.Usage.CachedInputTokens != 4 || ev.Usage.OutputTokens != 3 || ev.ResponseModel != "gpt-test-2025" || ev.Status != 200 {
			t.Errorf("event %+v", ev)
		}
	})
}

func TestUnreachableUpstream(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	gw, rec, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "dead", config.SchemaOpenAI, "http://"+addr), Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"gpt-test"}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	errorShape(t, false, body)
	if ev := rec.last(t); ev.Status != 502 || ev.Error == "" {
		t.Errorf("event %+v", ev)
	}
}

func TestFallbackToNextPriority(t *testing.T) {
	var primary, secondary int
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		primary++
		w.WriteHeader(503)
	}))
	defer p.Close()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secondary++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
	defer s.Close()
	gw, rec, _ := gatewayFor(t, time.Second,
		&config.BackendRef{Backend: backend(t, "primary", config.SchemaOpenAI, p.URL), Weight: 1, Priority: 0},
		&config.BackendRef{Backend: backend(t, "secondary", config.SchemaOpenAI, s.URL), Weight: 1, Priority: 1},
	)
	resp, body := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"gpt-test"}`)
	if resp.StatusCode != 200 || string(body) != chatOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if primary != 1 || secondary != 1 {
		t.Errorf("primary %d, secondary %d calls", primary, secondary)
	}
	if ev := rec.last(t); ev.Attempts != 2 || ev.Backend != "secondary" {
		t.Errorf("event %+v", ev)
	}
}

func TestCompressedUpstreamBodies(t *testing.T) {
	compress := map[string]func([]byte) []byte{
		"gzip": func(b []byte) []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
			return buf.Bytes()
		},
		"br": func(b []byte) []byte {
			var buf bytes.Buffer
			bw := brotli.NewWriter(&buf)
			_, _ = bw.Write(b)
			_ = bw.Close()
			return buf.Bytes()
		},
	}
	stream := "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n" +
		"data: [DONE]\n\n"
	for enc, fn := range compress {
		for _, streamed := range []bool{false, true} {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", enc)
				body := chatOK
				if streamed {
					w.Header().Set("Content-Type", "text/event-stream")
					body = stream
				} else {
					w.Header().Set("Content-Type", "application/json")
				}
				_, _ = w.Write(fn([]byte(body)))
			}))
			gw, rec, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1})
			req := `{"model":"gpt-test"}`
			if streamed {
				req = `{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true}}`
			}
			resp, body := do(t, "POST", gw.URL+"/v1/chat/completions", req)
			want := chatOK
			if streamed {
				want = stream
			}
			if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("%s streamed=%v: %d %q %q", enc, streamed, resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
			}
			if ev := rec.last(t); ev.Usage.InputTokens == 0 {
				t.Errorf("%s streamed=%v: usage not read: %+v", enc, streamed, ev.Usage)
			}
			up.Close()
		}
	}
}

// TestStreamFlushesEachEvent requires every SSE event to reach the client before the upstream
// sends the next one.
func TestStreamFlushesEachEvent(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			_, _ = io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	gw, _, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1})
	resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-test","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	for i := 0; i < 3; i++ {
		deadline := time.AfterFunc(2*time.Second, func() { resp.Body.Close() })
		n, err := resp.Body.Read(buf)
		deadline.Stop()
		if err != nil || !strings.Contains(string(buf[:n]), "chat.completion.chunk") {
			t.Fatalf("event %d did not arrive before the next was sent: %v %q", i, err, buf[:n])
		}
		next <- struct{}{}
	}
}

// TestGracefulShutdown lets a stream in flight finish after shutdown begins.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"a"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"b"}}]}`+"\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	m := &config.Model{MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{{Name: "r/0",
		Backends: []*config.BackendRef{{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1}}}}}}}
	s := New(extproc.New(m, nil), Options{ShutdownGrace: 5 * time.Second})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"x","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1024)
	if _, err := resp.Body.Read(first); err != nil {
		t.Fatal(err)
	}
	cancel() // shutdown begins with the stream in flight
	time.Sleep(100 * time.Millisecond)
	if s.Serving() {
		t.Error("still reports serving after shutdown began")
	}
	if _, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("a new request was accepted after shutdown began")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("stream cut short: %v %q", err, rest)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestUntranslatable: an endpoint the backend's schema cannot serve is a 422 in the client's shape.
func TestUntranslatable(t *testing.T) {
	b := backend(t, "claude", config.SchemaAnthropic, "http://127.0.0.1:1")
	gw, _, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: b, Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"gpt-test","input":"x"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "cannot serve") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	errorShape(t, false, body)
}

// TestModelsList: exact matches list with the rule's owner and creation time; a catch-all rule
// lists the provider's own models, fetched with the backend's credential and cached.
func TestModelsList(t *testing.T) {
	var fetches atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer sk-backend" {
			http.Error(w, "unexpected "+r.URL.Path, 400)
			return
		}
		fetches.Add(1)
		_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"provider-a","object":"model","created":1,"owned_by":"p"},{"id":"gpt-test","object":"model","created":2,"owned_by":"p"}]}`)
	}))
	defer up.Close()
	b := backend(t, "b", config.SchemaOpenAI, up.URL)
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &config.Model{MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{
		{Name: "r/0", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "gpt-test"}}}},
			Backends: []*config.BackendRef{{Backend: b, Weight: 1}}, ModelsOwnedBy: "Envoy AI Gateway", ModelsCreatedAt: created},
		{Name: "r/1", Backends: []*config.BackendRef{{Backend: b, Weight: 1}}},
	}}}}
	srv := httptest.NewServer(New(extproc.New(m, nil), Options{}).Handler())
	defer srv.Close()
	for i := 0; i < 2; i++ {
		resp, body := do(t, "GET", srv.URL+"/v1/models", "")
		var list modelList
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		want := []modelEntry{
			{ID: "gpt-test", Object: "model", Created: created.Unix(), OwnedBy: "Envoy AI Gateway"},
			{ID: "provider-a", Object: "model", Created: 1, OwnedBy: "p"},
		}
		if len(list.Data) != 2 || list.Data[0] != want[0] || list.Data[1] != want[1] {
			t.Fatalf("models %+v", list.Data)
		}
	}
	if fetches.Load() != 1 {
		t.Errorf("provider list fetched %d times, want 1 (cached)", fetches.Load())
	}
}

func TestCohereRerank(t *testing.T) {
	const answer = `{"id":"r1","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1},"tokens":{"input_tokens":42}}}`
	var path, auth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.URL.Path, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	defer up.Close()
	b := backend(t, "cohere", config.SchemaCohere, up.URL)
	b.Schema.Prefix = ""
	gw, rec, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: b, Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/cohere/v2/rerank", `{"model":"gpt-test","query":"q","documents":["a","b"]}`)
	if resp.StatusCode != 200 || string(body) != answer {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if path != "/v2/rerank" || auth != "Bearer sk-backend" {
		t.Errorf("upstream got %s with %q", path, auth)
	}
	time.Sleep(20 * time.Millisecond)
	if ev := rec.last(t); ev.Usage.InputTokens != 42 || ev.Operation != "rerank" || ev.Provider != "cohere" {
		t.Errorf("event %+v", ev)
	}
}

// TestFallbackPastUntranslatable: a backend that cannot take the endpoint is skipped for the
// next candidate instead of failing the request.
func TestFallbackPastUntranslatable(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}`)
	}))
	defer up.Close()
	gw, rec, _ := gatewayFor(t, time.Second,
		&config.BackendRef{Backend: backend(t, "claude", config.SchemaAnthropic, "http://127.0.0.1:1"), Weight: 1},
		&config.BackendRef{Backend: backend(t, "openai", config.SchemaOpenAI, up.URL), Weight: 1, Priority: 1},
	)
	resp, body := do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"gpt-test","input":"x"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ev := rec.last(t); ev.Backend != "openai" {
		t.Errorf("served by %q", ev.Backend)
	}
}

// TestClientDisconnectCancelsUpstream: a client that goes away mid-stream ends the provider's
// request too, so nothing keeps generating (and billing) tokens for nobody.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan bool, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 100; i++ {
			_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"x"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				cancelled <- true
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		cancelled <- false
	}))
	defer up.Close()
	gw, rec, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1})
	resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-test","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the client goes away
	select {
	case ok := <-cancelled:
		if !ok {
			t.Fatal("the provider's stream ran to the end")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the provider's stream was not cancelled")
	}
	time.Sleep(50 * time.Millisecond)
	if ev := rec.last(t); ev.Error == "" {
		t.Errorf("the cut-short stream was not recorded as an error: %+v", ev)
	}
}

// TestShutdownIgnoresUnusedConnections: a connection that never sent a request (a client pool's
// spare dial) neither holds up the drain nor counts as a request cut off.
func TestShutdownIgnoresUnusedConnections(t *testing.T) {
	m := &config.Model{MaxRequestBodyBytes: 1 << 20}
	s := New(extproc.New(m, nil), Options{ShutdownGrace: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond) // accepted: the server holds it in StateNew
	t0 := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("shutdown with an unused connection: %v", err)
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("shutdown took %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}
