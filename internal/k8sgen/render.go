// Package k8sgen renders a config.Model as Kubernetes manifests for Envoy AI Gateway: typed
// objects (the CRD types the loader reads, core/v1 from k8s.io/api), stable names and order, and
// no secret value unless asked for.
package k8sgen

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aigw/aigw/internal/config"
)

// API versions rendered: the newest each CRD serves.
const (
	aigatewayV1beta1 = config.GroupAIGateway + "/v1beta1"
	egV1alpha1       = config.GroupEG + "/v1alpha1"
	gatewayAPIV1     = config.GroupGatewayAPI + "/v1"
)

// DefaultGatewayClass is the GatewayClass Envoy Gateway's quickstart installs.
const DefaultGatewayClass = "eg"

// egController is Envoy Gateway's controller name, for a rendered GatewayClass.
const egController = "gateway.envoyproxy.io/gatewayclass-controller"

// defaultPort is aigw's listener port when the Model leaves it to the command line.
const defaultPort = 1975

// Placeholder is the value of a rendered Secret key unless real values are asked for.
const Placeholder = "REPLACE-ME"

// SourceAnnotation on a rendered Secret says where aigw took the value from.
const SourceAnnotation = "aigw.run/secret-source"

const managedByLabel = "app.kubernetes.io/managed-by"

// Options shape the rendering.
type Options struct {
	// Namespace of every namespaced object; "" leaves it to kubectl's current namespace.
	Namespace string
	// GatewayClass the Gateway uses; "" is DefaultGatewayClass.
	GatewayClass string
	// RenderGatewayClass adds a GatewayClass of that name for Envoy Gateway's controller.
	RenderGatewayClass bool
	// IncludeSecrets writes the real credential values instead of Placeholder.
	IncludeSecrets bool
	// SecretEnv names the environment variable a backend's key came from ("" when unknown); it
	// becomes the Secret's source annotation and aigw's env substitution annotation.
	SecretEnv func(b *config.Backend) string
}

// Object is one rendered object.
type Object struct {
	Kind, Name string
	// Value is the typed object; nil for a comment alone, where an object could not be rendered.
	Value any
	// Comment is written above the object in YAML (lines without "# ").
	Comment string
}

// SecretInfo describes a rendered Secret, for the kubectl hint a user needs.
type SecretInfo struct {
	Name, Namespace, Key string
	// Env is the environment variable that holds the value; "" when unknown.
	Env string
	// File says the value is a file's content (a credentials file, a service account key); Path
	// is that file when known.
	File bool
	Path string
	// MoreKeys are further keys of the same Secret (client IDs of an MCPRoute's apiKeyAuth).
	MoreKeys []string
	// Empty says the Secret was written without its keys rather than with placeholders.
	Empty bool
}

// Result is a rendering.
type Result struct {
	Objects  []Object
	Secrets  []SecretInfo
	Warnings []string
}

// kindOrder is the order of kinds in the output: what others refer to comes after its users,
// as kubectl and kustomize do not care, and a reader meets the Gateway first.
var kindOrder = []string{"GatewayClass", "Gateway", "GatewayConfig", "AIGatewayRoute", "BackendTrafficPolicy",
	"MCPRoute", "AIServiceBackend", "QuotaPolicy", "Backend", "BackendTLSPolicy", "BackendSecurityPolicy", "Secret", "ConfigMap"}

type renderer struct {
	m       *config.Model
	opts    Options
	res     Result
	byKind  map[string][]Object
	names   map[*config.Backend]string
	gateway string
	// backendNames and secretNames hand out the names of Envoy Gateway Backends and Secrets,
	// which LLM backends and MCP servers share.
	backendNames, secretNames *namer
	// mcpBackends maps an MCP server (name and endpoint) to its rendered Backend, so that routes
	// reaching the same server share one.
	mcpBackends map[string]string
	// routeNames are the rendered AIGatewayRoute (and HTTPRoute) names; routePolicies marks the
	// routes with a BackendTrafficPolicy of their own.
	routeNames    map[*config.Route]string
	routePolicies map[*config.Route]bool
	// globalLimits says a global rate limit was rendered (it needs Redis in the cluster).
	globalLimits bool
}

// Render turns m into Kubernetes objects.
func Render(m *config.Model, opts Options) (*Result, error) {
	if opts.GatewayClass == "" {
		opts.GatewayClass = DefaultGatewayClass
	}
	if opts.Namespace != "" && (dnsName(opts.Namespace, maxNameLen) != opts.Namespace || strings.Contains(opts.Namespace, ".")) {
		return nil, fmt.Errorf("namespace %q is not a DNS-1123 label (lower case letters, digits and '-')", opts.Namespace)
	}
	r := &renderer{m: m, opts: opts, byKind: map[string][]Object{}, names: map[*config.Backend]string{}, gateway: "aigw",
		backendNames: newNamer(), secretNames: newNamer(), mcpBackends: map[string]string{},
		routeNames: map[*config.Route]string{}, routePolicies: map[*config.Route]bool{}}
	for _, b := range m.Backends {
		// "-api-key" and "-ca" are appended for the Secret and ConfigMap.
		r.names[b] = r.backendNames.name(b.Name, len("-api-key"))
	}
	r.gatewayObjects()
	r.routes()
	for _, b := range m.Backends {
		r.backend(b)
	}
	r.quotaPolicies()
	r.mcpRoutes()
	for _, k := range kindOrder {
		r.res.Objects = append(r.res.Objects, r.byKind[k]...)
	}
	return &r.res, nil
}

func (r *renderer) add(kind, name string, v any) {
	r.byKind[kind] = append(r.byKind[kind], Object{Kind: kind, Name: name, Value: v})
}

// addComment puts a comment where an object of kind would have been.
func (r *renderer) addComment(kind, name, text string) {
	r.byKind[kind] = append(r.byKind[kind], Object{Kind: kind, Name: name, Comment: text})
}

func (r *renderer) warnf(format string, args ...any) {
	r.res.Warnings = append(r.res.Warnings, fmt.Sprintf(format, args...))
}

func (r *renderer) meta(name string) config.ObjectMeta {
	return config.ObjectMeta{Name: name, Namespace: r.opts.Namespace, Labels: map[string]string{managedByLabel: "aigw"}}
}

func crd[S any](apiVersion, kind string, meta config.ObjectMeta, spec S) *config.CRDObject[S] {
	return &config.CRDObject[S]{APIVersion: apiVersion, Kind: kind, Metadata: meta, Spec: spec}
}

func ptr[T any](v T) *T { return &v }

func (r *renderer) gatewayObjects() {
	if r.opts.RenderGatewayClass {
		// GatewayClass is cluster scoped: no namespace.
		meta := config.ObjectMeta{Name: r.opts.GatewayClass, Labels: map[string]string{managedByLabel: "aigw"}}
		r.add("GatewayClass", r.opts.GatewayClass, crd(gatewayAPIV1, "GatewayClass", meta, config.GatewayClassSpec{ControllerName: egController}))
	}
	port := r.m.Port
	if port == 0 {
		port = defaultPort
	}
	meta := r.meta(r.gateway)
	if len(r.m.GlobalCosts) > 0 {
		meta.Annotations = map[string]string{config.GatewayConfigAnnotation: r.gateway}
		r.add("GatewayConfig", r.gateway, crd(aigatewayV1beta1, "GatewayConfig", r.meta(r.gateway),
			config.GatewayConfigSpec{GlobalLLMRequestCosts: costs(r.m.GlobalCosts)}))
	}
	// Route hostnames are on the AIGatewayRoutes; the listener takes every host.
	r.add("Gateway", r.gateway, crd(gatewayAPIV1, "Gateway", meta, config.GatewaySpec{
		GatewayClassName: r.opts.GatewayClass,
		Listeners:        []config.GatewayListener{{Name: "http", Protocol: "HTTP", Port: int32(port)}},
	}))
	if port < 1024 {
		r.warnf("Gateway listener port %d: Envoy Gateway exposes it through a Service; inside the cluster the proxy listens on an unprivileged port", port)
	}
}

func costs(cs []config.Cost) []config.LLMRequestCost {
	out := make([]config.LLMRequestCost, 0, len(cs))
	for _, c := range cs {
		out = append(out, config.LLMRequestCost{MetadataKey: c.MetadataKey, Type: string(c.Type), CEL: c.CEL})
	}
	return out
}

func (r *renderer) routes() {
	routeNames := newNamer()
	limits := r.planLimits()
	for _, rt := range r.m.Routes {
		name := routeNames.name(rt.Name, 0)
		r.routeNames[rt] = name
		spec := config.AIGatewayRouteSpec{
			// The parent is named explicitly: an empty group would mean the core group.
			ParentRefs:      []config.ParentRef{{Group: config.GroupGatewayAPI, Kind: "Gateway", Name: r.gateway}},
			Hostnames:       rt.Hostnames,
			LLMRequestCosts: costs(rt.Costs),
		}
		ruleNames := newNamer()
		var retry *config.RetryPolicy
		for i, rule := range rt.Rules {
			id := rule.Name[strings.LastIndex(rule.Name, "/")+1:]
			rr := config.RouteRule{
				Name: ruleNames.name(id, 0),
				// The rule's timeout is written even when it is the default, so the cluster does
				// not fall back to Envoy Gateway's own.
				Timeouts:          &config.RouteTimeouts{Request: duration(rule.Timeout)},
				StreamIdleTimeout: durationOrEmpty(rule.StreamIdleTimeout),
			}
			if rule.ModelsOwnedBy != "" && rule.ModelsOwnedBy != config.DefaultModelsOwnedBy {
				rr.ModelsOwnedBy = ptr(rule.ModelsOwnedBy)
			}
			if !rule.ModelsCreatedAt.IsZero() {
				rr.ModelsCreatedAt = rule.ModelsCreatedAt.UTC().Format(time.RFC3339)
			}
			for _, mt := range rule.Matches {
				var rm config.RouteMatch
				for _, h := range mt.Headers {
					if h.Regex != nil {
						rm.Headers = append(rm.Headers, config.CRDHeaderMatch{Type: "RegularExpression", Name: h.Name, Value: unanchor(h.Regex.String())})
					} else {
						rm.Headers = append(rm.Headers, config.CRDHeaderMatch{Type: "Exact", Name: h.Name, Value: h.Exact})
					}
				}
				rr.Matches = append(rr.Matches, rm)
			}
			for _, ref := range rule.Backends {
				rr.BackendRefs = append(rr.BackendRefs, config.RouteBackendRef{
					Name:              r.names[ref.Backend],
					Weight:            ptr(int32(ref.Weight)),
					Priority:          ptr(int32(ref.Priority)),
					ModelNameOverride: ref.ModelNameOverride,
					HeaderMutation:    headerMutation(nil, ref.HeaderMutation),
					BodyMutation:      bodyMutation(ref.BodyMutation),
				})
			}
			spec.Rules = append(spec.Rules, rr)
			if i == 0 {
				retry = rule.Retry
			} else if !reflect.DeepEqual(retry, rule.Retry) {
				r.warnf("AIGatewayRoute %q: its rules retry differently; a BackendTrafficPolicy applies to the whole route, so the first rule's retry policy is rendered", name)
			}
		}
		r.add("AIGatewayRoute", name, crd(aigatewayV1beta1, "AIGatewayRoute", r.meta(name), spec))
		rl := r.rateLimitSpec("HTTPRoute "+name+"'s BackendTrafficPolicy", limits.perRoute[rt])
		if retry != nil || rl != nil {
			// An AIGatewayRoute generates an HTTPRoute of the same name, which the policy targets;
			// it holds the route's retries and rate limits, as a second policy on the route would
			// conflict.
			btp := config.BackendTrafficPolicySpec{TargetRefs: []config.PolicyTargetRef{{Group: config.GroupGatewayAPI, Kind: "HTTPRoute", Name: name}}}
			if retry != nil {
				btp.Retry = btpRetry(retry)
			}
			r.add("BackendTrafficPolicy", name, trafficPolicy{crd(egV1alpha1, "BackendTrafficPolicy", r.meta(name), btp), rl})
			r.routePolicies[rt] = true
		}
	}
	// Route policies are named after their routes; the others must not take those names.
	policyNames := newNamer()
	for _, n := range r.routeNames {
		policyNames.used[n] = true
	}
	r.gatewayLimits(limits, policyNames)
}

// unanchor undoes the loader's whole-value anchoring "^(?:x)$", so that a re-load gives the
// same expression.
func unanchor(re string) string {
	if strings.HasPrefix(re, "^(?:") && strings.HasSuffix(re, ")$") {
		return re[len("^(?:") : len(re)-len(")$")]
	}
	return re
}

func btpRetry(p *config.RetryPolicy) *config.BTPRetry {
	on := &config.BTPRetryOn{}
	if p.ConnectFailure {
		on.Triggers = append(on.Triggers, "connect-failure")
	}
	if len(p.Statuses) > 0 {
		on.Triggers = append(on.Triggers, "retriable-status-codes")
		for _, s := range p.Statuses {
			on.HTTPStatusCodes = append(on.HTTPStatusCodes, int32(s))
		}
	}
	pr := &config.BTPPerRetry{
		Timeout: durationOrEmpty(p.PerTryTimeout),
		BackOff: &config.BTPBackOff{BaseInterval: duration(p.BaseBackoff), MaxInterval: duration(p.MaxBackoff)},
	}
	return &config.BTPRetry{NumRetries: ptr(int32(p.NumRetries)), RetryOn: on, PerRetry: pr}
}

// duration writes d in the Gateway API duration format ("1h2m3s4ms"); below a millisecond is
// dropped, as the format cannot say it.
func duration(d time.Duration) string {
	if d < time.Millisecond {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

func durationOrEmpty(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return duration(d)
}

// headerMutation merges the headers a backend sets on every request (from the environment's
// OPENAI_ORG_ID, ...) with its mutation; the CRD has one place for both.
func headerMutation(set []config.Header, m *config.HeaderMutation) *config.CRDHeaderMutation {
	if len(set) == 0 && m == nil {
		return nil
	}
	out := &config.CRDHeaderMutation{}
	for _, h := range set {
		out.Set = append(out.Set, config.HTTPHeader{Name: h.Name, Value: h.Value})
	}
	if m != nil {
		for _, h := range m.Set {
			out.Set = append(out.Set, config.HTTPHeader{Name: h.Name, Value: h.Value})
		}
		out.Remove = slices.Clone(m.Remove)
	}
	return out
}

func bodyMutation(m *config.BodyMutation) *config.CRDBodyMutation {
	if m == nil {
		return nil
	}
	out := &config.CRDBodyMutation{Remove: slices.Clone(m.Remove)}
	for _, f := range m.Set {
		out.Set = append(out.Set, config.CRDBodyField{Path: f.Path, Value: f.Value})
	}
	return out
}

func (r *renderer) backend(b *config.Backend) {
	name := r.names[b]
	if len(b.Models) > 0 {
		r.warnf("backend %q: its model list (%d models, for /v1/models) has no place in the CRDs and is not rendered", b.Name, len(b.Models))
	}
	schema := config.APISchema{Name: string(b.Schema.Name)}
	switch {
	case b.Schema.Prefix != "":
		schema.Prefix = ptr(b.Schema.Prefix)
	case b.Schema.Name.DefaultPrefix() != "" || b.Schema.Name == config.SchemaOpenAI || b.Schema.Name == config.SchemaAnthropic:
		// An empty prefix would be read as the default "/v1"; "/" says "no prefix".
		schema.Prefix = ptr("/")
	}
	if b.Schema.Version != "" {
		schema.Version = ptr(b.Schema.Version)
	}
	meta := r.meta(name)
	if b.MaxOutputTokens > 0 || b.ChatCompletionsOnly {
		meta.Annotations = map[string]string{}
		if b.MaxOutputTokens > 0 {
			meta.Annotations[config.MaxOutputTokensAnnotation] = strconv.FormatInt(b.MaxOutputTokens, 10)
		}
		if b.ChatCompletionsOnly {
			meta.Annotations[config.ChatCompletionsOnlyAnnotation] = "true"
		}
		r.warnf("backend %q: the aigw.run/ annotations (max output tokens, chat-completions-only) are aigw's own; Envoy AI Gateway ignores them", b.Name)
	}
	r.add("AIServiceBackend", name, crd(aigatewayV1beta1, "AIServiceBackend", meta, config.AIServiceBackendSpec{
		Schema:         schema,
		BackendRef:     config.BackendObjRef{Group: ptr(config.GroupEG), Kind: ptr("Backend"), Name: name},
		HeaderMutation: headerMutation(b.Headers, b.HeaderMutation),
		BodyMutation:   bodyMutation(b.BodyMutation),
	}))
	r.egBackend(name, b)
	if b.Auth != nil {
		r.auth(name, b)
	}
}

// egBackend renders the endpoint. TLS: a BackendTLSPolicy verifies an https endpoint by host
// name (system roots or the configured CA); what the policy cannot say (an IP address without a
// server name, skipping verification) goes on the Backend's own spec.tls.
func (r *renderer) egBackend(name string, b *config.Backend) {
	host, port := b.Endpoint.Hostname(), b.Endpoint.Port()
	secure := b.Endpoint.Scheme == "https"
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	p, _ := strconv.Atoi(port)
	ep := config.EGEndpoint{}
	isIP := net.ParseIP(host) != nil
	if isIP {
		ep.IP = &config.EGIP{Address: host, Port: int32(p)}
	} else {
		ep.FQDN = &config.EGFQDN{Hostname: host, Port: int32(p)}
	}
	spec := config.EGBackendSpec{Endpoints: []config.EGEndpoint{ep}}
	t := b.TLS
	if t == nil {
		t = &config.TLS{}
	}
	var caRefs []config.LocalObjectRef
	if secure && len(t.CACertPEM) > 0 {
		// The core group is "" and must be written: group is required.
		caRefs = []config.LocalObjectRef{{Group: "", Kind: "ConfigMap", Name: name + "-ca"}}
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: name + "-ca", Namespace: r.opts.Namespace, Labels: map[string]string{managedByLabel: "aigw"}},
			Data:       map[string]string{"ca.crt": string(t.CACertPEM)},
		}
		r.add("ConfigMap", name+"-ca", cm)
	}
	switch {
	case !secure:
	case t.InsecureSkipVerify:
		spec.TLS = &config.EGTLS{InsecureSkipVerify: ptr(true), SNI: t.ServerName}
		r.warnf("backend %q: its certificate is not verified (insecureSkipVerify), in the cluster too", b.Name)
	case isIP && t.ServerName == "":
		spec.TLS = &config.EGTLS{CACertificateRefs: caRefs}
		if len(caRefs) == 0 {
			spec.TLS.WellKnownCACertificates = "System"
		}
	default:
		v := config.BackendTLSPolicySpec{
			TargetRefs: []config.PolicyTargetRef{{Group: config.GroupEG, Kind: "Backend", Name: name}},
		}
		v.Validation.Hostname = host
		if t.ServerName != "" {
			v.Validation.Hostname = t.ServerName
		}
		v.Validation.CACertificateRefs = caRefs
		if len(caRefs) == 0 {
			v.Validation.WellKnownCACertificates = "System"
		}
		r.add("BackendTLSPolicy", name, crd(gatewayAPIV1, "BackendTLSPolicy", r.meta(name), v))
	}
	r.add("Backend", name, crd(egV1alpha1, "Backend", r.meta(name), spec))
}

// auth renders a BackendSecurityPolicy and the Secret it reads.
func (r *renderer) auth(name string, b *config.Backend) {
	a := b.Auth
	secretName := r.secretNames.name(name+"-api-key", 0)
	ref := &config.SecretKeyRef{SecretRef: config.SecretObjRef{Name: secretName}}
	spec := config.BackendSecurityPolicySpec{
		TargetRefs: []config.CRDTargetRef{{Group: config.GroupAIGateway, Kind: "AIServiceBackend", Name: name}},
		Type:       string(a.Type),
	}
	switch a.Type {
	case config.AuthAPIKey:
		spec.APIKey = ref
		if b.GeminiAPI() {
			r.warnf("backend %q is the Gemini API (GCPVertexAI with an APIKey policy), which Envoy AI Gateway does not serve: it would send Vertex AI requests with the key as a bearer token; in the cluster use the Gemini API's OpenAI-compatible endpoint (schema OpenAI, configs/gemini.yaml) or GCPCredentials for Vertex AI", b.Name)
		}
	case config.AuthAnthropicAPIKey:
		spec.AnthropicAPIKey = ref
	case config.AuthAzureAPIKey:
		spec.AzureAPIKey = ref
	default:
		oidc, ok := r.cloudAuth(name, b, &spec)
		if !ok {
			return
		}
		r.override(&spec, a)
		meta := r.meta(name)
		if az := a.Azure; az != nil && az.AuthorityHost != "" {
			meta.Annotations = map[string]string{config.AzureAuthorityHostAnnotation: az.AuthorityHost}
		}
		pol := crd(aigatewayV1beta1, "BackendSecurityPolicy", meta, spec)
		if oidc != nil {
			r.add("BackendSecurityPolicy", name, awsPolicy{pol, oidc})
		} else {
			r.add("BackendSecurityPolicy", name, pol)
		}
		return
	}
	r.override(&spec, a)
	r.add("BackendSecurityPolicy", name, crd(aigatewayV1beta1, "BackendSecurityPolicy", r.meta(name), spec))

	r.secret(secretName, config.SecretAPIKey, a.Key.Reveal(), r.source(b))
}

// source says where a backend's credential came from: "env:VAR" or "file:PATH" (see
// config.Auth.Source), or "".
func (r *renderer) source(b *config.Backend) string {
	if r.opts.SecretEnv != nil {
		if env := r.opts.SecretEnv(b); env != "" {
			return "env:" + env
		}
	}
	return b.Auth.Source
}

func (r *renderer) override(spec *config.BackendSecurityPolicySpec, a *config.Auth) {
	if o := a.Override; o != nil {
		spec.CredentialOverride = &config.CRDCredentialOverride{FromRequestHeaders: &config.FromRequestHeaders{
			Header: o.Header, FallbackToConfigured: ptr(o.FallbackToConfigured),
		}}
	}
}

// secret renders a Secret holding one key: Placeholder unless real values are asked for. source,
// when known, is where the value came from ("env:VAR" or "file:PATH").
func (r *renderer) secret(name, key, value, source string) *corev1.Secret {
	if !r.opts.IncludeSecrets {
		value = Placeholder
	}
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.opts.Namespace, Labels: map[string]string{managedByLabel: "aigw"}},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{key: value},
	}
	info := SecretInfo{Name: name, Namespace: r.opts.Namespace, Key: key}
	// The source annotation is for people and tools; the substitution annotation makes `aigw run`
	// on this file take the value from the same variable or file (a cluster ignores both).
	if env, ok := strings.CutPrefix(source, "env:"); ok {
		info.Env = env
		s.Annotations = map[string]string{SourceAnnotation: source, config.SubstEnvPrefix + key: env}
	} else if path, ok := strings.CutPrefix(source, "file:"); ok {
		info.Path = path
		s.Annotations = map[string]string{SourceAnnotation: source, config.SubstFilePrefix + key: path}
	}
	r.add("Secret", name, s)
	r.res.Secrets = append(r.res.Secrets, info)
	return s
}
