package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"go.yaml.in/yaml/v3"
)

// This file compiles MCPRoutes (aigateway.envoyproxy.io v1alpha1 and v1beta1; both versions have
// the same schema) to the Model's MCPRoutes: backendRefs to Envoy Gateway Backends (their first
// endpoint, plus the ref's path), tool selectors, backend API keys, and the securityPolicy's
// OAuth (JWT), client API keys and authorization rules. What parses but aigw does not do is a
// warning naming the field; a client authentication aigw cannot enforce (extAuth) is an error,
// so that a route meant to be protected is never served open.

// mcpNotHonoured says that a field is understood but the MCP gateway does not act on it.
const mcpNotHonoured = "accepted but not honoured by aigw's MCP gateway"

// The MCPRoute parts the decoder types (crd_types.go refers to them).

type mcpSecurityPolicy struct {
	OAuth         *mcpOAuth         `json:"oauth"`
	APIKeyAuth    *mcpAPIKeyAuth    `json:"apiKeyAuth"`
	ExtAuth       *yaml.Node        `json:"extAuth"`
	Authorization *mcpAuthorization `json:"authorization"`
}

type mcpAPIKeyAuth struct {
	CredentialRefs        []secretObjRef   `json:"credentialRefs" crd:"required"`
	ExtractFrom           []mcpExtractFrom `json:"extractFrom" crd:"required"`
	ForwardClientIDHeader string           `json:"forwardClientIDHeader"`
	Sanitize              *bool            `json:"sanitize"`
}

type mcpExtractFrom struct {
	Headers []string `json:"headers"`
	Params  []string `json:"params"`
	Cookies []string `json:"cookies"`
}

type mcpOAuth struct {
	Issuer                    string              `json:"issuer" crd:"required"`
	Audiences                 []string            `json:"audiences"`
	JWKS                      *mcpJWKS            `json:"jwks"`
	ProtectedResourceMetadata mcpResourceMetadata `json:"protectedResourceMetadata" crd:"required"`
	ClaimToHeaders            []mcpClaimToHeader  `json:"claimToHeaders"`
}

type mcpJWKS struct {
	RemoteJWKS *mcpRemoteJWKS `json:"remoteJWKS"`
	LocalJWKS  *mcpLocalJWKS  `json:"localJWKS"`
}

type mcpRemoteJWKS struct {
	URI             string     `json:"uri" crd:"required"`
	CacheDuration   *string    `json:"cacheDuration"`
	BackendRef      *yaml.Node `json:"backendRef"`
	BackendRefs     *yaml.Node `json:"backendRefs"`
	BackendSettings *yaml.Node `json:"backendSettings"`
}

type mcpLocalJWKS struct {
	Type     string     `json:"type" crd:"required,enum=Inline|ValueRef"`
	Inline   *string    `json:"inline"`
	ValueRef *objectRef `json:"valueRef"`
}

type mcpResourceMetadata struct {
	Resource                          string   `json:"resource" crd:"required"`
	ResourceName                      string   `json:"resourceName"`
	ResourceDocumentation             string   `json:"resourceDocumentation"`
	ResourcePolicyURI                 string   `json:"resourcePolicyUri"`
	ResourceSigningAlgValuesSupported []string `json:"resourceSigningAlgValuesSupported"`
	ScopesSupported                   []string `json:"scopesSupported"`
}

type mcpClaimToHeader struct {
	Claim  string `json:"claim" crd:"required"`
	Header string `json:"header" crd:"required"`
}

type mcpAuthorization struct {
	DefaultAction string        `json:"defaultAction" crd:"enum=Allow|Deny"`
	Rules         []mcpAuthRule `json:"rules"`
}

type mcpAuthRule struct {
	Action string         `json:"action" crd:"enum=Allow|Deny"`
	CEL    *string        `json:"cel"`
	Source *mcpAuthSource `json:"source"`
	Target *mcpAuthTarget `json:"target"`
}

type mcpAuthSource struct {
	JWT mcpJWTSource `json:"jwt" crd:"required"`
}

type mcpJWTSource struct {
	Claims []mcpJWTClaim `json:"claims"`
	Scopes []string      `json:"scopes"`
}

type mcpJWTClaim struct {
	Name      string   `json:"name" crd:"required"`
	ValueType string   `json:"valueType" crd:"enum=String|StringArray"`
	Values    []string `json:"values" crd:"required"`
}

type mcpAuthTarget struct {
	Tools []mcpToolCall `json:"tools" crd:"required"`
}

type mcpToolCall struct {
	Backend string `json:"backend" crd:"required"`
	Tool    string `json:"tool" crd:"required"`
}

type mcpBackendSelector struct {
	DefaultAction string                   `json:"defaultAction" crd:"enum=Allow|Deny"`
	Rules         []mcpBackendSelectorRule `json:"rules"`
}

type mcpBackendSelectorRule struct {
	Action string  `json:"action" crd:"enum=Allow|Deny"`
	CEL    *string `json:"cel"`
}

type mcpBackendSecurityPolicy struct {
	APIKey *mcpBackendAPIKey `json:"apiKey"`
}

type mcpBackendAPIKey struct {
	SecretRef  *secretObjRef `json:"secretRef"`
	Inline     *string       `json:"inline"`
	Header     *string       `json:"header"`
	QueryParam *string       `json:"queryParam"`
}

// mcpRuleEnv is the CEL environment of MCPRoute authorization and backendSelector rules: one
// dynamic variable, request, with the reference's attributes (request.method, request.headers,
// request.headers_all, request.path, request.host, request.auth.jwt.claims,
// request.auth.jwt.scopes, request.mcp.method, request.mcp.backend, request.mcp.tool,
// request.mcp.params).
var mcpRuleEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("request", cel.DynType), cel.OptionalTypes())
})

// mcpRuleCostLimit bounds the work one rule may do on one request.
const mcpRuleCostLimit = 10000

// CompileMCPRule compiles an authorization rule's CEL expression; it must return a bool.
func CompileMCPRule(expr string) (cel.Program, error) {
	env, err := mcpRuleEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%s (at column %d)", strings.ReplaceAll(e.Message, " (in container '')", ""), e.Location.Column()+1))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("the expression returns %s; it must return a bool", out)
	}
	return env.Program(ast, cel.CostLimit(mcpRuleCostLimit), cel.EvalOptions(cel.OptOptimize))
}

// buildMCPRoutes compiles every MCPRoute into b.model.MCPRoutes.
func (b *builder) buildMCPRoutes() {
	for _, r := range b.mcpRoutes {
		b.about("MCPRoute", r.Metadata)
		if rt, ok := b.mcpRoute(r); ok {
			b.model.MCPRoutes = append(b.model.MCPRoutes, rt)
		}
	}
}

func (b *builder) mcpRoute(r *object[mcpRouteSpec]) (*MCPRoute, bool) {
	ns := namespaceOf(r.Metadata)
	s := &r.Spec
	ok := true
	if len(s.ParentRefs) == 0 {
		b.d.errorf(b.d.line(&s.ParentRefs), "spec.parentRefs: at least one parent is required")
		ok = false
	}
	b.parentRefs(r.Metadata, s.ParentRefs)
	rt := &MCPRoute{Name: b.displayName(r.Metadata), Path: DefaultMCPPath}
	if s.Path != nil {
		if !strings.HasPrefix(*s.Path, "/") || len(*s.Path) > 1024 || strings.ContainsAny(*s.Path, "?#") {
			b.d.errorf(b.d.line(&s.Path), "spec.path: %q must be an absolute path", *s.Path)
			ok = false
		}
		rt.Path = *s.Path
	}
	for i, h := range s.Hostnames {
		b.checkHostname(b.d.line(&s.Hostnames[i]), "spec.hostnames["+itoa(i)+"]", h)
	}
	if len(s.Hostnames) > 0 {
		b.d.warnf(b.d.line(&s.Hostnames), "spec.hostnames: %s: the route is served for every host name", mcpNotHonoured)
	}
	if _, mok := b.match("spec", &routeMatch{Headers: s.Headers}); !mok {
		ok = false
	}
	if len(s.Headers) > 0 {
		b.d.warnf(b.d.line(&s.Headers), "spec.headers: %s: the route is served whatever the headers", mcpNotHonoured)
	}
	if len(s.BackendRefs) == 0 {
		b.d.errorf(b.d.line(&s.BackendRefs), "spec.backendRefs: at least one backend is required")
		ok = false
	}
	names := map[string]bool{}
	for i := range s.BackendRefs {
		be, bok := b.mcpBackend(ns, i, &s.BackendRefs[i], names)
		if !bok {
			ok = false
			continue
		}
		rt.Backends = append(rt.Backends, be)
	}
	auth, aok := b.mcpAuth(ns, s, names)
	rt.Auth = auth
	return rt, ok && aok
}

// mcpBackend compiles one backendRef: the MCP server at the Backend's endpoint and the ref's path.
func (b *builder) mcpBackend(ns string, i int, ref *mcpBackendRef, names map[string]bool) (*MCPBackend, bool) {
	path := "spec.backendRefs[" + itoa(i) + "]"
	ok := true
	if names[ref.Name] {
		b.d.errorf(b.d.line(&ref.Name), "%s.name: all backendRefs names must be unique (%q is used twice)", path, ref.Name)
		ok = false
	}
	names[ref.Name] = true
	if err := ValidateMCPBackendName(ref.Name); err != nil {
		b.d.errorf(b.d.line(&ref.Name), "%s.name: %v (it prefixes the server's tool names)", path, err)
		ok = false
	}
	be := &MCPBackend{Name: ref.Name, Transport: MCPTransportStreamableHTTP}
	if t := ref.ToolSelector; t != nil {
		if !b.toolSelectorOK(path+".toolSelector", t) {
			ok = false
		}
		be.Tools = b.toolSelector(path+".toolSelector", t)
	}
	group, kind := deref(ref.Group, ""), deref(ref.Kind, "Service")
	if group != groupEG || kind != "Backend" {
		b.d.errorf(b.d.line(ref), "%s: aigw resolves MCP backends through Envoy Gateway Backends (group: %s, kind: Backend), not %s", path, groupEG, strings.TrimPrefix(group+"/"+kind, "/"))
		return nil, false
	}
	eg, found := b.egBackendIdx[refKey(ns, ref.Namespace, ref.Name)]
	if !found {
		b.d.errorf(b.d.line(&ref.Name), "%s: Backend %q is not defined in this file", path, ref.Name)
		return nil, false
	}
	u, eok := b.mcpEndpoint(eg, path, ref.Port)
	if !eok {
		return nil, false
	}
	u.Path = "/mcp"
	if ref.Path != nil {
		if !strings.HasPrefix(*ref.Path, "/") || strings.ContainsAny(*ref.Path, "?#") {
			b.d.errorf(b.d.line(&ref.Path), "%s.path: %q must be an absolute path", path, *ref.Path)
			ok = false
		}
		u.Path = *ref.Path
	}
	if sp := ref.SecurityPolicy; sp != nil && sp.APIKey != nil {
		if !b.mcpBackendAPIKey(ns, path+".securityPolicy.apiKey", sp.APIKey, be) {
			ok = false
		}
	}
	be.URL = u.String()
	for j := range ref.ForwardHeaders {
		f := &ref.ForwardHeaders[j]
		p := path + ".forwardHeaders[" + itoa(j) + "]"
		if !b.checkHeaderName(b.d.line(&f.Name), p+".name", f.Name) || (f.BackendHeader != "" && !b.checkHeaderName(b.d.line(&f.BackendHeader), p+".backendHeader", f.BackendHeader)) {
			ok = false
		}
		be.ForwardHeaders = append(be.ForwardHeaders, MCPForwardHeader{Name: f.Name, BackendHeader: f.BackendHeader})
	}
	return be, ok
}

// mcpEndpoint is the base URL of an Envoy Gateway Backend's first endpoint.
func (b *builder) mcpEndpoint(eg *object[egBackendSpec], path string, port *int32) (*url.URL, bool) {
	spec := &eg.Spec
	line := b.d.line(eg)
	if spec.TLS != nil {
		line = b.d.line(&spec.TLS)
	}
	var host string
	var p int32
	switch {
	case spec.Type == "DynamicResolver":
		b.d.errorf(b.d.line(&spec.Type), "%s: Backend %q: type DynamicResolver is not supported by aigw; list the endpoint", path, eg.Metadata.Name)
		return nil, false
	case len(spec.Endpoints) == 0:
		b.d.errorf(line, "%s: Backend %q has no endpoint", path, eg.Metadata.Name)
		return nil, false
	case spec.Endpoints[0].FQDN != nil:
		host, p = strings.TrimSuffix(spec.Endpoints[0].FQDN.Hostname, "."), spec.Endpoints[0].FQDN.Port
	case spec.Endpoints[0].IP != nil:
		host, p = spec.Endpoints[0].IP.Address, spec.Endpoints[0].IP.Port
		if net.ParseIP(host) == nil {
			b.d.errorf(line, "%s: Backend %q: %q is not an IP address", path, eg.Metadata.Name, host)
			return nil, false
		}
	default:
		b.d.errorf(line, "%s: Backend %q: only fqdn and ip endpoints are supported by aigw", path, eg.Metadata.Name)
		return nil, false
	}
	if len(spec.Endpoints) > 1 {
		b.d.warnf(b.d.line(&spec.Endpoints), "%s: Backend %q: only the first endpoint is used", path, eg.Metadata.Name)
	}
	if port != nil && *port != p {
		b.d.warnf(b.d.line(port), "%s.port: %d differs from the Backend's endpoint port; aigw uses the endpoint's (%d)", path, *port, p)
	}
	if p < 1 || p > 65535 {
		b.d.errorf(line, "%s: Backend %q: port %d is not a port", path, eg.Metadata.Name, p)
		return nil, false
	}
	tlsPol := b.tls[key(eg.Metadata)]
	secure := spec.TLS != nil || tlsPol != nil || p == 443
	if t := spec.TLS; (t != nil && (t.SNI != "" || len(t.CACertificateRefs) > 0 || (t.InsecureSkipVerify != nil && *t.InsecureSkipVerify))) || tlsPol != nil {
		b.d.warnf(line, "%s: Backend %q: TLS settings (CA, SNI, insecureSkipVerify, BackendTLSPolicy) are %s: the system roots verify MCP servers", path, eg.Metadata.Name, mcpNotHonoured)
	}
	scheme, def := "http", int32(80)
	if secure {
		scheme, def = "https", 443
	}
	hostport := host
	if p != def || strings.Contains(host, ":") {
		hostport = net.JoinHostPort(host, strconv.Itoa(int(p)))
	}
	return &url.URL{Scheme: scheme, Host: hostport}, true
}

// mcpBackendAPIKey adds a backend's API key to its headers (Authorization: Bearer by default)
// or to its query parameters.
func (b *builder) mcpBackendAPIKey(ns, path string, k *mcpBackendAPIKey, be *MCPBackend) bool {
	var key, source string // source: where the key came from (MCPBackend.KeySources)
	switch {
	case k.SecretRef != nil && k.Inline != nil, k.SecretRef == nil && k.Inline == nil:
		b.d.errorf(b.d.line(k), "%s: exactly one of secretRef or inline must be set", path)
		return false
	case k.Inline != nil:
		key = strings.TrimSpace(*k.Inline)
		if name, ok := b.d.envOf[key]; ok {
			source = "env:" + name
		}
	default:
		ref := k.SecretRef
		if (ref.Group != "" || ref.Kind != "") && (ref.Group != "" || ref.Kind != "Secret") {
			b.d.errorf(b.d.line(ref), "%s.secretRef: must reference a Secret, not %s", path, strings.TrimPrefix(ref.Group+"/"+ref.Kind, "/"))
			return false
		}
		v, ok := b.secretValue(b.d.line(&ref.Name), ns, ref.Namespace, ref.Name, secretAPIKey)
		if !ok {
			return false
		}
		key, source = v, b.secretData[refKey(ns, ref.Namespace, ref.Name)].sources[secretAPIKey]
	}
	if key == "" || strings.ContainsAny(key, "\r\n") {
		b.d.errorf(b.d.line(k), "%s: the API key is empty or spans lines", path)
		return false
	}
	if k.Header != nil && k.QueryParam != nil {
		b.d.errorf(b.d.line(k), "%s: only one of header or queryParam can be set", path)
		return false
	}
	keySource := func(name string) {
		if source != "" {
			if be.KeySources == nil {
				be.KeySources = map[string]string{}
			}
			be.KeySources[name] = source
		}
	}
	if k.QueryParam != nil {
		be.Query = append(be.Query, Header{Name: *k.QueryParam, Value: key})
		keySource(*k.QueryParam)
		return true
	}
	name := deref(k.Header, "Authorization")
	if !b.checkHeaderName(b.d.line(&k.Header), path+".header", name) {
		return false
	}
	if strings.EqualFold(name, "Authorization") {
		key = "Bearer " + key
	}
	be.Headers = append(be.Headers, Header{Name: name, Value: key})
	keySource(name)
	return true
}

// toolSelectorOK checks a toolSelector as the CRD's CEL rules do.
func (b *builder) toolSelectorOK(path string, t *toolSelector) bool {
	line := b.d.line(t)
	ok := true
	if t.Include != nil && t.IncludeRegex != nil {
		b.d.errorf(line, "%s: include and includeRegex are mutually exclusive", path)
		ok = false
	}
	if t.Exclude != nil && t.ExcludeRegex != nil {
		b.d.errorf(line, "%s: exclude and excludeRegex are mutually exclusive", path)
		ok = false
	}
	if t.Include == nil && t.IncludeRegex == nil && t.Exclude == nil && t.ExcludeRegex == nil {
		b.d.errorf(line, "%s: at least one of include, includeRegex, exclude, or excludeRegex must be specified", path)
		ok = false
	}
	return ok
}

// toolSelector compiles a toolSelector to a ToolFilter; regular expressions match the whole
// name only when they say so (RE2 search semantics, as Envoy AI Gateway matches them).
func (b *builder) toolSelector(path string, t *toolSelector) ToolFilter {
	f := ToolFilter{Include: t.Include, Exclude: t.Exclude}
	compile := func(name string, list []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for i, expr := range list {
			re, err := regexp.Compile(expr)
			if err != nil {
				b.d.errorf(b.d.line(&list[i]), "%s.%s[%d]: invalid regular expression: %s", path, name, i, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				continue
			}
			out = append(out, re)
		}
		return out
	}
	f.IncludeRegex = compile("includeRegex", t.IncludeRegex)
	f.ExcludeRegex = compile("excludeRegex", t.ExcludeRegex)
	return f
}

// mcpAuth compiles the securityPolicy and backendSelector; nil when the route has neither.
func (b *builder) mcpAuth(ns string, s *mcpRouteSpec, backends map[string]bool) (*MCPAuth, bool) {
	sp := s.SecurityPolicy
	ok := true
	auth := &MCPAuth{}
	if sp != nil {
		if k := sp.APIKeyAuth; k != nil {
			a, aok := b.mcpAPIKeyAuth(ns, k)
			auth.APIKey, ok = a, ok && aok
		}
		if sp.ExtAuth != nil {
			b.d.errorf(b.d.line(&sp.ExtAuth), "spec.securityPolicy.extAuth: external authorization is not supported by aigw; use oauth and authorization (the route would otherwise be served unauthenticated)")
			ok = false
		}
		if o := sp.OAuth; o != nil {
			j, jok := b.mcpJWT(ns, o)
			auth.JWT, ok = j, ok && jok
		}
		if az := sp.Authorization; az != nil {
			rules := make([]mcpRule, len(az.Rules))
			for i := range az.Rules {
				r := &az.Rules[i]
				rules[i] = mcpRule{line: b.d.line(r), action: r.Action, cel: r.CEL, source: r.Source, target: r.Target}
			}
			a, aok := b.mcpRules("spec.securityPolicy.authorization", az.DefaultAction, rules, backends, sp.OAuth != nil)
			auth.Authorization, ok = a, ok && aok
		}
	}
	if bs := s.BackendSelector; bs != nil {
		rules := make([]mcpRule, len(bs.Rules))
		for i := range bs.Rules {
			rules[i] = mcpRule{line: b.d.line(&bs.Rules[i]), action: bs.Rules[i].Action, cel: bs.Rules[i].CEL}
		}
		a, aok := b.mcpRules("spec.backendSelector", bs.DefaultAction, rules, backends, true)
		auth.BackendSelector, ok = a, ok && aok
	}
	if auth.JWT == nil && auth.APIKey == nil && auth.Authorization == nil && auth.BackendSelector == nil {
		return nil, ok
	}
	return auth, ok
}

// mcpAPIKeyAuth compiles apiKeyAuth: every key of the referenced Secrets is a client ID and its
// value that client's API key (the first Secret wins for a client named twice).
func (b *builder) mcpAPIKeyAuth(ns string, k *mcpAPIKeyAuth) (*MCPAPIKeyAuth, bool) {
	const path = "spec.securityPolicy.apiKeyAuth"
	ok := true
	out := &MCPAPIKeyAuth{Clients: map[string]string{}, ForwardClientIDHeader: k.ForwardClientIDHeader, Sanitize: deref(k.Sanitize, false)}
	for i := range k.CredentialRefs {
		ref := &k.CredentialRefs[i]
		p := path + ".credentialRefs[" + itoa(i) + "]"
		if (ref.Group != "" && ref.Group != "core") || (ref.Kind != "" && ref.Kind != "Secret") {
			b.d.errorf(b.d.line(ref), "%s: must reference a Secret, not %s", p, strings.TrimPrefix(ref.Group+"/"+ref.Kind, "/"))
			ok = false
			continue
		}
		s, found := b.secretData[refKey(ns, ref.Namespace, ref.Name)]
		if !found {
			b.d.errorf(b.d.line(&ref.Name), "%s: Secret %q is not defined in this file", p, ref.Name)
			ok = false
			continue
		}
		if len(s.data) == 0 {
			b.d.errorf(b.d.line(&ref.Name), "%s: Secret %q has no client keys", p, ref.Name)
			ok = false
		}
		for _, id := range slices.Sorted(mapKeys(s.data)) {
			key := strings.TrimSpace(s.data[id])
			if key == "" {
				b.d.errorf(b.d.line(&ref.Name), "%s: Secret %q: the API key of client %q is empty", p, ref.Name, id)
				ok = false
				continue
			}
			if _, dup := out.Clients[id]; !dup {
				out.Clients[id] = key
			}
		}
	}
	for i := range k.ExtractFrom {
		e := &k.ExtractFrom[i]
		p := path + ".extractFrom[" + itoa(i) + "]"
		for j, h := range e.Headers {
			if !b.checkHeaderName(b.d.line(&e.Headers[j]), p+".headers["+itoa(j)+"]", h) {
				ok = false
			}
		}
		out.Headers = append(out.Headers, e.Headers...)
		out.Params = append(out.Params, e.Params...)
		out.Cookies = append(out.Cookies, e.Cookies...)
	}
	if len(out.Headers)+len(out.Params)+len(out.Cookies) == 0 {
		b.d.errorf(b.d.line(&k.ExtractFrom), "%s.extractFrom: name at least one header, param or cookie", path)
		ok = false
	}
	if h := k.ForwardClientIDHeader; h != "" && !b.checkHeaderName(b.d.line(&k.ForwardClientIDHeader), path+".forwardClientIDHeader", h) {
		ok = false
	}
	return out, ok
}

// mcpJWT compiles the OAuth settings.
func (b *builder) mcpJWT(ns string, o *mcpOAuth) (*MCPJWT, bool) {
	const path = "spec.securityPolicy.oauth"
	ok := true
	j := &MCPJWT{Issuer: o.Issuer, Audiences: o.Audiences}
	if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		b.d.errorf(b.d.line(&o.Issuer), "%s.issuer: %q is not an http(s) URL", path, o.Issuer)
		ok = false
	}
	if len(o.Audiences) == 0 {
		b.d.warnf(b.d.line(o), "%s.audiences: none set: tokens issued for any audience are accepted (set the route's URL, as the MCP specification asks)", path)
	}
	if k := o.JWKS; k != nil {
		switch {
		case k.RemoteJWKS != nil && k.LocalJWKS != nil:
			b.d.errorf(b.d.line(k), "%s.jwks: remoteJWKS and localJWKS cannot both be specified", path)
			ok = false
		case k.RemoteJWKS != nil:
			r := k.RemoteJWKS
			if u, err := url.Parse(r.URI); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				b.d.errorf(b.d.line(&r.URI), "%s.jwks.remoteJWKS.uri: %q is not an http(s) URL", path, r.URI)
				ok = false
			}
			j.JWKSURL = r.URI
			if r.CacheDuration != nil {
				d, dok := b.duration(b.d.line(&r.CacheDuration), path+".jwks.remoteJWKS.cacheDuration", *r.CacheDuration)
				j.JWKSCacheDuration, ok = d, ok && dok
			}
			for name, n := range map[string]*yaml.Node{"backendRef": r.BackendRef, "backendRefs": r.BackendRefs, "backendSettings": r.BackendSettings} {
				if n != nil {
					b.d.warnf(n.Line, "%s.jwks.remoteJWKS.%s: %s: aigw fetches the URI directly", path, name, mcpNotHonoured)
				}
			}
		case k.LocalJWKS != nil:
			raw, lok := b.localJWKS(ns, path+".jwks.localJWKS", k.LocalJWKS)
			j.JWKS, ok = raw, ok && lok
		default:
			b.d.errorf(b.d.line(k), "%s.jwks: either remoteJWKS or localJWKS must be specified", path)
			ok = false
		}
	}
	m := &o.ProtectedResourceMetadata
	if u, err := url.Parse(m.Resource); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		b.d.errorf(b.d.line(&m.Resource), "%s.protectedResourceMetadata.resource: %q is not an http(s) URL", path, m.Resource)
		ok = false
	}
	j.Metadata = MCPResourceMetadata{
		Resource: m.Resource, ResourceName: m.ResourceName, ResourceDocumentation: m.ResourceDocumentation,
		ResourcePolicyURI: m.ResourcePolicyURI, ScopesSupported: m.ScopesSupported,
		ResourceSigningAlgValuesSupported: m.ResourceSigningAlgValuesSupported,
	}
	for i := range o.ClaimToHeaders {
		c := &o.ClaimToHeaders[i]
		if !b.checkHeaderName(b.d.line(&c.Header), path+".claimToHeaders["+itoa(i)+"].header", c.Header) {
			ok = false
		}
		j.ClaimToHeaders = append(j.ClaimToHeaders, MCPClaimToHeader{Claim: c.Claim, Header: c.Header})
	}
	return j, ok
}

// localJWKS reads an inline JWKS or the "jwks" key (else the first key) of a ConfigMap.
func (b *builder) localJWKS(ns, path string, l *mcpLocalJWKS) ([]byte, bool) {
	var raw string
	switch {
	case l.Type != "ValueRef" && l.Inline != nil && l.ValueRef == nil:
		raw = *l.Inline
	case l.Type == "ValueRef" && l.ValueRef != nil && l.Inline == nil:
		r := l.ValueRef
		if r.Group != "" || r.Kind != "ConfigMap" {
			b.d.errorf(b.d.line(r), "%s.valueRef: must reference a ConfigMap, not %s", path, strings.TrimPrefix(r.Group+"/"+r.Kind, "/"))
			return nil, false
		}
		cm, ok := b.configMapData[refKey(ns, "", r.Name)]
		if !ok {
			b.d.errorf(b.d.line(&r.Name), "%s.valueRef: ConfigMap %q is not defined in this file", path, r.Name)
			return nil, false
		}
		v, found := cm.Data["jwks"]
		if !found && len(cm.Data) > 0 {
			v = cm.Data[slices.Sorted(mapKeys(cm.Data))[0]]
		}
		raw = v
	default:
		b.d.errorf(b.d.line(l), "%s: exactly one of inline or valueRef must be set with correct type", path)
		return nil, false
	}
	if !jwksShape(raw) {
		b.d.errorf(b.d.line(l), `%s: not a JWK Set (a JSON object with a "keys" list)`, path)
		return nil, false
	}
	return []byte(raw), true
}

// mcpRule is an authorization or backendSelector rule, whichever CRD type it came from.
type mcpRule struct {
	line   int
	action string
	cel    *string
	source *mcpAuthSource
	target *mcpAuthTarget
}

// mcpRules compiles rules; the CRD defaults are Deny for the default action and Allow for a
// rule's action.
func (b *builder) mcpRules(path, defaultAction string, rules []mcpRule, backends map[string]bool, haveOAuth bool) (*MCPAuthorization, bool) {
	ok := true
	out := &MCPAuthorization{DefaultAllow: defaultAction == "Allow"}
	for i, r := range rules {
		p := path + ".rules[" + itoa(i) + "]"
		mr := MCPAuthRule{Allow: r.action != "Deny"}
		if r.cel != nil && strings.TrimSpace(*r.cel) != "" {
			prg, err := CompileMCPRule(*r.cel)
			if err != nil {
				b.d.errorf(b.d.line(r.cel), "%s.cel: invalid CEL expression: %s", p, oneLine(err.Error()))
				ok = false
			}
			mr.CEL, mr.Program = *r.cel, prg
		}
		if src := r.source; src != nil {
			if !haveOAuth {
				b.d.errorf(r.line, "%s.source: oauth must be configured when any authorization rule uses a jwt source", p)
				ok = false
			}
			if len(src.JWT.Scopes) == 0 && len(src.JWT.Claims) == 0 {
				b.d.errorf(b.d.line(&src.JWT), "%s.source.jwt: either scopes or claims must be specified", p)
				ok = false
			}
			mr.Scopes = src.JWT.Scopes
			for _, c := range src.JWT.Claims {
				if c.Name == "scope" {
					b.d.errorf(b.d.line(&src.JWT.Claims), "%s.source.jwt.claims: 'scope' claim name is reserved for OAuth scopes", p)
					ok = false
				}
				mr.Claims = append(mr.Claims, MCPClaimMatch{Name: c.Name, Values: c.Values, Array: c.ValueType == "StringArray"})
			}
		}
		if t := r.target; t != nil {
			for j, tc := range t.Tools {
				if !backends[tc.Backend] {
					b.d.errorf(b.d.line(&t.Tools[j].Backend), "%s.target.tools[%d].backend: %q is not one of the route's backendRefs", p, j, tc.Backend)
					ok = false
				}
				mr.Tools = append(mr.Tools, MCPToolRef{Backend: tc.Backend, Tool: tc.Tool})
			}
		}
		out.Rules = append(out.Rules, mr)
	}
	return out, ok
}

// jwksShape reports whether raw looks like a JWK Set; the keys themselves are checked by authz.
func jwksShape(raw string) bool {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	return json.Unmarshal([]byte(raw), &set) == nil && set.Keys != nil
}
