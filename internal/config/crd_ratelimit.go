package config

// BackendTrafficPolicy rateLimit → Limits.RateLimits; QuotaPolicy → Limits.Quotas.

import (
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// aiGatewayMetadataNamespace is the dynamic metadata namespace the reference publishes
// llmRequestCosts under; a rate limit's response cost names one of them there.
const aiGatewayMetadataNamespace = "io.envoy.ai_gateway"

type btpRateLimit struct {
	Type   string            `json:"type" crd:"enum=Global|Local"`
	Global *btpRateLimitSpec `json:"global"`
	Local  *btpRateLimitSpec `json:"local"`
}

type btpRateLimitSpec struct {
	Rules []btpRateLimitRule `json:"rules"`
}

type btpRateLimitRule struct {
	ClientSelectors []btpRateLimitSelector `json:"clientSelectors"`
	Limit           btpRateLimitValue      `json:"limit" crd:"required"`
	Cost            *btpRateLimitCost      `json:"cost"`
	ShadowMode      *bool                  `json:"shadowMode"`
	Shared          *bool                  `json:"shared"`
}

// quotaBucketRule is one entry of a QuotaPolicy perModelQuotas[].quota.bucketRules.
type quotaBucketRule struct {
	ClientSelectors []btpRateLimitSelector `json:"clientSelectors"`
	Quota           quotaBucket            `json:"quota" crd:"required"`
	ShadowMode      *bool                  `json:"shadowMode"`
}

type btpRateLimitSelector struct {
	Headers     []btpRateLimitHeader `json:"headers"`
	SourceCIDR  *yaml.Node           `json:"sourceCIDR"`
	Methods     *yaml.Node           `json:"methods"`
	Path        *yaml.Node           `json:"path"`
	QueryParams *yaml.Node           `json:"queryParams"`
}

type btpRateLimitHeader struct {
	Type   string  `json:"type" crd:"enum=Exact|RegularExpression|Distinct"`
	Name   string  `json:"name" crd:"required"`
	Value  *string `json:"value"`
	Invert *bool   `json:"invert"`
}

type btpRateLimitValue struct {
	Requests int64  `json:"requests" crd:"required"`
	Unit     string `json:"unit" crd:"required,enum=Second|Minute|Hour|Day"`
}

type btpRateLimitCost struct {
	Request  *btpCostSpecifier `json:"request"`
	Response *btpCostSpecifier `json:"response"`
}

type btpCostSpecifier struct {
	From     string           `json:"from" crd:"required,enum=Number|Metadata"`
	Number   *int64           `json:"number"`
	Metadata *btpCostMetadata `json:"metadata"`
}

type btpCostMetadata struct {
	Namespace string `json:"namespace" crd:"required"`
	Key       string `json:"key" crd:"required"`
}

// maxRateLimitRequests is the CRD's maximum of limit.requests.
const maxRateLimitRequests = 1<<32 - 1

var rateLimitUnits = map[string]time.Duration{
	"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour, "Day": 24 * time.Hour,
}

var quotaDurations = map[string]time.Duration{
	"1s": time.Second, "1m": time.Minute, "1h": time.Hour, "1d": 24 * time.Hour,
}

// rateLimits compiles the rateLimit of every BackendTrafficPolicy. A policy on a route replaces
// one on the Gateway for that route, as in Envoy Gateway.
func (b *builder) rateLimits() {
	type pending struct {
		rules   []*RateLimit
		gateway bool
		routes  []*Route
	}
	var all []pending
	overridden := map[*Route]bool{}
	for _, pol := range b.trafficPols {
		for _, r := range b.targetedRoutes(pol) {
			overridden[r] = true
		}
	}
	for _, pol := range b.trafficPols {
		n := pol.Spec.Rest["rateLimit"]
		if n == nil {
			continue
		}
		b.about("BackendTrafficPolicy", pol.Metadata)
		var rl btpRateLimit
		b.d.decode(n, reflect.ValueOf(&rl).Elem(), "spec.rateLimit")
		name := key(pol.Metadata)
		p := pending{routes: b.targetedRoutes(pol), gateway: b.targetsGateway(pol)}
		spec, global := rl.Local, false
		switch {
		case rl.Type == "Global" || (rl.Type == "" && rl.Global != nil):
			spec, global = rl.Global, true
			if rl.Local != nil {
				b.d.warnf(b.d.line(&rl.Local), "spec.rateLimit.local: ignored: type is Global")
			}
		case rl.Global != nil:
			b.d.warnf(b.d.line(&rl.Global), "spec.rateLimit.global: ignored: type is Local")
		}
		if spec == nil {
			b.d.errorf(n.Line, "spec.rateLimit: %s rules are missing", strings.ToLower(orDefault(rl.Type, "Local")))
			continue
		}
		for i := range spec.Rules {
			if r := b.rateLimitRule(name+"/"+itoa(i), "spec.rateLimit."+kindPath(global)+".rules["+itoa(i)+"]", &spec.Rules[i], global); r != nil {
				p.rules = append(p.rules, r)
			}
		}
		all = append(all, p)
	}
	for _, p := range all {
		routes := p.routes
		if p.gateway {
			var open []*Route
			for _, r := range b.model.Routes {
				if !overridden[r] {
					open = append(open, r)
				}
			}
			if len(overridden) == 0 {
				open = nil // every route, present and future
			} else if open == nil {
				continue
			}
			routes = open
		} else if len(routes) == 0 {
			continue
		}
		for _, r := range p.rules {
			r.Routes = routes
			b.limits().RateLimits = append(b.limits().RateLimits, r)
		}
	}
}

func kindPath(global bool) string {
	if global {
		return "global"
	}
	return "local"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (b *builder) limits() *Limits {
	if b.model.Limits == nil {
		b.model.Limits = &Limits{}
	}
	return b.model.Limits
}

// policyRefs are the targets of a BackendTrafficPolicy, targetRef and targetRefs together.
func policyRefs(pol *object[backendTrafficPolicySpec]) []*policyTargetRef {
	var refs []*policyTargetRef
	if pol.Spec.TargetRef != nil {
		refs = append(refs, pol.Spec.TargetRef)
	}
	for i := range pol.Spec.TargetRefs {
		refs = append(refs, &pol.Spec.TargetRefs[i])
	}
	return refs
}

// targetedRoutes are the routes a policy targets by HTTPRoute name (errors about the targets
// are reported by trafficPolicies).
func (b *builder) targetedRoutes(pol *object[backendTrafficPolicySpec]) []*Route {
	var out []*Route
	ns := namespaceOf(pol.Metadata)
	for _, t := range policyRefs(pol) {
		if t.Group != groupGatewayAPI || t.Kind != "HTTPRoute" {
			continue
		}
		if r, ok := b.routeByKey[refKey(ns, "", t.Name)]; ok {
			out = append(out, r)
		}
	}
	return out
}

func (b *builder) targetsGateway(pol *object[backendTrafficPolicySpec]) bool {
	ns := namespaceOf(pol.Metadata)
	for _, t := range policyRefs(pol) {
		if t.Group == groupGatewayAPI && t.Kind == "Gateway" && b.gw != nil && refKey(ns, "", t.Name) == key(b.gw.Metadata) {
			return true
		}
	}
	return false
}

// rateLimitRule compiles one rule; nil when it has errors.
func (b *builder) rateLimitRule(name, path string, src *btpRateLimitRule, global bool) *RateLimit {
	r := &RateLimit{Name: name, Global: global, Limit: uint64(max(src.Limit.Requests, 0)), Window: rateLimitUnits[src.Limit.Unit]}
	ok := true
	if src.Limit.Requests < 0 || src.Limit.Requests > maxRateLimitRequests {
		b.d.errorf(b.d.line(&src.Limit.Requests), "%s.limit.requests: must be between 0 and %d (the CRD's bounds)", path, int64(maxRateLimitRequests))
		ok = false
	}
	if r.Window == 0 {
		ok = false // the enum check reported it
	}
	if src.ShadowMode != nil {
		r.Shadow = *src.ShadowMode
	}
	if src.Shared != nil {
		r.Shared = *src.Shared
	}
	headers, good := b.clientSelectors(path, src.ClientSelectors)
	ok = ok && good
	r.Headers = headers
	if c := src.Cost; c != nil {
		if q := c.Request; q != nil {
			if q.From != "Number" || q.Number == nil || (*q.Number != 0 && *q.Number != 1) {
				b.d.errorf(b.d.line(q), "%s.cost.request: aigw counts 1 per request, or 0 with a response cost (from: Number, number: 0 or 1)", path)
				ok = false
			}
		}
		if s := c.Response; s != nil {
			if s.From != "Metadata" || s.Metadata == nil {
				b.d.errorf(b.d.line(s), "%s.cost.response: aigw charges a response from metadata (an llmRequestCosts key)", path)
				return nil
			}
			m := s.Metadata
			if m.Namespace != aiGatewayMetadataNamespace {
				b.d.errorf(b.d.line(&m.Namespace), "%s.cost.response.metadata.namespace: must be %q", path, aiGatewayMetadataNamespace)
				ok = false
			}
			if !b.costKeyDefined(m.Key) {
				b.d.errorf(b.d.line(&m.Key), "%s.cost.response.metadata.key: %q is not the metadataKey of any llmRequestCosts of a route or of the GatewayConfig", path, m.Key)
				ok = false
			}
			r.CostKey = m.Key
		}
	}
	if !ok {
		return nil
	}
	return r
}

// clientSelectors compiles the header selectors of a rule's clientSelectors (all of them must
// match); the other kinds of selector are errors.
func (b *builder) clientSelectors(path string, sels []btpRateLimitSelector) ([]RateLimitHeader, bool) {
	var out []RateLimitHeader
	ok := true
	for i := range sels {
		cs := &sels[i]
		sp := path + ".clientSelectors[" + itoa(i) + "]"
		for _, f := range []struct {
			n    *yaml.Node
			name string
		}{{cs.SourceCIDR, "sourceCIDR"}, {cs.Methods, "methods"}, {cs.Path, "path"}, {cs.QueryParams, "queryParams"}} {
			if f.n != nil {
				b.d.errorf(f.n.Line, "%s.%s: not supported by aigw's rate limiter (headers, the route and the model are)", sp, f.name)
				ok = false
			}
		}
		for j := range cs.Headers {
			h, good := b.rateLimitHeader(sp+".headers["+itoa(j)+"]", &cs.Headers[j])
			ok = ok && good
			out = append(out, h)
		}
	}
	return out, ok
}

func (b *builder) rateLimitHeader(path string, h *btpRateLimitHeader) (RateLimitHeader, bool) {
	out := RateLimitHeader{Name: strings.ToLower(h.Name)}
	if h.Invert != nil {
		out.Invert = *h.Invert
	}
	if !b.checkHeaderName(b.d.line(&h.Name), path+".name", h.Name) {
		return out, false
	}
	switch orDefault(h.Type, "Exact") {
	case "Distinct":
		if h.Value != nil {
			b.d.errorf(b.d.line(h.Value), "%s.value: not allowed with type Distinct", path)
			return out, false
		}
		if out.Invert {
			b.d.errorf(b.d.line(h.Invert), "%s.invert: not allowed with type Distinct", path)
			return out, false
		}
		out.Distinct = true
	case "RegularExpression":
		if h.Value == nil {
			b.d.errorf(b.d.line(h), "%s.value: required with type RegularExpression", path)
			return out, false
		}
		re, err := regexp.Compile("^(?:" + *h.Value + ")$")
		if err != nil {
			b.d.errorf(b.d.line(h.Value), "%s.value: invalid regular expression: %v", path, err)
			return out, false
		}
		out.Regex = re
	default:
		if h.Value == nil {
			b.d.errorf(b.d.line(h), "%s.value: required with type Exact", path)
			return out, false
		}
		out.Exact = *h.Value
	}
	return out, true
}

func (b *builder) costKeyDefined(k string) bool {
	for _, c := range b.model.GlobalCosts {
		if c.MetadataKey == k {
			return true
		}
	}
	for _, r := range b.model.Routes {
		for _, c := range r.Costs {
			if c.MetadataKey == k {
				return true
			}
		}
	}
	return false
}

// quotaPolicy compiles one QuotaPolicy into backend and per-model quotas, each bucket once per
// backend it targets.
func (b *builder) quotaPolicy(q *object[quotaPolicySpec], backends []*Backend) {
	name := key(q.Metadata)
	s := &q.Spec
	bucket := func(path string, src *quotaBucket, model string, cost *string, suffix string, rule *QuotaBucketRule) {
		w := quotaDurations[src.Duration]
		if w == 0 || src.Limit <= 0 {
			if src.Limit <= 0 {
				b.d.errorf(b.d.line(&src.Limit), "%s.limit: must be positive", path)
			}
			return
		}
		var prg CostProgram
		var expr string
		if cost != nil {
			p, err := CompileCost(*cost)
			if err != nil {
				return // reported by costExpression
			}
			prg, expr = p, *cost
		}
		for _, be := range backends {
			b.limits().Quotas = append(b.limits().Quotas, &Quota{
				Name: name + "/" + be.Name + suffix, Backend: be, Model: model,
				Limit: uint64(src.Limit), Window: w, Cost: prg, CostExpr: expr, Bucket: rule,
			})
		}
	}
	if sq := s.ServiceQuota; sq != nil {
		bucket("spec.serviceQuota.quota", &sq.Quota, "", sq.CostExpression, "", nil)
	}
	for i := range s.PerModelQuotas {
		pm := &s.PerModelQuotas[i]
		path := "spec.perModelQuotas[" + itoa(i) + "].quota"
		var rules []quotaBucketRule
		if n := pm.Quota.BucketRules; n != nil {
			b.d.decode(n, reflect.ValueOf(&rules).Elem(), path+".bucketRules")
		}
		if pm.Quota.DefaultBucket == nil && len(rules) == 0 {
			b.d.warnf(b.d.line(&pm.Quota), "%s: neither a defaultBucket nor bucketRules, so nothing limits model %q", path, pm.ModelName)
			continue
		}
		if pm.Quota.DefaultBucket != nil {
			bucket(path+".defaultBucket", pm.Quota.DefaultBucket, pm.ModelName, pm.Quota.CostExpression, "/model/"+pm.ModelName, nil)
		}
		for j := range rules {
			rp := path + ".bucketRules[" + itoa(j) + "]"
			headers, ok := b.clientSelectors(rp, rules[j].ClientSelectors)
			if !ok {
				continue
			}
			rule := &QuotaBucketRule{Headers: headers}
			if rules[j].ShadowMode != nil {
				rule.Shadow = *rules[j].ShadowMode
			}
			bucket(rp+".quota", &rules[j].Quota, pm.ModelName, pm.Quota.CostExpression, "/model/"+pm.ModelName+"/bucket/"+itoa(j), rule)
		}
	}
}

// Exported names of the rate limit and quota CRD types, for writers of manifests (k8sgen), as
// in crd_export.go.
type (
	BTPRateLimit         = btpRateLimit
	BTPRateLimitSpec     = btpRateLimitSpec
	BTPRateLimitRule     = btpRateLimitRule
	BTPRateLimitSelector = btpRateLimitSelector
	BTPRateLimitHeader   = btpRateLimitHeader
	BTPRateLimitValue    = btpRateLimitValue
	BTPRateLimitCost     = btpRateLimitCost
	BTPCostSpecifier     = btpCostSpecifier
	BTPCostMetadata      = btpCostMetadata
	QuotaPolicySpec      = quotaPolicySpec
	ServiceQuota         = serviceQuota
	QuotaBucket          = quotaBucket
	PerModelQuota        = perModelQuota
	ModelQuota           = modelQuota
	QuotaBucketRuleSpec  = quotaBucketRule
)

// CostMetadataNamespace is the metadata namespace a rate limit's response cost names.
const CostMetadataNamespace = aiGatewayMetadataNamespace

// RateLimitUnit is the BackendTrafficPolicy unit of a window ("" when it has none).
func RateLimitUnit(w time.Duration) string { return unitOf(rateLimitUnits, w) }

// QuotaDuration is the QuotaPolicy duration of a window ("" when it has none).
func QuotaDuration(w time.Duration) string { return unitOf(quotaDurations, w) }

func unitOf(units map[string]time.Duration, w time.Duration) string {
	for k, v := range units {
		if v == w {
			return k
		}
	}
	return ""
}
