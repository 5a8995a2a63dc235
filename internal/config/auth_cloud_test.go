package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cloudPolicyConfig is one backend of schema on Vertex AI's us-east5 host with the given policy
// spec and extra objects.
func cloudPolicyConfig(schema, policy, extra string) string {
	return policyConfig(schema, "us-east5-aiplatform.googleapis.com", "{name: p}", policy, extra)
}

// policyConfig is a route to the one backend "b" of schema (spec.schema.name, and further
// fields on lines of their own) at host:443, the BackendSecurityPolicy whose metadata is meta and
// whose spec after its targetRefs is policy, and extra objects.
func policyConfig(schema, host, meta, policy, extra string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
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
  parentRefs: [{name: gw, kind: Gateway, group: gateway.networking.k8s.io}]
  rules: [{backendRefs: [{name: b}]}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: b}
spec:
  schema:
    name: ` + schema + `
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: b}
spec:
  endpoints: [{fqdn: {hostname: ` + host + `, port: 443}}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: ` + meta + `
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: b}]
` + policy + extra
}

const oidcSecret = `
---
apiVersion: v1
kind: Secret
metadata: {name: oidc}
stringData: {client-secret: s3cret}
`

func loadCloud(t *testing.T, text string) (*Model, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadFile(p, func(string) string { return "" })
}

func TestCloudCredentialsFromCRD(t *testing.T) {
	m, err := loadCloud(t, cloudPolicyConfig("GCPVertexAI", `  type: GCPCredentials
  gcpCredentials:
    projectName: p1
    region: us-east5
    workloadIdentityFederationConfig:
      projectID: proj-9
      workloadIdentityPoolName: pool1
      workloadIdentityProviderName: prov1
      serviceAccountImpersonation: {serviceAccountName: caller}
      oidcExchangeToken:
        aud: sts
        oidc:
          provider: {issuer: "https://idp.example.com"}
          clientID: cid
          clientSecret: {name: oidc}
          scopes: [openid]
`, oidcSecret))
	if err != nil {
		t.Fatal(err)
	}
	g := m.Backends[0].Auth.GCP
	w := g.WorkloadIdentity
	if g.Project != "p1" || g.Region != "us-east5" || w == nil || w.ServiceAccountEmail() != "caller@proj-9.iam.gserviceaccount.com" ||
		w.OIDC.ClientSecret.Reveal() != "s3cret" || w.OIDC.Issuer != "https://idp.example.com" || w.OIDC.Audience != "sts" ||
		w.Audience() != "//iam.googleapis.com/projects/proj-9/locations/global/workloadIdentityPools/pool1/providers/prov1" {
		t.Errorf("GCP auth %+v / %+v", g, w)
	}

	m, err = loadCloud(t, cloudPolicyConfig("AzureOpenAI\n    version: 2024-10-21", `  type: AzureCredentials
  azureCredentials:
    tenantID: t1
    clientID: app1
    oidcExchangeToken:
      oidc:
        provider: {issuer: "https://idp.example.com", tokenEndpoint: "https://idp.example.com/token"}
        clientID: cid
        clientSecret: {name: oidc}
        logoutPath: /logout
`, oidcSecret))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Backends[0].Auth.Azure
	if a.TenantID != "t1" || a.OIDC == nil || a.OIDC.TokenEndpoint != "https://idp.example.com/token" || a.ClientSecret != "" {
		t.Errorf("Azure auth %+v", a)
	}
	if w := m.Warnings[len(m.Warnings)-1]; !strings.Contains(w, "spec.azureCredentials.oidcExchangeToken.oidc: logoutPath is ignored") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestCloudCredentialsErrors(t *testing.T) {
	for name, c := range map[string]struct{ policy, extra, want string }{
		"wif without pool": {`  type: GCPCredentials
  gcpCredentials:
    projectName: p1
    region: r
    workloadIdentityFederationConfig:
      projectID: proj-9
      workloadIdentityProviderName: prov1
      oidcExchangeToken: {oidc: {provider: {issuer: "https://i"}, clientID: c, clientSecret: {name: oidc}}}
`, oidcSecret, "workloadIdentityPoolName: missing required field"},
		"wif typo": {`  type: GCPCredentials
  gcpCredentials:
    projectName: p1
    region: r
    workloadIdentityFederationConfig:
      projectID: proj-9
      workloadIdentityPoolName: pool1
      workloadIdentityProviderNam: prov1
      oidcExchangeToken: {oidc: {provider: {issuer: "https://i"}, clientID: c, clientSecret: {name: oidc}}}
`, oidcSecret, `unknown field (did you mean "workloadIdentityProviderName"?)`},
		"azure oidc grant": {`  type: AzureCredentials
  azureCredentials:
    tenantID: t1
    clientID: app1
    oidcExchangeToken: {grantType: password, oidc: {provider: {issuer: "https://i"}, clientID: c, clientSecret: {name: oidc}}}
`, oidcSecret, "client_credentials"},
		"azure oidc secret missing": {`  type: AzureCredentials
  azureCredentials:
    tenantID: t1
    clientID: app1
    oidcExchangeToken: {oidc: {provider: {issuer: "https://i"}, clientID: c, clientSecret: {name: nope}}}
`, "", `Secret "nope" is not defined`},
	} {
		_, err := loadCloud(t, cloudPolicyConfig("AzureOpenAI\n    version: v", c.policy, c.extra))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestVertexSchemaNeedsGCPCredentials(t *testing.T) {
	_, err := loadCloud(t, cloudPolicyConfig("GCPAnthropic", `  type: APIKey
  apiKey: {secretRef: {name: k}}
`, `
---
apiVersion: v1
kind: Secret
metadata: {name: k}
stringData: {apiKey: x}
`))
	if err == nil || !strings.Contains(err.Error(), "a GCPAnthropic backend needs a BackendSecurityPolicy of type GCPCredentials") {
		t.Errorf("GCPAnthropic with an API key: %v", err)
	}
	m, err := loadCloud(t, cloudPolicyConfig("GCPVertexAI", `  type: GCPCredentials
  gcpCredentials: {projectName: p1, region: europe-west4}
`, ""))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range m.Warnings {
		found = found || strings.Contains(w, "us-east5-aiplatform.googleapis.com is not Vertex AI's host for region europe-west4 (europe-west4-aiplatform.googleapis.com)")
	}
	if !found {
		t.Errorf("no warning about the host: %q", m.Warnings)
	}
}
