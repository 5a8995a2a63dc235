package k8sgen

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aigw/aigw/internal/config"
)

// This file renders the Model's MCP routes (from MCPRoutes, --mcp-config or --mcp-json) as
// MCPRoutes: one Envoy Gateway Backend per url server, the server's URL path on the backendRef,
// its tool filter as a toolSelector, one request header or query parameter as the upstream API
// key (a Secret), and the route's OAuth, authorization rules and backend selector. A stdio
// server cannot be started by a cluster: it becomes a comment and a warning saying what to
// deploy instead.

// mcpProxyPort is the port the comment for a stdio server suggests for `aigw mcp proxy`.
const mcpProxyPort = 1976

// mcpRoutes renders every MCP route.
func (r *renderer) mcpRoutes() {
	routeNames := newNamer()
	for _, rt := range r.m.MCPRoutes {
		name := routeNames.name(rt.Name, 0)
		path := rt.Path
		if path == "" {
			path = config.DefaultMCPPath
		}
		spec := config.MCPRouteSpec{
			ParentRefs: []config.ParentRef{{Group: config.GroupGatewayAPI, Kind: "Gateway", Name: r.gateway}},
			// Written even when it is the default, so that a reader sees where the route is.
			Path: ptr(path),
		}
		// refNames maps a server's name to its backendRef's name, which prefixes its tools.
		refNames := map[string]string{}
		for _, b := range rt.Backends {
			if b.Stdio() {
				r.stdioComment(name, b)
				continue
			}
			ref, ok := r.mcpBackendRef(name, b)
			if !ok {
				continue
			}
			refNames[b.Name] = ref.Name
			spec.BackendRefs = append(spec.BackendRefs, ref)
		}
		if len(spec.BackendRefs) == 0 {
			r.warnf("MCP route %q: none of its servers can be rendered, so no MCPRoute is; deploy them behind streamable HTTP and give their URLs", rt.Name)
			continue
		}
		if a := rt.Auth; a != nil {
			spec.SecurityPolicy = r.mcpSecurityPolicy(name, rt.Path, a, refNames)
			if a.BackendSelector != nil {
				spec.BackendSelector = mcpBackendSelector(a.BackendSelector)
			}
		}
		if rt.SessionSeedPath != "" {
			r.warnf("MCPRoute %q: the session seed file is aigw's own; Envoy AI Gateway keeps its session keys in its own configuration", name)
		}
		r.add("MCPRoute", name, crd(aigatewayV1beta1, "MCPRoute", r.meta(name), spec))
	}
}

// mcpBackendRef renders the Backend of a url server (one per server name and endpoint, shared
// by the routes that reach it) and its API key, and returns the route's reference to it.
func (r *renderer) mcpBackendRef(route string, b *config.MCPBackend) (config.MCPBackendRef, bool) {
	u, err := url.Parse(b.URL)
	if err != nil || u.Host == "" {
		r.warnf("MCPRoute %q: server %q: its URL cannot be parsed and is not rendered", route, b.Name)
		return config.MCPBackendRef{}, false
	}
	secure := u.Scheme == "https"
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	p, _ := strconv.Atoi(port)
	key := b.Name + "|" + u.Scheme + "|" + host + "|" + port
	name, seen := r.mcpBackends[key]
	if !seen {
		name = r.backendNames.name(b.Name, len("-api-key"))
		r.mcpBackends[key] = name
		r.add("Backend", name, crd(egV1alpha1, "Backend", r.meta(name), mcpEGBackend(host, int32(p), secure)))
	}
	if name != b.Name {
		// The reference's name is the prefix of the server's tools in Envoy AI Gateway.
		r.warnf("MCPRoute %q: server %q is rendered as Backend %q (names must be unique DNS-1123 labels), so its tools are exposed as %s%s<tool>; update clients and CEL rules that name %q",
			route, b.Name, name, name, config.MCPToolSeparator, b.Name)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	ref := config.MCPBackendRef{
		Name:  name,
		Group: ptr(config.GroupEG),
		Kind:  ptr("Backend"),
		// Always written: the CRD's default is /mcp, the URL's path is what the server serves.
		Path: ptr(path),
	}
	if !b.Tools.Empty() {
		ref.ToolSelector = r.toolSelector(route, b)
	}
	for _, f := range b.ForwardHeaders {
		ref.ForwardHeaders = append(ref.ForwardHeaders, config.CRDMCPForwardHeader{Name: f.Name, BackendHeader: f.BackendHeader})
	}
	if b.Transport == config.MCPTransportSSE {
		r.warnf("MCPRoute %q: server %q speaks the SSE transport; Envoy AI Gateway reaches MCP servers over streamable HTTP only", route, b.Name)
	}
	ref.SecurityPolicy = r.mcpAPIKey(route, name, b, u)
	return ref, true
}

// mcpEGBackend is the Backend of an MCP server's endpoint. An https server is verified against
// the system roots with the host name as SNI on the Backend itself: the loader (and Envoy AI
// Gateway's MCP proxy) take no BackendTLSPolicy for MCP servers.
func mcpEGBackend(host string, port int32, secure bool) config.EGBackendSpec {
	ep := config.EGEndpoint{}
	isIP := net.ParseIP(host) != nil
	if isIP {
		ep.IP = &config.EGIP{Address: host, Port: port}
	} else {
		ep.FQDN = &config.EGFQDN{Hostname: host, Port: port}
	}
	spec := config.EGBackendSpec{Endpoints: []config.EGEndpoint{ep}}
	if secure {
		spec.TLS = &config.EGTLS{WellKnownCACertificates: "System"}
		if !isIP {
			spec.TLS.AutoSNIFromEndpointHostname = ptr(true)
		}
	}
	return spec
}

func (r *renderer) toolSelector(route string, b *config.MCPBackend) *config.MCPToolSelector {
	f := b.Tools
	t := &config.MCPToolSelector{Include: slices.Clone(f.Include), Exclude: slices.Clone(f.Exclude),
		IncludeRegex: regexps(f.IncludeRegex), ExcludeRegex: regexps(f.ExcludeRegex)}
	// The CRD takes a list or a regular expression list per side, not both.
	if len(t.Include) > 0 && len(t.IncludeRegex) > 0 {
		t.IncludeRegex = append(t.IncludeRegex, "^(?:"+joinQuoted(t.Include)+")$")
		t.Include = nil
	}
	if len(t.Exclude) > 0 && len(t.ExcludeRegex) > 0 {
		t.ExcludeRegex = append(t.ExcludeRegex, "^(?:"+joinQuoted(t.Exclude)+")$")
		t.Exclude = nil
	}
	for _, l := range [][]string{t.Include, t.Exclude, t.IncludeRegex, t.ExcludeRegex} {
		if len(l) > 32 {
			r.warnf("MCPRoute %q: server %q: a tool selector list has %d entries, more than the 32 the CRD allows", route, b.Name, len(l))
		}
	}
	return t
}

func regexps(res []*regexp.Regexp) []string {
	var out []string
	for _, re := range res {
		out = append(out, re.String())
	}
	return out
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(q, "|")
}

// mcpAPIKey renders the one credential an MCPRoute sends a server: a bearer token in
// Authorization, else a header whose name says it holds a key or token, else the URL's only
// query parameter. What else the server was given has no field, and is named in a warning.
func (r *renderer) mcpAPIKey(route, backend string, b *config.MCPBackend, u *url.URL) *config.MCPBackendSecurityPolicy {
	key := &config.MCPBackendAPIKey{}
	// source is where the chosen credential came from (config.MCPBackend.KeySources).
	var value, source string
	chosen := -1
	for i, h := range b.Headers {
		if v, ok := bearer(h); ok {
			chosen, value, source = i, v, b.KeySources[h.Name]
			break
		}
	}
	if chosen < 0 {
		for i, h := range b.Headers {
			n := strings.ToLower(h.Name)
			if n != "authorization" && (strings.Contains(n, "key") || strings.Contains(n, "token") || strings.Contains(n, "auth")) {
				chosen, value, source = i, h.Value, b.KeySources[h.Name]
				key.Header = ptr(h.Name)
				break
			}
		}
	}
	var dropped []string
	for i, h := range b.Headers {
		if i != chosen {
			dropped = append(dropped, h.Name)
		}
	}
	// Query parameters: the Model's (an MCPRoute's queryParam key), then the URL's own.
	var droppedQuery []string
	for _, p := range b.Query {
		if chosen < 0 {
			chosen, value, source = 0, p.Value, b.KeySources[p.Name]
			key.QueryParam = ptr(p.Name)
			continue
		}
		droppedQuery = append(droppedQuery, p.Name)
	}
	q := u.Query()
	for _, k := range slices.Sorted(mapKeys(q)) {
		if chosen < 0 && len(q) == 1 && len(q[k]) == 1 {
			chosen, value = 0, q[k][0]
			key.QueryParam = ptr(k)
			continue
		}
		droppedQuery = append(droppedQuery, k)
	}
	if len(dropped) > 0 {
		r.warnf("MCPRoute %q: server %q: headers %s have no field in an MCPRoute (one API key header only) and are not rendered; the server will not get them",
			route, b.Name, strings.Join(dropped, ", "))
	}
	if len(droppedQuery) > 0 {
		r.warnf("MCPRoute %q: server %q: query parameters %s of its URL have no field in an MCPRoute and are not rendered",
			route, b.Name, strings.Join(droppedQuery, ", "))
	}
	if chosen < 0 {
		return nil
	}
	secretName := r.secretNames.name(backend+"-api-key", 0)
	key.SecretRef = &config.SecretObjRef{Name: secretName}
	r.secret(secretName, config.SecretAPIKey, value, source)
	return &config.MCPBackendSecurityPolicy{APIKey: key}
}

// bearer returns the token of an "Authorization: Bearer <token>" header, which an MCPRoute's
// apiKey without a header name sends.
func bearer(h config.Header) (string, bool) {
	const prefix = "bearer "
	if !strings.EqualFold(h.Name, "Authorization") || len(h.Value) <= len(prefix) || !strings.EqualFold(h.Value[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h.Value[len(prefix):]), true
}

// stdioComment says, where the server's Backend would be, what to deploy instead.
func (r *renderer) stdioComment(route string, b *config.MCPBackend) {
	svc := dnsName(b.Name, maxNameLen)
	cmd := commandLine(b)
	var env []string
	for _, e := range b.Env {
		env = append(env, e.Name)
	}
	var c strings.Builder
	c.WriteString("MCP server \"" + b.Name + "\" of MCPRoute \"" + route + "\" is a stdio server: a cluster cannot start `" + cmd + "` from here.\n")
	c.WriteString("Deploy it behind streamable HTTP instead: a Deployment whose container runs\n")
	c.WriteString("  aigw mcp proxy --host 0.0.0.0 --port " + strconv.Itoa(mcpProxyPort) + " -- " + cmd + "\n")
	if len(env) > 0 {
		c.WriteString("with the environment variables " + strings.Join(env, ", ") + " (from a Secret),\n")
	}
	c.WriteString("and a Service \"" + svc + "\" on port " + strconv.Itoa(mcpProxyPort) + "; then give the server as a url entry,\n")
	c.WriteString("  \"" + b.Name + "\": {\"url\": \"http://" + svc + "." + r.namespaceOrDefault() + ".svc:" + strconv.Itoa(mcpProxyPort) + "/mcp\"}\n")
	c.WriteString("and render again.")
	r.addComment("Backend", svc, c.String())
	r.warnf("MCPRoute %q: server %q is a stdio server (%s), which a cluster cannot run; it is not rendered: deploy it behind streamable HTTP (`aigw mcp proxy -- %s` in a Deployment with a Service) and give it as a url server (see the comment in the output)",
		route, b.Name, cmd, cmd)
}

func (r *renderer) namespaceOrDefault() string {
	if r.opts.Namespace != "" {
		return r.opts.Namespace
	}
	return "default"
}

// secretFlag matches a command-line flag that carries a credential as its value.
var secretFlag = regexp.MustCompile(`(?i)^--?[a-z0-9_-]*(key|token|secret|password|passwd|auth|credential)[a-z0-9_-]*$`)

// commandLine is a stdio server's command for a human, with the values of flags that look like
// credentials (--api-key X, --token=X) replaced: the output must hold no secret.
func commandLine(b *config.MCPBackend) string {
	parts := []string{b.Command}
	redactNext := false
	for _, a := range b.Args {
		switch {
		case redactNext:
			a = "<redacted>"
			redactNext = false
		case secretFlag.MatchString(a):
			redactNext = true
		default:
			if i := strings.IndexByte(a, '='); i > 0 && secretFlag.MatchString(a[:i]) {
				a = a[:i+1] + "<redacted>"
			}
		}
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// mcpSecurityPolicy renders the route's OAuth and authorization rules. refNames maps the
// servers' names to their rendered backendRefs; a rule's tools of a server that is not rendered
// (stdio) are dropped, as are rules left with none.
func (r *renderer) mcpSecurityPolicy(route, path string, a *config.MCPAuth, refNames map[string]string) *config.MCPSecurityPolicy {
	sp := &config.MCPSecurityPolicy{}
	if j := a.JWT; j != nil {
		sp.OAuth = r.mcpOAuth(route, path, j)
	}
	if k := a.APIKey; k != nil {
		sp.APIKeyAuth = r.mcpClientKeys(route, k)
	}
	if az := a.Authorization; az != nil {
		out := &config.CRDMCPAuthorization{DefaultAction: action(az.DefaultAllow)}
		for i, rule := range az.Rules {
			cr := config.CRDMCPAuthRule{Action: action(rule.Allow)}
			if rule.CEL != "" {
				cr.CEL = ptr(rule.CEL)
			}
			if len(rule.Scopes) > 0 || len(rule.Claims) > 0 {
				src := &config.MCPAuthSource{JWT: config.MCPJWTSource{Scopes: slices.Clone(rule.Scopes)}}
				for _, c := range rule.Claims {
					vt := "String"
					if c.Array {
						vt = "StringArray"
					}
					src.JWT.Claims = append(src.JWT.Claims, config.MCPJWTClaim{Name: c.Name, ValueType: vt, Values: slices.Clone(c.Values)})
				}
				cr.Source = src
			}
			if len(rule.Tools) > 0 {
				t := &config.MCPAuthTarget{}
				for _, tr := range rule.Tools {
					if n, ok := refNames[tr.Backend]; ok {
						t.Tools = append(t.Tools, config.MCPToolCall{Backend: n, Tool: tr.Tool})
					}
				}
				if len(t.Tools) == 0 {
					r.warnf("MCPRoute %q: authorization rule %d is about tools of servers that are not rendered; it is left out", route, i)
					continue
				}
				if len(t.Tools) < len(rule.Tools) {
					r.warnf("MCPRoute %q: authorization rule %d: tools of servers that are not rendered are left out", route, i)
				}
				cr.Target = t
			}
			out.Rules = append(out.Rules, cr)
		}
		sp.Authorization = out
	}
	if sp.OAuth == nil && sp.APIKeyAuth == nil && sp.Authorization == nil {
		return nil
	}
	return sp
}

// mcpClientKeys renders apiKeyAuth: one Secret whose keys are the client IDs. Without real
// values the Secret holds no key at all, so that every client is refused until the keys are
// set: a placeholder would be a key anyone could send.
func (r *renderer) mcpClientKeys(route string, k *config.MCPAPIKeyAuth) *config.CRDMCPAPIKeyAuth {
	name := r.secretNames.name(route+"-client-keys", 0)
	ids := slices.Sorted(mapKeys(k.Clients))
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.opts.Namespace, Labels: map[string]string{managedByLabel: "aigw"}},
		Type:       corev1.SecretTypeOpaque,
	}
	if r.opts.IncludeSecrets {
		s.StringData = map[string]string{}
		for _, id := range ids {
			s.StringData[id] = k.Clients[id]
		}
	} else {
		r.warnf("MCPRoute %q: its client API keys are not written: Secret %q has none, so every client is refused until you set one key per client ID (%s)",
			route, name, strings.Join(ids, ", "))
	}
	r.byKind["Secret"] = append(r.byKind["Secret"], Object{Kind: "Secret", Name: name, Value: s,
		Comment: "The client API keys of MCPRoute \"" + route + "\": one key per client ID (" + strings.Join(ids, ", ") + ")."})
	if len(ids) > 0 {
		r.res.Secrets = append(r.res.Secrets, SecretInfo{Name: name, Namespace: r.opts.Namespace, Key: ids[0], MoreKeys: ids[1:], Empty: true})
	}
	out := &config.CRDMCPAPIKeyAuth{
		CredentialRefs:        []config.SecretObjRef{{Name: name}},
		ExtractFrom:           []config.MCPExtractFrom{{Headers: slices.Clone(k.Headers), Params: slices.Clone(k.Params), Cookies: slices.Clone(k.Cookies)}},
		ForwardClientIDHeader: k.ForwardClientIDHeader,
	}
	if k.Sanitize {
		out.Sanitize = ptr(true)
	}
	return out
}

func (r *renderer) mcpOAuth(route, path string, j *config.MCPJWT) *config.MCPOAuth {
	m := j.Metadata
	o := &config.MCPOAuth{
		Issuer:    j.Issuer,
		Audiences: slices.Clone(j.Audiences),
		ProtectedResourceMetadata: config.CRDMCPResourceMetadata{
			Resource: m.Resource, ResourceName: m.ResourceName, ResourceDocumentation: m.ResourceDocumentation,
			ResourcePolicyURI: m.ResourcePolicyURI, ScopesSupported: slices.Clone(m.ScopesSupported),
			ResourceSigningAlgValuesSupported: slices.Clone(m.ResourceSigningAlgValuesSupported),
		},
	}
	if o.ProtectedResourceMetadata.Resource == "" {
		// aigw derives it from each request; the CRD needs the URL clients use.
		o.ProtectedResourceMetadata.Resource = "https://gateway.example.com" + path
		r.warnf("MCPRoute %q: the protected resource metadata names no resource URL; %s is written: replace it with the URL clients use", route, o.ProtectedResourceMetadata.Resource)
	}
	switch {
	case len(j.JWKS) > 0:
		// A JWK Set holds public keys only: inline is as safe as a ConfigMap.
		o.JWKS = &config.MCPJWKS{LocalJWKS: &config.MCPLocalJWKS{Type: "Inline", Inline: ptr(string(j.JWKS))}}
	case strings.HasPrefix(j.JWKSURL, "https://") || strings.HasPrefix(j.JWKSURL, "http://"):
		rj := &config.MCPRemoteJWKS{URI: j.JWKSURL}
		if j.JWKSCacheDuration > 0 {
			rj.CacheDuration = ptr(duration(j.JWKSCacheDuration))
		}
		o.JWKS = &config.MCPJWKS{RemoteJWKS: rj}
	case j.JWKSURL != "":
		r.warnf("MCPRoute %q: the JWKS at %s cannot be read by a cluster; the keys are discovered from the issuer instead (set jwks.localJWKS or remoteJWKS)", route, j.JWKSURL)
	}
	for _, c := range j.ClaimToHeaders {
		o.ClaimToHeaders = append(o.ClaimToHeaders, config.CRDMCPClaimToHeader{Claim: c.Claim, Header: c.Header})
	}
	return o
}

func mcpBackendSelector(a *config.MCPAuthorization) *config.MCPBackendSelector {
	s := &config.MCPBackendSelector{DefaultAction: action(a.DefaultAllow)}
	for _, rule := range a.Rules {
		sr := config.MCPBackendSelectorRule{Action: action(rule.Allow)}
		if rule.CEL != "" {
			sr.CEL = ptr(rule.CEL)
		}
		s.Rules = append(s.Rules, sr)
	}
	return s
}

func action(allow bool) string {
	if allow {
		return "Allow"
	}
	return "Deny"
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
