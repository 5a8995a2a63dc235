package config

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Routes: AIGatewayRoute → Route and Rules; BackendTrafficPolicy → Rule.Retry and Rule.Timeout.

// buildRoutes compiles every AIGatewayRoute, in file order.
func (b *builder) buildRoutes() {
	b.routeByKey = map[string]*Route{}
	for _, r := range b.routes {
		b.about("AIGatewayRoute", r.Metadata)
		route := &Route{Name: b.displayName(r.Metadata)}
		b.parentRefs(r.Metadata, r.Spec.ParentRefs)
		route.Hostnames = b.routeHostnames(r)
		if len(r.Spec.Rules) > 15 {
			b.d.errorf(b.d.line(&r.Spec.Rules), "spec.rules: %d rules; at most 15 are allowed", len(r.Spec.Rules))
		}
		names := map[string]bool{}
		for i := range r.Spec.Rules {
			if rule := b.rule(r, i, names); rule != nil {
				route.Rules = append(route.Rules, rule)
			}
		}
		// As in a cluster, where Envoy Gateway orders a route's matches most specific first, a rule
		// with more header conditions is tried before one with fewer, and a rule without matches
		// (everything) last; rules of equal specificity keep their order.
		slices.SortStableFunc(route.Rules, func(x, y *Rule) int { return specificity(y) - specificity(x) })

		if len(r.Spec.LLMRequestCosts) > 36 {
			b.d.errorf(b.d.line(&r.Spec.LLMRequestCosts), "spec.llmRequestCosts: at most 36 entries are allowed")
		}
		byKey := map[string]int{}
		for i := range r.Spec.LLMRequestCosts {
			c := &r.Spec.LLMRequestCosts[i]
			cost, ok := b.cost("spec.llmRequestCosts["+itoa(i)+"]", c)
			if !ok {
				continue
			}
			if j, dup := byKey[c.MetadataKey]; dup {
				// The reference keeps the last definition of a key.
				b.d.warnf(b.d.line(c), "spec.llmRequestCosts[%d]: metadataKey %q is defined again; this definition replaces the earlier one", i, c.MetadataKey)
				route.Costs[j] = cost
				continue
			}
			byKey[c.MetadataKey] = len(route.Costs)
			route.Costs = append(route.Costs, cost)
		}
		b.routeByKey[key(r.Metadata)] = route
		b.model.Routes = append(b.model.Routes, route)
	}
}

// specificity is the largest number of header conditions among a rule's matches.
func specificity(r *Rule) int {
	n := -1 // no matches: after a rule whose match has no header conditions
	for _, m := range r.Matches {
		n = max(n, len(m.Headers))
	}
	return n
}

// parentRefs checks that a route attaches to the file's Gateway.
func (b *builder) parentRefs(meta objectMeta, refs []parentRef) {
	if len(refs) == 0 {
		if b.gw != nil {
			b.d.warnf(b.d.line(&meta), "spec.parentRefs: the route names no Gateway; aigw serves it on its one gateway anyway")
		}
		return
	}
	for i := range refs {
		p := &refs[i]
		path := "spec.parentRefs[" + itoa(i) + "]"
		if k := deref(&p.Kind, ""); k != "" && k != "Gateway" {
			b.d.errorf(b.d.line(p), "%s.kind: only Gateway is supported, not %q", path, k)
			continue
		}
		if b.gw == nil {
			continue // no Gateway in the file: aigw is the gateway
		}
		if p.Name != b.gw.Metadata.Name || refKey(namespaceOf(meta), p.Namespace, p.Name) != key(b.gw.Metadata) {
			b.d.errorf(b.d.line(&p.Name), "%s: Gateway %q is not defined in this file (the Gateway is %q)", path, p.Name, b.gw.Metadata.Name)
		}
		if p.SectionName != "" && !slices.ContainsFunc(b.gw.Spec.Listeners, func(l listener) bool { return l.Name == p.SectionName }) {
			b.d.errorf(b.d.line(&p.SectionName), "%s.sectionName: the Gateway has no listener %q", path, p.SectionName)
		}
	}
}

// routeHostnames intersects the route's hostnames with the Gateway listeners', as Gateway API
// does: a route without hostnames takes the listeners'; a route hostname outside every listener's
// is dropped.
func (b *builder) routeHostnames(r *object[aiGatewayRouteSpec]) []string {
	if len(r.Spec.Hostnames) > 16 {
		b.d.errorf(b.d.line(&r.Spec.Hostnames), "spec.hostnames: at most 16 are allowed")
	}
	var own []string
	for i, h := range r.Spec.Hostnames {
		if b.checkHostname(b.d.line(&r.Spec.Hostnames[i]), "spec.hostnames["+itoa(i)+"]", h) {
			own = append(own, h)
		}
	}
	if len(b.listenerHosts) == 0 {
		return own
	}
	if len(own) == 0 {
		return slices.Clone(b.listenerHosts)
	}
	var out []string
	for i, h := range own {
		n := len(out)
		for _, l := range b.listenerHosts {
			if v, ok := intersectHost(l, h); ok && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		if len(out) == n {
			b.d.warnf(b.d.line(&r.Spec.Hostnames[i]), "spec.hostnames[%d]: %q is not served: no Gateway listener accepts it (%s)", i, h, strings.Join(b.listenerHosts, ", "))
		}
	}
	if len(out) == 0 {
		b.d.errorf(b.d.line(&r.Spec.Hostnames), "spec.hostnames: none of the route's hostnames is served by a Gateway listener (%s)", strings.Join(b.listenerHosts, ", "))
	}
	return out
}

// intersectHost is the Gateway API intersection of a listener and a route hostname: the more
// specific of the two when one is within the other.
func intersectHost(l, h string) (string, bool) {
	lw, hw := strings.HasPrefix(l, "*."), strings.HasPrefix(h, "*.")
	switch {
	case l == h:
		return h, true
	case !lw && !hw:
		return "", false
	case !hw:
		return h, HostMatches(l, h)
	case !lw:
		return l, HostMatches(h, l)
	case strings.HasSuffix(h[1:], l[1:]):
		return h, true
	case strings.HasSuffix(l[1:], h[1:]):
		return l, true
	}
	return "", false
}

// rule compiles rule i of route r.
func (b *builder) rule(r *object[aiGatewayRouteSpec], i int, names map[string]bool) *Rule {
	src := &r.Spec.Rules[i]
	path := "spec.rules[" + itoa(i) + "]"
	ok := true
	id := itoa(i)
	if src.Name != "" {
		switch {
		case src.Name == "route-not-found":
			b.d.errorf(b.d.line(&src.Name), "%s.name: rule name route-not-found is reserved", path)
			ok = false
		case names[src.Name]:
			b.d.errorf(b.d.line(&src.Name), "%s.name: rule name must be unique within the route (%q is used twice)", path, src.Name)
			ok = false
		case !dnsSubdomain.MatchString(src.Name) || len(src.Name) > 253:
			b.d.errorf(b.d.line(&src.Name), "%s.name: %q must be lower case letters, digits, '-' and '.'", path, src.Name)
			ok = false
		}
		names[src.Name] = true
		id = src.Name
	}
	rule := &Rule{
		Name:          b.displayName(r.Metadata) + "/" + id,
		Timeout:       DefaultRequestTimeout,
		ModelsOwnedBy: deref(src.ModelsOwnedBy, defaultModelsOwnedBy),
	}

	if len(src.Matches) > 128 {
		b.d.errorf(b.d.line(&src.Matches), "%s.matches: at most 128 are allowed", path)
	}
	for j := range src.Matches {
		m, mok := b.match(path+".matches["+itoa(j)+"]", &src.Matches[j])
		ok = ok && mok
		rule.Matches = append(rule.Matches, m)
	}

	if len(src.BackendRefs) == 0 {
		b.d.errorf(b.d.line(src), "%s.backendRefs: the rule has no backend to send requests to", path)
		ok = false
	}
	if len(src.BackendRefs) > 128 {
		b.d.errorf(b.d.line(&src.BackendRefs), "%s.backendRefs: at most 128 are allowed", path)
	}
	for j := range src.BackendRefs {
		if ref := b.backendRef(namespaceOf(r.Metadata), path+".backendRefs["+itoa(j)+"]", &src.BackendRefs[j]); ref != nil {
			rule.Backends = append(rule.Backends, ref)
		} else {
			ok = false
		}
	}

	if t := src.Timeouts; t != nil {
		var req, backend time.Duration
		reqOK, backendOK := false, false
		if t.Request != "" {
			req, reqOK = b.duration(b.d.line(&t.Request), path+".timeouts.request", t.Request)
			if reqOK {
				rule.Timeout = req // 0s: no timeout
			}
		}
		if t.BackendRequest != "" {
			backend, backendOK = b.duration(b.d.line(&t.BackendRequest), path+".timeouts.backendRequest", t.BackendRequest)
		}
		if reqOK && backendOK && req != 0 && backend > req {
			b.d.errorf(b.d.line(t), "%s.timeouts: backendRequest timeout cannot be longer than request timeout", path)
			ok = false
		}
		if backendOK && backend != 0 {
			// backendRequest bounds each attempt; aigw's Timeout is per attempt.
			if rule.Timeout == 0 || backend < rule.Timeout {
				rule.Timeout = backend
			}
		}
	}
	if src.StreamIdleTimeout != "" {
		rule.StreamIdleTimeout, _ = b.duration(b.d.line(&src.StreamIdleTimeout), path+".streamIdleTimeout", src.StreamIdleTimeout)
	}
	if src.ModelsCreatedAt != "" {
		t, err := time.Parse(time.RFC3339, src.ModelsCreatedAt)
		if err != nil {
			b.d.errorf(b.d.line(&src.ModelsCreatedAt), "%s.modelsCreatedAt: %q is not an RFC 3339 date-time (e.g. 2024-05-21T10:00:00Z)", path, src.ModelsCreatedAt)
			ok = false
		}
		rule.ModelsCreatedAt = t.UTC()
	} else if r.Metadata.CreationTimestamp != nil {
		// The reference defaults to the route's creation time.
		if t, err := time.Parse(time.RFC3339, r.Metadata.CreationTimestamp.Value); err == nil {
			rule.ModelsCreatedAt = t.UTC()
		}
	}
	if !ok {
		return nil
	}
	return rule
}

var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// match compiles one match's header conditions. A regular expression must match the whole
// value, as Envoy's safe_regex (RE2) does.
func (b *builder) match(path string, src *routeMatch) (Match, bool) {
	var m Match
	ok := true
	if len(src.Headers) > 16 {
		b.d.errorf(b.d.line(&src.Headers), "%s.headers: at most 16 are allowed", path)
	}
	seen := map[string]bool{}
	for k := range src.Headers {
		h := &src.Headers[k]
		p := path + ".headers[" + itoa(k) + "]"
		if !b.checkHeaderName(b.d.line(&h.Name), p+".name", h.Name) {
			ok = false
			continue
		}
		name := strings.ToLower(h.Name)
		if seen[name] {
			b.d.errorf(b.d.line(h), "%s.name: header %q is matched twice in one match", p, h.Name)
			ok = false
			continue
		}
		seen[name] = true
		hm := HeaderMatch{Name: name}
		switch h.Type {
		case "", "Exact":
			hm.Exact = h.Value
		case "RegularExpression":
			_, err := regexp.Compile(h.Value)
			re, _ := regexp.Compile(`^(?:` + h.Value + `)$`)
			if err != nil {
				b.d.errorf(b.d.line(&h.Value), "%s.value: invalid regular expression: %s", p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				ok = false
				continue
			}
			hm.Regex = re
		}
		m.Headers = append(m.Headers, hm)
	}
	return m, ok
}

// backendRef resolves one rule backendRef to a built backend.
func (b *builder) backendRef(ns, path string, src *routeBackendRef) *BackendRef {
	if src.Group != nil || src.Kind != nil {
		if src.Group == nil || src.Kind == nil {
			b.d.errorf(b.d.line(src), "%s: group and kind must be specified together", path)
			return nil
		}
		if *src.Group == "inference.networking.k8s.io" && *src.Kind == "InferencePool" {
			b.d.errorf(b.d.line(src), "%s: InferencePool backends are not supported by aigw; reference an AIServiceBackend", path)
		} else {
			b.d.errorf(b.d.line(src), "%s: only InferencePool from inference.networking.k8s.io group is supported", path)
		}
		return nil
	}
	k := refKey(ns, src.Namespace, src.Name)
	be, ok := b.built[k]
	if !ok {
		if _, exists := b.aiBackendIdx[k]; !exists {
			b.d.errorf(b.d.line(&src.Name), "%s: AIServiceBackend %q is not defined in this file", path, src.Name)
		}
		return nil // it exists but has errors of its own
	}
	ref := &BackendRef{Backend: be, Weight: 1, ModelNameOverride: src.ModelNameOverride}
	if src.ModelNameOverride != "" {
		if err := be.Schema.Name.CheckModel(src.ModelNameOverride); err != nil {
			b.d.errorf(b.d.line(&src.ModelNameOverride), "%s.modelNameOverride: %v", path, err)
			return nil
		}
	}
	if src.Weight != nil {
		if *src.Weight < 0 {
			b.d.errorf(b.d.line(&src.Weight), "%s.weight: must be 0 or more", path)
			return nil
		}
		ref.Weight = int(*src.Weight)
	}
	if src.Priority != nil {
		if *src.Priority < 0 {
			b.d.errorf(b.d.line(&src.Priority), "%s.priority: must be 0 or more", path)
			return nil
		}
		ref.Priority = int(*src.Priority)
	}
	ref.HeaderMutation = b.headerMutation(path+".headerMutation", src.HeaderMutation)
	ref.BodyMutation = b.bodyMutation(path+".bodyMutation", src.BodyMutation)
	return ref
}

// trafficPolicies applies BackendTrafficPolicy retry and timeout to the rules of the routes they
// target: an AIGatewayRoute's generated HTTPRoute has the route's name, and a policy on the
// Gateway applies to every route. A policy on a route wins over one on the Gateway, as in Envoy
// Gateway; a rule's own timeouts.request wins over the policy's requestTimeout.
func (b *builder) trafficPolicies() {
	type applied struct {
		retry   *RetryPolicy
		timeout time.Duration
	}
	var gateway *applied
	perRoute := map[*Route]*applied{}
	for _, pol := range b.trafficPols {
		b.about("BackendTrafficPolicy", pol.Metadata)
		ns := namespaceOf(pol.Metadata)
		for _, k := range slices.Sorted(mapKeys(pol.Spec.Rest)) {
			if k == "rateLimit" {
				continue // crd_ratelimit.go
			}
			b.d.warnf(pol.Spec.Rest[k].Line, "spec.%s: %s", k, notHonoured)
		}
		if pol.Spec.TargetSelectors != nil {
			b.d.warnf(b.d.line(&pol.Spec.TargetSelectors), "spec.targetSelectors: %s; use targetRefs", notHonoured)
		}
		a := &applied{}
		a.retry = b.retry(pol.Spec.Retry)
		if t := pol.Spec.Timeout; t != nil {
			if t.HTTP != nil && t.HTTP.RequestTimeout != "" {
				a.timeout, _ = b.duration(b.d.line(&t.HTTP.RequestTimeout), "spec.timeout.http.requestTimeout", t.HTTP.RequestTimeout)
			}
			if t.TCP != nil && t.TCP.ConnectTimeout != "" {
				b.d.warnf(b.d.line(&t.TCP.ConnectTimeout), "spec.timeout.tcp.connectTimeout: %s", notHonoured)
			}
		}
		var refs []*policyTargetRef
		if pol.Spec.TargetRef != nil {
			refs = append(refs, pol.Spec.TargetRef)
		}
		for i := range pol.Spec.TargetRefs {
			refs = append(refs, &pol.Spec.TargetRefs[i])
		}
		if len(refs) == 0 {
			b.d.warnf(b.d.line(pol), "spec.targetRefs: the policy targets nothing")
		}
		for i, t := range refs {
			line := b.d.line(t)
			path := "spec.targetRefs[" + itoa(i) + "]"
			if pol.Spec.TargetRef != nil {
				path = "spec.targetRef"
				if i > 0 {
					path = "spec.targetRefs[" + itoa(i-1) + "]"
				}
			}
			if t.Group != groupGatewayAPI || (t.Kind != "HTTPRoute" && t.Kind != "Gateway") {
				b.d.warnf(line, "%s: %s/%s %q is not a target aigw resolves (HTTPRoute named after an AIGatewayRoute, or the Gateway)", path, t.Group, t.Kind, t.Name)
				continue
			}
			if t.SectionName != "" {
				b.d.warnf(line, "%s.sectionName: ignored; the policy applies to the whole %s", path, t.Kind)
			}
			if t.Kind == "Gateway" {
				if b.gw == nil || refKey(ns, "", t.Name) != key(b.gw.Metadata) {
					b.d.errorf(line, "%s: Gateway %q is not defined in this file", path, t.Name)
					continue
				}
				gateway = a
				continue
			}
			route, ok := b.routeByKey[refKey(ns, "", t.Name)]
			if !ok {
				b.d.errorf(line, "%s: HTTPRoute %q: no AIGatewayRoute of that name is defined in this file", path, t.Name)
				continue
			}
			if _, dup := perRoute[route]; dup {
				b.d.errorf(line, "%s: HTTPRoute %q is already targeted by another BackendTrafficPolicy", path, t.Name)
				continue
			}
			perRoute[route] = a
		}
	}
	for _, route := range b.model.Routes {
		a := perRoute[route]
		if a == nil {
			a = gateway
		}
		if a == nil {
			continue
		}
		r := b.routeSource(route)
		for _, rule := range route.Rules {
			rule.Retry = a.retry
			if a.timeout != 0 && !ruleSetsRequestTimeout(r, rule) {
				rule.Timeout = a.timeout
			}
		}
	}
}

func (b *builder) routeSource(route *Route) *object[aiGatewayRouteSpec] {
	for _, r := range b.routes {
		if b.routeByKey[key(r.Metadata)] == route {
			return r
		}
	}
	return nil
}

// ruleSetsRequestTimeout reports whether the source rule of rule has its own timeouts.
func ruleSetsRequestTimeout(r *object[aiGatewayRouteSpec], rule *Rule) bool {
	for i, src := range r.Spec.Rules {
		id := itoa(i)
		if src.Name != "" {
			id = src.Name
		}
		if strings.HasSuffix(rule.Name, "/"+id) {
			return src.Timeouts != nil && (src.Timeouts.Request != "" || src.Timeouts.BackendRequest != "")
		}
	}
	return false
}

// retryTriggers maps Envoy Gateway retry triggers to what aigw's RetryPolicy retries on.
var retryTriggers = map[string]func(*RetryPolicy){
	"5xx":                    func(p *RetryPolicy) { p.Statuses = append(p.Statuses, statusRange(500, 599)...) },
	"gateway-error":          func(p *RetryPolicy) { p.Statuses = append(p.Statuses, 502, 503, 504) },
	"retriable-4xx":          func(p *RetryPolicy) { p.Statuses = append(p.Statuses, 409) },
	"unavailable":            func(p *RetryPolicy) { p.Statuses = append(p.Statuses, 503) },
	"resource-exhausted":     func(p *RetryPolicy) { p.Statuses = append(p.Statuses, 429) },
	"reset":                  func(p *RetryPolicy) { p.ConnectFailure = true },
	"reset-before-request":   func(p *RetryPolicy) { p.ConnectFailure = true },
	"connect-failure":        func(p *RetryPolicy) { p.ConnectFailure = true },
	"refused-stream":         func(p *RetryPolicy) { p.ConnectFailure = true },
	"retriable-status-codes": func(*RetryPolicy) {}, // the listed httpStatusCodes
	"cancelled":              func(*RetryPolicy) {}, // gRPC statuses: nothing to retry on HTTP
	"deadline-exceeded":      func(*RetryPolicy) {},
	"internal":               func(*RetryPolicy) {},
}

func statusRange(lo, hi int) []int {
	out := make([]int, 0, hi-lo+1)
	for s := lo; s <= hi; s++ {
		out = append(out, s)
	}
	return out
}

// retry compiles a BackendTrafficPolicy retry with Envoy Gateway's defaults: 2 retries, on
// connect failures, refused streams and 503, backing off from 25ms up to 250ms.
func (b *builder) retry(r *btpRetry) *RetryPolicy {
	if r == nil {
		return nil
	}
	p := &RetryPolicy{NumRetries: 2, BaseBackoff: 25 * time.Millisecond}
	if r.NumRetries != nil {
		if *r.NumRetries < 0 {
			b.d.errorf(b.d.line(&r.NumRetries), "spec.retry.numRetries: must be 0 or more")
		}
		p.NumRetries = int(*r.NumRetries)
	}
	if r.NumAttemptsPerPriority != nil {
		b.d.warnf(b.d.line(&r.NumAttemptsPerPriority), "spec.retry.numAttemptsPerPriority: %s", notHonoured)
	}
	if r.RetryOn == nil {
		p.ConnectFailure = true
		p.Statuses = []int{503}
	} else {
		for i, t := range r.RetryOn.Triggers {
			apply, ok := retryTriggers[t]
			if !ok {
				b.d.errorf(b.d.line(&r.RetryOn.Triggers[i]), "spec.retry.retryOn.triggers[%d]: unsupported value %q%s", i, t, suggestValue(t, slices.Sorted(mapKeys(retryTriggers))))
				continue
			}
			apply(p)
		}
		for i, s := range r.RetryOn.HTTPStatusCodes {
			if s < 100 || s > 599 {
				b.d.errorf(b.d.line(&r.RetryOn.HTTPStatusCodes[i]), "spec.retry.retryOn.httpStatusCodes[%d]: %d is not an HTTP status", i, s)
				continue
			}
			p.Statuses = append(p.Statuses, int(s))
		}
		slices.Sort(p.Statuses)
		p.Statuses = slices.Compact(p.Statuses)
	}
	if pr := r.PerRetry; pr != nil {
		if pr.Timeout != "" {
			p.PerTryTimeout, _ = b.duration(b.d.line(&pr.Timeout), "spec.retry.perRetry.timeout", pr.Timeout)
		}
		if bo := pr.BackOff; bo != nil {
			if bo.BaseInterval != "" {
				p.BaseBackoff, _ = b.duration(b.d.line(&bo.BaseInterval), "spec.retry.perRetry.backOff.baseInterval", bo.BaseInterval)
			}
			if bo.MaxInterval != "" {
				p.MaxBackoff, _ = b.duration(b.d.line(&bo.MaxInterval), "spec.retry.perRetry.backOff.maxInterval", bo.MaxInterval)
			}
		}
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 10 * p.BaseBackoff
	}
	if p.MaxBackoff < p.BaseBackoff {
		b.d.errorf(b.d.line(r), "spec.retry.perRetry.backOff: maxInterval is shorter than baseInterval")
	}
	return p
}

// jsonValid reports whether s is one JSON value.
func jsonValid(s string) bool { return json.Valid([]byte(s)) }
