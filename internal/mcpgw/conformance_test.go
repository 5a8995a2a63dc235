package mcpgw

import (
	"context"
	"encoding/json"
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
// 0.1.16, --suite all) against the gateway's /mcp in front of the go-sdk's conformance server
// (a stdio backend named "c"), and logs the counts. The suite calls tools, prompts and resources
// by the server's own names, which the gateway exposes as c__name (URIs as c+uri): those
// scenarios fail by construction, and every failure must be that one (unknown name); the
// lifecycle scenarios must pass.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the conformance suite takes about 30s")
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
	_, gw := newGateway(t, Options{}, remoteRoute(&config.MCPBackend{Name: "c", Command: server}))
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, suite, "server", "--suite", "all", "--url", gw.URL+"/mcp", "-o", out)
	cmd.Dir = root
	log, _ := cmd.CombinedOutput()
	passed, failed := 0, 0
	failing := map[string]int{}
	for _, c := range readChecks(t, out) {
		switch c.Status {
		case "SUCCESS":
			passed++
		case "FAILURE":
			failed++
			failing[c.Scenario]++
			if !byName.MatchString(c.ErrorMessage) {
				t.Errorf("%s / %s fails for another reason than the c__ prefix: %s", c.Scenario, c.ID, c.ErrorMessage)
			}
		}
	}
	t.Logf("conformance 0.1.16 through aigw /mcp: %d checks passed, %d failed", passed, failed)
	names := make([]string, 0, len(failing))
	for s := range failing {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		t.Logf("  %s: %d failed", s, failing[s])
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
