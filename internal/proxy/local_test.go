package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// TestLocalCountTokens: Claude Code's count_tokens (with ?beta=true) on an OpenAI-schema backend
// is answered by aigw's estimate, without any request to the backend (nothing listens there).
func TestLocalCountTokens(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	gw, rec, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "dead", config.SchemaOpenAI, "http://"+addr), Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/v1/messages/count_tokens?beta=true",
		`{"model":"gpt-test","messages":[{"role":"user","content":"Hello, world"}]}`, "anthropic-beta", "token-counting-2024-11-01")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		InputTokens int64 `json:"input_tokens"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.InputTokens != 10 {
		t.Fatalf("body %s (%v), want input_tokens 10", body, err)
	}
	if ev := rec.last(t); ev.Status != http.StatusOK {
		t.Errorf("event %+v", ev)
	}
}

// TestBetaQueryRoutes: Claude Code posts to /v1/messages?beta=true; the query does not change
// the route, and the backend gets the translator's own path.
func TestBetaQueryRoutes(t *testing.T) {
	paths := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	t.Cleanup(up.Close)
	gw, _, _ := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "openai", config.SchemaOpenAI, up.URL), Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/v1/messages?beta=true",
		`{"model":"gpt-test","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"system","content":"be brief"}]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"text":"hi"`) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if path := <-paths; path != "/v1/chat/completions" {
		t.Errorf("backend path %q", path)
	}
}
