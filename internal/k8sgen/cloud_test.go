package k8sgen

import (
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
