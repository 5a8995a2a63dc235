package tui

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/run"
)

// startDemo runs `aigw run --demo` in process with its admin server on adminPort (0: any).
func startDemo(t *testing.T, adminPort int) (run.Ready, func()) {
	t.Helper()
	readyc := make(chan run.Ready, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run.Run(ctx, run.Options{
			Demo: true, DemoOptions: demo.Options{TimeToFirstToken: 5 * time.Millisecond},
			Host: "127.0.0.1", AdminPort: adminPort,
			Dirs:          config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir()},
			Getenv:        func(string) string { return "" },
			ShutdownGrace: 2 * time.Second,
			OnReady:       func(r run.Ready) { readyc <- r },
		})
	}()
	var ready run.Ready
	select {
	case ready = <-readyc:
	case err := <-done:
		cancel()
		t.Fatalf("aigw did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("aigw did not start in 10s")
	}
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("aigw run: %v", err)
		}
	}
	t.Cleanup(stop)
	return ready, stop
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
}

// modelFeeder applies what a Client sends to a Model, as the program does, on one goroutine.
type modelFeeder struct {
	m  *Model
	ch chan tea.Msg
}

func (f *modelFeeder) send(msg tea.Msg) { f.ch <- msg }

// until applies messages until cond holds.
func (f *modelFeeder) until(t *testing.T, what string, cond func(*Model) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond(f.m) {
		select {
		case msg := <-f.ch:
			f.m.Update(msg)
		case <-deadline:
			t.Fatalf("timed out waiting for %s; screen:\n%s", what, f.m.Render())
		}
	}
}

// TestAgainstGateway reads the real admin event stream of an in-process `aigw run --demo`: the
// requests appear with their models, tokens and cost, and when the gateway restarts the TUI
// says it is disconnected, then picks up the new process's requests.
func TestAgainstGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ready, stop := startDemo(t, adminPort)
	post(t, ready.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	post(t, ready.Gateway+"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)

	f := &modelFeeder{m: newTestModel(120, 40), ch: make(chan tea.Msg, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c := &Client{Admin: ready.Admin, Replay: 100, MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	go func() { defer close(done); c.Run(ctx, f.send) }()
	defer func() {
		cancel()
		go func() {
			for range f.ch { // keep the sender from blocking while it stops
			}
		}()
		<-done
		close(f.ch)
	}()

	f.until(t, "both requests, ended", func(m *Model) bool {
		return len(m.rows) == 2 && m.rows[0].End != nil && m.rows[1].End != nil
	})
	streamed, plain := f.m.rows[0], f.m.rows[1] // newest first
	if streamed.RequestModel != "claude-sonnet-4-5" || !streamed.Stream || streamed.TTFT <= 0 || len(streamed.Attempts) != 1 {
		t.Errorf("streamed request: %+v", streamed)
	}
	if plain.RequestModel != "gpt-4o-mini" || plain.Usage().OutputTokens == 0 || plain.End.CostUSD == nil || plain.End.CostUSD.Unknown {
		t.Errorf("plain request: %+v %+v", plain, plain.End)
	}
	screen := f.m.Render()
	for _, want := range []string{"gpt-4o-mini", "claude-sonnet-4-5", "msgs→demo-anthropic", fmtUSD(plain.End.CostUSD), fmtTokens(plain.Usage().OutputTokens)} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}

	// The Totals view's GET /stats reads the same gateway's totals.
	if sm := fetchStats(ready.Admin)().(StatsMsg); sm.Err != nil || sm.Stats.Total.Requests != 2 || sm.Stats.Total.CostUSD <= 0 {
		t.Errorf("GET /stats: %+v", sm)
	}

	stop()
	f.until(t, "disconnected", func(m *Model) bool { return m.conn == Disconnected })
	if !strings.Contains(f.m.Render(), "✖ disconnected") {
		t.Errorf("no disconnected marker:\n%s", f.m.Render())
	}
	ready2, _ := startDemo(t, adminPort)
	post(t, ready2.Gateway+"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"again"}]}`)
	f.until(t, "the new process's request", func(m *Model) bool {
		return m.conn == Connected && len(m.rows) == 3 && m.rows[0].RequestModel == "gpt-4o" && m.rows[0].End != nil
	})
	if f.m.restarts != 1 {
		t.Errorf("restarts %d, want 1", f.m.restarts)
	}
}
