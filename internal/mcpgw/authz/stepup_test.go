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

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/mcpgw"
	"github.com/aigw/aigw/internal/mcpgw/authz"
)

// promptServer is an MCP server with a tool, a prompt and a resource, all named after it.
func promptServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: name}, nil)
	srv.AddTool(&mcp.Tool{Name: "delete_repo", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "deleted"}}}, nil
	})
	srv.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello from " + name}}}}, nil
	})
	srv.AddResource(&mcp.Resource{URI: "test://" + name + "/doc", Name: "doc"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "doc of " + name}}}, nil
	})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	return hs
}

// TestScopeStepUpAndSelector: a tools/call refused for want of a scope a rule names is an HTTP
// 403 with an insufficient_scope challenge naming it; the backendSelector hides a backend's
// prompts and resources and refuses reading them; a reload that changes only the rules sends
// tools/list_changed to the session whose tools it changes.
func TestScopeStepUpAndSelector(t *testing.T) {
	key := authz.NewTestKey(t, "step")
	gh, wiki := promptServer(t, "gh"), promptServer(t, "wiki")
	route := func(scope string) *config.MCPRoute {
		rule := config.MCPAuthRule{Allow: true, Tools: []config.MCPToolRef{{Backend: "gh", Tool: "delete_repo"}}}
		if scope != "" {
			rule.Scopes = []string{scope}
		}
		return &config.MCPRoute{
			Name: "r", Path: "/mcp",
			Backends: []*config.MCPBackend{
				{Name: "gh", URL: gh.URL, Transport: config.MCPTransportStreamableHTTP},
				{Name: "wiki", URL: wiki.URL, Transport: config.MCPTransportStreamableHTTP},
			},
			Auth: &config.MCPAuth{
				JWT:             &config.MCPJWT{Issuer: authz.TestIssuer, Audiences: []string{"mcp-gateway"}, JWKS: authz.JWKSOf(t, key)},
				Authorization:   &config.MCPAuthorization{Rules: []config.MCPAuthRule{rule}},
				BackendSelector: &config.MCPAuthorization{Rules: []config.MCPAuthRule{{Allow: true, CEL: `request.mcp.backend == "gh"`}}},
			},
		}
	}
	gw, err := mcpgw.New(mcpgw.Options{SeedPath: filepath.Join(t.TempDir(), "seed")})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Update([]*config.MCPRoute{route("repo:admin")}); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(gw)
	t.Cleanup(func() { front.CloseClientConnections(); front.Close(); gw.Close() })
	endpoint := front.URL + "/mcp"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(tok string, changed chan string) *mcp.ClientSession {
		opts := &mcp.ClientOptions{}
		if changed != nil {
			opts.ToolListChangedHandler = func(context.Context, *mcp.ToolListChangedRequest) { changed <- "tools" }
		}
		c := mcp.NewClient(&mcp.Implementation{Name: "step"}, opts)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearerTransport{token: tok}}, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	plain := authz.SignToken(t, key, nil)
	changed := make(chan string, 4)
	cs := connect(plain, changed)

	// Step-up: 403 with the scope to ask for, and the JSON-RPC error answering the call.
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"gh__delete_repo","arguments":{}}}`
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(call))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+plain)
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	www := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(www, "Bearer ") || !strings.Contains(www, `error="insufficient_scope"`) ||
		!strings.Contains(www, `scope="repo:admin"`) || !strings.Contains(www, `resource_metadata="`+front.URL+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("call without the scope: %d, WWW-Authenticate %q", resp.StatusCode, www)
	}
	var rpc struct {
		ID    int `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &rpc); err != nil || rpc.ID != 7 || rpc.Error.Code != authz.DeniedCode || !strings.Contains(rpc.Error.Message, "repo:admin") {
		t.Errorf("403 body %s (%v)", body, err)
	}
	// With the scope, the same call goes through.
	admin := connect(authz.SignToken(t, key, map[string]any{"scope": "repo:admin"}), nil)
	if res, err := admin.CallTool(ctx, &mcp.CallToolParams{Name: "gh__delete_repo", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Errorf("call with the scope: %v %+v", err, res)
	}

	// The selector: wiki's prompts and resources are neither listed nor reachable.
	pl, err := cs.ListPrompts(ctx, nil)
	if err != nil || len(pl.Prompts) != 1 || pl.Prompts[0].Name != "gh__greet" {
		t.Errorf("prompts: %v %+v", err, pl)
	}
	rl, err := cs.ListResources(ctx, nil)
	if err != nil || len(rl.Resources) != 1 || !strings.HasPrefix(rl.Resources[0].URI, "gh+") {
		t.Errorf("resources: %v %+v", err, rl)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "wiki+test://wiki/doc"}); err == nil || !strings.Contains(err.Error(), "backendSelector") {
		t.Errorf("reading a deselected backend's resource: %v", err)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "wiki__greet"}); err == nil || !strings.Contains(err.Error(), "backendSelector") {
		t.Errorf("a deselected backend's prompt: %v", err)
	}
	if rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "gh+test://gh/doc"}); err != nil || rr.Contents[0].Text != "doc of gh" {
		t.Errorf("reading an allowed resource: %v", err)
	}

	// A reload that only drops the scope requirement: the plain session now sees delete_repo.
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	if len(names) != 0 {
		t.Fatalf("tools before the reload: %v", names)
	}
	if err := gw.Update([]*config.MCPRoute{route("")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no tools/list_changed after a reload that changed only the rules")
	}
	names = nil
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	if !slices.Equal(names, []string{"gh__delete_repo"}) {
		t.Errorf("tools after the reload: %v", names)
	}
}
