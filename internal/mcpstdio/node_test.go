package mcpstdio

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// nodeResult is what testdata/client.mjs prints.
type nodeResult struct {
	Server      string    `json:"server"`
	Tools       int       `json:"tools"`
	Echo        []string  `json:"echo"`
	Slow        string    `json:"slow"`
	Progress    []float64 `json:"progress"`
	Sample      string    `json:"sample"`
	Resource    string    `json:"resource"`
	Prompt      string    `json:"prompt"`
	ListChanged bool      `json:"listChanged"`
}

// TestNodeClient drives the bridge with the TypeScript SDK's client (2025-11-25) over streamable
// HTTP and over HTTP+SSE, several at once.
func TestNodeClient(t *testing.T) {
	t.Parallel() // mostly waits on Node processes
	root := nodeModules(t)
	_, srv := startBridge(t, testServerConfig(t))
	script, _ := filepath.Abs("testdata/client.mjs")
	runs := []struct{ kind, url string }{
		{"streamable", endpoint(srv)}, {"streamable", endpoint(srv)}, {"sse", srv.URL + "/sse"},
	}
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprintf("%s%d", run.kind, i)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", script, run.url, run.kind, tag)
			cmd.Env = append(cmd.Environ(), "NODE_PATH="+filepath.Join(root, "node_modules"))
			cmd.Dir = root // so the script's imports resolve from the repository's node_modules
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Errorf("%s: node client failed: %v\n%s", tag, err, stderr)
				return
			}
			var res nodeResult
			if err := json.Unmarshal(out, &res); err != nil {
				t.Errorf("%s: output %q: %v", tag, out, err)
				return
			}
			if res.Server != "aigw-testserver" || res.Tools < 5 {
				t.Errorf("%s: server %q with %d tools", tag, res.Server, res.Tools)
			}
			for j, got := range res.Echo {
				if want := fmt.Sprintf("echo: %s-%d", tag, j); got != want {
					t.Errorf("%s: echo %d = %q, want %q (cross-talk?)", tag, j, got, want)
				}
			}
			// The SDK's SSE client handles a response before progress notifications that arrived in
			// the same network read, so on a loaded machine it can miss any of them; the bridge's
			// order on that transport is checked by TestLegacySSEOrder instead.
			minProgress := 3
			if run.kind == "sse" {
				minProgress = 0
			}
			if res.Slow != "slow done after 3 steps" || len(res.Progress) < minProgress || len(res.Progress) > 3 {
				t.Errorf("%s: slow %q with progress %v", tag, res.Slow, res.Progress)
			}
			if res.Sample != "sampled: node says "+tag {
				t.Errorf("%s: sample %q", tag, res.Sample)
			}
			if res.Resource != "hello, world" || res.Prompt != "Hello, "+tag+"!" || !res.ListChanged {
				t.Errorf("%s: resource %q prompt %q listChanged %v", tag, res.Resource, res.Prompt, res.ListChanged)
			}
		}()
	}
	wg.Wait()
}

// TestNodeModernClient drives the bridge with the TypeScript SDK v2 client pinned to the
// 2026-07-28 revision, as the MCP Inspector does in modern mode: it rejects any result without
// resultType (issue 12, defect 4), so every call succeeding is the check. Its sampling goes
// through an input_required round trip.
func TestNodeModernClient(t *testing.T) {
	t.Parallel() // mostly waits on Node processes
	root := nodeModules(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@modelcontextprotocol", "client")); err != nil {
		t.Skip("skipping: @modelcontextprotocol/client is not installed")
	}
	_, srv := startBridge(t, testServerConfig(t))
	script, _ := filepath.Abs("testdata/modern.mjs")
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprintf("modern%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, endpoint(srv), tag)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Errorf("%s: node client failed: %v\n%s", tag, err, stderr)
				return
			}
			var res struct {
				Protocol, Server, Echo, Sample, Resource, Prompt string
				Tools                                            int
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Errorf("%s: output %q: %v", tag, out, err)
				return
			}
			if res.Protocol != version20260728 || res.Server != "aigw-testserver" || res.Tools < 5 {
				t.Errorf("%s: protocol %q server %q tools %d", tag, res.Protocol, res.Server, res.Tools)
			}
			if res.Echo != "echo: "+tag || res.Sample != "sampled: modern says "+tag ||
				res.Resource != "hello, world" || res.Prompt != "Hello, "+tag+"!" {
				t.Errorf("%s: %+v", tag, res)
			}
		}()
	}
	wg.Wait()
}

// bareResult is what testdata/bare.mjs prints.
type bareResult struct {
	Tools []string `json:"tools"`
	Text  string   `json:"text"`
	Error string   `json:"error"`
}

// runBare runs testdata/bare.mjs against url, calling tool with args.
func runBare(t *testing.T, root, url, tool, args string) bareResult {
	t.Helper()
	script, _ := filepath.Abs("testdata/bare.mjs")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "node_modules", ".bin", "node"), script, url, tool, args)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node bare client: %v\n%s", err, stderr)
	}
	var res bareResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node bare client printed %q: %v", out, err)
	}
	return res
}

// TestNodeBareClient is defects 1 and 3 of issue 12 with the TypeScript SDK: a Node client
// that declares nothing sees server-everything's tools as a bare client does natively, and
// its tool call that makes the server ask for sampling fails instead of reaching the go-sdk
// session that declared sampling and has a request in flight.
func TestNodeBareClient(t *testing.T) {
	t.Parallel() // mostly waits on Node processes
	root := nodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg := everythingConfig(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "native", Version: "1"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}})
	native, err := client.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(cfg.Command, cfg.Args...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := toolNames(t, ctx, native)
	native.Close()
	_, everything := startBridge(t, cfg)
	if got := runBare(t, root, endpoint(everything), "echo", `{"message":"hi"}`); !slices.Equal(got.Tools, want) || got.Text != "Echo: hi" {
		t.Errorf("bare Node client: tools %v (natively %v), echo %q %q", got.Tools, want, got.Text, got.Error)
	}

	_, srv := startBridge(t, testServerConfig(t))
	var recA recorder
	a := connect(t, endpoint(srv), version20251125, askingClient("A", &recA))
	busy := make(chan error, 1)
	go func() {
		_, err := a.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 20, "delayMs": 50}})
		busy <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if got := runBare(t, root, endpoint(srv), "sample", `{"text":"secret of the Node client"}`); got.Error == "" {
		t.Errorf("the bare Node client's sampling succeeded: %q", got.Text)
	}
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	if seen := recA.all(); len(seen) != 0 {
		t.Errorf("session A was asked on behalf of the Node client: %v", seen)
	}
}
