package k8sgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// normalCloud is a cloud credential as comparable values, its secrets masked when the rendering
// holds placeholders.
func normalCloud(a *config.Auth, masked bool) any {
	mask := func(s config.Secret) string {
		if masked && s != "" {
			return "masked"
		}
		return s.Reveal()
	}
	type aws struct {
		Region, CredentialsFile, Profile string
		OIDC                             *config.AWSOIDCExchange
		OIDCSecret                       string
	}
	type gcp struct{ Project, Region, Credentials string }
	type azure struct{ Tenant, Client, Secret string }
	var out struct {
		AWS   *aws
		GCP   *gcp
		Azure *azure
	}
	if x := a.AWS; x != nil {
		out.AWS = &aws{Region: x.Region, CredentialsFile: mask(x.CredentialsFile), Profile: x.Profile}
		if x.OIDC != nil {
			o := *x.OIDC
			out.AWS.OIDCSecret, o.ClientSecret = mask(o.ClientSecret), ""
			out.AWS.OIDC = &o
		}
	}
	if x := a.GCP; x != nil {
		out.GCP = &gcp{Project: x.Project, Region: x.Region, Credentials: mask(x.CredentialsJSON)}
	}
	if x := a.Azure; x != nil {
		out.Azure = &azure{Tenant: x.TenantID, Client: x.ClientID, Secret: mask(x.ClientSecret)}
	}
	return out
}

// TestCloudCredentialsRendered checks that each cloud credential case renders its policy with a
// Secret per credential value (a placeholder by default) and the real value only when asked.
func TestCloudCredentialsRendered(t *testing.T) {
	want := map[string][]string{
		"aws":   {"awsCredentials:", "credentialsFile:", "profile: bedrock", "oidcExchangeToken:", "awsRoleArn: arn:aws:iam::123456789012:role/aigw-bedrock", "name: bedrock-file-aws-credentials", "name: bedrock-oidc-oidc-client"},
		"gcp":   {"gcpCredentials:", "projectName: my-project", "name: vertex-key-gcp-credentials", "service_account.json: REPLACE-ME"},
		"azure": {"azureCredentials:", "clientSecretRef:", "name: azure-entra-azure-client-secret", "client-secret: REPLACE-ME", "header: x-entra-token"},
	}
	found := 0
	for _, c := range cases(t) {
		w, ok := want[c.name]
		if !ok {
			continue
		}
		found++
		t.Run(c.name, func(t *testing.T) {
			m := c.load(t)
			_, out := render(t, m, false)
			for _, s := range w {
				if !strings.Contains(string(out), s) {
					t.Errorf("output lacks %q", s)
				}
			}
			secrets := modelSecrets(m)
			if len(secrets) == 0 {
				t.Fatal("the case has no credential to check")
			}
			_, with := render(t, m, true)
			for _, s := range secrets {
				if strings.Contains(string(out), s) || strings.Contains(string(out), strings.Split(s, "\n")[0]) {
					t.Errorf("%q is in the default output", s)
				}
				// A credentials file is a block scalar: look for each of its lines.
				for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
					if !strings.Contains(string(with), line) {
						t.Errorf("%q is not in the output with real values", line)
					}
				}
			}
		})
	}
	if found != len(want) {
		t.Fatalf("%d of %d cases found", found, len(want))
	}
}

// TestAzureAuthorityAndGeminiAPI: an Entra ID authority host other than the public cloud's is
// rendered in the annotation aigw loads it from (the round trip keeps it) with a warning that the
// cluster ignores it, and a Gemini API backend (GCPVertexAI with an APIKey policy), which Envoy AI
// Gateway does not serve, is rendered with a warning saying what to use there.
func TestAzureAuthorityAndGeminiAPI(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "azure-entra.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Replace(string(data), "  # annotations:\n  #   aigw.run/azure-authority-host:", "  annotations:\n    aigw.run/azure-authority-host:", 1)
	if in == string(data) {
		t.Fatal("configs/azure-entra.yaml no longer has the commented annotation")
	}
	in += `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: gemini}
spec:
  schema: {name: GCPVertexAI}
  backendRef: {name: gemini, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: gemini}
spec:
  endpoints: [{fqdn: {hostname: generativelanguage.googleapis.com, port: 443}}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gemini-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: gemini}]
  type: APIKey
  apiKey: {secretRef: {name: gemini-key}}
---
apiVersion: v1
kind: Secret
metadata: {name: gemini-key}
stringData: {apiKey: AIza-test}
`
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := config.LoadFile(p, func(string) string { return "secret" })
	if err != nil {
		t.Fatal(err)
	}
	res, out := render(t, m, false)
	if !strings.Contains(string(out), "aigw.run/azure-authority-host: https://login.microsoftonline.us/") {
		t.Errorf("the authority host annotation is not rendered:\n%s", out)
	}
	warned := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"authority host is kept in the aigw.run/azure-authority-host annotation", `backend "gemini" is the Gemini API`} {
		if !strings.Contains(warned, w) {
			t.Errorf("warnings lack %q:\n%s", w, warned)
		}
	}
	back := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(back, out, 0o600); err != nil {
		t.Fatal(err)
	}
	m2, err := config.LoadFile(back, func(string) string { return "secret" })
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m2.Backends {
		if b.Auth != nil && b.Auth.Azure != nil && b.Auth.Azure.AuthorityHost != "https://login.microsoftonline.us/" {
			t.Errorf("authority host after the round trip: %q", b.Auth.Azure.AuthorityHost)
		}
	}
}
