package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aigw/aigw/internal/run"
)

// Targets of the ratelimit section.
const (
	kindLimitsOff   = "aigw"
	kindLimitsMem   = "aigw+limits"
	kindLimitsRedis = "aigw+redis"
)

// limitsConfig is the limited gateway's configuration: one route to the simulator charging the
// total tokens, a global token budget per tenant and model (the example), a request
// limit per tenant, and a quota on the backend, all far above what the bench spends, so every
// request is checked and charged and none is refused. %d is the simulator's port.
const limitsConfig = `apiVersion: gateway.networking.k8s.io/v1
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
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: sim}]
  llmRequestCosts:
  - {metadataKey: llm_total_token, type: TotalToken}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: sim}
spec:
  schema: {name: OpenAI}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sim}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %d}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: limits}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}, {name: x-ai-eg-model, type: Distinct}]}]
        limit: {requests: 4000000000, unit: Hour}
        cost:
          request: {from: Number, number: 0}
          response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
      - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}]}]
        limit: {requests: 1000000000, unit: Minute}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: quota}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: sim}]
  serviceQuota:
    quota: {duration: 1h, limit: 1000000000000}
`

// ratelimitSection measures what rate limits and quotas add to a request: the gateway without
// limits against the same gateway checking and charging two rate limit rules and a quota on
// every request, with its counters in memory, and in a Redis server when redis-server is on
// PATH (started on a loopback port, as a shared store would be reached over TCP).
func ratelimitSection(ctx context.Context, cfg Config) error {
	tmp, simURL, cleanup, err := sectionSetup(ctx, cfg, "aigw-bench-ratelimit-")
	if err != nil {
		return err
	}
	defer cleanup()
	u, err := url.Parse(simURL)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(u.Port())
	confPath := filepath.Join(tmp, "limits.yaml")
	if err := os.WriteFile(confPath, fmt.Appendf(nil, limitsConfig, port), 0o600); err != nil {
		return err
	}

	off, err := startGateway(ctx, map[string]string{"OPENAI_BASE_URL": simURL + "/v1"}, filepath.Join(tmp, "off"))
	if err != nil {
		return err
	}
	defer off.stop()
	withConfig := func(o *run.Options) { o.ConfigPath = confPath }
	mem, err := startGateway(ctx, nil, filepath.Join(tmp, "mem"), withConfig)
	if err != nil {
		return err
	}
	defer mem.stop()
	gateways := []struct {
		kind string
		url  string
	}{{kindLimitsOff, off.url}, {kindLimitsMem, mem.url}}
	var notes []string
	redisURL, stopRedis, err := startRedisServer(ctx, tmp)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		notes = append(notes, "aigw+redis not measured: redis-server is not on PATH (apt-get install redis-server)")
	case err != nil:
		return err
	default:
		defer stopRedis()
		rg, err := startGateway(ctx, nil, filepath.Join(tmp, "redis"), withConfig, func(o *run.Options) { o.RateLimitRedis = redisURL })
		if err != nil {
			return err
		}
		defer rg.stop()
		gateways = append(gateways, struct {
			kind string
			url  string
		}{kindLimitsRedis, rg.url})
	}

	const bodyFormat = `{"model":%q,"max_tokens":%d,"stream":%t,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say something short."}]}`
	call := func(client *http.Client, base string, stream bool) func(context.Context) error {
		body := fmt.Appendf(nil, bodyFormat, llmModel, cfg.OutputTokens, stream)
		if !stream {
			body = fmt.Appendf(nil, `{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":"Say something short."}]}`, llmModel, cfg.OutputTokens)
		}
		tenant := http.Header{"X-Tenant": {"bench"}}
		return httpCall(client, base+"/v1/chat/completions", tenant, body, []byte(map[bool]string{true: "[DONE]", false: `"choices"`}[stream]))
	}
	var cells []*cell
	for _, stream := range []bool{false, true} {
		for _, c := range cfg.Concurrency {
			ts := []target{{kindDirect, call(newClient(c), simURL, stream)}}
			for _, g := range gateways {
				ts = append(ts, target{g.kind, call(newClient(c), g.url, stream)})
			}
			cells = append(cells, &cell{scenario: scenarioName("chat", stream), stream: stream, conc: c, targets: ts})
		}
	}
	warm(ctx, cfg, cells)
	if err := runRounds(ctx, cfg, cells, nil); err != nil {
		return err
	}
	return ratelimitReport(cfg, cells, notes)
}

// ratelimitReport prints the added p50 of each gateway and what limits add over no limits.
func ratelimitReport(cfg Config, cells []*cell, notes []string) error {
	var errs []error
	header := []string{"scenario", "conc", "direct p50"}
	if len(cells) == 0 {
		return nil
	}
	for _, t := range cells[0].targets[1:] {
		header = append(header, t.kind+" +p50")
	}
	for _, t := range cells[0].targets[2:] {
		header = append(header, t.kind+" - aigw")
	}
	tab := &Table{
		Title:  fmt.Sprintf("Rate limits: %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: header,
		Notes: append([]string{
			"aigw = no limits; aigw+limits = two global rate limit rules (tokens per tenant and model, requests per tenant) and a backend quota, checked before and charged after every request, counters in memory; aigw+redis = the same counters in a local redis-server over TCP",
			"+p50 = p50 minus the simulator's own p50; '- aigw' = the added p50 minus that of the gateway without limits (what the limits cost a request)",
		}, notes...),
	}
	for _, c := range cells {
		conc := strconv.Itoa(c.conc)
		if c.err != nil {
			tab.Add(c.scenario, conc, "NOT MEASURED", c.err.Error())
			errs = append(errs, fmt.Errorf("%s c=%d: %w", c.scenario, c.conc, c.err))
			continue
		}
		st := make([]stats, len(c.targets))
		for i := range c.targets {
			st[i] = summarize(c.results[i])
			if st[i].errs > 0 {
				errs = append(errs, fmt.Errorf("%s c=%d %s: %d failed calls; first: %w", c.scenario, c.conc, c.targets[i].kind, st[i].errs, st[i].firstErr))
			}
		}
		row := []string{c.scenario, conc, fmtDur(st[0].p50)}
		for i := 1; i < len(st); i++ {
			row = append(row, fmtAdded(st[i].p50-st[0].p50))
		}
		for i := 2; i < len(st); i++ {
			row = append(row, fmtAdded(st[i].p50-st[1].p50))
		}
		tab.Add(row...)
	}
	errs = append(errs, tab.Fprint(cfg.Out))
	return errors.Join(errs...)
}

// startRedisServer starts redis-server on a free loopback port with nothing persisted, and
// returns its URL and the function that stops it; exec.ErrNotFound when it is not installed.
func startRedisServer(ctx context.Context, dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, exec.ErrNotFound
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() { _ = cmd.Process.Kill(); <-done }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "redis://" + addr, stop, nil
		}
		select {
		case <-done:
			return "", nil, errors.New("redis-server exited at start")
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not listen within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
