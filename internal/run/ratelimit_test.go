package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// tokenCosts is the route's llmRequestCosts entry the token limits below charge; it follows
// the rules, the last key of the AIGatewayRoute spec that crdConfig writes.
const tokenCosts = `  llmRequestCosts:
  - {metadataKey: llm_total_token, type: TotalToken}
`

// tenantTokenLimit is a BackendTrafficPolicy on the route: 12 tokens an hour per x-tenant.
const tenantTokenLimit = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: tenant-tokens}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: route}]
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}]}]
        limit: {requests: 12, unit: Hour}
        cost:
          request: {from: Number, number: 0}
          response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
`

func chatSDK(ctx context.Context, c openai.Client, tenant string) (*openai.ChatCompletion, error) {
	return c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-x",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, option.WithHeader("x-tenant", tenant))
}

// TestTenantTokenBudget: a tenant spends its token budget (5 tokens a request, charged after
// each response) and then gets a 429 that the OpenAI SDK reports with retry-after and the
// x-ratelimit-* headers; another tenant is unaffected; the refusal is in the metrics.
func TestTenantTokenBudget(t *testing.T) {
	up := newFakeOpenAI(t, "up", 200)
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, crdConfig(map[string]string{"up": up.port()}, `
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-x}]}]
      backendRefs: [{name: up}]
`+tokenCosts)+tenantTokenLimit)
	g := startGateway(t, Options{ConfigPath: path})
	ctx := context.Background()
	c := openAIClient(g)
	// 0 → 5 → 10 → 15 tokens: three requests fit in 12 (each is admitted while budget is left).
	for i := 0; i < 3; i++ {
		if _, err := chatSDK(ctx, c, "acme"); err != nil {
			t.Fatalf("request %d of acme: %v", i+1, err)
		}
	}
	_, err := chatSDK(ctx, c, "acme")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("fourth request of acme: want an API error, got %v", err)
	}
	if apiErr.StatusCode != 429 || apiErr.Type != "rate_limit_error" || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("want a 429 rate_limit_error, got %d %s %s: %s", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message)
	}
	h := apiErr.Response.Header
	ra, err := strconv.Atoi(h.Get("retry-after"))
	if err != nil || ra < 1 || ra > 3600 {
		t.Errorf("retry-after %q, want seconds until the hour's end", h.Get("retry-after"))
	}
	for k, want := range map[string]string{"x-ratelimit-limit-tokens": "12", "x-ratelimit-remaining-tokens": "0"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Get("x-ratelimit-reset-tokens") == "" || h.Get("retry-after-ms") == "" {
		t.Errorf("reset headers missing: %v", h)
	}
	if up.calls.Load() != 3 {
		t.Errorf("the upstream got %d calls, want 3: a refused request must not reach it", up.calls.Load())
	}
	// The Anthropic SDK gets the same refusal in its shape, with Anthropic's headers.
	ac := anthropicClient(g.Gateway + "/anthropic")
	_, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "gpt-x", MaxTokens: 5,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}},
		aoption.WithHeader("x-tenant", "acme"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Type() != "rate_limit_error" {
		t.Fatalf("anthropic client over budget: %v", err)
	}
	ah := ae.Response.Header
	if ah.Get("anthropic-ratelimit-tokens-limit") != "12" || ah.Get("anthropic-ratelimit-tokens-remaining") != "0" ||
		ah.Get("anthropic-ratelimit-tokens-reset") == "" || ah.Get("retry-after") == "" {
		t.Errorf("anthropic headers: %v", ah)
	}
	if _, err := chatSDK(ctx, c, "globex"); err != nil {
		t.Fatalf("another tenant is refused: %v", err)
	}
	if v, m := g.waitMetric(t, "gen_ai_server_request_duration_seconds_count", `error_type="429"`); v != "1" {
		t.Errorf("limited requests in /metrics: %q\n%s", v, m)
	}
	// The gateway's own refusals are counted apart from providers' 429s.
	if v, m := g.waitMetric(t, "aigw_ratelimit_limited_total"); v == "" || v == "0" {
		t.Errorf("aigw_ratelimit_limited_total: %q\n%s", v, m)
	}
}

// TestQuotaFallback: when the primary backend's QuotaPolicy budget is spent, requests go to the
// next priority instead of failing; when both are spent, 429 in the client's shape.
func TestQuotaFallback(t *testing.T) {
	primary, secondary := newFakeOpenAI(t, "primary", 200), newFakeOpenAI(t, "secondary", 200)
	path := filepath.Join(t.TempDir(), "config.yaml")
	quota := func(backend string, limit int) string {
		return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: %[1]s-quota}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: %[1]s}]
  serviceQuota:
    quota: {duration: 1h, limit: %[2]d}
`, backend, limit)
	}
	writeConfig(t, path, crdConfig(map[string]string{"primary": primary.port(), "secondary": secondary.port()}, `
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-x}]}]
      backendRefs: [{name: primary, priority: 0}, {name: secondary, priority: 1}]
`)+quota("primary", 10)+quota("secondary", 5))
	g := startGateway(t, Options{ConfigPath: path})
	var got []string
	for i := 0; i < 3; i++ {
		status, body := chat(t, g, "gpt-x")
		if status != 200 {
			t.Fatalf("request %d: %d %s", i+1, status, body)
		}
		got = append(got, strings.TrimPrefix(body[strings.Index(body, "from "):strings.Index(body, `"},`)], "from "))
	}
	if want := "primary primary secondary"; strings.Join(got, " ") != want {
		t.Errorf("served by %v, want %s", got, want)
	}
	resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || !strings.Contains(body, `"quota_exceeded"`) || resp.Header.Get("retry-after") == "" {
		t.Fatalf("every quota spent: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if primary.calls.Load() != 2 || secondary.calls.Load() != 1 {
		t.Errorf("calls: primary %d, secondary %d", primary.calls.Load(), secondary.calls.Load())
	}
	// Anthropic clients get their own error shape.
	resp, body = post(t, g.Gateway+"/anthropic/v1/messages", `{"model":"gpt-x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || !strings.Contains(body, `"rate_limit_error"`) || !strings.Contains(body, `"type":"error"`) {
		t.Fatalf("anthropic client: %d %s", resp.StatusCode, body)
	}
}

// startRedisServer starts a redis-server child on a unix socket for one test, or skips the test
// saying why when redis-server is not installed. The returned function kills it.
func startRedisServer(t *testing.T) (url string, kill func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server): shared limits are not tested")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	kill = func() { once.Do(func() { _ = cmd.Process.Kill(); <-done }) }
	t.Cleanup(kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix://" + sock, kill
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not listen in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedBudgetAcrossGateways: two aigw instances count one token budget in one Redis; 16
// concurrent clients spread over both spend it, and together they admit less than one request's
// cost beyond it. Then Redis dies: the fail-open instance keeps serving, the fail-closed one
// answers 503, both at once.
func TestSharedBudgetAcrossGateways(t *testing.T) {
	url, kill := startRedisServer(t)
	up := newFakeOpenAI(t, "up", 200) // 5 tokens a request
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, crdConfig(map[string]string{"up": up.port()}, `
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-x}]}]
      backendRefs: [{name: up}]
`+tokenCosts)+`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: shared}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: Global
    global:
      rules:
      - limit: {requests: 60, unit: Hour}
        cost:
          request: {from: Number, number: 0}
          response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
`)
	open := startGateway(t, Options{ConfigPath: path, RateLimitRedis: url, RateLimitFailOpen: true})
	closed := startGateway(t, Options{ConfigPath: path, RateLimitRedis: url})
	gws := []*gateway{open, closed}
	// Each instance learns a request's cost from its first answer.
	for _, g := range gws {
		if status, body := chat(t, g, "gpt-x"); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	var ok, limited atomic.Int64
	var eg errgroup.Group
	for i := 0; i < 16; i++ {
		g := gws[i%2]
		eg.Go(func() error {
			for {
				resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}`)
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
					return nil
				default:
					return fmt.Errorf("%d %s", resp.StatusCode, body)
				}
			}
		})
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
	spent := (ok.Load() + 2) * 5
	if spent < 60 || spent >= 65 {
		t.Errorf("the two instances spent %d tokens of a 60 budget: want at least all of it and under one request (5) more", spent)
	}
	if up.calls.Load() != ok.Load()+2 {
		t.Errorf("upstream calls %d, admitted %d", up.calls.Load(), ok.Load()+2)
	}
	t.Logf("%d admitted, %d refused, %d tokens of 60", ok.Load()+2, limited.Load(), spent)

	kill()
	start := time.Now()
	if status, body := chat(t, open, "gpt-x"); status != 200 {
		t.Errorf("fail-open with redis down: %d %s", status, body)
	}
	if status, body := chat(t, closed, "gpt-x"); status != 503 || !strings.Contains(body, "rate_limit_unavailable") {
		t.Errorf("fail-closed with redis down: %d %s", status, body)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("two requests with redis down took %s", took)
	}
}

// TestStreamedUsageCharged: a stream's tokens are known only from its last event; they are
// charged before that event reaches the client, so a tenant whose streams spent the budget gets
// a 429 on the very next request. The backend keeps each stream open after [DONE] and the client
// has not closed any: the gateway has not finished them, only charged them.
func TestStreamedUsageCharged(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, ev := range []string{
			`{"id":"s","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"}}]}`,
			`{"id":"s","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
			`{"id":"s","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", ev)
			fl.Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		fl.Flush()
		// The end of the stream comes later: when the gateway lets go (its client closed).
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	g := tenantLimitedGateway(t, up)
	// The OpenAI SDK closes a stream when it reads [DONE]; this client reads up to [DONE] and
	// keeps the response open, so the gateway cannot have finished the request.
	stream := func() (io.Closer, error) {
		req, _ := http.NewRequest("POST", g.Gateway+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-x","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-tenant", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				resp.Body.Close()
				return nil, fmt.Errorf("the stream ended before [DONE]: %v", err)
			}
			if strings.TrimSpace(line) == "data: [DONE]" {
				return resp.Body, nil
			}
		}
	}
	// 0 → 5 → 10 → 15 tokens: three streams fit in 12, each read to [DONE] and left open.
	for i := 0; i < 3; i++ {
		body, err := stream()
		if err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = body.Close() })
	}
	_, err := chatSDK(context.Background(), openAIClient(g), "acme")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("retry-after") == "" {
		t.Fatalf("fourth request: want a 429 with retry-after, got %v", err)
	}
}
