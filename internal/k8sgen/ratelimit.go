package k8sgen

// Rate limits → BackendTrafficPolicy spec.rateLimit; quotas → QuotaPolicy.

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/aigw/aigw/internal/config"
)

// QuotaPolicy is served as v1alpha1 only.
const aigatewayV1alpha1 = config.GroupAIGateway + "/v1alpha1"

// trafficPolicy is a BackendTrafficPolicy whose rateLimit, a YAML node in the loader's type
// (spec.Rest), is written from the loader's own type for that subtree.
type trafficPolicy struct {
	*config.CRDObject[config.BackendTrafficPolicySpec]
	rateLimit *config.BTPRateLimit
}

// MarshalJSON writes the policy with its rateLimit.
func (p trafficPolicy) MarshalJSON() ([]byte, error) {
	if p.rateLimit == nil {
		return json.Marshal(p.CRDObject)
	}
	return withSubtree(p.CRDObject, p.rateLimit, "rateLimit")
}

// quotaPolicy is a QuotaPolicy whose perModelQuotas[i].quota.bucketRules, a YAML node in the
// loader's type, are written from the loader's own type for them.
type quotaPolicy struct {
	*config.CRDObject[config.QuotaPolicySpec]
	bucketRules map[int][]config.QuotaBucketRuleSpec
}

// MarshalJSON writes the policy with its bucket rules.
func (p quotaPolicy) MarshalJSON() ([]byte, error) {
	m, err := Plain(p.CRDObject)
	if err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	pms, _ := spec["perModelQuotas"].([]any)
	for i, rules := range p.bucketRules {
		x, err := plainList(rules)
		if err != nil {
			return nil, err
		}
		if i < len(pms) {
			pm, _ := pms[i].(map[string]any)
			if q, _ := pm["quota"].(map[string]any); q != nil {
				q["bucketRules"] = x
			} else if pm != nil {
				pm["quota"] = map[string]any{"bucketRules": x}
			}
		}
	}
	return json.Marshal(m)
}

// withSubtree writes obj with spec[field] = v.
func withSubtree(obj, v any, field string) ([]byte, error) {
	m, err := Plain(obj)
	if err != nil {
		return nil, err
	}
	x, err := Plain(v)
	if err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		m["spec"] = spec
	}
	spec[field] = x
	return json.Marshal(m)
}

func plainList[T any](xs []T) ([]any, error) {
	out := make([]any, 0, len(xs))
	for _, x := range xs {
		m, err := Plain(x)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// limitPlan is where each rate limit rule of the Model goes: Envoy Gateway takes one
// BackendTrafficPolicy per target (a second one on the same Gateway or HTTPRoute is
// "Conflicted"), so the rules are gathered per target.
type limitPlan struct {
	// gateway holds the rules of every route (the Model's rules without routes).
	gateway []*config.RateLimit
	// perRoute holds the rules of one route, written in that route's policy with its retries.
	perRoute map[*config.Route][]*config.RateLimit
	// shared holds the shared rules of several routes, by their routes' names, in Model order.
	shared     map[string][]*config.RateLimit
	sharedKeys []string
}

func (r *renderer) planLimits() *limitPlan {
	p := &limitPlan{perRoute: map[*config.Route][]*config.RateLimit{}, shared: map[string][]*config.RateLimit{}}
	if r.m.Limits == nil {
		return p
	}
	for _, rl := range r.m.Limits.RateLimits {
		switch {
		case rl.Routes == nil:
			p.gateway = append(p.gateway, rl)
		case rl.Shared && len(rl.Routes) > 1:
			// One policy on several HTTPRoutes; shared keeps one budget across them.
			k := routeSetKey(rl.Routes)
			if _, ok := p.shared[k]; !ok {
				p.sharedKeys = append(p.sharedKeys, k)
			}
			p.shared[k] = append(p.shared[k], rl)
		default:
			// Counted per route anyway, so each route's policy carries the rule.
			for _, rt := range rl.Routes {
				p.perRoute[rt] = append(p.perRoute[rt], rl)
			}
		}
	}
	return p
}

func routeSetKey(routes []*config.Route) string {
	var names []string
	for _, rt := range routes {
		names = append(names, rt.Name)
	}
	return strings.Join(names, "\x00")
}

// rateLimitSpec renders rules as one rateLimit; a policy has one type, so when global and local
// rules meet on one target the global ones (which can count tokens) are kept and the others are
// named in a warning.
func (r *renderer) rateLimitSpec(target string, rules []*config.RateLimit) *config.BTPRateLimit {
	if len(rules) == 0 {
		return nil
	}
	global := slices.ContainsFunc(rules, func(rl *config.RateLimit) bool { return rl.Global })
	spec := &config.BTPRateLimitSpec{}
	for _, rl := range rules {
		if rl.Global != global {
			r.warnf("%s: local rate limit %s is not rendered: Envoy Gateway takes one BackendTrafficPolicy per target, and its rateLimit is global or local, not both", target, rl.Name)
			continue
		}
		spec.Rules = append(spec.Rules, rateLimitRule(rl))
		if global {
			r.globalLimits = true
		} else if rl.Tokens() || rl.Shadow {
			r.warnf("%s: local rate limit %s counts tokens or runs in shadow mode, which Envoy Gateway supports on global rate limits only: make it global", target, rl.Name)
		}
	}
	if global {
		return &config.BTPRateLimit{Type: "Global", Global: spec}
	}
	return &config.BTPRateLimit{Type: "Local", Local: spec}
}

// rateLimitRule is one rule as Envoy Gateway and Envoy AI Gateway read it: headers as client
// selectors (a Distinct header is one budget per value; the model is the x-ai-eg-model header)
// and, for a token budget, a request cost of 0 (the check alone) and a response cost from the
// llmRequestCosts metadata the AI Gateway filter publishes.
func rateLimitRule(rl *config.RateLimit) config.BTPRateLimitRule {
	out := config.BTPRateLimitRule{
		Limit: config.BTPRateLimitValue{Requests: int64(rl.Limit), Unit: config.RateLimitUnit(rl.Window)},
	}
	if hs := selectorHeaders(rl.Headers); len(hs) > 0 {
		out.ClientSelectors = []config.BTPRateLimitSelector{{Headers: hs}}
	}
	if rl.Tokens() {
		out.Cost = &config.BTPRateLimitCost{
			Request: &config.BTPCostSpecifier{From: "Number", Number: ptr(int64(0))},
			Response: &config.BTPCostSpecifier{From: "Metadata", Metadata: &config.BTPCostMetadata{
				Namespace: config.CostMetadataNamespace, Key: rl.CostKey}},
		}
	}
	if rl.Shadow {
		out.ShadowMode = ptr(true)
	}
	if rl.Shared {
		out.Shared = ptr(true)
	}
	return out
}

func selectorHeaders(hs []config.RateLimitHeader) []config.BTPRateLimitHeader {
	var out []config.BTPRateLimitHeader
	for _, h := range hs {
		x := config.BTPRateLimitHeader{Name: h.Name}
		switch {
		case h.Distinct:
			x.Type = "Distinct"
		case h.Regex != nil:
			x.Type, x.Value = "RegularExpression", ptr(unanchor(h.Regex.String()))
		default:
			x.Type, x.Value = "Exact", ptr(h.Exact)
		}
		if h.Invert {
			x.Invert = ptr(true)
		}
		out = append(out, x)
	}
	return out
}

// gatewayLimits renders the rules of every route as a BackendTrafficPolicy on the Gateway and
// the shared rules of several routes as one on those HTTPRoutes.
func (r *renderer) gatewayLimits(p *limitPlan, policyNames *namer) {
	if rl := r.rateLimitSpec("the Gateway's BackendTrafficPolicy", p.gateway); rl != nil {
		name := policyNames.name(r.gateway+"-rate-limits", 0)
		spec := config.BackendTrafficPolicySpec{TargetRefs: []config.PolicyTargetRef{{Group: config.GroupGatewayAPI, Kind: "Gateway", Name: r.gateway}}}
		r.add("BackendTrafficPolicy", name, trafficPolicy{crd(egV1alpha1, "BackendTrafficPolicy", r.meta(name), spec), rl})
	}
	for _, k := range p.sharedKeys {
		rules := p.shared[k]
		name := policyNames.name(rulePolicy(rules[0])+"-shared", 0)
		var refs []config.PolicyTargetRef
		for _, rt := range rules[0].Routes {
			n := r.routeNames[rt]
			refs = append(refs, config.PolicyTargetRef{Group: config.GroupGatewayAPI, Kind: "HTTPRoute", Name: n})
			if r.routePolicies[rt] {
				r.warnf("HTTPRoute %q: BackendTrafficPolicies %q (its own) and %q (rate limits shared with other routes) both target it; Envoy Gateway applies only the older one", n, n, name)
			}
		}
		rl := r.rateLimitSpec("BackendTrafficPolicy "+name, rules)
		spec := config.BackendTrafficPolicySpec{TargetRefs: refs}
		r.add("BackendTrafficPolicy", name, trafficPolicy{crd(egV1alpha1, "BackendTrafficPolicy", r.meta(name), spec), rl})
	}
	if r.globalLimits {
		r.warnf("global rate limits: Envoy Gateway counts them in its rate limit service, which needs a Redis: deploy one (a redis Deployment and Service) and set rateLimit.backend.type Redis and rateLimit.backend.redis.url (e.g. redis.redis-system.svc.cluster.local:6379) in the EnvoyGateway configuration (helm: config.envoyGateway.rateLimit)")
	}
}

// rulePolicy is the policy name part of a rule's "namespace/policy/index" name.
func rulePolicy(rl *config.RateLimit) string {
	parts := strings.Split(rl.Name, "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return rl.Name
}

// quotaPolicies renders the quotas as QuotaPolicies, one per policy of the input (the first two
// parts of a quota's name), on the backends it counts.
func (r *renderer) quotaPolicies() {
	if r.m.Limits == nil {
		return
	}
	type policy struct {
		name     string
		backends []*config.Backend
		quotas   []*config.Quota // the first backend's
	}
	var order []*policy
	byKey := map[string]*policy{}
	for _, q := range r.m.Limits.Quotas {
		parts := strings.SplitN(q.Name, "/", 3)
		k := parts[0] + "/" + parts[min(1, len(parts)-1)]
		p := byKey[k]
		if p == nil {
			p = &policy{name: parts[min(1, len(parts)-1)]}
			byKey[k] = p
			order = append(order, p)
		}
		if !slices.Contains(p.backends, q.Backend) {
			p.backends = append(p.backends, q.Backend)
		}
		if q.Backend == p.backends[0] {
			p.quotas = append(p.quotas, q)
		}
	}
	names := newNamer()
	for _, p := range order {
		name := names.name(p.name, 0)
		spec := config.QuotaPolicySpec{}
		for _, b := range p.backends {
			spec.TargetRefs = append(spec.TargetRefs, config.CRDTargetRef{Group: config.GroupAIGateway, Kind: "AIServiceBackend", Name: r.names[b]})
		}
		rules := map[int][]config.QuotaBucketRuleSpec{}
		model := map[string]int{} // model → index in PerModelQuotas
		for _, q := range p.quotas {
			bucket := config.QuotaBucket{Duration: config.QuotaDuration(q.Window), Limit: int64(q.Limit)}
			var cost *string
			if q.CostExpr != "" {
				cost = ptr(q.CostExpr)
			}
			if q.Model == "" {
				spec.ServiceQuota = &config.ServiceQuota{CostExpression: cost, Quota: bucket}
				continue
			}
			i, ok := model[q.Model]
			if !ok {
				i = len(spec.PerModelQuotas)
				model[q.Model] = i
				spec.PerModelQuotas = append(spec.PerModelQuotas, config.PerModelQuota{ModelName: q.Model,
					Quota: config.ModelQuota{CostExpression: cost}})
			}
			if q.Bucket == nil {
				spec.PerModelQuotas[i].Quota.DefaultBucket = &bucket
				continue
			}
			br := config.QuotaBucketRuleSpec{Quota: bucket}
			if hs := selectorHeaders(q.Bucket.Headers); len(hs) > 0 {
				br.ClientSelectors = []config.BTPRateLimitSelector{{Headers: hs}}
			}
			if q.Bucket.Shadow {
				br.ShadowMode = ptr(true)
			}
			rules[i] = append(rules[i], br)
		}
		r.add("QuotaPolicy", name, quotaPolicy{crd(aigatewayV1alpha1, "QuotaPolicy", r.meta(name), spec), rules})
	}
}
