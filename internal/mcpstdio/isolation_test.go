package mcpstdio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// recorder notes every server-to-client request a client answers.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// askingClient declares sampling, elicitation and roots, answers all three, and records them.
func askingClient(name string, rec *recorder) *mcp.ClientOptions {
	return &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: true}},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			rec.add("sampling:" + req.Params.Messages[0].Content.(*mcp.TextContent).Text)
			return &mcp.CreateMessageResult{Role: "assistant", Model: name, Content: &mcp.TextContent{Text: name}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			rec.add("elicitation:" + req.Params.Message)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"answer": name}}, nil
		},
	}
}

// failed reports whether a tool call ended in an error of either kind.
func failed(res *mcp.CallToolResult, err error) bool { return err != nil || res.IsError }

// TestServerRequestsStayInTheirSession is defect 1 of issue 12: a session that did not declare
// sampling (elicitation, roots) calls a tool that makes the server ask for it, while another
// session that declared it has a request in flight. The request must never reach the other
// session: the asking session's call fails, the other one sees nothing.
func TestServerRequestsStayInTheirSession(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recA recorder
	a := mcp.NewClient(&mcp.Implementation{Name: "A", Version: "1"}, askingClient("A", &recA))
	a.AddRoots(&mcp.Root{URI: "file:///only-for-A", Name: "A"})
	as, err := a.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint(srv), MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version20251125})
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	// A keeps a tool call in flight the whole time: the request a guess would pick.
	busy := make(chan error, 1)
	go func() {
		_, err := as.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 40, "delayMs": 50}})
		busy <- err
	}()
	time.Sleep(100 * time.Millisecond)

	for _, version := range []string{version20251125, ""} {
		b := connect(t, endpoint(srv), version, nil) // declares nothing
		for _, tool := range []string{"sample", "elicit", "roots"} {
			res, err := b.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "secret of B " + version}})
			if !failed(res, err) {
				t.Errorf("version %q: B's %s succeeded without the capability: %v", version, tool, res.Content)
			}
			if err == nil && len(res.Content) > 0 {
				if tc, ok := res.Content[0].(*mcp.TextContent); ok && strings.Contains(tc.Text, "only-for-A") {
					t.Errorf("version %q: B learned A's roots: %s", version, tc.Text)
				}
			}
		}
	}
	if seen := recA.all(); len(seen) != 0 {
		t.Errorf("session A was asked on behalf of B: %v", seen)
	}
	// A itself is still asked for what its own calls need, and answers them.
	if got := callText(t, ctx, as, "sample", map[string]any{"text": "from A"}); got != "sampled: A" {
		t.Errorf("A's own sampling: %q", got)
	}
	if got := callText(t, ctx, as, "roots", nil); got != "roots: [file:///only-for-A]" {
		t.Errorf("A's own roots: %q", got)
	}
	if err := <-busy; err != nil {
		t.Errorf("A's slow call: %v", err)
	}
}

// TestConcurrentAskersGetTheirOwnAnswers runs sessions that all declare sampling and
// elicitation, each asking at the same time; every answer comes from the asker's own client,
// in both revisions.
func TestConcurrentAskersGetTheirOwnAnswers(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 6
	var wg sync.WaitGroup
	recs := make([]*recorder, n)
	for i := range n {
		recs[i] = &recorder{}
		name := fmt.Sprintf("client-%d", i)
		cs := connect(t, endpoint(srv), []string{version20251125, ""}[i%2], askingClient(name, recs[i]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 4 {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "sample", Arguments: map[string]any{"text": fmt.Sprintf("%s-%d", name, j)}})
				if err != nil || res.IsError {
					t.Errorf("%s: sample: %v %v", name, err, res)
					return
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != "sampled: "+name {
					t.Errorf("%s got %q", name, got)
				}
				res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "elicit", Arguments: map[string]any{"text": fmt.Sprintf("%s-%d", name, j)}})
				if err != nil || res.IsError {
					t.Errorf("%s: elicit: %v %v", name, err, res)
					return
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != "elicited: accept "+name {
					t.Errorf("%s got %q", name, got)
				}
			}
		}()
	}
	wg.Wait()
	for i, rec := range recs {
		for _, s := range rec.all() {
			if !strings.Contains(s, fmt.Sprintf("client-%d-", i)) {
				t.Errorf("client %d was asked %q", i, s)
			}
		}
	}
}

// toolNames lists the tools a client declaring caps sees, sorted.
func toolNames(t *testing.T, ctx context.Context, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// TestClientSeesWhatTheServerShowsIt is defect 3 of issue 12: server-everything offers some
// tools only to clients that declare sampling, elicitation or roots. Through the bridge a
// client sees exactly what the server shows that client over its own stdio connection.
func TestClientSeesWhatTheServerShowsIt(t *testing.T) {
	cfg := everythingConfig(t)
	// It starts server-everything eight times; the bound catches a hang, not slowness.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bare := func() *mcp.ClientOptions { return &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}} }
	full := func() *mcp.ClientOptions {
		var rec recorder
		return askingClient("full", &rec)
	}
	native := func(opts *mcp.ClientOptions) []string {
		client := mcp.NewClient(&mcp.Implementation{Name: "native", Version: "1"}, opts)
		cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(cfg.Command, cfg.Args...)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		return toolNames(t, ctx, cs)
	}
	wantBare, wantFull := native(bare()), native(full())
	t.Logf("natively server-everything shows %d tools to a bare client, %d to a capable one", len(wantBare), len(wantFull))
	if len(wantFull) <= len(wantBare) {
		t.Fatalf("server-everything shows %d tools to a bare client and %d to a capable one; the test needs a difference",
			len(wantBare), len(wantFull))
	}
	for _, isolated := range []bool{false, true} {
		cfg := cfg
		cfg.Isolated = isolated
		_, srv := startBridge(t, cfg)
		for _, version := range []string{version20251125, ""} {
			if isolated && version == "" {
				continue // isolation needs sessions; a 2026-07-28 client falls back to initialize
			}
			name := fmt.Sprintf("isolated=%v version=%q", isolated, version)
			if got := toolNames(t, ctx, connect(t, endpoint(srv), version, bare())); !slices.Equal(got, wantBare) {
				t.Errorf("%s: a bare client sees %d tools %v, natively %d %v", name, len(got), got, len(wantBare), wantBare)
			}
			if got := toolNames(t, ctx, connect(t, endpoint(srv), version, full())); !slices.Equal(got, wantFull) {
				t.Errorf("%s: a capable client sees %d tools %v, natively %d %v", name, len(got), got, len(wantFull), wantFull)
			}
		}
	}
}

// TestRootsStayPerSession is defect 2 of issue 12, with server-filesystem: session A declares
// a root and announces it with roots/list_changed; session B declares another. Each reaches
// its own directory only, and a session that declares no roots keeps the server's own.
func TestRootsStayPerSession(t *testing.T) {
	root := nodeModules(t)
	dirs := map[string]string{}
	for _, name := range []string{"shared", "a", "b"} {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte("secret of "+name), 0o600); err != nil {
			t.Fatal(err)
		}
		dirs[name] = dir
	}
	_, srv := startBridge(t, Config{
		Name:        "filesystem",
		Command:     filepath.Join(root, "node_modules", ".bin", "mcp-server-filesystem"),
		Args:        []string{dirs["shared"]},
		StopTimeout: 2 * time.Second,
		InitTimeout: 30 * time.Second,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	withRoots := func(dir string, announceLater bool) *mcp.ClientSession {
		client := mcp.NewClient(&mcp.Implementation{Name: "roots-" + dir, Version: "1"}, &mcp.ClientOptions{
			Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: true}},
		})
		if !announceLater {
			client.AddRoots(&mcp.Root{URI: "file://" + dir})
		}
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint(srv), MaxRetries: -1},
			&mcp.ClientSessionOptions{ProtocolVersion: version20251125})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		if announceLater {
			client.AddRoots(&mcp.Root{URI: "file://" + dir}) // sends roots/list_changed
		}
		return cs
	}
	read := func(cs *mcp.ClientSession, name string) bool {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "read_text_file",
			Arguments: map[string]any{"path": filepath.Join(dirs[name], name+".txt")}})
		if failed(res, err) {
			return false
		}
		return strings.Contains(res.Content[0].(*mcp.TextContent).Text, "secret of "+name)
	}
	a := withRoots(dirs["a"], true)
	waitFor(t, "A's root to be applied", func() bool { return read(a, "a") })
	b := withRoots(dirs["b"], false)
	waitFor(t, "B's root to be applied", func() bool { return read(b, "b") })
	c := connect(t, endpoint(srv), version20251125, nil)

	want := map[string]map[string]bool{
		"A": {"a": true, "b": false, "shared": false},
		"B": {"a": false, "b": true, "shared": false},
		"C": {"a": false, "b": false, "shared": true},
	}
	for who, cs := range map[string]*mcp.ClientSession{"A": a, "B": b, "C": c} {
		for dir, ok := range want[who] {
			if got := read(cs, dir); got != ok {
				t.Errorf("session %s reading %s's directory: got %v, want %v", who, dir, got, ok)
			}
		}
	}
}

// TestStatelessRootsAreNotShared checks the 2026-07-28 side of defect 2: requests that declare
// roots are served by pooled children, and a pooled child that learned a client's roots never
// serves another request (a session-revision server may keep roots once told).
func TestStatelessRootsAreNotShared(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	withRoot := func(uri string) *mcp.ClientSession {
		client := mcp.NewClient(&mcp.Implementation{Name: "stateless-roots", Version: "1"}, &mcp.ClientOptions{
			Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: true}},
		})
		client.AddRoots(&mcp.Root{URI: uri})
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint(srv), MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		if v := cs.InitializeResult().ProtocolVersion; v != version20260728 {
			t.Fatalf("negotiated %q, want %s", v, version20260728)
		}
		return cs
	}
	a, b := withRoot("file:///only-a"), withRoot("file:///only-b")
	first := callText(t, ctx, a, "pid", nil)
	if again := callText(t, ctx, b, "pid", nil); again != first {
		t.Fatalf("requests of one capability set used children %s and %s; the pool should reuse an idle child", first, again)
	}
	if got := callText(t, ctx, a, "roots", nil); got != "roots: [file:///only-a]" {
		t.Errorf("A's roots: %q", got)
	}
	if after := callText(t, ctx, b, "pid", nil); after == first {
		t.Errorf("child %s learned A's roots and then served B", first)
	}
	if got := callText(t, ctx, b, "roots", nil); got != "roots: [file:///only-b]" {
		t.Errorf("B's roots: %q", got)
	}
}

// TestLogMessagesStayWithTheirClient: a log message the shared child sends while one client's
// request is in flight goes to that client only; while several clients' requests are, it could
// be any one's and goes to none.
func TestLogMessagesStayWithTheirClient(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evA, evB := &events{}, &events{}
	a := connect(t, endpoint(srv), version20251125, &mcp.ClientOptions{LoggingMessageHandler: evA.clientOptions().LoggingMessageHandler})
	b := connect(t, endpoint(srv), version20251125, &mcp.ClientOptions{LoggingMessageHandler: evB.clientOptions().LoggingMessageHandler})
	for _, cs := range []*mcp.ClientSession{a, b} {
		if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
			t.Fatal(err)
		}
	}
	callText(t, ctx, b, "log", map[string]any{"level": "info", "text": "B alone"})
	waitFor(t, "B's own log message", evB.count(func() int { return len(evB.logs) }))

	busy := make(chan error, 1)
	go func() {
		_, err := a.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 10, "delayMs": 50}})
		busy <- err
	}()
	time.Sleep(100 * time.Millisecond)
	callText(t, ctx, b, "log", map[string]any{"level": "info", "text": "secret of B"})
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	evA.mu.Lock()
	defer evA.mu.Unlock()
	for _, l := range evA.logs {
		if strings.Contains(l, "B") {
			t.Errorf("session A received B's log message %q", l)
		}
	}
}
