package config

import (
	"strings"
	"testing"
	"time"
)

const rlBase = `apiVersion: gateway.networking.k8s.io/v1
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
  - backendRefs: [{name: a, priority: 0}, {name: b, priority: 1}]
  llmRequestCosts:
  - {metadataKey: tokens, type: TotalToken}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: a}
spec:
  schema: {name: OpenAI}
  backendRef: {name: a, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: b}
spec:
  schema: {name: OpenAI}
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: a}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: 1}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: b}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: 2}}]
`

func btp(target, rateLimit string) string {
	return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: p}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: ` + target + `}]
  rateLimit:
` + rateLimit
}

func TestRateLimitCompiles(t *testing.T) {
	m, err := load("c.yaml", []byte(rlBase+btp("HTTPRoute, name: route", `    type: Global
    global:
      rules:
      - clientSelectors: [{headers: [{name: X-Tenant, type: Distinct}, {name: x-ai-eg-model, value: gpt-4o}]}]
        limit: {requests: 1000, unit: Minute}
        cost:
          request: {from: Number, number: 0}
          response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: tokens}}
      - limit: {requests: 5, unit: Second}
        shadowMode: true
`)+`---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: q}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: a}]
  serviceQuota:
    costExpression: input_tokens + output_tokens
    quota: {duration: 1h, limit: 100}
  perModelQuotas:
  - modelName: big
    quota:
      defaultBucket: {duration: 1d, limit: 10}
`), envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Warnings {
		if strings.Contains(w, "rateLimit") || strings.Contains(w, "QuotaPolicy") {
			t.Errorf("an honoured policy is warned about: %s", w)
		}
	}
	l := m.Limits
	if l == nil || len(l.RateLimits) != 2 || len(l.Quotas) != 2 {
		t.Fatalf("limits: %+v", l)
	}
	tok, req := l.RateLimits[0], l.RateLimits[1]
	if tok.Name != "default/p/0" || !tok.Global || tok.Limit != 1000 || tok.Window != time.Minute || tok.CostKey != "tokens" ||
		len(tok.Routes) != 1 || tok.Routes[0] != m.Routes[0] {
		t.Errorf("token rule: %+v", tok)
	}
	if len(tok.Headers) != 2 || tok.Headers[0].Name != "x-tenant" || !tok.Headers[0].Distinct || tok.Headers[1].Exact != "gpt-4o" {
		t.Errorf("selectors: %+v", tok.Headers)
	}
	if req.Tokens() || !req.Shadow || req.Window != time.Second || req.Limit != 5 {
		t.Errorf("request rule: %+v", req)
	}
	sq, mq := l.Quotas[0], l.Quotas[1]
	if sq.Backend.Name != "a" || sq.Model != "" || sq.Limit != 100 || sq.Window != time.Hour || sq.Cost == nil {
		t.Errorf("service quota: %+v", sq)
	}
	if mq.Model != "big" || mq.Window != 24*time.Hour || mq.Limit != 10 || mq.Cost != nil {
		t.Errorf("model quota: %+v", mq)
	}
}

func TestRateLimitGatewayTargetAppliesToEveryRoute(t *testing.T) {
	m, err := load("c.yaml", []byte(rlBase+btp("Gateway, name: gw", `    type: Local
    local:
      rules:
      - limit: {requests: 3, unit: Hour}
`)), envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Limits.RateLimits[0]
	if r.Global || r.Routes != nil || !r.AppliesTo(m.Routes[0]) {
		t.Errorf("gateway rule: %+v", r)
	}
}

func TestRateLimitErrors(t *testing.T) {
	for _, tc := range []struct{ name, rl, want string }{
		{"unknown cost key", `    global:
      rules:
      - limit: {requests: 3, unit: Hour}
        cost: {response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: nope}}}
`, `"nope" is not the metadataKey of any llmRequestCosts`},
		{"distinct with value", `    local:
      rules:
      - clientSelectors: [{headers: [{name: x, type: Distinct, value: v}]}]
        limit: {requests: 3, unit: Hour}
`, "value: not allowed with type Distinct"},
		{"source cidr", `    local:
      rules:
      - clientSelectors: [{sourceCIDR: {value: 10.0.0.0/8}}]
        limit: {requests: 3, unit: Hour}
`, "sourceCIDR: not supported"},
		{"bad unit", `    local:
      rules:
      - limit: {requests: 3, unit: Fortnight}
`, "Fortnight"},
		{"no rules", `    type: Global
`, "global rules are missing"},
		{"over the CRD's maximum", `    local:
      rules:
      - limit: {requests: 4294967296, unit: Hour}
`, "limit.requests: must be between 0 and 4294967295"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load("c.yaml", []byte(rlBase+btp("HTTPRoute, name: route", tc.rl)), envOf(nil), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), "c.yaml:") {
				t.Errorf("the error has no line: %v", err)
			}
		})
	}
}

// TestQuotaBucketRulesAndSharedCompile: bucketRules become quotas of their model with their
// selectors (no longer warned about as not enforced); shared and the cost expression's source
// are kept.
func TestQuotaBucketRulesAndSharedCompile(t *testing.T) {
	m, err := load("c.yaml", []byte(rlBase+btp("Gateway, name: gw", `    type: Global
    global:
      rules:
      - limit: {requests: 3, unit: Hour}
        shared: true
`)+`---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: q}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: a}]
  perModelQuotas:
  - modelName: big
    quota:
      costExpression: output_tokens
      defaultBucket: {duration: 1d, limit: 10}
      bucketRules:
      - clientSelectors: [{headers: [{name: X-Tenant, type: Distinct}]}]
        quota: {duration: 1h, limit: 4}
      - quota: {duration: 1m, limit: 2}
        shadowMode: true
`), envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Warnings {
		if strings.Contains(w, "bucketRules") {
			t.Errorf("bucketRules warned about: %s", w)
		}
	}
	if r := m.Limits.RateLimits[0]; !r.Shared {
		t.Errorf("shared not kept: %+v", r)
	}
	q := m.Limits.Quotas
	if len(q) != 3 {
		t.Fatalf("quotas: %+v", q)
	}
	if q[0].Bucket != nil || q[0].CostExpr != "output_tokens" || q[0].Name != "default/q/a/model/big" {
		t.Errorf("default bucket: %+v", q[0])
	}
	b1, b2 := q[1], q[2]
	if b1.Bucket == nil || b1.Name != "default/q/a/model/big/bucket/0" || b1.Limit != 4 || b1.Window != time.Hour || b1.Model != "big" ||
		len(b1.Bucket.Headers) != 1 || b1.Bucket.Headers[0].Name != "x-tenant" || !b1.Bucket.Headers[0].Distinct || b1.Bucket.Shadow {
		t.Errorf("bucket rule 0: %+v %+v", b1, b1.Bucket)
	}
	if b2.Bucket == nil || !b2.Bucket.Shadow || len(b2.Bucket.Headers) != 0 || b2.Window != time.Minute || b2.Cost == nil {
		t.Errorf("bucket rule 1: %+v %+v", b2, b2.Bucket)
	}
}

func TestQuotaBucketRuleErrors(t *testing.T) {
	_, err := load("c.yaml", []byte(rlBase+`---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: QuotaPolicy
metadata: {name: q}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: a}]
  perModelQuotas:
  - modelName: big
    quota:
      bucketRules:
      - clientSelectors: [{path: {value: /v1}}]
        quota: {duration: 1h, limit: 4}
      - quota: {duration: 1w, limit: 0}
`), envOf(nil), nil)
	if err == nil {
		t.Fatal("bad bucket rules loaded")
	}
	for _, want := range []string{"bucketRules[0].clientSelectors[0].path: not supported", "bucketRules[1].quota.duration", "bucketRules[1].quota.limit: must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
