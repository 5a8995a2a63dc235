package mcpstdio

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestConformance runs the official MCP conformance suites against the bridge in front of the
// go-sdk's conformance server (conformance/everything-server of the module this repository
// pins, built by the test and run over stdio): @modelcontextprotocol/conformance 0.1.16 with
// --suite all (2025-11-25), and 0.2.0-alpha.12 (node_modules/conformance-next) with
// --requirements 2026-07-28, both with the server's own 2026-07-28 support and translated. Every failing check must be listed in knownFailures with the
// reason it is not the bridge's to fix. The counts are in README.md.
func TestConformance(t *testing.T) {
	t.Parallel() // mostly waits on Node processes
	if testing.Short() {
		t.Skip("skipping: the conformance suites take about 25s")
	}
	root := nodeModules(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	old := []string{filepath.Join(root, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js"), "server", "--suite", "all"}
	next := []string{filepath.Join(root, "node_modules", "conformance-next", "dist", "index.js"), "server", "--requirements", "2026-07-28"}
	suites := []struct {
		name   string
		args   []string
		modern ModernMode
	}{
		{"0.1.16", old, ModernAuto},
		// The go-sdk server speaks 2026-07-28 over stdio, so by default the bridge forwards those
		// requests to it; translated is what a session-revision server gets.
		{"0.2.0-alpha.12", next, ModernAuto},
		{"0.2.0-alpha.12 translated", next, ModernTranslate},
	}
	for _, path := range []string{node, old[0], next[0]} {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("skipping: %s is not installed (npm ci installs it)", path)
		}
	}
	server := filepath.Join(t.TempDir(), "everything-server")
	build := exec.Command("go", "build", "-o", server, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the go-sdk conformance server: %v\n%s", err, out)
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel() // each suite mostly waits on its own server: run them side by side
			_, srv := startBridge(t, Config{Name: "conformance", Command: server, StopTimeout: time.Second,
				InitTimeout: 20 * time.Second, Modern: suite.modern})
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, append(suite.args, "--url", endpoint(srv), "-o", out)...)
			cmd.Dir = root
			log, _ := cmd.CombinedOutput() // the exit status says "something failed"; the checks say what
			passed, failed := 0, 0
			reasons := map[string]int{}
			for _, f := range readChecks(t, out) {
				if f.Status != "FAILURE" {
					if f.Status == "SUCCESS" {
						passed++
					}
					continue
				}
				failed++
				if reason, known := knownFailure(suite.name, f.Scenario, f.ID); !known {
					t.Errorf("%s / %s: %s", f.Scenario, f.ID, f.ErrorMessage)
				} else {
					reasons[reason]++
				}
			}
			t.Logf("suite %s: %d checks passed, %d failed", suite.name, passed, failed)
			for reason, n := range reasons {
				t.Logf("  %d known failure(s): %s", n, reason)
			}
			if passed == 0 {
				t.Fatalf("no check passed; the runner said:\n%s", log)
			}
		})
	}
}

// check is one entry of a scenario's checks.json.
type check struct {
	Scenario     string `json:"-"`
	ID           string `json:"id"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage"`
}

var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T`)

// readChecks reads every checks.json the runner wrote under dir.
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

// knownFailure says why a failing check is not the bridge's to fix, if it is one of those.
func knownFailure(suite, scenario, id string) (string, bool) {
	if !strings.HasPrefix(suite, "0.2.0-alpha.12") {
		return "", false
	}
	switch {
	case strings.HasPrefix(scenario, "tasks-"):
		// Not scored for 2026-07-28 (the runner lists them as an extension); the go-sdk server
		// fails the same checks natively.
		return "tasks extension: not required by 2026-07-28 and failing natively too", true
	case suite == "0.2.0-alpha.12 translated" && scenario == "input-required-result-basic-elicitation" &&
		id == "sep-2322-elicitation-incomplete":
		// Over stdio the child speaks the session revision and asks for the input with an
		// elicitation/create request; the bridge turns it into an input request but cannot
		// know the key ("user_name") the server would have chosen in a 2026-07-28 result.
		return "the key of an input request is the server's choice; a session-revision child does not name it", true
	}
	return "", false
}
