package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// awsPolicyConfig is a configuration with one AWSBedrock backend whose policy has the given
// awsCredentials block (indented under it) and extra objects.
func awsPolicyConfig(awsCredentials, extra string) string {
	return `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  rules:
    - backendRefs: [{name: bedrock}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: bedrock}
spec:
  schema: {name: AWSBedrock}
  backendRef: {name: bedrock, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: bedrock}
spec:
  endpoints: [{fqdn: {hostname: bedrock-runtime.us-east-1.amazonaws.com, port: 443}}]
  tls: {wellKnownCACertificates: System}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: aws}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock}]
  type: AWSCredentials
  awsCredentials:
` + awsCredentials + "\n" + extra
}

func loadAWS(t *testing.T, text string) (*Model, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadFile(path, func(string) string { return "" })
}

func TestAWSCredentialsDecode(t *testing.T) {
	secrets := `---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  credentials: |
    [prod]
    aws_access_key_id = AKIA1
    aws_secret_access_key = s
---
apiVersion: v1
kind: Secret
metadata: {name: oidc}
stringData:
  client-secret: cs
  client-id: from-secret
`
	cases := []struct {
		name, block string
		want        *AWSAuth
	}{
		{"default chain", "    region: eu-west-1", &AWSAuth{Region: "eu-west-1"}},
		{"credentials file", "    region: us-east-1\n    credentialsFile: {secretRef: {name: creds}, profile: prod}",
			&AWSAuth{Region: "us-east-1", CredentialsFile: "[prod]\naws_access_key_id = AKIA1\naws_secret_access_key = s", Profile: "prod"}},
		{"oidc exchange", `    region: us-west-2
    oidcExchangeToken:
      awsRoleArn: arn:aws:iam::1:role/r
      aud: sts.amazonaws.com
      oidc:
        provider: {issuer: "https://idp.example.com", tokenEndpoint: "https://idp.example.com/token"}
        clientID: aigw
        clientSecret: {name: oidc}
        scopes: [openid, bedrock]
        forwardAccessToken: true`,
			&AWSAuth{Region: "us-west-2", OIDC: &AWSOIDCExchange{Issuer: "https://idp.example.com", TokenEndpoint: "https://idp.example.com/token",
				ClientID: "aigw", ClientSecret: "cs", Scopes: []string{"openid", "bedrock"}, Audience: "sts.amazonaws.com", RoleARN: "arn:aws:iam::1:role/r"}}},
		{"oidc client id from a secret", `    region: us-west-2
    oidcExchangeToken:
      awsRoleArn: arn:aws:iam::1:role/r
      oidc:
        provider: {issuer: "https://idp.example.com"}
        clientIDRef: {name: oidc}
        clientSecret: {name: oidc}`,
			&AWSAuth{Region: "us-west-2", OIDC: &AWSOIDCExchange{Issuer: "https://idp.example.com", ClientID: "from-secret", ClientSecret: "cs", RoleARN: "arn:aws:iam::1:role/r"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := loadAWS(t, awsPolicyConfig(c.block, secrets))
			if err != nil {
				t.Fatal(err)
			}
			a := m.Backends[0].Auth
			if a.Type != AuthAWSCredentials || a.Key != "" || !reflect.DeepEqual(a.AWS, c.want) {
				t.Errorf("auth = %+v, AWS = %#v\nwant %#v", a, a.AWS, c.want)
			}
		})
	}
}

func TestAWSCredentialsErrors(t *testing.T) {
	secret := "---\napiVersion: v1\nkind: Secret\nmetadata: {name: oidc}\nstringData: {client-secret: cs}\n"
	cases := []struct{ block, want string }{
		{"    region: us-east-1\n    credentialsFile: {secretRef: {name: missing}}", `Secret "missing" is not defined`},
		{`    region: us-east-1
    oidcExchangeToken:
      awsRoleArn: arn:aws:iam::1:role/r
      oidc: {provider: {issuer: "https://i"}, clientID: a, clientIDRef: {name: oidc}, clientSecret: {name: oidc}}`, "only one of clientID or clientIDRef"},
		{`    region: us-east-1
    oidcExchangeToken:
      oidc: {provider: {issuer: "https://i"}, clientID: a, clientSecret: {name: oidc}}`, "awsRoleArn: missing required field"},
		{`    region: us-east-1
    oidcExchangeToken:
      awsRoleArn: r
      oidc: {provider: {issuer: "https://i"}, clientID: a, clientSecret: {name: oidc}, clientSecrt: x}`, `clientSecrt: unknown field`},
		{`    region: us-east-1
    oidcExchangeToken:
      awsRoleArn: r
      oidc: {provider: {issuer: "https://i"}, clientID: a, clientSecret: {name: nope}}`, `Secret "nope" is not defined`},
	}
	for _, c := range cases {
		_, err := loadAWS(t, awsPolicyConfig(c.block, secret))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v, want %q", c.block, err, c.want)
		}
	}
}
