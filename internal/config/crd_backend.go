package config

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Backends: AIServiceBackend → Envoy Gateway Backend (endpoint, TLS) + BackendSecurityPolicy
// (credential).
//
// Scheme: https when the Backend has spec.tls or a BackendTLSPolicy targets it, as in a cluster.
// The reference's examples always pair port 443 with a BackendTLSPolicy; a Backend on port 443
// with neither would be plain HTTP in a cluster, which never works against a TLS port and would
// send the credential in clear, so aigw uses https there too and warns.

// tlsPolicies indexes BackendTLSPolicies by the Backend they target.
func (b *builder) tlsPolicies() {
	for _, pol := range b.tlsPols {
		b.about("BackendTLSPolicy", pol.Metadata)
		ns := namespaceOf(pol.Metadata)
		v := &pol.Spec.Validation
		b.checkHostname(b.d.line(&v.Hostname), "spec.validation.hostname", v.Hostname)
		if len(v.CACertificateRefs) > 0 && v.WellKnownCACertificates != "" {
			b.d.errorf(b.d.line(v), "spec.validation: must not contain both caCertificateRefs and wellKnownCACertificates")
		}
		if len(v.CACertificateRefs) == 0 && v.WellKnownCACertificates == "" {
			b.d.errorf(b.d.line(v), "spec.validation: one of caCertificateRefs or wellKnownCACertificates is required")
		}
		for i := range pol.Spec.TargetRefs {
			t := &pol.Spec.TargetRefs[i]
			path := "spec.targetRefs[" + itoa(i) + "]"
			if t.Group != groupEG || t.Kind != "Backend" {
				b.d.warnf(b.d.line(t), "%s: only Envoy Gateway Backends (group %s, kind Backend) are resolved by aigw; %s/%s %q is ignored", path, groupEG, t.Group, t.Kind, t.Name)
				continue
			}
			k := refKey(ns, "", t.Name)
			if _, ok := b.egBackendIdx[k]; !ok {
				b.d.errorf(b.d.line(&t.Name), "%s: Backend %q is not defined in this file", path, t.Name)
				continue
			}
			if other, dup := b.tls[k]; dup {
				b.d.errorf(b.d.line(t), "%s: Backend %q is already targeted by BackendTLSPolicy %q", path, t.Name, other.Metadata.Name)
				continue
			}
			b.tls[k] = pol
		}
	}
}

// credentialFields names, per policy type, the one credential field it takes.
var credentialFields = map[string]string{
	"APIKey":           "apiKey",
	"AnthropicAPIKey":  "anthropicAPIKey",
	"AzureAPIKey":      "azureAPIKey",
	"AWSCredentials":   "awsCredentials",
	"AzureCredentials": "azureCredentials",
	"GCPCredentials":   "gcpCredentials",
}

// defaultOverrideHeaders are the reference's x-aigw-* header names per type (a prefix for AWS).
var defaultOverrideHeaders = map[string]string{
	"APIKey":           "x-aigw-api-key",
	"AnthropicAPIKey":  "x-aigw-anthropic-api-key",
	"AzureAPIKey":      "x-aigw-azure-api-key",
	"AzureCredentials": "x-aigw-azure-access-token",
	"GCPCredentials":   "x-aigw-gcp-access-token",
	"AWSCredentials":   "x-aigw-aws-",
}

// securityPolicies compiles every BackendSecurityPolicy to an Auth for the AIServiceBackends it
// targets.
func (b *builder) securityPolicies() {
	owner := map[string]string{} // AIServiceBackend key → policy name
	for _, pol := range b.securityPols {
		b.about("BackendSecurityPolicy", pol.Metadata)
		ns := namespaceOf(pol.Metadata)
		auth, ok := b.policyAuth(pol)
		if len(pol.Spec.TargetRefs) == 0 {
			b.d.warnf(b.d.line(pol), "spec.targetRefs: the policy targets nothing")
		}
		for i := range pol.Spec.TargetRefs {
			t := &pol.Spec.TargetRefs[i]
			path := "spec.targetRefs[" + itoa(i) + "]"
			switch {
			case t.Group == groupAIGateway && t.Kind == "AIServiceBackend":
			case t.Group == "inference.networking.k8s.io" && t.Kind == "InferencePool":
				b.d.warnf(b.d.line(t), "%s: InferencePool %q is ignored: aigw does not serve InferencePools", path, t.Name)
				continue
			default:
				b.d.errorf(b.d.line(t), "%s: targetRefs must reference AIServiceBackend (group %s) or InferencePool resources, not %s/%s", path, groupAIGateway, t.Group, t.Kind)
				continue
			}
			k := refKey(ns, "", t.Name)
			if _, exists := b.aiBackendIdx[k]; !exists {
				b.d.errorf(b.d.line(&t.Name), "%s: AIServiceBackend %q is not defined in this file", path, t.Name)
				continue
			}
			if other, dup := owner[k]; dup {
				b.d.errorf(b.d.line(t), "%s: AIServiceBackend %q is already targeted by BackendSecurityPolicy %q; a backend takes one policy", path, t.Name, other)
				continue
			}
			owner[k] = pol.Metadata.Name
			if ok {
				b.auth[k] = auth
			}
		}
	}
}

// policyAuth checks one policy and returns its credential.
func (b *builder) policyAuth(pol *object[backendSecurityPolicySpec]) (*Auth, bool) {
	s := &pol.Spec
	ns := namespaceOf(pol.Metadata)
	set := map[string]bool{
		"apiKey": s.APIKey != nil, "anthropicAPIKey": s.AnthropicAPIKey != nil, "azureAPIKey": s.AzureAPIKey != nil,
		"awsCredentials": s.AWSCredentials != nil, "azureCredentials": s.AzureCredentials != nil, "gcpCredentials": s.GCPCredentials != nil,
	}
	want := credentialFields[s.Type]
	ok := true
	if !set[want] {
		b.d.errorf(b.d.line(&s.Type), "spec: when type is %s, only %s field should be set (%s is missing)", s.Type, want, want)
		ok = false
	}
	for _, f := range slices.Sorted(mapKeys(set)) {
		if set[f] && f != want {
			b.d.errorf(b.d.line(&s.Type), "spec: when type is %s, only %s field should be set (remove %s)", s.Type, want, f)
			ok = false
		}
	}
	if s.CredentialOverride != nil && strings.HasSuffix(pol.APIVersion, "/v1alpha1") {
		b.d.errorf(b.d.line(&s.CredentialOverride), "spec.credentialOverride: unknown field in %s (it is served from aigateway.envoyproxy.io/v1beta1)", pol.APIVersion)
		ok = false
	}
	if !ok {
		return nil, false
	}

	auth := &Auth{Type: AuthType(s.Type)}
	static := true
	key := func(ref *secretObjRef, dataKey string) bool {
		v, found := b.secretValue(b.d.line(ref), ns, ref.Namespace, ref.Name, dataKey)
		if !found {
			return false
		}
		if v == "" {
			b.d.errorf(b.d.line(ref), "Secret %q: key %q is empty", ref.Name, dataKey)
			return false
		}
		// API keys and client secrets go in a header as they are; credential files do not.
		if s.Type != "AWSCredentials" && s.Type != "GCPCredentials" {
			if why := checkOneLineKey(v); why != "" {
				b.d.errorf(b.d.line(ref), "Secret %q: key %q %s", ref.Name, dataKey, why)
				return false
			}
		}
		auth.Key = Secret(v)
		auth.Source = b.secretData[refKey(ns, ref.Namespace, ref.Name)].sources[dataKey]
		return true
	}
	switch s.Type {
	case "APIKey":
		ok = key(&s.APIKey.SecretRef, secretAPIKey)
	case "AnthropicAPIKey":
		ok = key(&s.AnthropicAPIKey.SecretRef, secretAPIKey)
	case "AzureAPIKey":
		ok = key(&s.AzureAPIKey.SecretRef, secretAPIKey)
	case "AWSCredentials":
		c := s.AWSCredentials
		if c.CredentialsFile != nil {
			ok = key(&c.CredentialsFile.SecretRef, "credentials")
		}
		if ok {
			auth.AWS, ok = b.awsAuth(c, ns, auth.Key)
			auth.Key = ""
		}
	case "AzureCredentials":
		c := s.AzureCredentials
		var azOIDC *OIDCExchange
		switch {
		case (c.ClientSecretRef == nil) == (c.OIDCExchangeToken == nil):
			b.d.errorf(b.d.line(c), "spec.azureCredentials: exactly one of clientSecretRef or oidcExchangeToken must be specified")
			ok = false
		case c.OIDCExchangeToken != nil:
			azOIDC, ok = b.azureOIDC(c.OIDCExchangeToken, ns)
		default:
			ok = key(c.ClientSecretRef, "client-secret")
		}
		host, hostOK := b.azureAuthorityHost(pol)
		if ok = ok && hostOK; ok {
			auth.Azure = &AzureAuth{TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: auth.Key, OIDC: azOIDC, AuthorityHost: host}
			auth.Key = ""
		}
	case "GCPCredentials":
		c := s.GCPCredentials
		var wif *GCPWorkloadIdentity
		switch {
		case c.CredentialsFile != nil && c.WorkloadIdentityFederationConfig != nil:
			b.d.errorf(b.d.line(c), "spec.gcpCredentials: at most one of credentialsFile or workloadIdentityFederationConfig may be specified")
			ok = false
		case c.WorkloadIdentityFederationConfig != nil:
			wif, ok = b.gcpWorkloadIdentity(c.WorkloadIdentityFederationConfig, ns)
		case c.CredentialsFile != nil:
			ok = key(&c.CredentialsFile.SecretRef, "service_account.json")
		default:
			static = false // application default credentials
		}
		if ok {
			auth.GCP = &GCPAuth{Project: c.ProjectName, Region: c.Region, CredentialsJSON: auth.Key, WorkloadIdentity: wif}
			auth.Key = ""
		}
	}
	if o := s.CredentialOverride; o != nil && ok {
		switch {
		case (o.FromRequestHeaders == nil) == (o.FromDynamicMetadata == nil):
			b.d.errorf(b.d.line(o), "spec.credentialOverride: exactly one of fromRequestHeaders or fromDynamicMetadata must be set")
			ok = false
		case o.FromDynamicMetadata != nil:
			b.d.warnf(b.d.line(&o.FromDynamicMetadata), "spec.credentialOverride.fromDynamicMetadata: ignored: no trusted filter sets dynamic metadata in aigw; use fromRequestHeaders")
		default:
			h := o.FromRequestHeaders
			name := h.Header
			if name == "" {
				name = defaultOverrideHeaders[s.Type]
			} else if !b.checkHeaderName(b.d.line(&h.Header), "spec.credentialOverride.fromRequestHeaders.header", name) {
				ok = false
			}
			fallback := h.FallbackToConfigured == nil || *h.FallbackToConfigured
			if fallback && !static {
				b.d.errorf(b.d.line(h), "spec.credentialOverride: fallbackToConfigured=true requires a static credential to be configured")
				ok = false
			}
			auth.Override = &CredentialOverride{Header: strings.ToLower(name), FallbackToConfigured: fallback}
		}
	}
	return auth, ok
}

// buildBackends compiles every AIServiceBackend, referenced or not, so that every error shows.
func (b *builder) buildBackends() {
	for _, ab := range b.aiBackends {
		b.about("AIServiceBackend", ab.Metadata)
		k := key(ab.Metadata)
		be := &Backend{Name: b.displayName(ab.Metadata), QualifiedName: ab.Metadata.Name + "." + namespaceOf(ab.Metadata), Auth: b.auth[k]}
		ok := b.backendSchema(ab, be)
		ok = b.backendEndpoint(ab, be) && ok
		ok = b.backendAnnotations(ab, be) && ok
		ok = b.backendCredentialFits(ab, be) && ok
		be.HeaderMutation = b.headerMutation("spec.headerMutation", ab.Spec.HeaderMutation)
		be.BodyMutation = b.bodyMutation("spec.bodyMutation", ab.Spec.BodyMutation)
		if ok {
			b.built[k] = be
			b.model.Backends = append(b.model.Backends, be)
		}
	}
	slices.SortFunc(b.model.Backends, func(x, y *Backend) int { return strings.Compare(x.Name, y.Name) })
}

// crdSchemas are the schema names the AIServiceBackend CRD allows.
var crdSchemas = []string{"OpenAI", "Cohere", "AWSBedrock", "AzureOpenAI", "GCPVertexAI", "GCPAnthropic", "Anthropic", "AWSAnthropic"}

// backendSchema sets Schema: name, prefix and version as the reference reads them. For OpenAI
// and Anthropic the prefix defaults to "v1" (the reference's cmp.Or(prefix, "v1")); early
// reference versions put that path in version ("version: v1"), which is still honoured when no
// prefix is set. For the others version is the API version (Azure's api-version).
func (b *builder) backendSchema(ab *object[aiServiceBackendSpec], be *Backend) bool {
	s := &ab.Spec.Schema
	if !slices.Contains(crdSchemas, s.Name) {
		b.d.errorf(b.d.line(&s.Name), "spec.schema.name: unknown schema %q%s", s.Name, suggestValue(s.Name, crdSchemas))
		return false
	}
	name := SchemaName(s.Name)
	be.Schema = Schema{Name: name, Prefix: name.DefaultPrefix()}
	switch name {
	case SchemaOpenAI, SchemaAnthropic:
		switch {
		case s.Prefix != nil && *s.Prefix != "":
			be.Schema.Prefix = normalizePrefix(*s.Prefix)
		case s.Version != nil && *s.Version != "":
			be.Schema.Prefix = normalizePrefix(*s.Version)
			b.d.warnf(b.d.line(&s.Version), "spec.schema.version: for %s the reference now ignores version and reads the path from prefix; aigw uses %q as the prefix (write prefix: %q)", s.Name, be.Schema.Prefix, *s.Version)
		default:
			be.Schema.Prefix = "/v1"
		}
	default:
		if s.Version != nil {
			be.Schema.Version = *s.Version
		}
		if s.Prefix != nil && *s.Prefix != "" {
			b.d.warnf(b.d.line(&s.Prefix), "spec.schema.prefix: ignored for %s (it applies to OpenAI and Anthropic)", s.Name)
		}
		if name == SchemaAzureOpenAI && be.Schema.Version == "" {
			b.d.errorf(b.d.line(s), "spec.schema.version: required for AzureOpenAI: the Azure OpenAI api-version, e.g. 2024-10-21")
			return false
		}
	}
	return true
}

// normalizePrefix makes a prefix "/x/y" ("v1" → "/v1", "/" → "").
func normalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

// backendEndpoint resolves spec.backendRef to an Envoy Gateway Backend's endpoint and TLS.
func (b *builder) backendEndpoint(ab *object[aiServiceBackendSpec], be *Backend) bool {
	ref := &ab.Spec.BackendRef
	group, kind := deref(ref.Group, ""), deref(ref.Kind, "Service")
	if group != groupEG || kind != "Backend" {
		b.d.errorf(b.d.line(ref), "spec.backendRef: BackendRef must be a Backend resource of Envoy Gateway (group: %s, kind: Backend), not %s", groupEG, strings.TrimPrefix(group+"/"+kind, "/"))
		return false
	}
	from := namespaceOf(ab.Metadata)
	eg, ok := b.egBackendIdx[refKey(from, ref.Namespace, ref.Name)]
	if !ok {
		b.d.errorf(b.d.line(&ref.Name), "spec.backendRef: Backend %q is not defined in this file", ref.Name)
		return false
	}
	b.about("Backend", eg.Metadata)
	defer b.about("AIServiceBackend", ab.Metadata)
	spec := &eg.Spec
	if spec.Type == "DynamicResolver" {
		b.d.errorf(b.d.line(&spec.Type), "spec.type: DynamicResolver is not supported by aigw; list the endpoint")
		return false
	}
	if len(spec.Endpoints) == 0 {
		b.d.errorf(b.d.line(eg), "spec.endpoints: the Backend has no endpoint")
		return false
	}
	if len(spec.Endpoints) > 1 {
		b.d.warnf(b.d.line(&spec.Endpoints), "spec.endpoints: only the first endpoint is used")
	}
	ep := &spec.Endpoints[0]
	var host string
	var port int32
	switch {
	case ep.FQDN != nil && ep.IP == nil && ep.Unix == nil:
		host, port = strings.TrimSuffix(ep.FQDN.Hostname, "."), ep.FQDN.Port
		if !hostnamePattern.MatchString(host) || strings.HasPrefix(host, "*") {
			b.d.errorf(b.d.line(&ep.FQDN.Hostname), "spec.endpoints[0].fqdn.hostname: %q is not a valid host name", ep.FQDN.Hostname)
			return false
		}
	case ep.IP != nil && ep.FQDN == nil && ep.Unix == nil:
		host, port = ep.IP.Address, ep.IP.Port
		if net.ParseIP(host) == nil {
			b.d.errorf(b.d.line(&ep.IP.Address), "spec.endpoints[0].ip.address: %q is not an IP address", host)
			return false
		}
	case ep.Unix != nil && ep.FQDN == nil && ep.IP == nil:
		b.d.errorf(b.d.line(&ep.Unix), "spec.endpoints[0].unix: unix socket endpoints are not supported by aigw")
		return false
	default:
		b.d.errorf(b.d.line(ep), "spec.endpoints[0]: exactly one of fqdn, ip or unix must be specified")
		return false
	}
	if port < 1 || port > 65535 {
		b.d.errorf(b.d.line(ep), "spec.endpoints[0]: port %d is not a port", port)
		return false
	}

	pol := b.tls[key(eg.Metadata)]
	secure := spec.TLS != nil || pol != nil
	if !secure && port == 443 {
		secure = true
		b.d.warnf(b.d.line(ep), "spec.endpoints[0]: port 443 without spec.tls or a BackendTLSPolicy: aigw uses https (a cluster would send plain HTTP); add a BackendTLSPolicy to make it explicit")
	}
	scheme, defPort := "http", int32(80)
	if secure {
		scheme, defPort = "https", 443
	}
	hostport := host
	if port != defPort || strings.Contains(host, ":") {
		hostport = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	be.Endpoint = &url.URL{Scheme: scheme, Host: hostport}
	if secure {
		be.TLS = b.backendTLS(eg, pol, host)
	}
	return true
}

// backendTLS merges the Backend's spec.tls and a BackendTLSPolicy (the policy wins where both
// set something). It returns nil when the defaults (system roots, SNI = host) apply.
func (b *builder) backendTLS(eg *object[egBackendSpec], pol *object[backendTLSPolicySpec], host string) *TLS {
	t := &TLS{}
	ns := namespaceOf(eg.Metadata)
	if c := eg.Spec.TLS; c != nil {
		if c.SNI != "" {
			t.ServerName = c.SNI
		}
		if c.InsecureSkipVerify != nil && *c.InsecureSkipVerify {
			t.InsecureSkipVerify = true
			b.d.warnf(b.d.line(&c.InsecureSkipVerify), "spec.tls.insecureSkipVerify: the backend's certificate is not verified")
			if len(c.CACertificateRefs) > 0 || c.WellKnownCACertificates != "" {
				b.d.errorf(b.d.line(c), "spec.tls: must not contain either caCertificateRefs or wellKnownCACertificates when insecureSkipVerify is enabled")
			}
		}
		if len(c.CACertificateRefs) > 0 && c.WellKnownCACertificates != "" {
			b.d.errorf(b.d.line(c), "spec.tls: must not contain both caCertificateRefs and wellKnownCACertificates")
		}
		if c.SNI != "" && c.AutoSNIFromEndpointHostname != nil && *c.AutoSNIFromEndpointHostname {
			b.d.errorf(b.d.line(c), "spec.tls: sni and autoSNIFromEndpointHostname are mutually exclusive")
		}
		t.CACertPEM = append(t.CACertPEM, b.caCerts(ns, "spec.tls.caCertificateRefs", c.CACertificateRefs)...)
	}
	if pol != nil {
		b.about("BackendTLSPolicy", pol.Metadata)
		t.ServerName = pol.Spec.Validation.Hostname
		if refs := pol.Spec.Validation.CACertificateRefs; len(refs) > 0 {
			t.CACertPEM = b.caCerts(namespaceOf(pol.Metadata), "spec.validation.caCertificateRefs", refs)
		}
		b.about("Backend", eg.Metadata)
	}
	if t.ServerName == host {
		t.ServerName = ""
	}
	if t.ServerName == "" && len(t.CACertPEM) == 0 && !t.InsecureSkipVerify {
		return nil
	}
	return t
}

// caCerts reads "ca.crt" of the referenced ConfigMaps and Secrets.
func (b *builder) caCerts(ns, path string, refs []objectRef) []byte {
	var pem []byte
	for i := range refs {
		r := &refs[i]
		p := path + "[" + itoa(i) + "]"
		var v string
		var found bool
		switch {
		case r.Group == "" && r.Kind == "ConfigMap":
			cm, ok := b.configMapData[refKey(ns, "", r.Name)]
			if !ok {
				b.d.errorf(b.d.line(r), "%s: ConfigMap %q is not defined in this file", p, r.Name)
				continue
			}
			v, found = cm.Data["ca.crt"]
		case r.Group == "" && r.Kind == "Secret":
			s, ok := b.secretData[refKey(ns, "", r.Name)]
			if !ok {
				b.d.errorf(b.d.line(r), "%s: Secret %q is not defined in this file", p, r.Name)
				continue
			}
			v, found = s.data["ca.crt"]
		default:
			b.d.errorf(b.d.line(r), "%s: a CA certificate must be in a ConfigMap or Secret, not %s/%s", p, r.Group, r.Kind)
			continue
		}
		if !found || !strings.Contains(v, "-----BEGIN CERTIFICATE-----") {
			b.d.errorf(b.d.line(r), "%s: %s %q has no PEM certificate under key \"ca.crt\"", p, r.Kind, r.Name)
			continue
		}
		pem = append(pem, v...)
		if !strings.HasSuffix(v, "\n") {
			pem = append(pem, '\n')
		}
	}
	return pem
}

func (b *builder) headerMutation(path string, m *headerMutation) *HeaderMutation {
	if m == nil {
		return nil
	}
	out := &HeaderMutation{}
	seen := map[string]bool{}
	for i := range m.Set {
		h := &m.Set[i]
		p := path + ".set[" + itoa(i) + "]"
		if !b.checkHeaderName(b.d.line(&h.Name), p+".name", h.Name) {
			continue
		}
		name := strings.ToLower(h.Name)
		if seen[name] {
			b.d.errorf(b.d.line(h), "%s.name: duplicate header %q", p, h.Name)
			continue
		}
		seen[name] = true
		out.Set = append(out.Set, Header{Name: name, Value: h.Value})
	}
	for i, r := range m.Remove {
		name := strings.ToLower(r)
		if slices.Contains(out.Remove, name) {
			b.d.errorf(b.d.line(&m.Remove[i]), "%s.remove[%d]: duplicate header %q", path, i, r)
			continue
		}
		out.Remove = append(out.Remove, name)
	}
	return out
}

func (b *builder) bodyMutation(path string, m *bodyMutation) *BodyMutation {
	if m == nil {
		return nil
	}
	out := &BodyMutation{}
	seen := map[string]bool{}
	for i := range m.Set {
		f := &m.Set[i]
		p := path + ".set[" + itoa(i) + "]"
		if f.Path == "" {
			b.d.errorf(b.d.line(&f.Path), "%s.path: must not be empty", p)
			continue
		}
		if seen[f.Path] {
			b.d.errorf(b.d.line(f), "%s.path: duplicate path %q", p, f.Path)
			continue
		}
		seen[f.Path] = true
		if !jsonValid(f.Value) {
			b.d.errorf(b.d.line(&f.Value), "%s.value: %q is not JSON (a string value needs quotes: '\"text\"')", p, f.Value)
			continue
		}
		out.Set = append(out.Set, BodyField{Path: f.Path, Value: f.Value})
	}
	for i, r := range m.Remove {
		if slices.Contains(out.Remove, r) {
			b.d.errorf(b.d.line(&m.Remove[i]), "%s.remove[%d]: duplicate path %q", path, i, r)
			continue
		}
		out.Remove = append(out.Remove, r)
	}
	return out
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
