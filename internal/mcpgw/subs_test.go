package mcpgw

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// watchServer is a go-sdk MCP server with one subscribable resource; it reports subscriptions
// and the roots/list_changed notifications it receives.
type watchServer struct {
	srv          *mcp.Server
	subscribed   chan string
	rootsChanged chan struct{}
}

func newWatchServer() *watchServer {
	w := &watchServer{subscribed: make(chan string, 8), rootsChanged: make(chan struct{}, 8)}
	w.srv = mcp.NewServer(&mcp.Implementation{Name: "watch"}, &mcp.ServerOptions{
		SubscribeHandler: func(_ context.Context, r *mcp.SubscribeRequest) error {
			w.subscribed <- r.Params.URI
			return nil
		},
		UnsubscribeHandler:      func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		RootsListChangedHandler: func(context.Context, *mcp.RootsListChangedRequest) { w.rootsChanged <- struct{}{} },
	})
	w.srv.AddResource(&mcp.Resource{URI: "test://watch/doc", Name: "doc"}, func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: "doc"}}}, nil
	})
	return w
}

func (w *watchServer) handler() http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return w.srv }, nil)
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestSubscriptionRestored: a client's resource subscription survives its backend going away
// and coming back: the new backend session subscribes again, and resources/updated reaches the
// client.
func TestSubscriptionRestored(t *testing.T) {
	first := newWatchServer()
	hs := httptest.NewServer(first.handler())
	addr := hs.Listener.Addr().String()
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("w", hs.URL)))
	updated := make(chan string, 8)
	c := mcp.NewClient(&mcp.Implementation{Name: "test"}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) { updated <- r.Params.URI },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.URL + "/mcp", MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "w+test://watch/doc"}); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, first.subscribed, "the first subscription"); got != "test://watch/doc" {
		t.Fatalf("subscribed %q", got)
	}
	first.srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "test://watch/doc"})
	if got := waitFor(t, updated, "resources/updated"); got != "w+test://watch/doc" {
		t.Fatalf("updated %q", got)
	}

	// The backend goes away; a list finds it down; it comes back on the same address.
	hs.CloseClientConnections()
	hs.Close()
	if _, err := cs.ListResources(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	second := newWatchServer()
	srv := &http.Server{Handler: second.handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		rl, err := cs.ListResources(ctx, nil)
		if err == nil && len(rl.Resources) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend did not come back: %v %+v", err, rl)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := waitFor(t, second.subscribed, "the restored subscription"); got != "test://watch/doc" {
		t.Fatalf("restored %q", got)
	}
	second.srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "test://watch/doc"})
	if got := waitFor(t, updated, "resources/updated after the backend came back"); got != "w+test://watch/doc" {
		t.Fatalf("updated %q", got)
	}
}

// TestRootsListChangedForwarded: a client's notifications/roots/list_changed reaches the
// backends its session uses, and their roots/list gets the client's new roots.
func TestRootsListChangedForwarded(t *testing.T) {
	w := newWatchServer()
	hs := httptest.NewServer(w.handler())
	t.Cleanup(hs.Close)
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("w", hs.URL)))
	c := mcp.NewClient(&mcp.Implementation{Name: "test"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: true}}})
	c.AddRoots(&mcp.Root{URI: "file:///one"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.URL + "/mcp", MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.ListResources(ctx, nil); err != nil { // opens the session's backend session
		t.Fatal(err)
	}
	c.AddRoots(&mcp.Root{URI: "file:///two"})
	waitFor(t, w.rootsChanged, "roots/list_changed at the backend")
	var ss *mcp.ServerSession
	for s := range w.srv.Sessions() {
		ss = s
	}
	if ss == nil {
		t.Fatal("no backend session")
	}
	roots, err := ss.ListRoots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range roots.Roots {
		uris = append(uris, r.URI)
	}
	if len(uris) != 2 || uris[0] != "file:///one" || uris[1] != "file:///two" {
		t.Errorf("the backend sees roots %v", uris)
	}
}
