package backendauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// fakeIdP is an OIDC provider (discovery and a client-credentials token endpoint), Google's STS
// and the IAM credentials API in one server, each checking what the step before it issued.
type fakeIdP struct {
	srv                     *httptest.Server
	oidc, sts, impersonated atomic.Int64
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{}
	mux := http.NewServeMux()
	mux.HandleFunc("/issuer/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, f.srv.URL+"/issuer", f.srv.URL+"/issuer/token")
	})
	mux.HandleFunc("/issuer/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" || id != "oidc-client" || secret != "oidc-secret" || r.PostForm.Get("scope") != "openid gcp" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"oidc-jwt-%d","token_type":"Bearer","expires_in":3600}`, f.oidc.Add(1))
	})
	mux.HandleFunc("/sts/v1/token", func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" ||
			!strings.HasPrefix(r.PostForm.Get("subject_token"), "oidc-jwt-") ||
			r.PostForm.Get("audience") != "//iam.googleapis.com/projects/proj-9/locations/global/workloadIdentityPools/pool1/providers/prov1" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_request","error_description":%q}`, r.PostForm.Encode())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"sts-%d","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}`, f.sts.Add(1))
	})
	mux.HandleFunc("/iam/v1/projects/-/serviceAccounts/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/vertex-caller@proj-9.iam.gserviceaccount.com:generateAccessToken") || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer sts-") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"accessToken": fmt.Sprintf("sa-%d", f.impersonated.Add(1)), "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) oidcExchange() config.OIDCExchange {
	return config.OIDCExchange{Issuer: f.srv.URL + "/issuer", ClientID: "oidc-client", ClientSecret: "oidc-secret", Scopes: []string{"openid", "gcp"}}
}

func TestGCPWorkloadIdentityFederationFromPolicy(t *testing.T) {
	for _, impersonate := range []bool{false, true} {
		f := newFakeIdP(t)
		w := &config.GCPWorkloadIdentity{ProjectID: "proj-9", PoolName: "pool1", ProviderName: "prov1", OIDC: f.oidcExchange(),
			STSURL: f.srv.URL + "/sts/v1/token", IAMCredentialsURL: f.srv.URL + "/iam"}
		want := "Bearer sts-1"
		if impersonate {
			w.ServiceAccount, want = "vertex-caller", "Bearer sa-1"
		}
		h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "us-east5", WorkloadIdentity: w}))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			up := &translate.Upstream{Path: "/publishers/google/models/m:generateContent", Header: http.Header{}}
			if err := h.Do(context.Background(), up); err != nil {
				t.Fatalf("impersonate=%v: %v", impersonate, err)
			}
			if got := up.Header.Get("Authorization"); got != want {
				t.Errorf("impersonate=%v: %q, want %q", impersonate, got, want)
			}
		}
		if f.oidc.Load() != 1 || f.sts.Load() != 1 {
			t.Errorf("impersonate=%v: %d OIDC and %d STS tokens for two requests, want 1 each (cached)", impersonate, f.oidc.Load(), f.sts.Load())
		}
	}
}

func TestGCPWorkloadIdentityFederationRefused(t *testing.T) {
	f := newFakeIdP(t)
	x := f.oidcExchange()
	x.ClientSecret = "wrong"
	w := &config.GCPWorkloadIdentity{ProjectID: "proj-9", PoolName: "pool1", ProviderName: "prov1", OIDC: x, STSURL: f.srv.URL + "/sts/v1/token"}
	h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "us-east5", WorkloadIdentity: w}))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Do(context.Background(), &translate.Upstream{Header: http.Header{}})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a refused OIDC client: %v", err)
	}
	if _, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "r", WorkloadIdentity: &config.GCPWorkloadIdentity{ProjectID: "x"}})); err == nil {
		t.Error("an incomplete workload identity configuration was accepted")
	}
}

func TestAzureOIDCClientAssertion(t *testing.T) {
	f := newFakeIdP(t)
	iss := &fakeTokenIssuer{t: t, reported: time.Hour, lifetime: time.Hour, expiry: map[string]time.Time{}, check: func(v url.Values) error {
		if a := v["client_assertion"]; len(a) != 1 || !strings.HasPrefix(a[0], "oidc-jwt-") || v["client_id"][0] != "app1" {
			return fmt.Errorf("form %v", v)
		}
		return nil
	}}
	entra := fakeEntraID(t, "tenant1", iss)
	x := f.oidcExchange()
	a := &config.AzureAuth{TenantID: "tenant1", ClientID: "app1", OIDC: &x, AuthorityHost: entra.URL + "/"}
	// The OIDC provider is plain HTTP and Entra ID TLS: one client that trusts the fake's
	// certificate serves both.
	cred, err := azureCredential(a, entra.Client())
	if err != nil {
		t.Fatal(err)
	}
	h := &azureHandler{auth: &config.Auth{Type: config.AuthAzureCredentials, Azure: a}, cred: cred, scope: azureDefaultScope}
	up := &translate.Upstream{Header: http.Header{}}
	if err := h.Do(context.Background(), up); err != nil || !iss.valid(up.Header.Get("Authorization")) {
		t.Fatalf("%v %v", err, up.Header)
	}
}
