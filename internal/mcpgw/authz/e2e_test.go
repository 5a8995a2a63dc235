package authz_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw"
	"github.com/aigw/aigw/internal/mcpgw/authz"
)

// backendServer is an MCP server over streamable HTTP with three tools; whoami returns the
// X-User header it received.
func backendServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "gh"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return text("echo:" + a.Text), nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "delete_repo"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return text("deleted " + a.Text), nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return text("user:" + req.Extra.Header.Get("X-User") + " token:" + req.Extra.Header.Get("X-Token")), nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Session-Id") == "" && r.Method == http.MethodPost {
			h := r.Header.Clone()
			h.Set("X-Query", r.URL.RawQuery)
			initHeaders <- h // the gateway's initialize
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// initHeaders receives the headers of each initialize the backend server gets.
var initHeaders = make(chan http.Header, 16)

// bearerTransport adds a token and headers to every request of an MCP client.
type bearerTransport struct {
	token string
	hdr   http.Header
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	for k, v := range b.hdr {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestGatewayEndToEnd serves an MCP route with OAuth and a CEL rule through the MCP gateway and
// drives it with the go-sdk client: 401s with the metadata link for a missing, expired or
// wrong-audience token; the denied tool hidden from tools/list and refused on tools/call.
func TestGatewayEndToEnd(t *testing.T) {
	key := authz.NewTestKey(t, "e2e")
	route := &config.MCPRoute{
		Name: "gh", Path: "/mcp",
		Backends: []*config.MCPBackend{{Name: "gh", URL: backendServer(t).URL + "/", Transport: config.MCPTransportStreamableHTTP,
			ForwardHeaders: []config.MCPForwardHeader{{Name: "X-Personal-Token", BackendHeader: "X-Token"}}}},
		Auth: &config.MCPAuth{
			JWT: &config.MCPJWT{
				Issuer: authz.TestIssuer, Audiences: []string{"mcp-gateway"}, JWKS: authz.JWKSOf(t, key),
				Metadata:       config.MCPResourceMetadata{ScopesSupported: []string{"mcp"}},
				ClaimToHeaders: []config.MCPClaimToHeader{{Claim: "sub", Header: "X-User"}},
			},
			Authorization: &config.MCPAuthorization{DefaultAllow: true, Rules: []config.MCPAuthRule{
				{CEL: `request.mcp.tool == "delete_repo"`},
				{CEL: `request.headers["x-env"] == "prod" && request.mcp.tool == "echo" && request.mcp.params.arguments.text == "boom"`},
			}},
		},
	}
	keyed := &config.MCPRoute{
		Name: "keyed", Path: "/keyed/mcp",
		Backends: []*config.MCPBackend{{Name: "gh", URL: route.Backends[0].URL, Transport: config.MCPTransportStreamableHTTP,
			Query: []config.Header{{Name: "api_key", Value: "backend-secret"}}}},
		Auth: &config.MCPAuth{APIKey: &config.MCPAPIKeyAuth{
			Clients: map[string]string{"ci": "ci-key"}, Headers: []string{"X-Api-Key"}, ForwardClientIDHeader: "X-User", Sanitize: true,
		}},
	}
	routes := authz.NewRoutes(authz.Options{})
	if err := routes.Update([]*config.MCPRoute{route, keyed}); err != nil {
		t.Fatal(err)
	}
	gw, err := mcpgw.New(mcpgw.Options{Auth: routes, SeedPath: filepath.Join(t.TempDir(), "seed")})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Update([]*config.MCPRoute{route, keyed}); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := routes.Handler(r); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { front.CloseClientConnections(); front.Close(); gw.Close() })
	endpoint := front.URL + "/mcp"
	metadataURL := front.URL + "/.well-known/oauth-protected-resource/mcp"

	// Unauthenticated requests: 401 with the metadata link, which serves the metadata.
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	for name, tok := range map[string]string{
		"missing":        "",
		"expired":        authz.SignToken(t, key, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong audience": authz.SignToken(t, key, map[string]any{"aud": "another-service"}),
	} {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
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
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(www, `resource_metadata="`+metadataURL+`"`) {
			t.Errorf("%s token: %d, WWW-Authenticate %q", name, resp.StatusCode, www)
		}
		if (tok != "") != strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("%s token: WWW-Authenticate %q", name, www)
		}
	}
	if resp, err := http.Get(front.URL + "/.well-known/oauth-protected-resource"); err != nil || resp.StatusCode != 200 {
		t.Errorf("root metadata with one OAuth route: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	var meta oauthex.ProtectedResourceMetadata
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || meta.Resource != endpoint || !slices.Equal(meta.AuthorizationServers, []string{authz.TestIssuer}) {
		t.Fatalf("metadata: %d %+v %v", resp.StatusCode, meta, err)
	}

	// The go-sdk client without a token cannot connect.
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, nil); err == nil {
		cs.Close()
		t.Fatal("connected without a token")
	}

	// With a valid token: delete_repo is hidden and refused; echo works unless the header rule
	// denies it; the subject reaches the backend as X-User only through claimToHeaders.
	tok := authz.SignToken(t, key, nil)
	hc := &http.Client{Transport: bearerTransport{token: tok, hdr: http.Header{"X-Env": {"prod"}, "X-User": {"mallory"}, "X-Personal-Token": {"pat-1"}}}}
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if want := []string{"gh__echo", "gh__whoami"}; !slices.Equal(names, want) {
		t.Errorf("tools/list: %v, want %v", names, want)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "gh__echo", Arguments: map[string]any{"text": "hi"}}); err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "echo:hi" {
		t.Errorf("echo: %v %v", res, err)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "gh__whoami", Arguments: map[string]any{"text": ""}}); err != nil || res.Content[0].(*mcp.TextContent).Text != "user:alice token:pat-1" {
		t.Errorf("whoami (claimToHeaders sub -> X-User, forwardHeaders X-Personal-Token -> X-Token): %v %v", res, err)
	}
	select {
	case h := <-initHeaders:
		if h.Get("X-User") != "alice" || h.Get("X-Token") != "pat-1" {
			t.Errorf("the backend's initialize lacks the caller's headers: X-User %q, X-Token %q", h.Get("X-User"), h.Get("X-Token"))
		}
	default:
		t.Error("the backend saw no initialize")
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "gh__delete_repo", Arguments: map[string]any{"text": "aigw"}})
	if err == nil || !strings.Contains(err.Error(), `access denied: tools/call of tool "gh__delete_repo" is not allowed (authorization rule 0 denies it)`) {
		t.Errorf("delete_repo: %v", err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "gh__echo", Arguments: map[string]any{"text": "boom"}})
	if err == nil || !strings.Contains(err.Error(), "authorization rule 1 denies it") {
		t.Errorf("echo boom with x-env: prod: %v", err)
	}

	// The API key route: no key, no session; with one, the client ID reaches the backend.
	if cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: front.URL + "/keyed/mcp", HTTPClient: hc, MaxRetries: -1}, nil); err == nil {
		cs.Close()
		t.Fatal("connected to the API key route with a bearer token only")
	}
	kc := &http.Client{Transport: bearerTransport{hdr: http.Header{"X-Api-Key": {"ci-key"}, "X-Personal-Token": {"pat-2"}}}}
	ks, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: front.URL + "/keyed/mcp", HTTPClient: kc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if res, err := ks.CallTool(ctx, &mcp.CallToolParams{Name: "gh__whoami", Arguments: map[string]any{"text": ""}}); err != nil || res.Content[0].(*mcp.TextContent).Text != "user:ci token:" {
		t.Errorf("whoami with an API key (no forwardHeaders on this route): %v %v", res, err)
	}
	sawQuery := false
	for len(initHeaders) > 0 {
		h := <-initHeaders
		if h.Get("X-Query") == "api_key=backend-secret" {
			sawQuery = true
			if h.Get("X-Api-Key") != "" || h.Get("X-User") != "ci" {
				t.Errorf("initialize of the API key route's backend: client key %q, X-User %q", h.Get("X-Api-Key"), h.Get("X-User"))
			}
		}
	}
	if !sawQuery {
		t.Error("the backend's query parameter (an API key) was not sent")
	}
	if res, err := ks.CallTool(ctx, &mcp.CallToolParams{Name: "gh__delete_repo", Arguments: map[string]any{"text": "x"}}); err != nil || res.IsError {
		t.Errorf("the other route's rules applied to this one: %v %v", res, err)
	}
}
