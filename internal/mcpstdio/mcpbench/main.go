// Command mcpbench measures the stdio bridge: per-call latency of a tool call through the
// bridge (both protocol revisions) against the same call over stdio directly, and calls per
// second with many concurrent sessions. It prints one table.
//
//	go run ./internal/mcpstdio/mcpbench [-calls 2000] [-duration 3s] [-sessions 16] [-- COMMAND ARGS...]
//
// Without a command it benchmarks a small Go echo server (this binary, re-executed); with one
// (e.g. node_modules/.bin/mcp-server-everything stdio) it calls that server's "echo" tool.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aigw/aigw/internal/mcpstdio"
)

const serverEnv = "AIGW_MCPBENCH_SERVER"

func main() {
	if os.Getenv(serverEnv) == "1" {
		serveEcho()
		return
	}
	calls := flag.Int("calls", 2000, "sequential calls per latency measurement")
	duration := flag.Duration("duration", 3*time.Second, "length of each throughput run")
	sessions := flag.Int("sessions", 16, "concurrent sessions in the throughput runs")
	flag.Parse()
	if err := run(*calls, *duration, *sessions, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

// echoArgs builds the arguments of the echo tool for the server under test.
type target struct {
	command string
	args    []string
	env     []string
	echo    func(i int) map[string]any
}

func run(calls int, duration time.Duration, sessions int, command []string) error {
	t := target{echo: func(i int) map[string]any { return map[string]any{"text": fmt.Sprint("m", i)} }}
	if len(command) > 0 {
		t.command, t.args = command[0], command[1:]
		t.echo = func(i int) map[string]any { return map[string]any{"message": fmt.Sprint("m", i)} }
	} else {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		t.command, t.env = exe, []string{serverEnv + "=1"}
	}
	ctx := context.Background()

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(os.Stdout, "\n== MCP stdio bridge: %s ==\n", t.command)
	fmt.Fprintln(tw, "path\tp50\tp90\tp99\tmean\tcalls/s")

	// Direct stdio: one client, one process.
	direct, closeDirect, err := connectStdio(ctx, t)
	if err != nil {
		return err
	}
	lat, err := latencies(ctx, []*mcp.ClientSession{direct}, t, calls)
	if err != nil {
		return err
	}
	qps, err := throughput(ctx, slices.Repeat([]*mcp.ClientSession{direct}, sessions), t, duration)
	if err != nil {
		return err
	}
	row(tw, "stdio direct (1 session)", lat, qps)
	closeDirect()

	// Through the bridge.
	bridge, err := mcpstdio.New(mcpstdio.Config{Command: t.command, Args: t.args, Env: t.env,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	if err := bridge.Start(ctx); err != nil {
		return err
	}
	defer bridge.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bridge.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/mcp"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * sessions}}

	for _, rev := range []struct{ name, version string }{{"2025-11-25", "2025-11-25"}, {"2026-07-28", ""}} {
		var css []*mcp.ClientSession
		for range sessions {
			// A client that declares no capabilities shares the bridge's one child; the SDK's
			// default (roots) would give every session a child of its own.
			bare := &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "mcpbench"}, bare).Connect(ctx,
				&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: rev.version})
			if err != nil {
				return err
			}
			defer cs.Close()
			css = append(css, cs)
		}
		lat, err := latencies(ctx, css[:1], t, calls)
		if err != nil {
			return err
		}
		qps, err := throughput(ctx, css, t, duration)
		if err != nil {
			return err
		}
		row(tw, "bridge "+rev.name+fmt.Sprintf(" (%d sessions)", sessions), lat, qps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("  * latency: %d sequential tools/call on one session; calls/s: %d goroutines calling for %v\n", calls, sessions, duration)
	fmt.Println("  * stdio direct shares one session among the goroutines (one process serves one client)")
	fmt.Println("  * bridge rows: HTTP on loopback, one shared child, go-sdk client; 2026-07-28 is stateless (no session)")
	return nil
}

func connectStdio(ctx context.Context, t target) (*mcp.ClientSession, func(), error) {
	cmd := exec.Command(t.command, t.args...)
	cmd.Env = append(os.Environ(), t.env...)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "mcpbench"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return nil, nil, err
	}
	return cs, func() { _ = cs.Close() }, nil
}

// latencies makes n sequential calls (after a warm-up) and returns their sorted durations.
func latencies(ctx context.Context, css []*mcp.ClientSession, t target, n int) ([]time.Duration, error) {
	cs := css[0]
	for i := range 50 {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: t.echo(i)}); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: t.echo(i)}); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out, nil
}

// throughput calls from one goroutine per session for d and returns calls per second.
func throughput(ctx context.Context, css []*mcp.ClientSession, t target, d time.Duration) (float64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, cs := range css {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: t.echo(i)}); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds(), firstErr
}

func row(w io.Writer, name string, lat []time.Duration, qps float64) {
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Fprintf(w, "%s\t%v\t%v\t%v\t%v\t%.0f\n", name, q(0.5).Round(time.Microsecond), q(0.9).Round(time.Microsecond),
		q(0.99).Round(time.Microsecond), (sum / time.Duration(len(lat))).Round(time.Microsecond), qps)
}

// serveEcho is the benchmark's own stdio server: one echo tool, nothing else.
func serveEcho() {
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcpbench-echo", Version: "1"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
	})
	if err := srv.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
