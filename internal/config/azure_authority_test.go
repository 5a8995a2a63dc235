package config

import (
	"strings"
	"testing"
)

// azureEntraConfig is a route to an Azure OpenAI backend with an AzureCredentials policy whose
// metadata is meta.
func azureEntraConfig(meta string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: 1975}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: az}]}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: az}
spec:
  schema: {name: AzureOpenAI, version: "2024-10-21"}
  backendRef: {name: az, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: az}
spec:
  endpoints: [{fqdn: {hostname: r.openai.azure.com, port: 443}}]
---
apiVersion: v1
kind: Secret
metadata: {name: entra}
stringData: {client-secret: s3cret}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: ` + meta + `
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: az}]
  type: AzureCredentials
  azureCredentials:
    tenantID: t1
    clientID: c1
    clientSecretRef: {name: entra}
`
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
