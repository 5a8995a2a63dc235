package backendauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
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

// fakeTokenIssuer is an OAuth2 token endpoint that issues numbered tokens and remembers when
// each one stops being valid, so a test can ask whether a request carried a live token.
type fakeTokenIssuer struct {
	t *testing.T
	// check validates one token request's form; nil accepts any.
	check func(url.Values) error
	// reported is the expires_in the issuer reports; lifetime is how long it accepts a token.
	reported, lifetime time.Duration

	n      atomic.Int64
	mu     sync.Mutex
	expiry map[string]time.Time
}

func newFakeTokenIssuer(t *testing.T, reported, lifetime time.Duration, check func(url.Values) error) (*fakeTokenIssuer, *httptest.Server) {
	f := &fakeTokenIssuer{t: t, check: check, reported: reported, lifetime: lifetime, expiry: map[string]time.Time{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeTokenIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if f.check != nil {
		if err := f.check(r.PostForm); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, err.Error())
			return
		}
	}
	tok := fmt.Sprintf("tok-%d", f.n.Add(1))
	f.mu.Lock()
	f.expiry[tok] = time.Now().Add(f.lifetime)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, int(f.reported.Seconds()))
}

// valid reports whether an Authorization header holds a token this issuer gave out that has
// not expired.
func (f *fakeTokenIssuer) valid(authz string) bool {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.expiry[tok]
	return ok && time.Now().Before(exp)
}

// serviceAccountJSON is a service-account key file whose token_uri is the fake issuer.
func serviceAccountJSON(t *testing.T, tokenURI string) (string, *rsa.PrivateKey) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "p1",
		"private_key_id": "kid1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "sa@p1.iam.gserviceaccount.com",
		"client_id":      "123",
		"token_uri":      tokenURI,
	})
	return string(b), key
}

// checkJWTBearer accepts a service account's signed JWT assertion for the cloud-platform scope.
func checkJWTBearer(v url.Values) error {
	if g := v.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("grant_type %q", g)
	}
	parts := strings.Split(v.Get("assertion"), ".")
	if len(parts) != 3 {
		return errors.New("assertion is not a JWT")
	}
	claims, err := decodeSegment(parts[1])
	if err != nil {
		return err
	}
	var c struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return err
	}
	if c.Iss != "sa@p1.iam.gserviceaccount.com" || c.Scope != gcpScope {
		return fmt.Errorf("claims %s", claims)
	}
	return nil
}

func gcpBackend(g *config.GCPAuth) *config.Backend {
	u, _ := url.Parse("https://us-east5-aiplatform.googleapis.com")
	return &config.Backend{Name: "vertex", Endpoint: u, Schema: config.Schema{Name: config.SchemaGCPVertexAI},
		Auth: &config.Auth{Type: config.AuthGCPCredentials, GCP: g}}
}

func TestGCPServiceAccount(t *testing.T) {
	iss, srv := newFakeTokenIssuer(t, time.Hour, time.Hour, checkJWTBearer)
	sa, _ := serviceAccountJSON(t, srv.URL+"/token")
	h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "us-east5", CredentialsJSON: config.Secret(sa)}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		up := &translate.Upstream{Path: "/publishers/google/models/gemini-2.5-flash:generateContent", Header: http.Header{"Authorization": {"Bearer client"}, "X-Api-Key": {"c"}}}
		if err := h.Do(context.Background(), up); err != nil {
			t.Fatal(err)
		}
		if !iss.valid(up.Header.Get("Authorization")) || up.Header.Get("X-Api-Key") != "" {
			t.Errorf("request %d: headers %v", i, up.Header)
		}
		if want := "/v1/projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"; up.Path != want {
			t.Errorf("path %s, want %s", up.Path, want)
		}
	}
	if n := iss.n.Load(); n != 1 {
		t.Errorf("%d tokens fetched for 3 requests, want 1 (cached)", n)
	}
}

func TestGCPTokenRefreshedUnderLoad(t *testing.T) {
	// The issuer says 11 s and accepts a token for 3 s; oauth2 renews 10 s early, so a handler
	// that refreshes keeps every request on a live token while several tokens come and go.
	iss, srv := newFakeTokenIssuer(t, 11*time.Second, 3*time.Second, checkJWTBearer)
	sa, _ := serviceAccountJSON(t, srv.URL+"/token")
	h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "global", CredentialsJSON: config.Secret(sa)}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3500 * time.Millisecond)
	var failed, total atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				up := &translate.Upstream{Path: "/publishers/google/models/m:generateContent", Header: http.Header{}}
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
		t.Errorf("%d tokens over 3.5 s of 1 s tokens: no refresh happened", n)
	}
}

func TestGCPExternalAccountFile(t *testing.T) {
	// Workload Identity Federation: an external account whose subject token is a file (a
	// Kubernetes projected token), exchanged at the STS endpoint named in the file.
	dir := t.TempDir()
	subject := filepath.Join(dir, "token")
	if err := os.WriteFile(subject, []byte("k8s-jwt-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen atomic.Value
	iss, srv := newFakeTokenIssuer(t, time.Hour, time.Hour, func(v url.Values) error {
		seen.Store(v.Get("subject_token"))
		if v.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || v.Get("audience") != "//iam.googleapis.com/projects/9/locations/global/workloadIdentityPools/pool/providers/prov" {
			return fmt.Errorf("form %v", v)
		}
		return nil
	})
	cred, _ := json.Marshal(map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/9/locations/global/workloadIdentityPools/pool/providers/prov",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          srv.URL + "/v1/token",
		"credential_source":  map[string]any{"file": subject},
	})
	file := filepath.Join(dir, "cred.json")
	if err := os.WriteFile(file, cred, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "us-east5", CredentialsFile: file}))
	if err != nil {
		t.Fatal(err)
	}
	up := &translate.Upstream{Path: "/publishers/anthropic/models/claude:rawPredict", Header: http.Header{}}
	if err := h.Do(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if !iss.valid(up.Header.Get("Authorization")) || seen.Load() != "k8s-jwt-1" {
		t.Errorf("authorization %q, subject token %v", up.Header.Get("Authorization"), seen.Load())
	}
}

func TestGCPErrors(t *testing.T) {
	_, srv := newFakeTokenIssuer(t, time.Hour, time.Hour, func(url.Values) error { return errors.New("no") })
	sa, _ := serviceAccountJSON(t, srv.URL+"/token")
	h, err := New(gcpBackend(&config.GCPAuth{Project: "p1", Region: "r", CredentialsJSON: config.Secret(sa)}))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Do(context.Background(), &translate.Upstream{Path: "/publishers/x", Header: http.Header{}})
	var te *translate.Error
	if !errors.As(err, &te) || te.Status != http.StatusBadGateway || strings.Contains(err.Error(), "PRIVATE") {
		t.Errorf("a refused token: %v", err)
	}

	for name, g := range map[string]*config.GCPAuth{
		"no project":   {Region: "r", CredentialsJSON: config.Secret(sa)},
		"not json":     {Project: "p", Region: "r", CredentialsJSON: "nope"},
		"unknown type": {Project: "p", Region: "r", CredentialsJSON: `{"type":"weird"}`},
		"missing file": {Project: "p", Region: "r", CredentialsFile: "/nonexistent/cred.json"},
	} {
		if _, err := New(gcpBackend(g)); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}

func TestGCPCredentialOverride(t *testing.T) {
	b := gcpBackend(&config.GCPAuth{Project: "p", Region: "r", CredentialsJSON: `{"type":"service_account","client_email":"a","private_key":"x","token_uri":"http://127.0.0.1:1/"}`})
	b.Auth.Override = &config.CredentialOverride{Header: "x-aigw-gcp-access-token"}
	h, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	up := &translate.Upstream{Path: "/publishers/x", Header: http.Header{"X-Aigw-Gcp-Access-Token": {"user-tok"}}}
	if err := h.Do(context.Background(), up); err != nil || up.Header.Get("Authorization") != "Bearer user-tok" || up.Header.Get("X-Aigw-Gcp-Access-Token") != "" {
		t.Errorf("override: %v %v", err, up.Header)
	}
	if err := h.Do(context.Background(), &translate.Upstream{Header: http.Header{}}); !errors.Is(err, ErrMissingCredential) {
		t.Errorf("no override header: %v", err)
	}
}

func TestVertexHost(t *testing.T) {
	for region, want := range map[string]string{"global": "aiplatform.googleapis.com", "us-east5": "us-east5-aiplatform.googleapis.com"} {
		if got := (&config.GCPAuth{Region: region}).VertexHost(); got != want {
			t.Errorf("%s: %s", region, got)
		}
	}
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
