package k8sgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

const limitsBase = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: 1975}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: b}]
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
metadata: {name: b}
spec:
  endpoints: [{ip: {address: 10.0.0.1, port: 80}}]
`

func limitPolicy(name, typ string) string {
	return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: ` + name + `}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: ` + typ + `
    ` + strings.ToLower(typ) + `:
      rules:
      - limit: {requests: 5, unit: Minute}
`
}

func loadString(t *testing.T, yaml string) *config.Model {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := config.LoadFile(p, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRateLimitWarnings: one policy per target means global and local rules of the Gateway cannot
// both be rendered (the local ones are named in a warning); global limits say that the cluster
// needs a Redis; local ones alone do not.
func TestRateLimitWarnings(t *testing.T) {
	res, err := Render(loadString(t, limitsBase+limitPolicy("g", "Global")+limitPolicy("l", "Local")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	warned := strings.Join(res.Warnings, "\n")
	if !strings.Contains(warned, "local rate limit default/l/0 is not rendered") || !strings.Contains(warned, "needs a Redis") {
		t.Errorf("warnings: %s", warned)
	}
	var policies int
	for _, o := range res.Objects {
		if o.Kind == "BackendTrafficPolicy" {
			policies++
			p := o.Value.(trafficPolicy)
			if p.rateLimit == nil || p.rateLimit.Type != "Global" || len(p.rateLimit.Global.Rules) != 1 {
				t.Errorf("policy: %+v", p.rateLimit)
			}
		}
	}
	if policies != 1 {
		t.Errorf("%d BackendTrafficPolicies on the Gateway", policies)
	}

	res, err = Render(loadString(t, limitsBase+limitPolicy("l", "Local")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(res.Warnings, "\n"); strings.Contains(w, "Redis") || strings.Contains(w, "global rate limits only") {
		t.Errorf("plain local limits warn: %s", w)
	}
	shadow := strings.Replace(limitPolicy("l", "Local"), "      - limit: {requests: 5, unit: Minute}\n", "      - limit: {requests: 5, unit: Minute}\n        shadowMode: true\n", 1)
	res, err = Render(loadString(t, limitsBase+shadow), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "local rate limit default/l/0 counts tokens or runs in shadow mode") {
		t.Errorf("a local shadow rule is not warned about: %s", w)
	}
}
