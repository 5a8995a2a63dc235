package authz

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/aigw/aigw/internal/config"
)

// serve runs one request through the middleware in front of a handler that reports the
// principal it sees.
func serve(t *testing.T, a *Authorizer, token string, hdr http.Header) *http.Response {
	t.Helper()
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		out := map[string]any{"forged": r.Header.Get("X-User"), "upstream": UpstreamHeaders(r.Context())}
		if p != nil {
			out["subject"] = p.Subject
			out["scopes"] = p.Scopes
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	req := httptest.NewRequest(http.MethodPost, "http://gw.local:1975/mcp", strings.NewReader(`{}`))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func newAuthorizer(t *testing.T, auth *config.MCPAuth, opts Options) *Authorizer {
	t.Helper()
	if opts.Path == "" {
		opts.Path = "/mcp"
	}
	a, err := New(auth, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMiddlewareTokens(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	other := newECKey(t, "ec-1") // same kid, a key the issuer does not have
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{
		Issuer:    testIssuer,
		Audiences: []string{"mcp-gateway", "other"},
		JWKS:      jwks(t, rsaKey, ecKey),
		Metadata:  config.MCPResourceMetadata{ScopesSupported: []string{"mcp:tools"}},
	}}, Options{})

	hs := func() string { // an HMAC token keyed with nothing the gateway would accept
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, (&jose.SignerOptions{}).WithHeader("kid", "rsa-1"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(map[string]any{"iss": testIssuer, "aud": "mcp-gateway", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		name, token string
		status      int
		errCode     string // error= in WWW-Authenticate; "" for none
		desc        string
	}{
		{"rsa", sign(t, rsaKey, nil), 200, "", ""},
		{"ec", sign(t, ecKey, map[string]any{"aud": []string{"x", "other"}}), 200, "", ""},
		{"missing", "", 401, "", ""},
		{"garbage", "not-a-jwt", 401, "invalid_token", "not a JWT"},
		{"expired", sign(t, rsaKey, map[string]any{"exp": time.Now().Add(-2 * time.Minute).Unix()}), 401, "invalid_token", "expired"},
		{"within skew", sign(t, rsaKey, map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()}), 200, "", ""},
		{"not yet valid", sign(t, rsaKey, map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()}), 401, "invalid_token", "not valid yet"},
		{"wrong audience", sign(t, rsaKey, map[string]any{"aud": "someone-else"}), 401, "invalid_token", "audience"},
		{"no audience", sign(t, rsaKey, map[string]any{"aud": nil}), 401, "invalid_token", "audience"},
		{"wrong issuer", sign(t, rsaKey, map[string]any{"iss": "https://evil.example.com"}), 401, "invalid_token", "issuer"},
		{"no exp", sign(t, rsaKey, map[string]any{"exp": nil}), 401, "invalid_token", "no expiry"},
		{"no sub", sign(t, rsaKey, map[string]any{"sub": nil}), 401, "invalid_token", "no subject"},
		{"other key same kid", sign(t, other, nil), 401, "invalid_token", "signature"},
		{"hmac", hs(), 401, "invalid_token", "asymmetric"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := serve(t, a, c.token, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.status == 200 {
				var got map[string]any
				_ = json.Unmarshal(body, &got)
				if got["subject"] != testIssuer+"#alice" {
					t.Errorf("subject %v", got["subject"])
				}
				return
			}
			www := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(www, "Bearer ") || !strings.Contains(www, `resource_metadata="http://gw.local:1975/.well-known/oauth-protected-resource/mcp"`) {
				t.Errorf("WWW-Authenticate %q lacks the metadata link", www)
			}
			if !strings.Contains(www, `scope="mcp:tools"`) {
				t.Errorf("WWW-Authenticate %q lacks the scope", www)
			}
			if c.errCode == "" && strings.Contains(www, "error=") {
				t.Errorf("WWW-Authenticate %q: a request without a token gets no error code (RFC 6750 3.1)", www)
			}
			if c.errCode != "" && !strings.Contains(www, `error="`+c.errCode+`"`) {
				t.Errorf("WWW-Authenticate %q lacks error=%q", www, c.errCode)
			}
			if !strings.Contains(www, c.desc) {
				t.Errorf("WWW-Authenticate %q lacks %q", www, c.desc)
			}
			var rpc struct {
				JSONRPC string
				Error   struct {
					Code    int
					Message string
				}
			}
			if err := json.Unmarshal(body, &rpc); err != nil || rpc.JSONRPC != "2.0" || rpc.Error.Code != UnauthorizedCode || !strings.Contains(rpc.Error.Message, "unauthorized") {
				t.Errorf("body is not a JSON-RPC error: %s", body)
			}
			if c.token != "" && strings.Contains(string(body)+www, c.token) {
				t.Error("the token is echoed back")
			}
		})
	}
}

func TestMiddlewareWithoutJWT(t *testing.T) {
	var a *Authorizer
	if resp := serve(t, a, "", nil); resp.StatusCode != 200 {
		t.Fatalf("nil authorizer: status %d", resp.StatusCode)
	}
	// Rules without OAuth: no token is needed, and the rules see an anonymous caller.
	a = newAuthorizer(t, &config.MCPAuth{Authorization: &config.MCPAuthorization{DefaultAllow: true}}, Options{})
	resp := serve(t, a, "", nil)
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 200 || got["subject"] != nil {
		t.Fatalf("status %d, %v", resp.StatusCode, got)
	}
}

func TestClaimToHeaders(t *testing.T) {
	k := newRSAKey(t, "k")
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{
		Issuer: testIssuer,
		JWKS:   jwks(t, k),
		ClaimToHeaders: []config.MCPClaimToHeader{
			{Claim: "sub", Header: "X-User"},
			{Claim: "org.team", Header: "X-Team"},
			{Claim: "groups", Header: "X-Groups"},
			{Claim: "missing", Header: "X-Missing"},
		},
	}}, Options{})
	tok := sign(t, k, map[string]any{"org": map[string]any{"team": "infra"}, "groups": []string{"a", "b"}, "scope": "read write"})
	resp := serve(t, a, tok, http.Header{"X-User": {"mallory"}})
	var got struct {
		Forged   string
		Upstream http.Header
		Scopes   []string
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	if got.Forged != "" {
		t.Errorf("the client's own X-User %q reached the handler", got.Forged)
	}
	want := http.Header{"X-User": {"alice"}, "X-Team": {"infra"}, "X-Groups": {`["a","b"]`}}
	for k, v := range want {
		if got.Upstream.Get(k) != v[0] {
			t.Errorf("upstream %s = %q, want %q", k, got.Upstream.Get(k), v[0])
		}
	}
	if got.Upstream.Get("X-Missing") != "" {
		t.Error("a missing claim made a header")
	}
	if strings.Join(got.Scopes, ",") != "read,write" {
		t.Errorf("scopes %v", got.Scopes)
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	a := newAuthorizer(t, &config.MCPAuth{JWT: &config.MCPJWT{
		Issuer: testIssuer,
		JWKS:   jwks(t, newECKey(t, "k")),
		Metadata: config.MCPResourceMetadata{
			Resource:        "https://api.example.com/tools/mcp",
			ResourceName:    "Tools",
			ScopesSupported: []string{"mcp:read"},
		},
	}}, Options{Path: "/mcp"})
	paths := a.MetadataPaths()
	if strings.Join(paths, " ") != "/.well-known/oauth-protected-resource/mcp /.well-known/oauth-protected-resource/tools/mcp" {
		t.Fatalf("paths %v", paths)
	}
	rec := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://gw.local"+paths[0], nil))
	var m oauthex.ProtectedResourceMetadata
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if m.Resource != "https://api.example.com/tools/mcp" || len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != testIssuer ||
		m.ResourceName != "Tools" || strings.Join(m.ScopesSupported, ",") != "mcp:read" || strings.Join(m.BearerMethodsSupported, ",") != "header" {
		t.Errorf("metadata %+v", m)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header")
	}
	// The challenge links to the configured resource's metadata.
	resp := serve(t, a, "", nil)
	if www := resp.Header.Get("WWW-Authenticate"); !strings.Contains(www, `resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/tools/mcp"`) {
		t.Errorf("WWW-Authenticate %q", www)
	}
	rec = httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://gw.local"+paths[0], nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestBearerParsing(t *testing.T) {
	for h, ok := range map[string]bool{"Bearer abc": true, "bearer abc": true, "Basic abc": false, "Bearer": false, "Bearer a b": false, "": false} {
		if _, got := bearer(h); got != ok {
			t.Errorf("%q: %v", h, got)
		}
	}
}
