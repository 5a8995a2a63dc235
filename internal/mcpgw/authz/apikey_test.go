package authz

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func TestAPIKeyAuth(t *testing.T) {
	keyAuth := &config.MCPAPIKeyAuth{
		Clients: map[string]string{"alice": "key-a", "bob": "key-b"},
		Headers: []string{"X-Api-Key"}, Params: []string{"api_key"}, Cookies: []string{"apikey"},
		ForwardClientIDHeader: "X-Client-Id", Sanitize: true,
	}
	a := newAuthorizer(t, &config.MCPAuth{APIKey: keyAuth}, Options{})
	type seen struct {
		Subject, Key, Query, Cookie string
		Upstream                    http.Header
	}
	do := func(mod func(*http.Request)) (int, seen, http.Header) {
		var got seen
		h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = seen{Subject: Subject(r.Context()), Key: r.Header.Get("X-Api-Key"), Query: r.URL.RawQuery, Upstream: UpstreamHeaders(r.Context())}
			if c, err := r.Cookie("apikey"); err == nil {
				got.Cookie = c.Value
			}
		}))
		req := httptest.NewRequest(http.MethodPost, "http://gw.local/mcp?x=1", nil)
		req.Header.Set("X-Client-Id", "forged")
		mod(req)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, got, rec.Header()
	}
	cases := []struct {
		name    string
		mod     func(*http.Request)
		status  int
		subject string
	}{
		{"header", func(r *http.Request) { r.Header.Set("X-Api-Key", "key-a") }, 200, "api-key#alice"},
		{"query", func(r *http.Request) { r.URL.RawQuery = "x=1&api_key=key-b" }, 200, "api-key#bob"},
		{"cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "apikey", Value: "key-a"}) }, 200, "api-key#alice"},
		{"wrong key", func(r *http.Request) { r.Header.Set("X-Api-Key", "key-c") }, 401, ""},
		{"prefix of a key", func(r *http.Request) { r.Header.Set("X-Api-Key", "key-") }, 401, ""},
		{"none", func(r *http.Request) {}, 401, ""},
		{"elsewhere", func(r *http.Request) { r.Header.Set("Authorization", "Bearer key-a") }, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, got, hdr := do(c.mod)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if status == 401 {
				if hdr.Get("WWW-Authenticate") != "" {
					t.Errorf("a Bearer challenge for an API key route: %q", hdr.Get("WWW-Authenticate"))
				}
				return
			}
			if got.Subject != c.subject {
				t.Errorf("subject %q", got.Subject)
			}
			if got.Key != "" || got.Cookie != "" || got.Query != "x=1" {
				t.Errorf("the key was not removed (sanitize): %+v", got)
			}
			if id := got.Upstream.Get("X-Client-Id"); id != c.subject[len("api-key#"):] {
				t.Errorf("X-Client-Id upstream %q", id)
			}
		})
	}
	// With JWT as well, both are needed; the subject is the token's.
	k := newECKey(t, "k")
	a = newAuthorizer(t, &config.MCPAuth{APIKey: keyAuth, JWT: &config.MCPJWT{Issuer: testIssuer, JWKS: jwks(t, k)}}, Options{})
	if resp := serve(t, a, sign(t, k, nil), nil); resp.StatusCode != 401 {
		t.Errorf("token without key: %d", resp.StatusCode)
	}
	resp := serve(t, a, sign(t, k, nil), http.Header{"X-Api-Key": {"key-b"}})
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out["subject"] != testIssuer+"#alice" {
		t.Errorf("token and key: %d %v", resp.StatusCode, out)
	}
}
