package demo

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestClientDisconnectStopsStream checks the handler returns promptly once the client goes away,
// rather than generating the rest of a long, slow answer into a dead connection.
func TestClientDisconnectStopsStream(t *testing.T) {
	s := New(Options{TokensPerSecond: 50, OutputTokens: 10000}) // 200 s if it ran to the end
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		done <- struct{}{}
	}))
	defer srv.Close()
	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/completions", `{"model":"babbage-002","stream":true,"prompt":"hi"}`},
		{"/v1/responses", `{"model":"gpt-4.1","stream":true,"input":"hi"}`},
		{"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":20000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := 0; i < 6; i++ { // a few events arrive, paced
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(time.Second):
				t.Fatal("handler still streaming a second after the client left")
			}
		})
	}
}

// TestPacing checks TimeToFirstToken delays the first byte and TokensPerSecond spaces deltas.
func TestPacing(t *testing.T) {
	url := startServer(t, Options{TimeToFirstToken: 100 * time.Millisecond, TokensPerSecond: 100, OutputTokens: 11})
	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/responses", `{"model":"gpt-4.1","stream":true,"input":"hi"}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			start := time.Now()
			resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			first := time.Since(start)
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
			total := time.Since(start)
			// 11 deltas at 100/s: the last is due 100 ms after the first.
			if first < 100*time.Millisecond || total < 200*time.Millisecond || total > 2*time.Second {
				t.Errorf("first byte after %v, done after %v", first, total)
			}
		})
	}
	start := time.Now()
	resp, _ := post(t, url+"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != http.StatusOK || time.Since(start) < 100*time.Millisecond {
		t.Errorf("non-streamed answer did not wait for the first token")
	}
}

// TestStartClose checks the listener lifecycle: a cancelled context stops serving, Close is
// idempotent, and a second Start is refused.
func TestStartClose(t *testing.T) {
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	url, err := s.Start(ctx, "127.0.0.1:0")
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("start: %q %v", url, err)
	}
	if _, err := s.Start(ctx, "127.0.0.1:0"); err == nil {
		t.Errorf("second Start succeeded")
	}
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	deadline := time.Now().Add(time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		if _, err := c.Get(url + "/v1/models"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still serving after the context was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.Close()
	_ = s.Close()
	if err := New(Options{}).Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
}

// BenchmarkServe measures the handler alone (no network), the floor the gateway benchmark's
// "direct" baseline stands on.
func BenchmarkServe(b *testing.B) {
	s := New(Options{OutputTokens: 64})
	for _, bc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}`},
		{"chat-stream", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello!"}]}`},
		{"responses-stream", "/v1/responses", `{"model":"gpt-4.1-mini","stream":true,"input":"Hello!"}`},
		{"messages-stream", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Hello!"}]}`},
		{"embeddings", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"Hello!"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, bc.path, strings.NewReader(bc.body))
				s.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
