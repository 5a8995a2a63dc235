package mcpgw

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// TestConformance runs the official MCP conformance suite (@modelcontextprotocol/conformance
// 0.1.16, --suite all) twice: directly against the go-sdk's conformance server over its own
// streamable HTTP transport (sessions, as the gateway serves them), and against the gateway's
// /mcp in front of the same server (a stdio backend named "c"); it logs both counts (the
// README reports them). The suite calls tools, prompts and resources by the server's own names,
// which the gateway exposes as c__name (URIs as c+uri): those scenarios fail through the gateway
// by construction, and every failure there must be that one (unknown name), while directly
// every check must pass; the lifecycle scenarios must pass through the gateway.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the conformance suite takes about a minute")
	}
	root := nodeModules(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	suite := filepath.Join(root, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	if _, err := os.Stat(suite); err != nil {
		t.Skipf("skipping: %s is not installed (npm ci installs it)", suite)
	}
	server := filepath.Join(t.TempDir(), "everything-server")
	build := exec.Command("go", "build", "-o", server, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the go-sdk conformance server: %v\n%s", err, out)
	}
	run := func(url string) ([]check, []byte) {
		out := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, suite, "server", "--suite", "all", "--url", url, "-o", out)
		cmd.Dir = root
		log, _ := cmd.CombinedOutput()
		return readChecks(t, out), log
	}

	// Directly: the server's own HTTP transport, with sessions.
	addr := freeAddr(t)
	direct := exec.Command(server, "-http", addr, "-stateless=false")
	if err := direct.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Process.Kill(); direct.Wait() })
	waitListening(t, addr)
	checks, log := run("http://" + addr + "/mcp")
	dPassed, dFailed := 0, 0
	for _, c := range checks {
		switch c.Status {
		case "SUCCESS":
			dPassed++
		case "FAILURE":
			dFailed++
			t.Errorf("directly: %s / %s fails: %s", c.Scenario, c.ID, c.ErrorMessage)
		}
	}
	if dPassed == 0 {
		t.Fatalf("directly: no check passed; the runner said:\n%s", log)
	}

	// Through the gateway.
	_, gw := newGateway(t, Options{}, remoteRoute(&config.MCPBackend{Name: "c", Command: server}))
	checks, log = run(gw.URL + "/mcp")
	passed, failed := 0, 0
	failing, passing := map[string]int{}, map[string]int{}
	for _, c := range checks {
		switch c.Status {
		case "SUCCESS":
			passed++
			passing[c.Scenario]++
		case "FAILURE":
			failed++
			failing[c.Scenario]++
			if !byName.MatchString(c.ErrorMessage) {
				t.Errorf("%s / %s fails for another reason than the c__ prefix: %s", c.Scenario, c.ID, c.ErrorMessage)
			}
		}
	}
	t.Logf("conformance 0.1.16 directly against the go-sdk conformance server: %d checks passed, %d failed", dPassed, dFailed)
	t.Logf("conformance 0.1.16 through aigw /mcp in front of it: %d checks passed, %d failed", passed, failed)
	for _, m := range []map[string]int{passing, failing} {
		names := make([]string, 0, len(m))
		for s := range m {
			names = append(names, s)
		}
		sort.Strings(names)
		for _, s := range names {
			t.Logf("  %s: %d passed, %d failed", s, passing[s], failing[s])
		}
	}
	if passed == 0 {
		t.Fatalf("no check passed; the runner said:\n%s", log)
	}
	for _, s := range []string{"server-initialize", "ping"} {
		if failing[s] > 0 {
			t.Errorf("lifecycle scenario %s failed", s)
		}
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitListening waits until something accepts connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// byName matches the errors of a request for an unprefixed name.
var byName = regexp.MustCompile(`unknown (tool|prompt|resource|completion reference)|resource not found|not found\. Available tools: c__`)

type check struct {
	Scenario     string `json:"-"`
	ID           string `json:"id"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage"`
}

var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T`)

func readChecks(t *testing.T, dir string) []check {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "checks.json"))
	sort.Strings(files)
	var all []check
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cs []check
		if err := json.Unmarshal(data, &cs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		scenario := filepath.Base(filepath.Dir(f))
		if m := scenarioDir.FindStringSubmatch(scenario); m != nil {
			scenario = m[1]
		}
		for _, c := range cs {
			c.Scenario = scenario
			all = append(all, c)
		}
	}
	return all
}
