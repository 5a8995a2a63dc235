package mcpgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/config"
)

// remoteServer is a go-sdk MCP server over streamable HTTP (a `url` backend) with tools that
// echo, report progress, and ask the client for a sample.
func remoteServer(t testing.TB, name string) *httptest.Server {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: name}, nil)
	type echoIn struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + in.Text}}}, nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "secret"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "secret"}}}, nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "sample"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			for i := range 3 {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: 3, Message: in.Text}); err != nil {
					return nil, nil, err
				}
			}
		}
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 10, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Text}}}})
		if err != nil {
			return nil, nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sampled:" + res.Content.(*mcp.TextContent).Text}}}, nil, nil
	})
	srv.AddPrompt(&mcp.Prompt{Name: "greet"}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello from " + name}}}}, nil
	})
	srv.AddResource(&mcp.Resource{URI: "test://" + name + "/doc", Name: "doc"}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "doc of " + name}}}, nil
	})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	return hs
}

func newGateway(t testing.TB, opts Options, routes ...*config.MCPRoute) (*Gateway, *httptest.Server) {
	t.Helper()
	if opts.SeedPath == "" {
		opts.SeedPath = filepath.Join(t.TempDir(), "seed")
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Update(routes); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g)
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); g.Close() })
	return g, hs
}

type clientOpts struct {
	sample   string
	progress func(*mcp.ProgressNotificationParams)
	changed  chan string
}

func connect(t *testing.T, url string, o clientOpts) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{}
	if o.sample != "" {
		opts.CreateMessageHandler = func(ctx context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: o.sample}}, nil
		}
	}
	if o.progress != nil {
		opts.ProgressNotificationHandler = func(ctx context.Context, r *mcp.ProgressNotificationClientRequest) { o.progress(r.Params) }
	}
	if o.changed != nil {
		opts.ToolListChangedHandler = func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case o.changed <- "tools":
			default:
			}
		}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The session revision: these tests relay sampling and check session ids (modern_test.go
	// covers 2026-07-28).
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var out []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tool.Name)
	}
	slices.Sort(out)
	return out
}

func callText(t *testing.T, cs *mcp.ClientSession, p *mcp.CallToolParams) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func remoteRoute(backends ...*config.MCPBackend) *config.MCPRoute {
	return &config.MCPRoute{Name: "test", Path: "/mcp", Backends: backends}
}

func urlBackend(name, url string) *config.MCPBackend {
	return &config.MCPBackend{Name: name, URL: url, Transport: config.MCPTransportStreamableHTTP}
}

func TestAggregateRemote(t *testing.T) {
	a, b := remoteServer(t, "a"), remoteServer(t, "b")
	ba := urlBackend("alpha", a.URL)
	ba.Tools = config.ToolFilter{Exclude: []string{"secret"}}
	_, gw := newGateway(t, Options{}, remoteRoute(ba, urlBackend("beta", b.URL)))
	cs := connect(t, gw.URL+"/mcp", clientOpts{})
	got := toolNames(t, cs)
	want := []string{"alpha__echo", "alpha__sample", "beta__echo", "beta__sample", "beta__secret"}
	if !slices.Equal(got, want) {
		t.Fatalf("tools %v, want %v", got, want)
	}
	for _, c := range []struct{ tool, want string }{{"alpha__echo", "a:x"}, {"beta__echo", "b:x"}} {
		if text, isErr := callText(t, cs, &mcp.CallToolParams{Name: c.tool, Arguments: map[string]any{"text": "x"}}); text != c.want || isErr {
			t.Errorf("%s: %q %v", c.tool, text, isErr)
		}
	}
	// A filtered-out tool cannot be called either.
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "alpha__secret"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("filtered tool: %v", err)
	}
	// Prompts and resources, with names and URIs mapped back.
	pr, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "beta__greet"})
	if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "hello from b" {
		t.Fatalf("prompt: %v %+v", err, pr)
	}
	rl, err := cs.ListResources(context.Background(), nil)
	if err != nil || len(rl.Resources) != 2 || rl.Resources[0].URI != "alpha+test://a/doc" {
		t.Fatalf("resources: %v %+v", err, rl)
	}
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "beta+test://b/doc"})
	if err != nil || rr.Contents[0].Text != "doc of b" || rr.Contents[0].URI != "beta+test://b/doc" {
		t.Fatalf("read: %v %+v", err, rr)
	}
}

func TestPaginationAcrossBackends(t *testing.T) {
	a, b := remoteServer(t, "a"), remoteServer(t, "b")
	_, gw := newGateway(t, Options{PageSize: 2}, remoteRoute(urlBackend("alpha", a.URL), urlBackend("beta", b.URL)))
	cs := connect(t, gw.URL+"/mcp", clientOpts{})
	first, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(first.Tools) != 2 || first.NextCursor == "" {
		t.Fatalf("first page: %v %+v", err, first)
	}
	if got := toolNames(t, cs); len(got) != 6 {
		t.Fatalf("all pages: %v", got)
	}
	if _, err := cs.ListTools(context.Background(), &mcp.ListToolsParams{Cursor: "bogus"}); err == nil {
		t.Error("a bogus cursor was accepted")
	}
}

func TestProgressAndSamplingPerSession(t *testing.T) {
	a := remoteServer(t, "a")
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("alpha", a.URL)))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			var mu sync.Mutex
			var progress []string
			me := fmt.Sprintf("client-%d", i)
			cs := connect(t, gw.URL+"/mcp", clientOpts{sample: me, progress: func(p *mcp.ProgressNotificationParams) {
				mu.Lock()
				progress = append(progress, p.Message)
				mu.Unlock()
			}})
			p := &mcp.CallToolParams{Name: "alpha__sample", Arguments: map[string]any{"text": me}}
			p.SetProgressToken(fmt.Sprintf("tok-%d", i))
			res, err := cs.CallTool(context.Background(), p)
			if err != nil {
				errs <- err
				return
			}
			if got := res.Content[0].(*mcp.TextContent).Text; got != "sampled:"+me {
				errs <- fmt.Errorf("%s got %q", me, got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(progress) != 3 {
				errs <- fmt.Errorf("%s: %d progress notifications", me, len(progress))
			}
			for _, m := range progress {
				if m != me {
					errs <- fmt.Errorf("%s got another session's progress %q", me, m)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// fakeAuth takes the subject from a header.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request) (string, error) {
	if s := r.Header.Get("X-Subject"); s != "" {
		return s, nil
	}
	return "", errors.New("no subject")
}
func (fakeAuth) Allow(ctx context.Context, subject, method, tool string, args json.RawMessage) error {
	if tool == "alpha__secret" {
		return errors.New("denied")
	}
	return nil
}
func (fakeAuth) FilterTools(ctx context.Context, subject string, tools []string) []string {
	return slices.DeleteFunc(tools, func(n string) bool { return n == "alpha__secret" })
}
func (fakeAuth) AllowBackend(ctx context.Context, subject, method, backend string) error {
	return nil
}

type headerRT struct {
	h    http.Header
	base http.RoundTripper
}

func (t headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

func TestSessionIDs(t *testing.T) {
	a := remoteServer(t, "a")
	_, gw := newGateway(t, Options{Auth: fakeAuth{}}, remoteRoute(urlBackend("alpha", a.URL)))
	c := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil)
	hc := &http.Client{Transport: headerRT{http.Header{"X-Subject": {"alice"}}, http.DefaultTransport}}
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: gw.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := toolNames(t, cs); slices.Contains(got, "alpha__secret") || !slices.Contains(got, "alpha__echo") {
		t.Errorf("tools for alice: %v", got)
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "alpha__secret"}); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("denied tool: %v", err)
	}
	post := func(id, subject string) int {
		req, _ := http.NewRequest("POST", gw.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", id)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		req.Header.Set("X-Subject", subject)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(cs.ID(), "alice"); got != http.StatusOK {
		t.Errorf("own session: %d", got)
	}
	if got := post(cs.ID(), "mallory"); got != http.StatusNotFound {
		t.Errorf("another subject's session id: %d, want 404", got)
	}
	forged := []byte(cs.ID())
	forged[len(forged)/2] ^= 1
	if got := post(string(forged), "alice"); got != http.StatusNotFound {
		t.Errorf("forged session id: %d, want 404", got)
	}
	if got := post("", ""); got != http.StatusUnauthorized {
		t.Errorf("no subject: %d, want 401", got)
	}
}

func TestReloadListChanged(t *testing.T) {
	a, b := remoteServer(t, "a"), remoteServer(t, "b")
	g, gw := newGateway(t, Options{}, remoteRoute(urlBackend("alpha", a.URL)))
	changed := make(chan string, 1)
	cs := connect(t, gw.URL+"/mcp", clientOpts{changed: changed})
	if got := toolNames(t, cs); len(got) != 3 {
		t.Fatalf("before: %v", got)
	}
	if err := g.Update([]*config.MCPRoute{remoteRoute(urlBackend("alpha", a.URL), urlBackend("beta", b.URL))}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no tools/list_changed after a reload that added a server")
	}
	if got := toolNames(t, cs); len(got) != 6 {
		t.Fatalf("after: %v", got)
	}
	// The same session keeps working.
	if text, _ := callText(t, cs, &mcp.CallToolParams{Name: "beta__echo", Arguments: map[string]any{"text": "y"}}); text != "b:y" {
		t.Errorf("call after reload: %q", text)
	}
}

func TestBackendDown(t *testing.T) {
	a, b := remoteServer(t, "a"), remoteServer(t, "b")
	var unreachable atomic.Int64
	_, gw := newGateway(t, Options{BackendUnreachable: func(route, backend string) {
		if route == "test" && backend == "beta" {
			unreachable.Add(1)
		}
	}}, remoteRoute(urlBackend("alpha", a.URL), urlBackend("beta", b.URL)))
	cs := connect(t, gw.URL+"/mcp", clientOpts{})
	if got := toolNames(t, cs); len(got) != 6 {
		t.Fatalf("before: %v", got)
	}
	b.CloseClientConnections()
	b.Close()
	text, isErr := callText(t, cs, &mcp.CallToolParams{Name: "beta__echo", Arguments: map[string]any{"text": "z"}})
	if !isErr || !strings.Contains(text, "unavailable") {
		t.Errorf("call to a dead backend: %q %v", text, isErr)
	}
	if got := toolNames(t, cs); !slices.Equal(got, []string{"alpha__echo", "alpha__sample", "alpha__secret"}) {
		t.Errorf("tools with beta down: %v", got)
	}
	if text, isErr := callText(t, cs, &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": "z"}}); text != "a:z" || isErr {
		t.Errorf("alpha after beta died: %q %v", text, isErr)
	}
	if unreachable.Load() == 0 {
		t.Error("BackendUnreachable was not called for beta")
	}
}

func TestOriginAndMalformed(t *testing.T) {
	a := remoteServer(t, "a")
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("alpha", a.URL)))
	do := func(body, origin string) (int, string) {
		req, _ := http.NewRequest("POST", gw.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	if st, _ := do(init, "http://evil.example"); st != http.StatusForbidden {
		t.Errorf("foreign origin: %d", st)
	}
	if st, _ := do(init, "http://localhost:3000"); st != http.StatusOK {
		t.Errorf("loopback origin: %d", st)
	}
	if st, out := do(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"`+strings.Repeat("a", 5<<20)+`"}}`, ""); st != http.StatusRequestEntityTooLarge || !strings.Contains(out, `"code":-32600`) {
		t.Errorf("a body over the bound: %d %s", st, out)
	}
	for _, body := range []string{`{not json`, `[` + init + `]`, `{"jsonrpc":"2.0"}`} {
		st, out := do(body, "")
		if st < 400 || st >= 500 {
			t.Errorf("%s: status %d (%s)", body, st, out)
		}
	}
}

func TestSeedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d", "seed")
	s1, err := loadSeed(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 || len(s1) != seedBytes {
		t.Fatalf("mode %o len %d", fi.Mode().Perm(), len(s1))
	}
	s2, _ := loadSeed(p)
	if string(s1) != string(s2) {
		t.Fatal("seed changed")
	}
	c, _ := newSessionCipher(s1, 0)
	var n atomic.Int64
	start := time.Now()
	for range 1000 {
		if c.valid(c.newID("sub"), "sub") {
			n.Add(1)
		}
	}
	if per := time.Since(start) / 1000; per > time.Millisecond || n.Load() != 1000 {
		t.Errorf("%v per session id, %d valid", per, n.Load())
	}
}

// TestBackendReturns: a url backend that goes away and comes back on the same address is
// listed and callable again in the same client session.
func TestBackendReturns(t *testing.T) {
	b := remoteServer(t, "b")
	addr := b.Listener.Addr().String()
	a := remoteServer(t, "a")
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("alpha", a.URL), urlBackend("beta", b.URL)))
	cs := connect(t, gw.URL+"/mcp", clientOpts{})
	if got := toolNames(t, cs); len(got) != 6 {
		t.Fatalf("before: %v", got)
	}
	b.CloseClientConnections()
	b.Close()
	if got := toolNames(t, cs); len(got) != 3 {
		t.Fatalf("beta down: %v", got)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	again := remoteServer(t, "b2")
	again.Listener.Close()
	srv := &http.Server{Handler: again.Config.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if got := toolNames(t, cs); len(got) != 6 {
		t.Fatalf("beta back: %v", got)
	}
	if text, isErr := callText(t, cs, &mcp.CallToolParams{Name: "beta__echo", Arguments: map[string]any{"text": "w"}}); text != "b2:w" || isErr {
		t.Errorf("beta back: %q %v", text, isErr)
	}
}
