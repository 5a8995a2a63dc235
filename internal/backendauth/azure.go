package backendauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// azureDefaultScope is the scope of Azure OpenAI (Cognitive Services) tokens.
const azureDefaultScope = "https://cognitiveservices.azure.com/.default"

// azureRefreshMargin is how long before its expiry a token is replaced, so that no request leaves
// with a token that expires on the way.
const azureRefreshMargin = 5 * time.Minute

// azureHandler puts a Microsoft Entra ID access token on Azure OpenAI requests. The token is
// cached and replaced azureRefreshMargin before it expires (or when Entra ID's refresh_in says
// so); concurrent requests wait for one fetch.
type azureHandler struct {
	auth  *config.Auth
	cred  azcore.TokenCredential
	scope string

	mu    sync.Mutex
	token azcore.AccessToken
}

func newAzureHandler(b *config.Backend) (Handler, error) {
	a := b.Auth.Azure
	if a == nil {
		return nil, fmt.Errorf("backend %s: AzureCredentials needs a tenant and a client", b.Name)
	}
	cred, err := azureCredential(a, nil)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", b.Name, err)
	}
	scope := a.Scope
	if scope == "" {
		scope = azureDefaultScope
	}
	return &azureHandler{auth: b.Auth, cred: cred, scope: scope}, nil
}

// azureCredential builds the azidentity credential of a: a client secret, an OIDC token from
// another identity provider as client assertion (the CRD's oidcExchangeToken), a federated token
// file (workload identity) or the managed identity. transport, when set, carries its HTTP requests
// (tests); otherwise a client with a timeout does.
func azureCredential(a *config.AzureAuth, transport policy.Transporter) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Transport: transport}
	if transport == nil {
		opts.Transport = &http.Client{Timeout: tokenFetchTimeout}
	}
	if a.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: a.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	}
	// Instance discovery asks login.microsoftonline.com about the authority; a sovereign or
	// test authority is trusted as configured.
	noDiscovery := a.AuthorityHost != ""
	switch {
	case a.ClientSecret != "":
		if a.TenantID == "" || a.ClientID == "" {
			return nil, errors.New("azure credentials: a client secret needs tenantID and clientID")
		}
		return azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case a.OIDC != nil:
		if a.TenantID == "" || a.ClientID == "" {
			return nil, errors.New("azure credentials: an OIDC client assertion needs tenantID and clientID")
		}
		var client *http.Client
		if c, ok := opts.Transport.(*http.Client); ok {
			client = c
		}
		o := newOIDCTokenSource(*a.OIDC, client)
		return azidentity.NewClientAssertionCredential(a.TenantID, a.ClientID, o.token,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case a.FederatedTokenFile != "":
		if a.TenantID == "" || a.ClientID == "" {
			return nil, errors.New("azure credentials: workload identity needs tenantID and clientID")
		}
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: a.ClientID, TenantID: a.TenantID, TokenFilePath: a.FederatedTokenFile,
			DisableInstanceDiscovery: noDiscovery,
		})
	case a.ManagedIdentity:
		mi := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if a.ClientID != "" {
			mi.ID = azidentity.ClientID(a.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(mi)
	}
	return nil, errors.New("azure credentials: set a client secret, an OIDC exchange, a federated token file or managed identity")
}

func (h *azureHandler) Do(ctx context.Context, up *translate.Upstream) error {
	token := ""
	if o := h.auth.Override; o != nil {
		token = up.Header.Get(o.Header)
		up.Header.Del(o.Header)
		if token == "" && !o.FallbackToConfigured {
			return fmt.Errorf("%w: the request has no %s header", ErrMissingCredential, o.Header)
		}
	}
	if token == "" {
		t, err := h.accessToken(ctx)
		if err != nil {
			return translate.Errorf(http.StatusBadGateway, "backend_auth", "azure access token: %v", azureTokenError(err))
		}
		token = t
	}
	for _, name := range clientCredentialHeaders {
		up.Header.Del(name)
	}
	up.Header.Set("Authorization", "Bearer "+token)
	return nil
}

// accessToken returns the cached token, fetching a new one when it is about to expire.
func (h *azureHandler) accessToken(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.token.Token != "" && now.Before(h.token.ExpiresOn.Add(-azureRefreshMargin)) &&
		(h.token.RefreshOn.IsZero() || now.Before(h.token.RefreshOn)) {
		return h.token.Token, nil
	}
	// A fetch serves every waiting request; it is bounded by the HTTP client's timeout rather
	// than by one request's context, so a client that hangs up does not fail the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
	defer cancel()
	t, err := h.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{h.scope}})
	if err != nil {
		return "", err
	}
	h.token = t
	return t.Token, nil
}

// azureTokenError keeps an Entra ID failure to its status and error code (never the body).
func azureTokenError(err error) error {
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) && ae.RawResponse != nil {
		return fmt.Errorf("entra id answered %s", ae.RawResponse.Status)
	}
	var ce *azidentity.AuthenticationRequiredError
	if errors.As(err, &ce) {
		return errors.New("entra id requires interactive authentication")
	}
	return err
}
