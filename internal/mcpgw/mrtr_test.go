package mcpgw

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// askServer is a go-sdk MCP server (2025-11-25 to the gateway) whose tool "ask" reports progress,
// then asks its client for a sample, an elicitation and its roots, and answers with all three.
func askServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "asker"}, nil)
	srv.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Message: "asking"})
		}
		sample, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}})
		if err != nil {
			return nil, fmt.Errorf("sampling: %w", err)
		}
		el, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)})
		if err != nil {
			return nil, fmt.Errorf("elicitation: %w", err)
		}
		roots, err := req.Session.ListRoots(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("roots: %w", err)
		}
		var rs []string
		for _, r := range roots.Roots {
			rs = append(rs, r.URI)
		}
		text := fmt.Sprintf("sample=%s name=%v roots=%s", sample.Content.(*mcp.TextContent).Text, el.Content["name"], strings.Join(rs, ","))
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
	})
	sample := func(ctx context.Context, ss *mcp.ServerSession) (string, error) {
		res, err := ss.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}})
		if err != nil {
			return "", err
		}
		return res.Content.(*mcp.TextContent).Text, nil
	}
	srv.AddPrompt(&mcp.Prompt{Name: "ask"}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		text, err := sample(ctx, req.Session)
		if err != nil {
			return nil, err
		}
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "prompt " + text}}}}, nil
	})
	srv.AddResource(&mcp.Resource{URI: "test://asker/doc", Name: "doc"}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		text, err := sample(ctx, req.Session)
		if err != nil {
			return nil, err
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "doc " + text}}}, nil
	})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	return hs
}

// TestModernInputRequestsPromptsResources: prompts/get and resources/read of a 2026-07-28
// client whose backend asks for a sample complete through input_required rounds too.
func TestModernInputRequestsPromptsResources(t *testing.T) {
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("q", askServer(t).URL)))
	var mu sync.Mutex
	var progress []string
	cs := modernClient(t, gw.URL+"/mcp", "p", &progress, &mu, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "q__ask"})
	if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "prompt s-p" {
		t.Errorf("prompts/get: %v %+v", err, pr)
	}
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "q+test://asker/doc"})
	if err != nil || rr.Contents[0].Text != "doc s-p" || rr.Contents[0].URI != "q+test://asker/doc" {
		t.Errorf("resources/read: %v %+v", err, rr)
	}
}

// modernClient connects a 2026-07-28 go-sdk client that answers sampling, elicitation and roots
// with me, and counts progress.
func modernClient(t *testing.T, url, me string, progress *[]string, mu *sync.Mutex, mrtr bool) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "s-" + me}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "n-" + me}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			*progress = append(*progress, r.Params.Message)
			mu.Unlock()
		},
	}
	if !mrtr {
		opts.MultiRoundTrip = &mcp.MultiRoundTripOptions{Disabled: true}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: me}, opts)
	c.AddRoots(&mcp.Root{URI: "file:///" + me})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	return cs
}

// TestModernInputRequests: a backend's sampling, elicitation and roots requests reach 2026-07-28
// clients as input_required results (multi round-trip requests), each answered by the client
// whose call caused them, and the call completes on the retry.
func TestModernInputRequests(t *testing.T) {
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("q", askServer(t).URL)))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 4 {
		wg.Go(func() {
			me := fmt.Sprintf("c%d", i)
			var mu sync.Mutex
			var progress []string
			cs := modernClient(t, gw.URL+"/mcp", me, &progress, &mu, true)
			for round := range 2 { // the second call reuses the lent backend session (roots retire it)
				p := &mcp.CallToolParams{Name: "q__ask", Arguments: map[string]any{}}
				p.SetProgressToken(fmt.Sprintf("t%d", round))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				res, err := cs.CallTool(ctx, p)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("%s: %v", me, err)
					return
				}
				want := fmt.Sprintf("sample=s-%s name=n-%s roots=file:///%s", me, me, me)
				if got := res.Content[0].(*mcp.TextContent).Text; got != want || res.IsError {
					errs <- fmt.Errorf("%s: %q, want %q", me, got, want)
				}
			}
			deadline := time.Now().Add(time.Second)
			for {
				mu.Lock()
				n := len(progress)
				mu.Unlock()
				if n >= 2 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			if len(progress) != 2 {
				errs <- fmt.Errorf("%s: progress %v", me, progress)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestModernInputRequired: without the client's automatic retry, the first answer is
// input_required with the backend's sampling request; a retry with a requestState that is not
// the gateway's, or without the answers, is refused; the right retry moves the call on.
func TestModernInputRequired(t *testing.T) {
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("q", askServer(t).URL)))
	var mu sync.Mutex
	var progress []string
	cs := modernClient(t, gw.URL+"/mcp", "m", &progress, &mu, false)
	ctx := context.Background()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "q__ask", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NeedsInput() || len(res.InputRequests) != 1 || res.RequestState == "" {
		t.Fatalf("first answer: %+v", res)
	}
	var id string
	for k, v := range res.InputRequests {
		if _, ok := v.(*mcp.CreateMessageWithToolsParams); !ok {
			t.Fatalf("input request %T, want sampling", v)
		}
		id = k
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "q__ask", RequestState: "forged"}); err == nil || !strings.Contains(err.Error(), "requestState") {
		t.Errorf("a forged requestState: %v", err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "q__ask", RequestState: res.RequestState, InputResponses: mcp.InputResponseMap{}}); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("a retry without the answer: %v", err)
	}
	sample := &mcp.CreateMessageWithToolsResult{Model: "m", Role: "assistant", Content: []mcp.Content{&mcp.TextContent{Text: "manual"}}}
	res2, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "q__ask", RequestState: res.RequestState, InputResponses: mcp.InputResponseMap{id: sample}})
	if err != nil {
		t.Fatal(err)
	}
	if !res2.NeedsInput() || res2.RequestState == res.RequestState {
		t.Fatalf("second answer: %+v", res2)
	}
	for _, v := range res2.InputRequests {
		if _, ok := v.(*mcp.ElicitParams); !ok {
			t.Fatalf("second input request %T, want elicitation", v)
		}
	}
	// The old state is spent.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "q__ask", RequestState: res.RequestState, InputResponses: mcp.InputResponseMap{id: sample}}); err == nil {
		t.Error("a spent requestState was accepted")
	}
}

// TestModernSamplingStdio: server-everything (stdio, through the bridge) asks a 2026-07-28
// client for a sample over the gateway.
func TestModernSamplingStdio(t *testing.T) {
	_, gw := newGateway(t, Options{}, remoteRoute(stdioBackends(t)[0]))
	var mu sync.Mutex
	var progress []string
	cs := modernClient(t, gw.URL+"/mcp", "e", &progress, &mu, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "everything__trigger-sampling-request", Arguments: map[string]any{"prompt": "hi", "maxTokens": 5}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if !strings.Contains(b.String(), "s-e") || res.IsError {
		t.Errorf("sampling through everything: %q", b.String())
	}
}
