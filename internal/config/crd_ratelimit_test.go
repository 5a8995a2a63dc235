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
