package tui

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/run"
)

// twoBackendConfig routes every model to first, falling back to second (priority 1).
func twoBackendConfig(t *testing.T, first, second string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: 1975}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: chat}
spec:
  parentRefs: [{name: gw}]
  rules:
    - backendRefs:
        - name: first
        - name: second
          priority: 1
`)
	for _, be := range [][2]string{{"first", first}, {"second", second}} {
		u, err := url.Parse(be[1])
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(u.Host)
		fmt.Fprintf(&b, `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: %[1]s}
spec:
  schema: {name: OpenAI, prefix: /v1}
  backendRef: {name: %[1]s, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: %[1]s}
spec:
  endpoints:
    - ip: {address: %[2]s, port: %[3]s}
`, be[0], host, port)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProgressAndFallbackAgainstGateway: through the builtin data plane, a request whose first
// backend answers 503 falls back to a second that streams until the test lets it finish. The
// TUI, reading the real /events, shows the first attempt's 503 and the stream's output count
// climbing while it is in flight, then the real usage at the end.
func TestProgressAndFallbackAgainstGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway")
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	finish := func() { releaseOnce.Do(func() { close(release) }) }
	defer finish()
	streaming := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		n := 0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				n++
				fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d \"}}]}\n\n", n)
				_ = rc.Flush()
				continue
			case <-release:
			case <-r.Context().Done():
				return
			}
			break
		}
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", n, n+7)
		_ = rc.Flush()
	}))
	defer streaming.Close()

	readyc := make(chan run.Ready, 1)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() {
		runDone <- run.Run(ctx, run.Options{
			ConfigPath: twoBackendConfig(t, failing.URL, streaming.URL), Host: "127.0.0.1",
			Dirs:   config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir()},
			Getenv: func(string) string { return "" }, ShutdownGrace: 2 * time.Second,
			OnReady: func(r run.Ready) { readyc <- r },
		})
	}()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("aigw run: %v", err)
		}
	}()
	var ready run.Ready
	select {
	case ready = <-readyc:
	case err := <-runDone:
		t.Fatalf("aigw did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("aigw did not start in 10s")
	}

	f := &modelFeeder{m: newTestModel(120, 40), ch: make(chan tea.Msg, 64)}
	cctx, ccancel := context.WithCancel(context.Background())
	clientDone := make(chan struct{})
	c := &Client{Admin: ready.Admin, MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	go func() { defer close(clientDone); c.Run(cctx, f.send) }()
	defer func() {
		ccancel()
		go func() {
			for range f.ch {
			}
		}()
		<-clientDone
		close(f.ch)
	}()
	f.until(t, "the connection", func(m *Model) bool { return m.conn == Connected })

	type result struct {
		status int
		body   string
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Post(ready.Gateway+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			resc <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resc <- result{resp.StatusCode, string(b), err}
	}()

	var first int64
	f.until(t, "a progress count while in flight", func(m *Model) bool {
		if len(m.rows) != 1 || !m.rows[0].InFlight() {
			return false
		}
		first = m.rows[0].OutputSoFar
		return first > 0
	})
	f.until(t, "the count climbing", func(m *Model) bool {
		return m.rows[0].InFlight() && m.rows[0].OutputSoFar > first
	})
	r := f.m.rows[0]
	if !r.OutputEstimated {
		t.Errorf("the provider sent no running usage, yet the count %d is not marked estimated", r.OutputSoFar)
	}
	if screen := f.m.Render(); !strings.Contains(screen, outSoFar(r)) {
		t.Errorf("the Live row does not show %s:\n%s", outSoFar(r), screen)
	}
	if len(r.Attempts) != 2 || !r.Attempts[0].Ended || r.Attempts[0].Status != http.StatusServiceUnavailable ||
		r.Attempts[0].Backend != "first" || r.Attempts[0].Duration <= 0 || r.Attempts[1].Ended {
		t.Errorf("attempts %+v", r.Attempts)
	}
	finish()
	res := <-resc
	if res.err != nil || res.status != 200 || !strings.Contains(res.body, "[DONE]") {
		t.Fatalf("client got %d %v %.200s", res.status, res.err, res.body)
	}
	f.until(t, "the end", func(m *Model) bool { return m.rows[0].End != nil })
	if u := r.Usage(); u.OutputTokens < first {
		t.Errorf("final output %d below the first progress count %d", u.OutputTokens, first)
	}
	f.m.openTrace()
	f.m.tab = tabTrace
	if screen := f.m.Render(); !strings.Contains(screen, "503, retried") {
		t.Errorf("the Trace does not show the first attempt's 503:\n%s", screen)
	}
}
