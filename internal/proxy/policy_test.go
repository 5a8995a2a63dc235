package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// flaky answers 503 for the first n requests, then chatOK.
func flaky(n int32, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
}

func TestRetryPolicy(t *testing.T) {
	cases := []struct {
		name     string
		failures int32
		policy   *config.RetryPolicy
		status   int
		calls    int32
	}{
		{"no policy, one backend: no retry", 1, nil, 503, 1},
		{"retries until success", 2, &config.RetryPolicy{NumRetries: 3, Statuses: []int{503}, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, 200, 3},
		{"retries run out", 5, &config.RetryPolicy{NumRetries: 2, Statuses: []int{503}}, 503, 3},
		{"status not in the policy", 1, &config.RetryPolicy{NumRetries: 2, Statuses: []int{429}}, 503, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			up := flaky(c.failures, &calls)
			defer up.Close()
			gw, _, p := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1})
			p.Model().Routes[0].Rules[1].Retry = c.policy
			resp, body := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"gpt-test"}`)
			if resp.StatusCode != c.status || calls.Load() != c.calls {
				t.Fatalf("status %d after %d calls, want %d after %d: %s", resp.StatusCode, calls.Load(), c.status, c.calls, body)
			}
			if c.status != 200 {
				errorShape(t, false, body)
			}
		})
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"a"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select { // then silence
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer up.Close()
	gw, rec, p := gatewayFor(t, time.Second, &config.BackendRef{Backend: backend(t, "b", config.SchemaOpenAI, up.URL), Weight: 1})
	p.Model().Routes[0].Rules[1].StreamIdleTimeout = 200 * time.Millisecond
	start := time.Now()
	resp, body, err := doStream(t, gw.URL+"/v1/chat/completions", `{"model":"gpt-test","stream":true}`)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("idle stream ran for %s", took)
	}
	// The stream ends with an error event and an aborted transfer, not a clean end.
	if resp.StatusCode != 200 || !strings.Contains(body, `"a"`) || !strings.Contains(body, "data: {\"error\":") || err == nil {
		t.Fatalf("%d %s (read error %v)", resp.StatusCode, body, err)
	}
	time.Sleep(50 * time.Millisecond)
	if ev := rec.last(t); !strings.Contains(ev.Error, "idle") || ev.Status != http.StatusGatewayTimeout {
		t.Errorf("event status %d error %q", ev.Status, ev.Error)
	}
}

func TestMutationsAndOverride(t *testing.T) {
	var got *http.Request
	var gotBody string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK)
	}))
	defer up.Close()
	b := backend(t, "b", config.SchemaOpenAI, up.URL)
	b.Auth.Override = &config.CredentialOverride{Header: "X-Aigw-Api-Key"}
	b.HeaderMutation = &config.HeaderMutation{Set: []config.Header{{Name: "X-Tier", Value: "backend"}, {Name: "X-Backend-Only", Value: "1"}}, Remove: []string{"X-Drop"}}
	b.BodyMutation = &config.BodyMutation{Set: []config.BodyField{{Path: "temperature", Value: "0.1"}, {Path: "service_tier", Value: `"flex"`}}}
	ref := &config.BackendRef{Backend: b, Weight: 1, ModelNameOverride: "gpt-real",
		HeaderMutation: &config.HeaderMutation{Set: []config.Header{{Name: "X-Tier", Value: "route"}}},
		BodyMutation:   &config.BodyMutation{Set: []config.BodyField{{Path: "temperature", Value: "0.7"}}, Remove: []string{"user"}}}
	gw, rec, _ := gatewayFor(t, time.Second, ref)

	resp, body := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"gpt-test","user":"u1"}`, "X-Aigw-Api-Key", "per-request", "X-Drop", "x")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got.Header.Get("Authorization") != "Bearer per-request" || got.Header.Get("X-Aigw-Api-Key") != "" {
		t.Errorf("credential override: Authorization %q, override header %q", got.Header.Get("Authorization"), got.Header.Get("X-Aigw-Api-Key"))
	}
	if got.Header.Get("X-Tier") != "route" || got.Header.Get("X-Backend-Only") != "1" || got.Header.Get("X-Drop") != "" {
		t.Errorf("header mutation: %v", got.Header)
	}
	if gotBody != `{"model":"gpt-real","temperature":0.7,"service_tier":"flex"}` {
		t.Errorf("body mutation: %s", gotBody)
	}
	if ev := rec.last(t); ev.RequestModel != "gpt-test" || ev.BackendModel != "gpt-real" {
		t.Errorf("models in event: %+v", ev)
	}

	resp, body = do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"gpt-test"}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the override header and no fallback: %d %s", resp.StatusCode, body)
	}
	errorShape(t, false, body)
}
