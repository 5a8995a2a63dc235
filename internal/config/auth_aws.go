package config

import (
	"maps"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"
)

// AWSAuth is the typed configuration of an AWSCredentials policy. Exactly one credential source
// applies, in this order: an OIDC exchange, a credentials file, the SDK's default chain
// (environment, shared files, SSO, web identity / IRSA, EKS Pod Identity, ECS, IMDS).
type AWSAuth struct {
	// Region signs every request and is the region of the STS call of an OIDC exchange.
	Region string
	// CredentialsFile is the content of a shared credentials file (the Secret's "credentials"
	// key); Profile picks its section ("default" when empty).
	CredentialsFile Secret
	Profile         string
	// OIDC, when set, exchanges an OIDC provider's token for role credentials.
	OIDC *AWSOIDCExchange
}

// Source names where the credentials come from, for error messages.
func (a *AWSAuth) Source() string {
	switch {
	case a.OIDC != nil:
		return "OIDC exchange for role " + a.OIDC.RoleARN
	case a.CredentialsFile != "":
		p := a.Profile
		if p == "" {
			p = "default"
		}
		return "credentials file, profile " + p
	}
	return "default credential chain"
}

// AWSOIDCExchange is oidcExchangeToken: a token from an OIDC provider's token endpoint (client
// credentials grant) exchanged for a role's credentials with STS AssumeRoleWithWebIdentity.
type AWSOIDCExchange struct {
	// Issuer is the provider's issuer URL; TokenEndpoint, when empty, is discovered from its
	// /.well-known/openid-configuration.
	Issuer        string
	TokenEndpoint string
	ClientID      string
	ClientSecret  Secret
	// ClientSecretSource says where ClientSecret came from ("env:VAR", "file:PATH" or ""), as
	// Auth.Source.
	ClientSecretSource string `json:"-"`
	Scopes             []string
	// GrantType defaults to client_credentials; Audience is sent as "audience" when set.
	GrantType string
	Audience  string
	RoleARN   string
}

// The CRD's oidcExchangeToken, decoded strictly from the subtree the policy keeps as a node. The
// OIDC fields of Envoy Gateway's browser flow (cookies, redirects, ...) mean nothing to a token
// exchange and are collected by the rest fields.
type crdAWSOIDCExchange struct {
	OIDC       crdOIDC `json:"oidc" crd:"required"`
	GrantType  string  `json:"grantType"`
	Aud        string  `json:"aud"`
	AWSRoleArn string  `json:"awsRoleArn" crd:"required"`
}

type crdOIDC struct {
	Provider     crdOIDCProvider       `json:"provider" crd:"required"`
	ClientID     string                `json:"clientID"`
	ClientIDRef  *secretObjRef         `json:"clientIDRef"`
	ClientSecret secretObjRef          `json:"clientSecret" crd:"required"`
	Scopes       []string              `json:"scopes"`
	Rest         map[string]*yaml.Node `crd:"rest"`
}

type crdOIDCProvider struct {
	Issuer        string                `json:"issuer" crd:"required"`
	TokenEndpoint string                `json:"tokenEndpoint"`
	Rest          map[string]*yaml.Node `crd:"rest"`
}

// awsAuth compiles an awsCredentials block; the credentials file's content, when there is one,
// has been read into file.
func (b *builder) awsAuth(c *awsCredentials, ns string, file Secret) (*AWSAuth, bool) {
	a := &AWSAuth{Region: c.Region, CredentialsFile: file}
	if c.Region == "" {
		b.d.errorf(b.d.line(&c.Region), "spec.awsCredentials.region: must not be empty")
		return nil, false
	}
	if c.CredentialsFile != nil {
		a.Profile = c.CredentialsFile.Profile
	}
	if c.OIDCExchangeToken == nil {
		return a, true
	}
	if c.CredentialsFile != nil {
		b.d.errorf(b.d.line(&c.OIDCExchangeToken), "spec.awsCredentials: at most one of credentialsFile or oidcExchangeToken may be specified")
		return nil, false
	}
	var x crdAWSOIDCExchange
	errs := len(b.d.errs)
	b.d.decode(c.OIDCExchangeToken, reflect.ValueOf(&x).Elem(), "spec.awsCredentials.oidcExchangeToken")
	if len(b.d.errs) > errs {
		return nil, false
	}
	line := b.d.line(&c.OIDCExchangeToken)
	ok := checkRest(b, "spec.awsCredentials.oidcExchangeToken.oidc", x.OIDC.Rest, oidcBrowserFields)
	ok = checkRest(b, "spec.awsCredentials.oidcExchangeToken.oidc.provider", x.OIDC.Provider.Rest, oidcProviderFields) && ok
	if !ok {
		return nil, false
	}
	o := &AWSOIDCExchange{
		Issuer: x.OIDC.Provider.Issuer, TokenEndpoint: x.OIDC.Provider.TokenEndpoint,
		ClientID: x.OIDC.ClientID, Scopes: x.OIDC.Scopes,
		GrantType: x.GrantType, Audience: x.Aud, RoleARN: x.AWSRoleArn,
	}
	if (x.OIDC.ClientID == "") == (x.OIDC.ClientIDRef == nil) {
		b.d.errorf(line, "spec.awsCredentials.oidcExchangeToken.oidc: only one of clientID or clientIDRef must be set")
		return nil, false
	}
	if r := x.OIDC.ClientIDRef; r != nil {
		v, found := b.secretValue(line, ns, r.Namespace, r.Name, "client-id")
		if !found {
			return nil, false
		}
		o.ClientID = v
	}
	v, found := b.secretValue(line, ns, x.OIDC.ClientSecret.Namespace, x.OIDC.ClientSecret.Name, "client-secret")
	if !found {
		return nil, false
	}
	o.ClientSecret = Secret(v)
	o.ClientSecretSource = b.secretData[refKey(ns, x.OIDC.ClientSecret.Namespace, x.OIDC.ClientSecret.Name)].sources["client-secret"]
	if o.Issuer == "" && o.TokenEndpoint == "" {
		b.d.errorf(line, "spec.awsCredentials.oidcExchangeToken.oidc.provider.issuer: must not be empty")
		return nil, false
	}
	a.OIDC = o
	return a, true
}

// oidcBrowserFields and oidcProviderFields are the CRD's OIDC fields that only Envoy Gateway's
// browser login uses; a token exchange accepts and ignores them. Any other key is a typo.
var (
	oidcBrowserFields = []string{"cookieConfig", "cookieDomain", "cookieNames", "csrfTokenTTL", "defaultRefreshTokenTTL",
		"defaultTokenTTL", "denyRedirect", "disableTokenEncryption", "forwardAccessToken", "forwardIDToken", "logoutPath",
		"passThroughAuthHeader", "redirectURL", "refreshToken", "resources"}
	oidcProviderFields = []string{"authorizationEndpoint", "backendRef", "backendRefs", "backendSettings", "endSessionEndpoint"}
)

// checkRest reports keys of rest that are not in allowed as unknown fields.
func checkRest(b *builder, path string, rest map[string]*yaml.Node, allowed []string) bool {
	ok := true
	for _, k := range slices.Sorted(maps.Keys(rest)) {
		if !slices.Contains(allowed, k) {
			b.d.errorf(rest[k].Line, "%s.%s: unknown field", path, k)
			ok = false
		}
	}
	return ok
}
