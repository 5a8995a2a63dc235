package run

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpRouteOAuthYAML is an MCPRoute with OAuth (an inline JWKS) and a CEL rule that denies one
// tool, in front of one MCP server.
const mcpRouteOAuthYAML = `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: alpha
spec:
  endpoints:
    - ip:
        address: 127.0.0.1
        port: ${MCP_PORT}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: MCPRoute
metadata:
  name: tools
spec:
  parentRefs:
    - name: aigw
  backendRefs:
    - name: alpha
      kind: Backend
      group: gateway.envoyproxy.io
  securityPolicy:
    oauth:
      issuer: https://issuer.test
      audiences: [aigw-test]
      jwks:
        localJWKS:
          type: Inline
          inline: '${JWKS}'
      protectedResourceMetadata:
        resource: http://localhost/mcp
        scopesSupported: [mcp]
    authorization:
      defaultAction: Allow
      rules:
        - action: Deny
          cel: request.mcp.tool == "hidden"
`

// TestMCPRouteOAuth runs aigw on a CRD file with an MCPRoute protected by OAuth: requests
// without a valid token get 401 with the protected resource metadata link, which aigw serves;
// a valid token's client sees every tool but the one a CEL rule denies, and cannot call it.
func TestMCPRouteOAuth(t *testing.T) {
	g, sign := startOAuthRoute(t)
	testOAuthRoute(t, g, sign)
}

// TestMCPRouteOAuthNodeClient drives the same route with the MCP TypeScript SDK client.
func TestMCPRouteOAuthNodeClient(t *testing.T) {
	nm := npmPackage(t, "@modelcontextprotocol/sdk")
	g, sign := startOAuthRoute(t)
	got := nodeScript(t, nm, "mcp_oauth", "MCP_URL="+g.Gateway+"/mcp", "MCP_TOKEN="+sign(nil))
	t.Logf("the SDK saw: %v", got)
	if got["status"] != float64(401) || !strings.Contains(str(got, "challenge"), `resource_metadata="http://localhost/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("without a token: %v %q", got["status"], str(got, "challenge"))
	}
	if got["connectedWithoutToken"] == true || str(got, "errorWithoutToken") == "" {
		t.Errorf("the SDK connected without a token: %v", got)
	}
	if tools, _ := got["tools"].([]any); len(tools) != 1 || tools[0] != "alpha__echo" {
		t.Errorf("tools %v", got["tools"])
	}
	if str(got, "echo") != "a:hi" || !strings.Contains(str(got, "hidden"), "access denied") {
		t.Errorf("calls: echo %q, hidden %q", str(got, "echo"), str(got, "hidden"))
	}
}

// startOAuthRoute runs aigw on mcpRouteOAuthYAML and returns a token signer for it.
func startOAuthRoute(t *testing.T) (*gateway, func(map[string]any) string) {
	a := mcpTestServer(t, "a")
	u, _ := url.Parse(a.URL)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(mcpRouteOAuthYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, Options{ConfigPath: cfg, Getenv: env("MCP_PORT", u.Port(), "JWKS", string(set))})
	sign := func(claims map[string]any) string {
		c := map[string]any{"iss": "https://issuer.test", "aud": "aigw-test", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range claims {
			c[k] = v
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return g, sign
}

func testOAuthRoute(t *testing.T, g *gateway, sign func(map[string]any) string) {
	const metadata = "http://localhost/.well-known/oauth-protected-resource/mcp"
	for name, tok := range map[string]string{
		"missing":        "",
		"expired":        sign(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong audience": sign(map[string]any{"aud": "other"}),
	} {
		req, _ := http.NewRequest(http.MethodPost, g.Gateway+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		www := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(www, `resource_metadata="`+metadata+`"`) || !strings.Contains(www, `scope="mcp"`) {
			t.Errorf("%s token: %d %q", name, resp.StatusCode, www)
		}
		if (tok != "") != strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("%s token: %q", name, www)
		}
	}
	resp, err := http.Get(g.Gateway + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || meta["resource"] != "http://localhost/mcp" || !slices.Equal(meta["authorization_servers"].([]any), []any{"https://issuer.test"}) {
		t.Fatalf("metadata: %d %v %v", resp.StatusCode, meta, err)
	}

	hc := &http.Client{Transport: tokenTransport(sign(nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: g.Gateway + "/mcp", HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := mcpToolNames(t, cs); !slices.Equal(got, []string{"alpha__echo"}) {
		t.Errorf("tools %v (alpha__hidden must be filtered out)", got)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": "hi"}}); err != nil || res.Content[0].(*mcp.TextContent).Text != "a:hi" {
		t.Errorf("echo: %v %v", res, err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alpha__hidden", Arguments: map[string]any{"text": "x"}}); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("hidden: %v", err)
	}
}

// tokenTransport sends a bearer token with every request.
type tokenTransport string

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(t))
	return http.DefaultTransport.RoundTrip(r)
}
