package config

import (
	"strings"
	"testing"
)

// azureEntraConfig is a route to an Azure OpenAI backend with an AzureCredentials policy whose
// metadata is meta.
func azureEntraConfig(meta string) string {
	return policyConfig(`AzureOpenAI
    version: "2024-10-21"`, "r.openai.azure.com", meta, `  type: AzureCredentials
  azureCredentials:
    tenantID: t1
    clientID: c1
    clientSecretRef: {name: entra}
`, `---
apiVersion: v1
kind: Secret
metadata: {name: entra}
stringData: {client-secret: s3cret}
`)
}

func TestAzureAuthorityHostAnnotation(t *testing.T) {
	for _, tc := range []struct {
		meta, want, err string
	}{
		{meta: `{name: p}`, want: ""},
		{meta: `{name: p, annotations: {aigw.run/azure-authority-host: "https://login.microsoftonline.us"}}`, want: "https://login.microsoftonline.us/"},
		{meta: `{name: p, annotations: {aigw.run/azure-authority-host: "https://127.0.0.1:8443/"}}`, want: "https://127.0.0.1:8443/"},
		{meta: `{name: p, annotations: {aigw.run/azure-authority-host: "http://127.0.0.1:8443/"}}`, err: "is not an https URL"},
		{meta: `{name: p, annotations: {aigw.run/azure-authority-host: "login.microsoftonline.us"}}`, err: "is not an https URL"},
		{meta: `{name: p, annotations: {aigw.run/azure-authority-host: "https://h/?x=1"}}`, err: "is not an https URL"},
	} {
		m, err := load("c.yaml", []byte(azureEntraConfig(tc.meta)), envOf(nil), nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "c.yaml:") {
				t.Errorf("%s: error %v, want one with a line and %q", tc.meta, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.meta, err)
		}
		if got := m.Backends[0].Auth.Azure.AuthorityHost; got != tc.want {
			t.Errorf("%s: authority host %q, want %q", tc.meta, got, tc.want)
		}
	}
}
