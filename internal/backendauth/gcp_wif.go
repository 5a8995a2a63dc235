package backendauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/aigw/aigw/internal/config"
)

// oidcTokenSource gets OIDC tokens with the client-credentials grant (the CRD's
// oidcExchangeToken): they are the subject of a Google STS exchange or an Entra ID client
// assertion. The token endpoint is discovered from the issuer once when not configured. Tokens
// are cached by oauth2 until shortly before they expire.
type oidcTokenSource struct {
	x      config.OIDCExchange
	client *http.Client

	mu sync.Mutex
	ts oauth2.TokenSource
}

func newOIDCTokenSource(x config.OIDCExchange, client *http.Client) *oidcTokenSource {
	if client == nil {
		client = &http.Client{Timeout: tokenFetchTimeout}
	}
	return &oidcTokenSource{x: x, client: client}
}

// token returns a current OIDC token: the id_token when the provider gives one, else the access
// token (a JWT at most providers' client-credentials grant).
func (o *oidcTokenSource) token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ts == nil {
		endpoint := o.x.TokenEndpoint
		if endpoint == "" {
			var err error
			if endpoint, err = o.discover(ctx); err != nil {
				return "", err
			}
		}
		cc := &clientcredentials.Config{ClientID: o.x.ClientID, ClientSecret: o.x.ClientSecret.Reveal(), TokenURL: endpoint, Scopes: o.x.Scopes}
		if o.x.Audience != "" {
			cc.EndpointParams = map[string][]string{"audience": {o.x.Audience}}
		}
		o.ts = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, o.client))
	}
	t, err := o.ts.Token()
	if err != nil {
		return "", fmt.Errorf("oidc token from %s: %w", o.x.Issuer, redactTokenError(err))
	}
	if id, ok := t.Extra("id_token").(string); ok && id != "" {
		return id, nil
	}
	return t.AccessToken, nil
}

// discover reads the token endpoint from the issuer's OpenID configuration.
func (o *oidcTokenSource) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(o.x.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("oidc issuer %q: %w", o.x.Issuer, err)
	}
	res, err := o.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("oidc discovery: %w", err)
	}
	defer res.Body.Close()
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("oidc discovery at %s: %s", u, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("oidc discovery at %s: no token_endpoint", u)
	}
	return doc.TokenEndpoint, nil
}

// oidcSupplier gives the OIDC token to Google's external account machinery as the subject token.
type oidcSupplier struct{ o *oidcTokenSource }

func (s oidcSupplier) SubjectToken(ctx context.Context, _ externalaccount.SupplierOptions) (string, error) {
	return s.o.token(ctx)
}

// gcpWorkloadIdentitySource is the token source of Workload Identity Federation configured in
// the policy: the OIDC token exchanged at STS for the pool provider's federated token, then,
// with a service account to impersonate, for that account's access token.
func gcpWorkloadIdentitySource(w *config.GCPWorkloadIdentity, client *http.Client) (oauth2.TokenSource, error) {
	if w.ProjectID == "" || w.PoolName == "" || w.ProviderName == "" || w.OIDC.ClientID == "" || w.OIDC.Issuer == "" {
		return nil, errors.New("gcp workload identity federation needs projectID, pool, provider and an OIDC issuer and client")
	}
	if client == nil {
		client = &http.Client{Timeout: tokenFetchTimeout}
	}
	cfg := externalaccount.Config{
		Audience:             w.Audience(),
		SubjectTokenType:     "urn:ietf:params:oauth:token-type:jwt",
		TokenURL:             w.STSURL,
		Scopes:               []string{gcpScope},
		SubjectTokenSupplier: oidcSupplier{newOIDCTokenSource(w.OIDC, client)},
	}
	if sa := w.ServiceAccountEmail(); sa != "" {
		base := w.IAMCredentialsURL
		if base == "" {
			base = "https://iamcredentials.googleapis.com"
		}
		cfg.ServiceAccountImpersonationURL = strings.TrimSuffix(base, "/") + "/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	ts, err := externalaccount.NewTokenSource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("gcp workload identity federation: %w", err)
	}
	return ts, nil
}
