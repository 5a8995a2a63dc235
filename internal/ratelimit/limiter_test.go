package ratelimit

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func headers(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestWindowsAreFixedAndAligned(t *testing.T) {
	at := time.Date(2026, 11, 30, 22, 47, 31, 500e6, time.UTC)
	for _, tc := range []struct {
		d          time.Duration
		start, end string
	}{
		{time.Second, "22:47:31", "22:47:32"},
		{time.Minute, "22:47:00", "22:48:00"},
		{time.Hour, "22:00:00", "23:00:00"},
		{24 * time.Hour, "00:00:00", "00:00:00"},
	} {
		w := WindowAt(at, tc.d)
		if got := w.Start.Format("15:04:05"); got != tc.start {
			t.Errorf("%s: start %s, want %s", tc.d, got, tc.start)
		}
		if got := w.End().Format("15:04:05"); got != tc.end {
			t.Errorf("%s: end %s, want %s", tc.d, got, tc.end)
		}
	}
	if d := WindowAt(at, 24*time.Hour); d.End().Day() != 1 || d.Start.Day() != 30 {
		t.Errorf("a day window is the UTC day: %v – %v", d.Start, d.End())
	}
}

func TestRequestLimitPerDistinctHeader(t *testing.T) {
	c := &clock{time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	l := New(Options{Now: c.now})
	rule := &config.RateLimit{Name: "ns/p/0", Limit: 2, Window: time.Minute,
		Headers: []config.RateLimitHeader{{Name: "x-tenant", Distinct: true}}}
	lim := &config.Limits{RateLimits: []*config.RateLimit{rule}}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, d := l.Admit(ctx, lim, nil, headers("x-tenant", "a")); d != nil {
			t.Fatalf("request %d refused: %v", i, d)
		}
	}
	_, d := l.Admit(ctx, lim, nil, headers("x-tenant", "a"))
	if d == nil || d.Status != http.StatusTooManyRequests {
		t.Fatalf("third request of tenant a: %v", d)
	}
	if d.RetryAfter() != 60 {
		t.Errorf("retry after %d s, want 60", d.RetryAfter())
	}
	if _, d := l.Admit(ctx, lim, nil, headers("x-tenant", "b")); d != nil {
		t.Fatalf("tenant b refused: %v", d)
	}
	if _, d := l.Admit(ctx, lim, nil, headers()); d != nil {
		t.Fatalf("a request without the header is not counted by a Distinct rule: %v", d)
	}
	c.t = c.t.Add(time.Minute)
	if _, d := l.Admit(ctx, lim, nil, headers("x-tenant", "a")); d != nil {
		t.Fatalf("the next window refused tenant a: %v", d)
	}
	if l.Limited() != 1 {
		t.Errorf("limited = %d, want 1", l.Limited())
	}
}

func TestExactRegexInvertSelectors(t *testing.T) {
	l := New(Options{})
	rule := &config.RateLimit{Name: "r", Limit: 1, Window: time.Hour, Headers: []config.RateLimitHeader{
		{Name: "x-ai-eg-model", Exact: "gpt-4o"},
		{Name: "x-user", Regex: regexp.MustCompile(`^(?:admin-.*)$`), Invert: true},
	}}
	lim := &config.Limits{RateLimits: []*config.RateLimit{rule}}
	ctx := context.Background()
	if _, d := l.Admit(ctx, lim, nil, headers("x-ai-eg-model", "gpt-4o", "x-user", "bob")); d != nil {
		t.Fatal(d)
	}
	if _, d := l.Admit(ctx, lim, nil, headers("x-ai-eg-model", "gpt-4o", "x-user", "carol")); d == nil {
		t.Fatal("the shared budget of gpt-4o non-admins is spent, yet a second request passed")
	}
	if _, d := l.Admit(ctx, lim, nil, headers("x-ai-eg-model", "gpt-4o", "x-user", "admin-1")); d != nil {
		t.Fatalf("inverted selector: admins are not limited: %v", d)
	}
	if _, d := l.Admit(ctx, lim, nil, headers("x-ai-eg-model", "other", "x-user", "bob")); d != nil {
		t.Fatalf("another model is not limited: %v", d)
	}
}

func TestRouteScope(t *testing.T) {
	a, b := &config.Route{Name: "a"}, &config.Route{Name: "b"}
	l := New(Options{})
	lim := &config.Limits{RateLimits: []*config.RateLimit{{Name: "r", Limit: 1, Window: time.Hour, Routes: []*config.Route{a}}}}
	ctx := context.Background()
	l.Admit(ctx, lim, a, headers())
	if _, d := l.Admit(ctx, lim, a, headers()); d == nil {
		t.Fatal("route a over its limit")
	}
	if _, d := l.Admit(ctx, lim, b, headers()); d != nil {
		t.Fatalf("route b has no limit: %v", d)
	}
}

// TestTokenCharging: a token budget is checked before (is any left?) and charged after, with
// the cost known only when the (streamed) response ends; the next request reserves the last
// cost, so concurrent requests cannot overshoot by more than one request's cost.
func TestTokenCharging(t *testing.T) {
	c := &clock{time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)}
	l := New(Options{Now: c.now})
	rule := &config.RateLimit{Name: "tok", Limit: 100, Window: time.Minute, CostKey: "total"}
	lim := &config.Limits{RateLimits: []*config.RateLimit{rule}}
	ctx := context.Background()
	adm, d := l.Admit(ctx, lim, nil, headers())
	if d != nil {
		t.Fatal(d)
	}
	// The stream runs; only at its end is the usage known.
	c.t = c.t.Add(10 * time.Second)
	adm.Settle(ctx, map[string]uint64{"total": 60})
	w := WindowAt(c.t, time.Minute)
	if n, _ := l.local.Count(ctx, "tok", w); n != 60 {
		t.Fatalf("charged %d, want 60", n)
	}
	// 60 < 100: admitted, reserving the last cost (60): count 120.
	adm2, d := l.Admit(ctx, lim, nil, headers())
	if d != nil {
		t.Fatal(d)
	}
	if got := adm2.States[0]; got.Count != 120 || got.Remaining() != 0 || !got.Tokens {
		t.Fatalf("state after reservation: %+v", got)
	}
	// A concurrent third request finds the budget reserved.
	if _, d := l.Admit(ctx, lim, nil, headers()); d == nil {
		t.Fatal("third request admitted while the budget is reserved")
	}
	// The second request turns out cheaper: its reservation is replaced by its cost.
	adm2.Settle(ctx, map[string]uint64{"total": 10})
	if n, _ := l.local.Count(ctx, "tok", w); n != 70 {
		t.Fatalf("count %d, want 70", n)
	}
	// A failed request returns its reservation (10 now).
	adm3, d := l.Admit(ctx, lim, nil, headers())
	if d != nil {
		t.Fatal(d)
	}
	adm3.Settle(ctx, nil)
	if n, _ := l.local.Count(ctx, "tok", w); n != 70 {
		t.Fatalf("after a failed request: count %d, want 70", n)
	}
	// The budget runs out; the next window starts fresh.
	a4, _ := l.Admit(ctx, lim, nil, headers())
	a4.Settle(ctx, map[string]uint64{"total": 40})
	_, d = l.Admit(ctx, lim, nil, headers())
	if d == nil || d.Status != 429 || d.RetryAfter() != 20 {
		t.Fatalf("over budget: %+v", d)
	}
	c.t = c.t.Add(20 * time.Second)
	if _, d := l.Admit(ctx, lim, nil, headers()); d != nil {
		t.Fatalf("new window: %v", d)
	}
}

func TestRefusalReleasesEarlierRules(t *testing.T) {
	l := New(Options{})
	tok := &config.RateLimit{Name: "tok", Limit: 100, Window: time.Hour, CostKey: "total"}
	req := &config.RateLimit{Name: "req", Limit: 1, Window: time.Hour}
	lim := &config.Limits{RateLimits: []*config.RateLimit{tok, req}}
	ctx := context.Background()
	a, _ := l.Admit(ctx, lim, nil, headers())
	a.Settle(ctx, map[string]uint64{"total": 30})
	if _, d := l.Admit(ctx, lim, nil, headers()); d == nil || d.Name != "req" {
		t.Fatalf("want a refusal by req: %v", d)
	}
	if n, _ := l.local.Count(ctx, "tok", WindowAt(time.Now(), time.Hour)); n != 30 {
		t.Fatalf("the refused request kept its token reservation: %d", n)
	}
}

func TestShadowNeverRefuses(t *testing.T) {
	l := New(Options{})
	lim := &config.Limits{RateLimits: []*config.RateLimit{{Name: "s", Limit: 0, Window: time.Hour, Shadow: true}}}
	if _, d := l.Admit(context.Background(), lim, nil, headers()); d != nil {
		t.Fatal(d)
	}
}

func TestQuotas(t *testing.T) {
	be, other := &config.Backend{Name: "a"}, &config.Backend{Name: "b"}
	l := New(Options{})
	lim := &config.Limits{Quotas: []*config.Quota{
		{Name: "q", Backend: be, Limit: 10, Window: time.Hour},
		{Name: "m", Backend: be, Model: "big", Limit: 3, Window: time.Hour},
	}}
	ctx := context.Background()
	l.ChargeQuotas(ctx, lim, be, "big", config.CostVars{TotalTokens: 3})
	if d := l.Exhausted(ctx, lim, be, "big"); d == nil || d.Name != "m" || d.Status != 429 {
		t.Fatalf("per-model quota: %v", d)
	}
	if d := l.Exhausted(ctx, lim, be, "small"); d != nil {
		t.Fatalf("another model has budget: %v", d)
	}
	l.ChargeQuotas(ctx, lim, be, "small", config.CostVars{TotalTokens: 7})
	if d := l.Exhausted(ctx, lim, be, "small"); d == nil || d.Name != "q" {
		t.Fatalf("service quota: %v", d)
	}
	if d := l.Exhausted(ctx, lim, other, "small"); d != nil {
		t.Fatalf("another backend: %v", d)
	}
}

func TestHeaders(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	reset := now.Add(30 * time.Second)
	states := []State{{Limit: 10, Count: 4, Reset: reset}, {Limit: 5, Count: 5, Reset: reset}, {Tokens: true, Limit: 1000, Count: 1200, Reset: reset}}
	d := &Denial{Status: 429, Now: now, Reset: reset, States: states}
	h := http.Header{}
	Headers(h, now, states, d, false)
	want := map[string]string{
		"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "30s",
		"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "30s",
		"retry-after": "30", "retry-after-ms": "30000",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	h = http.Header{}
	Headers(h, now, states, d, true)
	if got := h.Get("anthropic-ratelimit-tokens-reset"); got != "2026-01-01T10:01:00Z" {
		t.Errorf("anthropic reset %q", got)
	}
	if got := h.Get("anthropic-ratelimit-requests-remaining"); got != "0" {
		t.Errorf("anthropic remaining %q", got)
	}
}

// BenchmarkAdmit is the cost limits add to a request: admit and settle one token rule keyed by
// a tenant header, in memory.
func BenchmarkAdmit(b *testing.B) {
	l := New(Options{})
	lim := &config.Limits{RateLimits: []*config.RateLimit{{Name: "r", Limit: 1 << 62, Window: time.Minute, CostKey: "t",
		Headers: []config.RateLimitHeader{{Name: "x-tenant", Distinct: true}}}}}
	get := headers("x-tenant", "acme")
	ctx := context.Background()
	costs := map[string]uint64{"t": 5}
	b.ReportAllocs()
	for b.Loop() {
		a, _ := l.Admit(ctx, lim, nil, get)
		a.Settle(ctx, costs)
	}
}

// TestRulePerRouteUnlessShared: a rule on several routes (a Gateway target) counts each route
// apart, as Envoy Gateway does, unless it is shared.
func TestRulePerRouteUnlessShared(t *testing.T) {
	a, b := &config.Route{Name: "a"}, &config.Route{Name: "b"}
	ctx := context.Background()
	for _, shared := range []bool{false, true} {
		l := New(Options{})
		lim := &config.Limits{RateLimits: []*config.RateLimit{{Name: "r", Limit: 1, Window: time.Hour, Shared: shared}}}
		if _, d := l.Admit(ctx, lim, a, headers()); d != nil {
			t.Fatalf("shared %v: first request on a: %v", shared, d)
		}
		_, d := l.Admit(ctx, lim, b, headers())
		if (d != nil) != shared {
			t.Errorf("shared %v: route b refused %v", shared, d)
		}
		if _, d := l.Admit(ctx, lim, a, headers()); d == nil {
			t.Errorf("shared %v: route a over its limit", shared)
		}
	}
}

// TestQuotaBucketRules: a per-model quota's bucket rules count the requests their selectors
// match (per Distinct value); in the Shared mode the backend is exhausted only when the default
// bucket and every matching rule are; shadow rules are charged and never limit.
func TestQuotaBucketRules(t *testing.T) {
	be := &config.Backend{Name: "a"}
	tenant := []config.RateLimitHeader{{Name: "x-tenant", Distinct: true}}
	l := New(Options{})
	lim := &config.Limits{Quotas: []*config.Quota{
		{Name: "p/a/model/m", Backend: be, Model: "m", Limit: 10, Window: time.Hour},
		{Name: "p/a/model/m/bucket/0", Backend: be, Model: "m", Limit: 4, Window: time.Hour, Bucket: &config.QuotaBucketRule{Headers: tenant}},
		{Name: "p/a/model/m/bucket/1", Backend: be, Model: "m", Limit: 1, Window: time.Hour, Bucket: &config.QuotaBucketRule{Shadow: true}},
	}}
	ctx := context.Background()
	acme, beta := headers("x-tenant", "acme"), headers("x-tenant", "beta")
	l.ChargeQuotasFor(ctx, lim, be, "m", config.CostVars{TotalTokens: 4}, acme)
	if d := l.ExhaustedFor(ctx, lim, be, "m", acme); d != nil {
		t.Fatalf("acme's bucket is spent but the default bucket has budget (Shared mode): %v", d)
	}
	l.ChargeQuotasFor(ctx, lim, be, "m", config.CostVars{TotalTokens: 6}, beta)
	if d := l.ExhaustedFor(ctx, lim, be, "m", acme); d == nil || d.Status != 429 || len(d.States) != 2 {
		t.Fatalf("acme: default bucket and its rule spent: %+v", d)
	}
	if d := l.ExhaustedFor(ctx, lim, be, "m", beta); d == nil {
		t.Fatal("beta: default bucket and its rule spent, admitted")
	}
	if d := l.ExhaustedFor(ctx, lim, be, "m", headers("x-tenant", "gamma")); d != nil {
		t.Fatalf("gamma's bucket has budget: %v", d)
	}
	if d := l.ExhaustedFor(ctx, lim, be, "m", nil); d == nil || d.Name != "p/a/model/m" {
		t.Fatalf("no tenant: the default bucket alone is spent: %+v", d)
	}
	if d := l.ExhaustedFor(ctx, lim, be, "other", nil); d != nil {
		t.Fatalf("another model: %v", d)
	}
}
