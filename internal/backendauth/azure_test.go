package backendauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// fakeEntraID is a TLS Entra ID authority (MSAL insists on https): the tenant's OpenID
// configuration and a token endpoint that issues through a fakeTokenIssuer.
func fakeEntraID(t *testing.T, tenant string, iss *fakeTokenIssuer) *httptest.Server {
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/"+tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := srv.URL + "/" + tenant
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_endpoint":%q,"authorization_endpoint":%q,"issuer":%q,"tenant_region_scope":"NA"}`,
			base+"/oauth2/v2.0/token", base+"/oauth2/v2.0/authorize", base+"/v2.0")
	})
	mux.Handle("/"+tenant+"/oauth2/v2.0/token", iss)
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// newTestAzureHandler is newAzureHandler with the fake authority's TLS client.
func newTestAzureHandler(t *testing.T, a *config.AzureAuth, srv *httptest.Server) *azureHandler {
	t.Helper()
	a.AuthorityHost = srv.URL + "/"
	cred, err := azureCredential(a, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return &azureHandler{auth: &config.Auth{Type: config.AuthAzureCredentials, Azure: a}, cred: cred, scope: azureDefaultScope}
}

func checkClientSecret(v url.Values) error {
	if v.Get("grant_type") != "client_credentials" || v.Get("client_id") != "app1" || v.Get("client_secret") != "s3cret" || strings.Fields(v.Get("scope"))[0] != azureDefaultScope {
		return fmt.Errorf("form %v", v)
	}
	return nil
}

func TestAzureClientSecret(t *testing.T) {
	iss := &fakeTokenIssuer{t: t, check: checkClientSecret, reported: time.Hour, lifetime: time.Hour, expiry: map[string]time.Time{}}
	srv := fakeEntraID(t, "tenant1", iss)
	h := newTestAzureHandler(t, &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", ClientSecret: "s3cret"}, srv)
	for range 3 {
		up := &translate.Upstream{Header: http.Header{"Api-Key": {"client"}, "Authorization": {"Bearer client"}}}
		if err := h.Do(context.Background(), up); err != nil {
			t.Fatal(err)
		}
		if !iss.valid(up.Header.Get("Authorization")) || up.Header.Get("Api-Key") != "" {
			t.Fatalf("headers %v", up.Header)
		}
	}
	if n := iss.n.Load(); n != 1 {
		t.Errorf("%d tokens for 3 requests, want 1 (cached)", n)
	}
}

func TestAzureTokenRefreshedUnderLoad(t *testing.T) {
	// Entra ID says 301 s, the fake accepts a token for 3 s: a handler that renews 5 minutes
	// early uses each for about a second, and no request carries an expired one.
	iss := &fakeTokenIssuer{t: t, check: checkClientSecret, reported: 301 * time.Second, lifetime: 3 * time.Second, expiry: map[string]time.Time{}}
	srv := fakeEntraID(t, "tenant1", iss)
	h := newTestAzureHandler(t, &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", ClientSecret: "s3cret"}, srv)
	deadline := time.Now().Add(3500 * time.Millisecond)
	var failed, total atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				up := &translate.Upstream{Header: http.Header{}}
				err := h.Do(context.Background(), up)
				total.Add(1)
				if err != nil || !iss.valid(up.Header.Get("Authorization")) {
					failed.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests carried no live token", failed.Load(), total.Load())
	}
	if n := iss.n.Load(); n < 2 {
		t.Errorf("%d tokens: no refresh happened", n)
	}
}

func TestAzureWorkloadIdentity(t *testing.T) {
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte("federated-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	iss := &fakeTokenIssuer{t: t, reported: time.Hour, lifetime: time.Hour, expiry: map[string]time.Time{}, check: func(v url.Values) error {
		if v.Get("client_assertion") != "federated-jwt" || v.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || v.Get("client_id") != "app1" {
			return fmt.Errorf("form %v", v)
		}
		return nil
	}}
	srv := fakeEntraID(t, "tenant1", iss)
	h := newTestAzureHandler(t, &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", FederatedTokenFile: file}, srv)
	up := &translate.Upstream{Header: http.Header{}}
	if err := h.Do(context.Background(), up); err != nil || !iss.valid(up.Header.Get("Authorization")) {
		t.Fatalf("%v %v", err, up.Header)
	}
}

func TestAzureErrors(t *testing.T) {
	iss := &fakeTokenIssuer{t: t, check: func(url.Values) error { return errors.New("bad secret") }, reported: time.Hour, lifetime: time.Hour, expiry: map[string]time.Time{}}
	srv := fakeEntraID(t, "tenant1", iss)
	h := newTestAzureHandler(t, &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", ClientSecret: "s3cret"}, srv)
	err := h.Do(context.Background(), &translate.Upstream{Header: http.Header{}})
	var te *translate.Error
	if !errors.As(err, &te) || te.Status != http.StatusBadGateway || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a refused secret: %v", err)
	}
	u, _ := url.Parse("https://x.openai.azure.com")
	for name, a := range map[string]*config.AzureAuth{
		"nothing":           {TenantID: "t", ClientID: "c"},
		"secret, no tenant": {ClientID: "c", ClientSecret: "s"},
		"nil":               nil,
	} {
		_, err := New(&config.Backend{Name: "az", Endpoint: u, Auth: &config.Auth{Type: config.AuthAzureCredentials, Azure: a}})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(&config.Backend{Name: "az", Endpoint: u, Auth: &config.Auth{Type: config.AuthAzureCredentials,
		Azure: &config.AzureAuth{ManagedIdentity: true, ClientID: "c"}}}); err != nil {
		t.Errorf("managed identity: %v", err)
	}
}

func TestAzureCredentialOverride(t *testing.T) {
	iss := &fakeTokenIssuer{t: t, check: checkClientSecret, reported: time.Hour, lifetime: time.Hour, expiry: map[string]time.Time{}}
	srv := fakeEntraID(t, "tenant1", iss)
	h := newTestAzureHandler(t, &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", ClientSecret: "s3cret"}, srv)
	h.auth.Override = &config.CredentialOverride{Header: "x-aigw-azure-access-token", FallbackToConfigured: true}
	up := &translate.Upstream{Header: http.Header{"X-Aigw-Azure-Access-Token": {"user-tok"}}}
	if err := h.Do(context.Background(), up); err != nil || up.Header.Get("Authorization") != "Bearer user-tok" {
		t.Errorf("override: %v %v", err, up.Header)
	}
	up = &translate.Upstream{Header: http.Header{}}
	if err := h.Do(context.Background(), up); err != nil || !iss.valid(up.Header.Get("Authorization")) {
		t.Errorf("fallback: %v %v", err, up.Header)
	}
}
