package mcpgw

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestModernRevision drives the gateway with go-sdk clients that speak 2026-07-28 (no session,
// server/discover first): lists and calls reach the backends, progress reaches the caller alone.
func TestModernRevision(t *testing.T) {
	a := remoteServer(t, "a")
	_, gw := newGateway(t, Options{}, remoteRoute(urlBackend("alpha", a.URL)))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Go(func() {
			me := fmt.Sprintf("modern-%d", i)
			var mu sync.Mutex
			var got []string
			c := mcp.NewClient(&mcp.Implementation{Name: me}, &mcp.ClientOptions{
				Capabilities: &mcp.ClientCapabilities{},
				ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
					mu.Lock()
					got = append(got, r.Params.Message)
					mu.Unlock()
				},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.URL + "/mcp", MaxRetries: -1}, nil)
			if err != nil {
				errs <- err
				return
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				errs <- fmt.Errorf("negotiated %q", v)
				return
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) != 3 {
				errs <- fmt.Errorf("list: %v %v", err, tools)
				return
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alpha__echo", Arguments: map[string]any{"text": me}})
			if err != nil || res.Content[0].(*mcp.TextContent).Text != "a:"+me {
				errs <- fmt.Errorf("call: %v %+v", err, res)
				return
			}
			// sample's progress comes before it asks for a sample, which this client (it declares
			// no sampling) cannot give: the call fails, the progress must still be ours.
			p := &mcp.CallToolParams{Name: "alpha__sample", Arguments: map[string]any{"text": me}}
			p.SetProgressToken(1) // the same token in every client
			_, _ = cs.CallTool(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			for _, m := range got {
				if m != me {
					errs <- fmt.Errorf("%s got %q's progress", me, m)
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

// TestStatelessSessionsSwept: the gateway session of a 2026-07-28 subject that has been idle for
// SessionIdleTimeout is closed (its backend sessions with it) when another request comes.
func TestStatelessSessionsSwept(t *testing.T) {
	a := remoteServer(t, "a")
	g, gw := newGateway(t, Options{Auth: fakeAuth{}, SessionIdleTimeout: 200 * time.Millisecond}, remoteRoute(urlBackend("alpha", a.URL)))
	list := func(subject string) {
		c := mcp.NewClient(&mcp.Implementation{Name: subject}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}})
		hc := &http.Client{Transport: headerRT{http.Header{"X-Subject": {subject}}, http.DefaultTransport}}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	subjects := func() []string {
		rt := g.routes["/mcp"]
		rt.mu.Lock()
		defer rt.mu.Unlock()
		var out []string
		for s := range rt.stateless {
			out = append(out, s)
		}
		slices.Sort(out)
		return out
	}
	list("alice")
	if got := subjects(); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("after alice: %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	list("bob")
	if got := subjects(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("alice idle past the timeout: %v", got)
	}
	list("bob")
	if got := subjects(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("bob again: %v", got)
	}
}
