package run

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicstream "github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
	"github.com/openai/openai-go/v3"
	openaistream "github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/aigw/aigw/internal/config"
)

// gateway is an aigw started in process on free ports for one test.
type gateway struct {
	Ready
	cancel context.CancelFunc
	done   chan error
}

// startGateway runs aigw with opts (ports and directories filled in) until the test ends.
func startGateway(t *testing.T, opts Options) *gateway {
	t.Helper()
	opts.Host, opts.Port, opts.AdminPort = "127.0.0.1", 0, 0
	if opts.Dirs.StateHome == "" {
		opts.Dirs = config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir()}
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 5 * time.Second
	}
	readyc := make(chan Ready, 1)
	opts.OnReady = func(r Ready) { readyc <- r }
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- Run(ctx, opts) }()
	select {
	case g.Ready = <-readyc:
	case err := <-g.done:
		cancel()
		t.Fatalf("aigw did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("aigw did not become ready in 10s")
	}
	t.Cleanup(func() { g.stop(t) })
	return g
}

// stop shuts the gateway down and requires a clean exit.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("aigw exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("aigw did not stop within 10s")
	}
}

// routeConfig is a test configuration's Gateway "gw" and AIGatewayRoute "route" whose rules are
// rules (spec.rules items, indented four spaces); backends and policies follow it as documents
// of their own, each starting with "---".
func routeConfig(rules string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: 1975}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw, kind: Gateway, group: gateway.networking.k8s.io}]
  rules:
` + rules
}

// backendConfig is the AIServiceBackend name of schema (spec.schema as a flow mapping, such as
// "{name: OpenAI, prefix: /v1}") and the Backend of the same name at 127.0.0.1:port.
func backendConfig(name, schema, port string) string {
	return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: %[1]s}
spec:
  schema: %[2]s
  backendRef: {name: %[1]s, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: %[1]s}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %[3]s}}]
`, name, schema, port)
}

// tempConfig writes cfg to a config.yaml in a directory of the test's and returns its path.
func tempConfig(t *testing.T, cfg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, cfg)
	return path
}

// accumulateChat reads an OpenAI chat stream to its end into the completion it adds up to; a
// stream error fails the test.
func accumulateChat(t *testing.T, s *openaistream.Stream[openai.ChatCompletionChunk]) openai.ChatCompletionAccumulator {
	t.Helper()
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc
}

// accumulateMessage reads an Anthropic Messages stream to its end into the message it adds up
// to; an event the SDK cannot accumulate or a stream error fails the test.
func accumulateMessage(t *testing.T, s *anthropicstream.Stream[anthropic.MessageStreamEventUnion]) anthropic.Message {
	t.Helper()
	var acc anthropic.Message
	for s.Next() {
		if err := acc.Accumulate(s.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc
}

// underLoad has workers call call (with their number) over and over, 25 ms apart, until d has
// passed, and returns how many calls failed of how many; each failure is logged.
func underLoad(t *testing.T, d time.Duration, workers int, call func(worker int) error) (failed, total int64) {
	deadline := time.Now().Add(d)
	var nfailed, ntotal atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := call(i)
				ntotal.Add(1)
				if err != nil {
					nfailed.Add(1)
					t.Log(err)
				}
				time.Sleep(25 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return nfailed.Load(), ntotal.Load()
}

// env builds a Getenv from pairs.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// metrics fetches the admin server's Prometheus text.
func (g *gateway) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(g.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitMetric polls /metrics until a series with every fragment appears (events are published
// just after the response is written, so a client can be a moment ahead of them).
func (g *gateway) waitMetric(t *testing.T, name string, fragments ...string) (string, string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		m := g.metrics(t)
		if v, ok := metricValue(m, name, fragments...); ok || time.Now().After(deadline) {
			return v, m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue finds the value of the first series whose line contains every fragment.
func metricValue(text, name string, fragments ...string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, f := range fragments {
			if !strings.Contains(line, f) {
				ok = false
				break
			}
		}
		if ok {
			return line[strings.LastIndexByte(line, ' ')+1:], true
		}
	}
	return "", false
}

// post sends a raw request to the gateway.
func post(t *testing.T, url, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
