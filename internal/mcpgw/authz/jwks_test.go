package authz

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

func TestRemoteJWKSCacheAndRotation(t *testing.T) {
	k1, k2 := newECKey(t, "k1"), newRSAKey(t, "k2")
	srv := newJWKSServer(t, jwks(t, k1))
	clk := &clock{t: time.Now()}
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{
		Issuer: testIssuer, JWKSURL: srv.URL, JWKSCacheDuration: time.Minute,
	}}, Options{Now: clk.now})
	status := func(tok string) int { return serve(t, a, tok, nil).StatusCode }

	if s := status(sign(t, k1, nil)); s != 200 {
		t.Fatalf("k1: %d", s)
	}
	if s := status(sign(t, k1, nil)); s != 200 || srv.fetches.Load() != 1 {
		t.Fatalf("k1 again: %d, %d fetches (want the cached set)", s, srv.fetches.Load())
	}
	// The issuer rotates to k2: a token with the new kid makes the gateway fetch again, once
	// the minimum interval since the last fetch has passed.
	srv.set(jwks(t, k1, k2), 200)
	if s := status(sign(t, k2, nil)); s != 401 || srv.fetches.Load() != 1 {
		t.Fatalf("k2 right after a fetch: %d, %d fetches (unknown kids must not trigger a fetch storm)", s, srv.fetches.Load())
	}
	clk.advance(minJWKSRefetch)
	if s := status(sign(t, k2, nil)); s != 200 || srv.fetches.Load() != 2 {
		t.Fatalf("k2 after rotation: %d, %d fetches", s, srv.fetches.Load())
	}
	// Forged kids: at most one fetch per interval.
	for range 5 {
		status(sign(t, newECKey(t, "forged"), nil))
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("forged kids caused %d fetches", n-2)
	}
	// The cache expires; the server fails: the keys already fetched still verify.
	srv.set([]byte("oops"), http.StatusInternalServerError)
	clk.advance(2 * time.Minute)
	if s := status(sign(t, k1, nil)); s != 200 || srv.fetches.Load() != 3 {
		t.Fatalf("after a failed refresh: %d, %d fetches", s, srv.fetches.Load())
	}
	// The issuer drops k1: after the next refresh it no longer verifies.
	srv.set(jwks(t, k2), 200)
	clk.advance(2 * time.Minute)
	if s := status(sign(t, k1, nil)); s != 401 {
		t.Fatalf("k1 after it was removed: %d", s)
	}
}

func TestJWKSUnreachable(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.set([]byte("{}"), http.StatusNotFound)
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{Issuer: testIssuer, JWKSURL: srv.URL}}, Options{})
	resp := serve(t, a, sign(t, newECKey(t, "k"), nil), nil)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if www := resp.Header.Get("WWW-Authenticate"); !contains(www, "could not be fetched") {
		t.Errorf("WWW-Authenticate %q", www)
	}
}

func TestJWKSDiscovery(t *testing.T) {
	k := newECKey(t, "k")
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL + "/realms/demo"
	mux.HandleFunc("/.well-known/oauth-authorization-server/realms/demo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"` + srv.URL + `/certs"}`))
	})
	mux.HandleFunc("/certs", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks(t, k)) })
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{Issuer: issuer}}, Options{})
	if s := serve(t, a, sign(t, k, map[string]any{"iss": issuer}), nil).StatusCode; s != 200 {
		t.Fatalf("status %d", s)
	}
	// OpenID Connect discovery is the fallback.
	mux2 := http.NewServeMux()
	srv2 := httptest.NewServer(mux2)
	t.Cleanup(srv2.Close)
	mux2.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"jwks_uri":"` + srv2.URL + `/keys"}`))
	})
	mux2.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks(t, k)) })
	a = newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{Issuer: srv2.URL}}, Options{})
	if s := serve(t, a, sign(t, k, map[string]any{"iss": srv2.URL}), nil).StatusCode; s != 200 {
		t.Fatalf("OIDC discovery: status %d", s)
	}
}

func TestJWKSFile(t *testing.T) {
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks(t, k1), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{Issuer: testIssuer, JWKSURL: "file://" + path}}, Options{Now: clk.now})
	if s := serve(t, a, sign(t, k1, nil), nil).StatusCode; s != 200 {
		t.Fatalf("k1: %d", s)
	}
	if err := os.WriteFile(path, jwks(t, k1, k2), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.advance(minJWKSRefetch)
	if s := serve(t, a, sign(t, k2, nil), nil).StatusCode; s != 200 {
		t.Fatalf("k2 added to the file: %d", s)
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	k := newECKey(t, "good")
	raw := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},{"kty":"XYZ","kid":"new"},` + string(jwks(t, k))[len(`{"keys":[`):])
	keys, err := parseJWKS(raw, discard())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KeyID != "good" {
		t.Fatalf("keys %+v", keys)
	}
	if _, err := parseJWKS([]byte(`{"nokeys":[]}`), discard()); err == nil {
		t.Error("a document without keys was accepted")
	}
	if _, err := New(&config.MCPAuth{JWT: &config.MCPJWT{Issuer: testIssuer, JWKS: []byte("nope")}}, Options{}); err == nil {
		t.Error("unreadable inline JWKS accepted")
	}
}

func TestMetadataURLs(t *testing.T) {
	got := metadataURLs("https://auth.example.com/realms/x/")
	want := []string{"https://auth.example.com/.well-known/oauth-authorization-server/realms/x", "https://auth.example.com/realms/x/.well-known/openid-configuration"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("%v", got)
	}
}

// TestJWKSConcurrent verifies tokens from many goroutines while the key set rotates: every
// token of a published key verifies, and fetches stay one per interval (run with -race).
func TestJWKSConcurrent(t *testing.T) {
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	srv := newJWKSServer(t, jwks(t, k1))
	clk := &clock{t: time.Now()}
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{Issuer: testIssuer, JWKSURL: srv.URL}}, Options{Now: clk.now})
	t1, t2 := sign(t, k1, nil), sign(t, k2, nil)
	if s := serve(t, a, t1, nil).StatusCode; s != 200 {
		t.Fatalf("k1: %d", s)
	}
	srv.set(jwks(t, k1, k2), 200)
	clk.advance(minJWKSRefetch)
	errs := make(chan string, 64)
	done := make(chan struct{})
	for g := range 16 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 10 {
				tok := t1
				if (g+i)%2 == 1 {
					tok = t2
				}
				if s := serve(t, a, tok, nil).StatusCode; s != 200 {
					errs <- fmt.Sprintf("goroutine %d call %d: %d", g, i, s)
				}
			}
		}()
	}
	for range 16 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (the first and one for the new kid)", n)
	}
}
