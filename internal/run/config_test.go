package run

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// fakeOpenAI answers chat completions, counting calls and remembering the last request.
type fakeOpenAI struct {
	*httptest.Server
	name   string
	status int
	calls  atomic.Int64
	mu     sync.Mutex
	last   *http.Request
	body   string
}

func newFakeOpenAI(t *testing.T, name string, status int) *fakeOpenAI {
	f := &fakeOpenAI{name: name, status: status}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.last, f.body = r, string(b)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f.status != 200 {
			w.WriteHeader(f.status)
			fmt.Fprintf(w, `{"error":{"message":"%s is down","type":"server_error","param":null,"code":null}}`, name)
			return
		}
		fmt.Fprintf(w, `{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"from %s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`, name)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOpenAI) port() string {
	u, _ := url.Parse(f.URL)
	return u.Port()
}

// crdConfig is a v1beta1 configuration with one backend per entry of backends (name → port) and
// the given rules (YAML for spec.rules items).
func crdConfig(backends map[string]string, rules string) string {
	cfg := routeConfig(rules)
	for name, port := range backends {
		cfg += backendConfig(name, "{name: OpenAI}", port)
	}
	return cfg
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as editors and ConfigMaps do
		t.Fatal(err)
	}
}

func chat(t *testing.T, g *gateway, model string, hdr ...string) (int, string) {
	resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`, hdr...)
	return resp.StatusCode, body
}

func TestConfigFallback(t *testing.T) {
	primary, secondary := newFakeOpenAI(t, "primary", 503), newFakeOpenAI(t, "secondary", 200)
	path := tempConfig(t, crdConfig(map[string]string{"primary": primary.port(), "secondary": secondary.port()}, `
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-x}]}]
      backendRefs: [{name: primary, priority: 0}, {name: secondary, priority: 1}]
`))
	g := startGateway(t, Options{ConfigPath: path})
	status, body := chat(t, g, "gpt-x")
	if status != 200 || !strings.Contains(body, "from secondary") {
		t.Fatalf("%d %s", status, body)
	}
	if primary.calls.Load() != 1 || secondary.calls.Load() != 1 {
		t.Errorf("calls: primary %d, secondary %d", primary.calls.Load(), secondary.calls.Load())
	}
	if status, body := chat(t, g, "other"); status != 404 || !strings.Contains(body, `"model_not_found"`) {
		t.Errorf("unmatched model: %d %s", status, body)
	}
}

func TestConfigWeights(t *testing.T) {
	a, b := newFakeOpenAI(t, "a", 200), newFakeOpenAI(t, "b", 200)
	path := tempConfig(t, crdConfig(map[string]string{"a": a.port(), "b": b.port()}, `
    - backendRefs: [{name: a, weight: 3}, {name: b, weight: 1}]
`))
	g := startGateway(t, Options{ConfigPath: path})
	const n = 2000
	var eg errgroup.Group
	eg.SetLimit(16)
	for i := 0; i < n; i++ {
		eg.Go(func() error {
			if status, body := chat(t, g, "any"); status != 200 {
				return fmt.Errorf("%d %s", status, body)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
	share := float64(a.calls.Load()) / n
	if math.Abs(share-0.75) > 0.04 || a.calls.Load()+b.calls.Load() != n {
		t.Errorf("a got %.3f of %d requests (a %d, b %d), want 0.75", share, n, a.calls.Load(), b.calls.Load())
	}
}

// TestConfigHotReloadUnderLoad rewrites the configuration while clients send requests: every
// request succeeds, traffic moves to the new backend, and a broken file changes nothing.
func TestConfigHotReloadUnderLoad(t *testing.T) {
	oldB, newB := newFakeOpenAI(t, "old", 200), newFakeOpenAI(t, "new", 200)
	rules := `
    - backendRefs: [{name: target}]
`
	path := tempConfig(t, crdConfig(map[string]string{"target": oldB.port()}, rules))
	g := startGateway(t, Options{ConfigPath: path, ReloadInterval: 50 * time.Millisecond})

	stop := make(chan struct{})
	var failures, total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				total.Add(1)
				if status, body := chat(t, g, "m"); status != 200 {
					failures.Add(1)
					t.Logf("failed: %d %s", status, body)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	writeConfig(t, path, "this: is: not: valid: yaml: [")
	time.Sleep(300 * time.Millisecond)
	before := newB.calls.Load()
	writeConfig(t, path, crdConfig(map[string]string{"target": newB.port()}, rules))
	waitFor(t, "traffic on the new backend", func() bool { return newB.calls.Load() > before+20 })
	settled := oldB.calls.Load()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if before != 0 {
		t.Errorf("the broken file moved traffic: new backend had %d calls before the good file", before)
	}
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed during reloads", failures.Load(), total.Load())
	}
	if late := oldB.calls.Load() - settled; late > 4 {
		t.Errorf("old backend still got %d requests after the reload", late)
	}
	log, _ := os.ReadFile(g.LogFile)
	if !strings.Contains(string(log), "configuration reload failed") || !strings.Contains(string(log), "configuration reloaded") {
		t.Errorf("reloads not logged:\n%s", log)
	}
	t.Logf("%d requests during reloads, none failed", total.Load())
}

func TestConfigMutationsAndCredentialOverride(t *testing.T) {
	up := newFakeOpenAI(t, "up", 200)
	cfg := crdConfig(map[string]string{"up": up.port()}, `
    - backendRefs:
        - name: up
          modelNameOverride: gpt-real
          headerMutation: {set: [{name: x-route, value: r}], remove: [x-secret-client-header]}
          bodyMutation: {set: [{path: temperature, value: "0.5"}]}
`) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: up}]
  type: APIKey
  apiKey:
    secretRef: {name: key}
  credentialOverride:
    fromRequestHeaders: {fallbackToConfigured: false}
---
apiVersion: v1
kind: Secret
metadata: {name: key}
stringData: {apiKey: "${TEST_KEY}"}
`
	g := startGateway(t, Options{ConfigPath: tempConfig(t, cfg), Getenv: env("TEST_KEY", "sk-configured")})
	status, body := chat(t, g, "alias", "x-aigw-api-key", "sk-per-request", "x-secret-client-header", "s")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	up.mu.Lock()
	h, sent := up.last.Header, up.body
	up.mu.Unlock()
	if h.Get("Authorization") != "Bearer sk-per-request" || h.Get("X-Aigw-Api-Key") != "" {
		t.Errorf("credential: Authorization %q, override header %q", h.Get("Authorization"), h.Get("X-Aigw-Api-Key"))
	}
	if h.Get("X-Route") != "r" || h.Get("X-Secret-Client-Header") != "" {
		t.Errorf("header mutation: %v", h)
	}
	if !strings.Contains(sent, `"model":"gpt-real"`) || !strings.Contains(sent, `"temperature":0.5`) {
		t.Errorf("body: %s", sent)
	}
	if status, body := chat(t, g, "alias"); status != 401 {
		t.Errorf("no credential header: %d %s", status, body)
	}
	v, _ := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_original_model="alias"`, `gen_ai_request_model="gpt-real"`, `gen_ai_token_type="input"`)
	if v != "3" {
		t.Errorf("original and overridden model not both in metrics: %q", v)
	}
}

// TestConfigCosts: route and global llmRequestCosts, CEL included, are computed from each
// request's usage and written to the access log.
func TestConfigCosts(t *testing.T) {
	up := newFakeOpenAI(t, "up", 200) // prompt 3, completion 2, total 5
	cfg := strings.Replace(crdConfig(map[string]string{"up": up.port()}, `
    - backendRefs: [{name: up}]
`), "spec:\n  parentRefs:", `spec:
  llmRequestCosts:
    - {metadataKey: out, type: OutputToken}
    - {metadataKey: weighted, type: CEL, cel: "model == 'gpt-x' ? input_tokens * 10u + output_tokens : 0u"}
    - {metadataKey: total, type: InputToken}
    - {metadataKey: be, type: CEL, cel: "backend == 'up.default' && route_name == 'route' ? 1u : 0u"}
  parentRefs:`, 1) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: GatewayConfig
metadata: {name: gc}
spec:
  globalLLMRequestCosts:
    - {metadataKey: total, type: TotalToken}
    - {metadataKey: in, type: InputToken}
`
	cfg = strings.Replace(cfg, "metadata: {name: gw}", "metadata: {name: gw, annotations: {aigateway.envoyproxy.io/gateway-config: gc}}", 1)
	g := startGateway(t, Options{ConfigPath: tempConfig(t, cfg)})
	if status, body := chat(t, g, "gpt-x"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	g.stop(t) // flushes the access log
	log, err := os.ReadFile(g.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	// The route's "total" (InputToken) replaces the global one (TotalToken) of the same key.
	want := `"costs":{"be":1,"in":3,"out":2,"total":3,"weighted":32}`
	if !strings.Contains(string(log), want) {
		t.Errorf("access log lacks %s:\n%s", want, log)
	}
}
