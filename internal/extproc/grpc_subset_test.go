package extproc_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// embeddingsProvider answers /v1/embeddings, with 5 tokens of usage.
func embeddingsProvider(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if r.URL.Path != "/v1/embeddings" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"emb-up","usage":{"prompt_tokens":5,"total_tokens":5}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGRPCUntranslatableFallsThrough: a backend that cannot take the request (422 from
// translation) is left out of Envoy's choice by the router-level filter, so the request goes to
// the next backend as on the builtin plane; with no backend able to take it, both planes answer
// the 422. (An upstream filter's immediate response would reach the client without a retry.)
func TestGRPCUntranslatableFallsThrough(t *testing.T) {
	emb := embeddingsProvider(t)
	an := newProvider(t, 200)
	m := testModel(
		rule("r/0", "emb",
			&config.BackendRef{Backend: backend("claude", config.SchemaAnthropic, an.srv.URL), Weight: 1},
			&config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, emb.URL), Weight: 1, Priority: 1}),
		rule("r/1", "nowhere",
			&config.BackendRef{Backend: backend("claude1", config.SchemaAnthropic, an.srv.URL), Weight: 1},
			&config.BackendRef{Backend: backend("claude2", config.SchemaAnthropic, an.srv.URL), Weight: 1, Priority: 1}),
	)
	pl := newPlanes(t, m)
	got, ev := pl.both("/v1/embeddings", `{"model":"emb","input":"x"}`)
	if got.status != 200 || ev.Backend != "oa" || ev.Attempts != 1 || ev.Usage.InputTokens != 5 {
		t.Fatalf("status %d backend %q attempts %d usage %+v body %s", got.status, ev.Backend, ev.Attempts, ev.Usage, got.body)
	}
	got, _ = pl.both("/v1/embeddings", `{"model":"nowhere","input":"x"}`)
	if got.status != http.StatusUnprocessableEntity || !bytes.Contains(got.body, []byte("cannot serve")) {
		t.Fatalf("status %d body %s", got.status, got.body)
	}
	an.mu.Lock()
	defer an.mu.Unlock()
	if len(an.seen) != 0 {
		t.Errorf("the Anthropic backend got %d requests", len(an.seen))
	}
}

// TestGRPCQuotaSkipsExhausted: once a backend's quota is spent, Envoy's choice leaves it out and
// the request goes to the next backend; when every backend is spent, the client gets the 429
// with the limit headers — on both planes alike.
func TestGRPCQuotaSkipsExhausted(t *testing.T) {
	primary, secondary := newProvider(t, 200), newProvider(t, 200)
	bp, bs := backend("primary", config.SchemaOpenAI, primary.srv.URL), backend("secondary", config.SchemaOpenAI, secondary.srv.URL)
	m := testModel(rule("r/0", "gpt",
		&config.BackendRef{Backend: bp, Weight: 1},
		&config.BackendRef{Backend: bs, Weight: 1, Priority: 1}))
	m.Limits = &config.Limits{Quotas: []*config.Quota{
		{Name: "ns/q/primary", Backend: bp, Limit: 5, Window: time.Hour},
		{Name: "ns/q/secondary", Backend: bs, Limit: 5, Window: time.Hour},
	}}
	pl := newPlanes(t, m)
	const chat = "/v1/chat/completions"
	body := `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`
	for _, want := range []string{"primary", "secondary"} {
		got, ev := pl.both(chat, body) // 5 tokens each: the backend's quota is spent
		if got.status != 200 || ev.Backend != want || ev.Attempts != 1 {
			t.Fatalf("status %d backend %q (want %s) attempts %d body %s", got.status, ev.Backend, want, ev.Attempts, got.body)
		}
	}
	got, _ := pl.both(chat, body)
	if got.status != http.StatusTooManyRequests || !bytes.Contains(got.body, []byte("quota_exceeded")) {
		t.Fatalf("status %d body %s", got.status, got.body)
	}
	sameLimitHeaders(t, got.header, pl.builtinHeader)
	primary.mu.Lock()
	defer primary.mu.Unlock()
	if len(primary.seen) != 2 {
		t.Errorf("the exhausted backend got %d requests, want 2 (one per plane)", len(primary.seen))
	}
}

// TestGRPCRateLimitHeaders: a request refused by a rate limit gets the same 429, retry-after and
// x-ratelimit-* headers (anthropic-ratelimit-* for Anthropic clients) from both planes.
func TestGRPCRateLimitHeaders(t *testing.T) {
	oa := newProvider(t, 200)
	m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, oa.srv.URL), Weight: 1}),
		rule("r/1", "claude", &config.BackendRef{Backend: backend("an", config.SchemaAnthropic, newProvider(t, 200).srv.URL), Weight: 1}))
	m.Limits = &config.Limits{RateLimits: []*config.RateLimit{{Name: "ns/p/0", Limit: 1, Window: time.Hour,
		Headers: []config.RateLimitHeader{{Name: "x-tenant", Distinct: true}}}}}
	pl := newPlanes(t, m)
	for _, c := range []struct{ path, body, prefix string }{
		{"/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`, "x-ratelimit-"},
		{"/anthropic/v1/messages", `{"model":"claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "anthropic-ratelimit-"},
	} {
		tenant := [2]string{"x-tenant", c.prefix}
		if got, _ := pl.both(c.path, c.body, tenant); got.status != 200 {
			t.Fatalf("%s: first request: status %d body %s", c.path, got.status, got.body)
		}
		got, _ := pl.both(c.path, c.body, tenant)
		if got.status != http.StatusTooManyRequests {
			t.Fatalf("%s: second request: status %d body %s", c.path, got.status, got.body)
		}
		sameLimitHeaders(t, got.header, pl.builtinHeader)
		n := 0
		for name := range got.header {
			if strings.HasPrefix(strings.ToLower(name), c.prefix) {
				n++
			}
		}
		if n == 0 || got.header.Get("Retry-After") == "" {
			t.Errorf("%s: limit headers %v", c.path, got.header)
		}
	}
}

// sameLimitHeaders compares the rate limit headers of the two planes' answers.
func sameLimitHeaders(t *testing.T, envoy, builtin http.Header) {
	t.Helper()
	pick := func(h http.Header) map[string]string {
		out := map[string]string{}
		for name, vs := range h {
			n := strings.ToLower(name)
			if n == "retry-after" || n == "retry-after-ms" || strings.Contains(n, "ratelimit-") {
				out[n] = strings.Join(vs, ",")
			}
		}
		return out
	}
	a, b := pick(envoy), pick(builtin)
	if len(b) == 0 {
		t.Fatalf("the builtin plane sent no limit headers: %v", builtin)
	}
	for k, v := range b {
		// Reset times and retry-after may differ by the moment each plane answered.
		if _, ok := a[k]; !ok {
			t.Errorf("envoy plane lacks %s (builtin: %s)", k, v)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			t.Errorf("envoy plane sent %s, the builtin plane did not", k)
		}
	}
}

// TestGRPCSplitRequestFallsThrough: a backend that would take the request in several calls
// (Titan with several inputs) cannot take it under Envoy, which sends one upstream request per
// attempt: the router filter leaves it out and the next backend answers, instead of the 422 the
// upstream filter gives when no other backend can.
func TestGRPCSplitRequestFallsThrough(t *testing.T) {
	srv, texts := titanFake(t)
	titan := backend("titan", config.SchemaAWSBedrock, srv.URL)
	titan.Auth = nil
	emb := embeddingsProvider(t)
	const model = "amazon.titan-embed-text-v2:0"
	m := testModel(rule("r/0", model,
		&config.BackendRef{Backend: titan, Weight: 1},
		&config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, emb.URL), Weight: 1, Priority: 1}))
	pl := newPlanes(t, m)
	got := pl.envoy.do(request{path: "/v1/embeddings", header: headerList{{"content-type", "application/json"}},
		body: []byte(`{"model":"` + model + `","input":["a","bb","ccc"]}`)})
	if got.status != http.StatusOK || !bytes.Contains(got.body, []byte(`"embedding"`)) {
		t.Fatalf("status %d body %s", got.status, got.body)
	}
	if ev := pl.evEnvoy.last(t); ev.Backend != "oa" || ev.Attempts != 1 {
		t.Errorf("backend %q attempts %d", ev.Backend, ev.Attempts)
	}
	if n := len(texts()); n != 0 {
		t.Errorf("the Titan backend got %d calls", n)
	}
	waitIdle(t, pl.grpc)
}

// TestGRPCQuotaBucketRules: a per-model quota's bucket rules count by the request's headers, on
// both planes: once the default bucket and acme's bucket are spent, acme is refused while another
// tenant, whose bucket has budget, is served.
func TestGRPCQuotaBucketRules(t *testing.T) {
	oa := newProvider(t, 200)
	b := backend("oa", config.SchemaOpenAI, oa.srv.URL)
	m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: b, Weight: 1}))
	tenant := []config.RateLimitHeader{{Name: "x-tenant", Distinct: true}}
	m.Limits = &config.Limits{Quotas: []*config.Quota{
		{Name: "ns/q/model/gpt", Backend: b, Model: "gpt", Limit: 10, Window: time.Hour},
		{Name: "ns/q/model/gpt/bucket/0", Backend: b, Model: "gpt", Limit: 5, Window: time.Hour, Bucket: &config.QuotaBucketRule{Headers: tenant}},
	}}
	pl := newPlanes(t, m)
	const chat = "/v1/chat/completions"
	body := `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`
	for i, c := range []struct {
		tenant string
		status int
	}{{"acme", 200}, {"acme", 200}, {"acme", 429}, {"gamma", 200}} { // 5 tokens a request
		got, _ := pl.both(chat, body, [2]string{"x-tenant", c.tenant})
		if got.status != c.status {
			t.Fatalf("request %d (%s): status %d, want %d: %s", i+1, c.tenant, got.status, c.status, got.body)
		}
	}
}
