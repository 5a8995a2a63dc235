package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func TestRenderFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want func(*RenderOptions) bool
		code ExitCode
	}{
		{"defaults", []string{"manifests"}, func(o *RenderOptions) bool {
			return o.Output == "yaml" && o.Namespace == "" && o.GatewayClass == "eg" && !o.RenderGatewayClass && !o.IncludeSecrets && o.ConfigPath == ""
		}, ExitOK},
		{"all flags", []string{"manifests", "c.yaml", "-n", "ai", "-o", "json", "--gateway-class", "aigw", "--include-secrets"}, func(o *RenderOptions) bool {
			return o.ConfigPath == "c.yaml" && o.Namespace == "ai" && o.Output == "json" && o.GatewayClass == "aigw" && o.RenderGatewayClass && o.IncludeSecrets
		}, ExitOK},
		{"mcp inputs", []string{"manifests", "--mcp-config", "mcp.json", "--mcp-json", `{"mcpServers":{}}`}, func(o *RenderOptions) bool {
			return o.MCPConfigPath == "mcp.json" && o.MCPJSON == `{"mcpServers":{}}`
		}, ExitOK},
		{"bad output", []string{"manifests", "-o", "toml"}, nil, ExitUsage},
		{"json to a directory", []string{"manifests", "-o", "json", "--out-dir", "d"}, nil, ExitUsage},
		{"demo refused", []string{"manifests", "--demo"}, nil, ExitUsage},
		{"two files", []string{"manifests", "a.yaml", "b.yaml"}, nil, ExitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, errOut := testFactory(nil)
			var got *RenderOptions
			root := testRoot()
			root.AddCommand(newRenderCmd(f, &globalOptions{}, func(_ context.Context, o *RenderOptions) error { got = o; return nil }))
			code := runCommand(root, errOut, append([]string{"render"}, c.args...))
			if code != c.code {
				t.Fatalf("exit %d, want %d (%s)", code, c.code, errOut)
			}
			if c.want != nil && (got == nil || !c.want(got)) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// TestRenderFromEnv renders the environment's keys through the whole command: the Secret has a
// placeholder, stderr has the kubectl hint naming the variable, and the key is nowhere.
func TestRenderFromEnv(t *testing.T) {
	const key = "sk-render-test-4e1f"
	f, out, errOut := testFactory(map[string]string{"OPENAI_API_KEY": key, "AIGW_CONFIG_HOME": t.TempDir()})
	if code := execute(context.Background(), f, []string{"render", "manifests", "-n", "team-a"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out.String()+errOut.String(), key) {
		t.Fatal("the key was written")
	}
	for _, want := range []string{"kind: AIServiceBackend", "namespace: team-a", "apiKey: REPLACE-ME", "substitution.aigw.run/env/apiKey: OPENAI_API_KEY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := `kubectl -n team-a create secret generic openai-api-key --from-literal=apiKey="$OPENAI_API_KEY"`; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks the hint %q:\n%s", want, errOut)
	}
}

// TestRenderOutDirAndSecrets writes a directory with --include-secrets and a JSON list, and loads
// both back.
func TestRenderOutDirAndSecrets(t *testing.T) {
	const key = "sk-render-test-9a7b"
	env := map[string]string{"ANTHROPIC_API_KEY": key, "AIGW_CONFIG_HOME": t.TempDir()}
	dir := filepath.Join(t.TempDir(), "deploy")
	f, _, errOut := testFactory(env)
	if code := execute(context.Background(), f, []string{"render", "manifests", "--out-dir", dir, "--include-secrets", "--gateway-class", "aigw"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "--include-secrets") {
		t.Errorf("no warning about real values: %s", errOut)
	}
	kust, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gatewayclass.yaml", "gateway.yaml", "aigatewayroute.yaml", "secret.yaml"} {
		if !strings.Contains(string(kust), "- "+want) {
			t.Errorf("kustomization.yaml lacks %s:\n%s", want, kust)
		}
	}
	secret, err := os.ReadFile(filepath.Join(dir, "secret.yaml"))
	if err != nil || !strings.Contains(string(secret), key) {
		t.Errorf("secret.yaml lacks the real key (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "secret.yaml")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("secret.yaml is readable by others: %v %v", fi.Mode(), err)
	}

	f, out, errOut := testFactory(env)
	if code := execute(context.Background(), f, []string{"render", "manifests", "-o", "json"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || list.Kind != "List" || len(list.Items) < 5 {
		t.Fatalf("not a List: %v %s", err, out)
	}
	path := filepath.Join(t.TempDir(), "list.json")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := config.LoadFile(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Backends) != 1 || m.Backends[0].Auth == nil || m.Backends[0].Auth.Key.Reveal() != key {
		t.Errorf("the JSON list does not load back to the Anthropic backend with its key:\n%s", config.Summary(m))
	}
}

// TestRenderMCPConfig renders --mcp-config beside the environment's key, as aigw run would serve
// them: an MCPRoute for the url server, a comment and a warning for the stdio one, the bearer
// token as a placeholder Secret with its kubectl hint, and no token anywhere; --out-dir puts the
// stdio comment in backend.yaml.
func TestRenderMCPConfig(t *testing.T) {
	const token, key = "ghp-render-test-5b1d", "sk-render-test-77c0"
	mcp := filepath.Join(t.TempDir(), "mcp.json")
	if err := os.WriteFile(mcp, []byte(`{"mcpServers": {
		"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
		"github": {"url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${GH_TOKEN}"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_API_KEY": key, "GH_TOKEN": token, "AIGW_CONFIG_HOME": t.TempDir()}
	f, out, errOut := testFactory(env)
	if code := execute(context.Background(), f, []string{"render", "manifests", "--mcp-config", mcp}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if all := out.String() + errOut.String(); strings.Contains(all, token) || strings.Contains(all, key) {
		t.Fatal("a credential was written")
	}
	for _, want := range []string{"kind: MCPRoute", "kind: AIGatewayRoute", "name: github-api-key", "# MCP server \"memory\"",
		"aigw mcp proxy --host 0.0.0.0 --port 1976 -- npx -y @modelcontextprotocol/server-memory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{`warning: MCPRoute "mcp": server "memory" is a stdio server`, `create secret generic github-api-key --from-literal=apiKey="$GH_TOKEN"`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	dir := filepath.Join(t.TempDir(), "deploy")
	f, _, errOut = testFactory(env)
	if code := execute(context.Background(), f, []string{"render", "manifests", "--mcp-config", mcp, "--out-dir", dir}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	backends, err := os.ReadFile(filepath.Join(dir, "backend.yaml"))
	if err != nil || !strings.Contains(string(backends), "# MCP server \"memory\"") || !strings.Contains(string(backends), "kind: Backend") {
		t.Errorf("backend.yaml lacks the stdio comment or the Backends (%v):\n%s", err, backends)
	}
	if kust, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); err != nil || !strings.Contains(string(kust), "- mcproute.yaml") {
		t.Errorf("kustomization.yaml lacks mcproute.yaml (%v):\n%s", err, kust)
	}
}

// TestRenderCloudCredentialHints: a credentials file Secret gets a --from-file hint, a client
// secret from a variable a --from-literal one naming it, and the default chain a warning; no
// credential is written.
func TestRenderCloudCredentialHints(t *testing.T) {
	f, out, errOut := testFactory(map[string]string{"AIGW_CONFIG_HOME": t.TempDir(), "AWS_OIDC_CLIENT_SECRET": "test-oidc-client-secret-1b7e"})
	if code := execute(context.Background(), f, []string{"render", "manifests", "-n", "ai", "../k8sgen/testdata/aws.in.yaml"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, secret := range []string{"test-bedrock-secret-62ac", "test-oidc-client-secret-1b7e"} {
		if strings.Contains(out.String()+errOut.String(), secret) {
			t.Errorf("%s was written", secret)
		}
	}
	for _, want := range []string{
		"create secret generic bedrock-file-aws-credentials --from-file=credentials=<file>",
		`create secret generic bedrock-oidc-oidc-client --from-literal=client-secret="$AWS_OIDC_CLIENT_SECRET"`,
		`warning: backend "bedrock-chain": AWS credentials come from the default chain`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestRenderRateLimits: rate limits and quotas reach the output, and stderr says what the
// cluster needs for the global ones (a Redis for Envoy Gateway's rate limit service).
func TestRenderRateLimits(t *testing.T) {
	f, out, errOut := testFactory(map[string]string{"AIGW_CONFIG_HOME": t.TempDir()})
	if code := execute(context.Background(), f, []string{"render", "manifests", "-n", "ai", "../k8sgen/testdata/ratelimit.in.yaml"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: QuotaPolicy", "kind: BackendTrafficPolicy", "key: llm_total_token", "bucketRules:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "warning: global rate limits: Envoy Gateway counts them in its rate limit service, which needs a Redis") {
		t.Errorf("stderr lacks the Redis warning:\n%s", errOut)
	}
}
