package config

import (
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cloud credentials: the typed forms of GCPCredentials and AzureCredentials that the backendauth
// handlers read. Secrets in them are Secret values, so they never print.

// Credential kinds with the reference's BackendSecurityPolicy type names (cloud providers).
const (
	AuthGCPCredentials   AuthType = "GCPCredentials"   // OAuth2 access token for Vertex AI
	AuthAzureCredentials AuthType = "AzureCredentials" // Entra ID access token for Azure OpenAI
)

// GCPAuth is a Google Cloud credential and where the Vertex AI API is called.
type GCPAuth struct {
	// Project and Region name the Vertex AI location requests go to; Region "global" has no
	// regional host.
	Project, Region string
	// CredentialsJSON is a credential file's content: a service-account key, an external account
	// (Workload Identity Federation) or an authorized user. Empty uses Application Default
	// Credentials.
	CredentialsJSON Secret
	// CredentialsFile is a path to such a file, read when the handler is built; an alternative to
	// CredentialsJSON.
	CredentialsFile string
	// WorkloadIdentity is Workload Identity Federation from the policy itself.
	WorkloadIdentity *GCPWorkloadIdentity
}

// VertexPathPrefix is the path every Vertex AI model call of this credential hangs under:
// /v1/projects/<project>/locations/<region>.
func (g *GCPAuth) VertexPathPrefix() string {
	return "/v1/projects/" + g.Project + "/locations/" + g.Region
}

// VertexHost is the host of the Vertex AI API for the region: <region>-aiplatform.googleapis.com,
// or aiplatform.googleapis.com for the global region.
func (g *GCPAuth) VertexHost() string {
	if g.Region == "" || strings.EqualFold(g.Region, "global") {
		return "aiplatform.googleapis.com"
	}
	return g.Region + "-aiplatform.googleapis.com"
}

// AzureAuth is a Microsoft Entra ID application (or managed identity) that gets tokens for Azure
// OpenAI.
type AzureAuth struct {
	TenantID, ClientID string
	// ClientSecret authenticates the application with a secret (client credentials).
	ClientSecret Secret
	// FederatedTokenFile is a file holding a federated token (Kubernetes workload identity); it is
	// re-read whenever a new access token is needed.
	FederatedTokenFile string
	// ManagedIdentity uses the host's managed identity (ClientID, when set, picks a user-assigned
	// one).
	ManagedIdentity bool
	// AuthorityHost is the Entra ID endpoint; empty is the public cloud's.
	AuthorityHost string
	// Scope is the token's scope; empty is https://cognitiveservices.azure.com/.default.
	Scope string
	// OIDC, when set, gets an OIDC token that authenticates the application as a client assertion
	// (workload identity federation from another identity provider).
	OIDC *OIDCExchange
}

// OIDCExchange gets an OIDC token with the client-credentials grant, for a cloud's token
// exchange (the CRD's oidcExchangeToken).
type OIDCExchange struct {
	// Issuer is the OIDC provider; TokenEndpoint, when empty, is read from its discovery document
	// (<issuer>/.well-known/openid-configuration).
	Issuer, TokenEndpoint string
	ClientID              string
	ClientSecret          Secret
	Scopes                []string
	// Audience, when set, is sent as the audience parameter.
	Audience string
}

// GCPWorkloadIdentity is Workload Identity Federation configured in the policy: an OIDC token
// from Issuer exchanged at Google's STS for a federated token of the pool's provider, optionally
// for a service account's token.
type GCPWorkloadIdentity struct {
	ProjectID, PoolName, ProviderName string
	// ServiceAccount is the service account to impersonate: an email, or a name in ProjectID.
	ServiceAccount string
	OIDC           OIDCExchange
	// STSURL and IAMCredentialsURL replace Google's endpoints (tests, private endpoints).
	STSURL, IAMCredentialsURL string
}

// Audience is the STS audience of the pool's provider.
func (w *GCPWorkloadIdentity) Audience() string {
	return "//iam.googleapis.com/projects/" + w.ProjectID + "/locations/global/workloadIdentityPools/" + w.PoolName + "/providers/" + w.ProviderName
}

// ServiceAccountEmail is the impersonated account's email, or "" for none.
func (w *GCPWorkloadIdentity) ServiceAccountEmail() string {
	if w.ServiceAccount == "" || strings.Contains(w.ServiceAccount, "@") {
		return w.ServiceAccount
	}
	return w.ServiceAccount + "@" + w.ProjectID + ".iam.gserviceaccount.com"
}

// The CRD front end of the oidcExchangeToken forms (GCP Workload Identity Federation, Azure
// client assertion). The CRD types keep these subtrees as YAML nodes; they are decoded here,
// strictly, when a policy uses them. The OIDC object is Envoy Gateway's: aigw reads what the
// client-credentials grant needs and warns about the rest (browser login settings).

type crdOIDCExchangeToken struct {
	OIDC      crdOIDC `json:"oidc" crd:"required"`
	Aud       string  `json:"aud"`
	GrantType string  `json:"grantType"`
}

// crdOIDC and crdOIDCProvider are auth_aws.go's (the same Envoy Gateway OIDC object).

type crdGCPWorkloadIdentity struct {
	ProjectID                    string                          `json:"projectID" crd:"required"`
	WorkloadIdentityPoolName     string                          `json:"workloadIdentityPoolName" crd:"required"`
	WorkloadIdentityProviderName string                          `json:"workloadIdentityProviderName" crd:"required"`
	ServiceAccountImpersonation  *crdServiceAccountImpersonation `json:"serviceAccountImpersonation"`
	OIDCExchangeToken            crdOIDCExchangeToken            `json:"oidcExchangeToken" crd:"required"`
}

type crdServiceAccountImpersonation struct {
	ServiceAccountName string `json:"serviceAccountName" crd:"required"`
}

// gcpWorkloadIdentity decodes a workloadIdentityFederationConfig.
func (b *builder) gcpWorkloadIdentity(n *yaml.Node, ns string) (*GCPWorkloadIdentity, bool) {
	const path = "spec.gcpCredentials.workloadIdentityFederationConfig"
	var c crdGCPWorkloadIdentity
	before := len(b.d.errs)
	b.d.decode(n, reflect.ValueOf(&c).Elem(), path)
	if len(b.d.errs) > before {
		return nil, false
	}
	x, ok := b.oidcExchange(n.Line, path+".oidcExchangeToken", &c.OIDCExchangeToken, ns)
	if !ok {
		return nil, false
	}
	w := &GCPWorkloadIdentity{ProjectID: c.ProjectID, PoolName: c.WorkloadIdentityPoolName, ProviderName: c.WorkloadIdentityProviderName, OIDC: *x}
	if c.ServiceAccountImpersonation != nil {
		w.ServiceAccount = c.ServiceAccountImpersonation.ServiceAccountName
	}
	return w, true
}

// azureOIDC decodes an azureCredentials.oidcExchangeToken.
func (b *builder) azureOIDC(n *yaml.Node, ns string) (*OIDCExchange, bool) {
	const path = "spec.azureCredentials.oidcExchangeToken"
	var c crdOIDCExchangeToken
	before := len(b.d.errs)
	b.d.decode(n, reflect.ValueOf(&c).Elem(), path)
	if len(b.d.errs) > before {
		return nil, false
	}
	return b.oidcExchange(n.Line, path, &c, ns)
}

// oidcExchange resolves the client id and secret of an oidcExchangeToken.
func (b *builder) oidcExchange(line int, path string, c *crdOIDCExchangeToken, ns string) (*OIDCExchange, bool) {
	o := &c.OIDC
	x := &OIDCExchange{Issuer: o.Provider.Issuer, TokenEndpoint: o.Provider.TokenEndpoint, ClientID: o.ClientID, Scopes: o.Scopes, Audience: c.Aud}
	if c.GrantType != "" && c.GrantType != "client_credentials" {
		b.d.errorf(line, "%s.grantType: aigw gets the OIDC token with client_credentials, not %q", path, c.GrantType)
		return nil, false
	}
	switch {
	case (o.ClientID == "") == (o.ClientIDRef == nil):
		b.d.errorf(line, "%s.oidc: exactly one of clientID or clientIDRef must be set", path)
		return nil, false
	case o.ClientIDRef != nil:
		v, ok := b.secretValue(b.d.line(o.ClientIDRef), ns, o.ClientIDRef.Namespace, o.ClientIDRef.Name, "client-id")
		if !ok {
			return nil, false
		}
		x.ClientID = v
	}
	v, ok := b.secretValue(b.d.line(&o.ClientSecret), ns, o.ClientSecret.Namespace, o.ClientSecret.Name, "client-secret")
	if !ok {
		return nil, false
	}
	if v == "" {
		b.d.errorf(line, "%s.oidc.clientSecret: Secret %q: key \"client-secret\" is empty", path, o.ClientSecret.Name)
		return nil, false
	}
	x.ClientSecret = Secret(v)
	for _, rest := range []map[string]*yaml.Node{o.Rest, o.Provider.Rest} {
		for _, k := range sortedStrings(mapKeysSlice(rest)) {
			b.d.warnf(rest[k].Line, "%s.oidc: %s is ignored: aigw only takes a token with the client-credentials grant", path, k)
		}
	}
	return x, true
}

func mapKeysSlice[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// backendCredentialFits checks a backend's credential against what its schema needs: Vertex AI
// schemas need GCPCredentials (the project and region are in every path), and a Vertex host that
// is not the region's is most likely a mistake.
func (b *builder) backendCredentialFits(ab *object[aiServiceBackendSpec], be *Backend) bool {
	need := be.Schema.Name.RequiredAuth()
	if need == "" || be.GeminiAPI() {
		return true
	}
	if be.Auth == nil || be.Auth.Type != need {
		b.d.errorf(b.d.line(&ab.Spec.Schema.Name), "spec.schema.name: a %s backend needs a BackendSecurityPolicy of type %s (it names the project and region requests go to)%s", be.Schema.Name, need, geminiAPIHint(be.Schema.Name))
		return false
	}
	if g := be.Auth.GCP; g != nil && be.Endpoint != nil {
		host := be.Endpoint.Hostname()
		if strings.HasSuffix(host, "aiplatform.googleapis.com") && host != g.VertexHost() {
			b.d.warnf(b.d.line(&ab.Spec.BackendRef), "spec.backendRef: the Backend's host %s is not Vertex AI's host for region %s (%s)", host, g.Region, g.VertexHost())
		}
	}
	return true
}
