package k8sgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/config/crdtest"
	"github.com/aigw/aigw/internal/run"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// testEnv holds a distinct value per variable, so a leaked key is found by grep.
var testEnv = map[string]string{
	"OPENAI_API_KEY":        "sk-test-openai-7f3a9c",
	"ANTHROPIC_API_KEY":     "sk-ant-test-anthropic-2b8e41",
	"AZURE_OPENAI_API_KEY":  "az-test-azure-5d1c77",
	"AZURE_OPENAI_RESOURCE": "example",
	"GEMINI_API_KEY":        "test-gemini-91ab02",
	"COHERE_API_KEY":        "test-cohere-44cd13",
	"MISTRAL_API_KEY":       "test-mistral-a0f5e6",
	"GROQ_API_KEY":          "test-groq-c3d9f0",
	"TOGETHER_API_KEY":      "test-together-88e7b1",
	"DEEPINFRA_API_KEY":     "test-deepinfra-6a2c4d",
	"DEEPSEEK_API_KEY":      "test-deepseek-1f9e3b",
	"SAMBANOVA_API_KEY":     "test-sambanova-7c5a20",
	"XAI_API_KEY":           "test-xai-d4b8e9",
	"HUNYUAN_API_KEY":       "test-hunyuan-0e6f72",
	"OPENROUTER_API_KEY":    "test-openrouter-b57c31",
	"GITHUB_TOKEN":          "ghp-test-github-3e9d51",
	"AZURE_CLIENT_SECRET":   "test-azure-client-secret-4f2e",
	// The AWS OIDC client secret of testdata/aws.in.yaml.
	"AWS_OIDC_CLIENT_SECRET": "test-oidc-client-secret-1b7e",
}

// mcpEnv is the environment of the MCP JSON cases: their servers' secrets, and no provider key,
// so that the Model serves MCP only.
var mcpEnv = map[string]string{
	"EVERYTHING_TOKEN": "test-everything-token-61f0",
	"FS_TOKEN":         "test-fs-token-0c44",
	"GITHUB_TOKEN":     "ghp-test-github-3e9d51",
	"SEARCH_KEY":       "test-search-key-a17e",
	"LEGACY_KEY":       "test-legacy-key-93bd",
}

func getenvOf(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// envCases are the environment autoconfigurations, as `aigw run` with no file reads them.
var envCases = map[string]map[string]string{
	"env-openai":    {"OPENAI_API_KEY": testEnv["OPENAI_API_KEY"]},
	"env-anthropic": {"ANTHROPIC_API_KEY": testEnv["ANTHROPIC_API_KEY"]},
	"env-both-org": {"OPENAI_API_KEY": testEnv["OPENAI_API_KEY"], "ANTHROPIC_API_KEY": testEnv["ANTHROPIC_API_KEY"],
		"OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1"},
	"env-ollama": {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "AIGW_CHAT_COMPLETIONS_ONLY": "true"},
	"env-azure": {"AZURE_OPENAI_API_KEY": testEnv["AZURE_OPENAI_API_KEY"],
		"AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com", "OPENAI_API_VERSION": "2024-10-21"},
	"env-local-root": {"OPENAI_BASE_URL": "http://10.0.0.7:8000", "OPENAI_API_KEY": testEnv["OPENAI_API_KEY"]},
}

// renderCase is one input Model and the environment it was loaded with.
type renderCase struct {
	name string
	env  map[string]string
	load func(t *testing.T) *config.Model
}

func cases(t *testing.T) []renderCase {
	t.Helper()
	var out []renderCase
	files, _ := filepath.Glob("../../configs/*.yaml")
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, f := range append(files, ins...) {
		if filepath.Base(f) == "prices.yaml" { // the price catalog, not a gateway configuration
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".yaml"), ".in")
		if strings.HasPrefix(f, "../../configs/") {
			name = "configs-" + name
		}
		out = append(out, renderCase{name: name, env: testEnv, load: func(t *testing.T) *config.Model {
			m, err := config.LoadFile(f, getenvOf(testEnv))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}})
	}
	// MCP JSON, through the function `aigw run --mcp-config` and the command use.
	jsons, _ := filepath.Glob("testdata/*.in.json")
	for _, f := range jsons {
		name := strings.TrimSuffix(filepath.Base(f), ".in.json")
		out = append(out, renderCase{name: name, env: mcpEnv, load: func(t *testing.T) *config.Model {
			m, err := run.LoadModel(run.Options{MCPConfigPath: f, Getenv: getenvOf(mcpEnv)})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}})
	}
	if len(out) < 10 || len(jsons) == 0 {
		t.Fatalf("only %d cases found", len(out))
	}
	for _, name := range slices.Sorted(mapKeys(envCases)) {
		env := envCases[name]
		out = append(out, renderCase{name: name, env: env, load: func(t *testing.T) *config.Model {
			m, err := config.FromEnv(getenvOf(env))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}})
	}
	return out
}

func render(t *testing.T, m *config.Model, include bool) (*Result, []byte) {
	t.Helper()
	res, err := Render(m, Options{Namespace: "ai", IncludeSecrets: include, GatewayClass: "aigw", RenderGatewayClass: true,
		SecretEnv: func(b *config.Backend) string { return config.EnvKeyVariable(m, b) }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// The golden files name the case, not a machine's path.
	if err := WriteYAML(&buf, "test", res.Objects); err != nil {
		t.Fatal(err)
	}
	return res, buf.Bytes()
}

// TestGolden compares the rendering of every case with testdata/<case>.out.yaml.
func TestGolden(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			res, got := render(t, c.load(t), false)
			if len(res.Warnings) > 0 {
				got = append(got, []byte("# warnings:\n#   "+strings.Join(res.Warnings, "\n#   ")+"\n")...)
			}
			golden := filepath.Join("testdata", c.name+".out.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/k8sgen -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendering differs from %s (run with -update to accept):\n%s", golden, got)
			}
		})
	}
}

// TestNoSecretsByDefault greps the default output for every configured key value.
func TestNoSecretsByDefault(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			m := c.load(t)
			_, out := render(t, m, false)
			var keys int
			for _, b := range m.Backends {
				if b.Auth != nil && b.Auth.Key != "" {
					keys++
					if bytes.Contains(out, []byte(b.Auth.Key.Reveal())) {
						t.Errorf("backend %s: its key is in the output", b.Name)
					}
				}
			}
			// Cloud credentials and MCP keys too, line by line (a credentials file spans lines).
			for _, v := range modelSecrets(m) {
				for _, line := range strings.Split(v, "\n") {
					if len(strings.TrimSpace(line)) > 8 && bytes.Contains(out, []byte(line)) {
						t.Errorf("a credential's line %q is in the output", line)
					}
				}
			}
			for k, v := range c.env {
				if (strings.HasSuffix(k, "_API_KEY") || strings.HasSuffix(k, "_SECRET") || strings.HasSuffix(k, "_TOKEN")) && bytes.Contains(out, []byte(v)) {
					t.Errorf("%s's value is in the output", k)
				}
			}
			_, withKeys := render(t, m, true)
			for _, b := range m.Backends {
				if b.Auth != nil && b.Auth.Key != "" && !bytes.Contains(withKeys, []byte(b.Auth.Key.Reveal())) {
					t.Errorf("backend %s: --include-secrets did not write its key", b.Name)
				}
			}
		})
	}
}

// TestCRDSchemas validates every rendered object against its CRD, CEL rules included.
func TestCRDSchemas(t *testing.T) {
	schemas := crdtest.Load(t, "../../../shared/fixtures/crds", "../../../shared/fixtures/crds-gateway")
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			res, _ := render(t, c.load(t), false)
			checked := 0
			for _, o := range res.Objects {
				if o.Value == nil {
					continue // a comment where an object could not be rendered
				}
				obj, err := Plain(o.Value)
				if err != nil {
					t.Fatal(err)
				}
				msgs, ok := schemas.Validate(obj)
				if !ok {
					if o.Kind != "Secret" && o.Kind != "ConfigMap" {
						t.Errorf("%s %q: no CRD to validate it against", o.Kind, o.Name)
					}
					continue
				}
				checked++
				for _, msg := range msgs {
					t.Errorf("%s %q: %s", o.Kind, o.Name, msg)
				}
			}
			if checked == 0 {
				t.Error("nothing was validated")
			}
		})
	}
}

// TestSchemaCheckRejects makes sure the validation above is not vacuous.
func TestSchemaCheckRejects(t *testing.T) {
	schemas := crdtest.Load(t, "../../../shared/fixtures/crds", "../../../shared/fixtures/crds-gateway")
	bad := crd(aigatewayV1beta1, "AIGatewayRoute", config.ObjectMeta{Name: "r"}, config.AIGatewayRouteSpec{
		Rules: []config.RouteRule{{Name: "route-not-found", BackendRefs: []config.RouteBackendRef{{Name: "b"}}}},
	})
	obj, err := Plain(bad)
	if err != nil {
		t.Fatal(err)
	}
	msgs, ok := schemas.Validate(obj)
	if !ok || len(msgs) == 0 {
		t.Fatalf("a rule named route-not-found passed: %v %q", ok, msgs)
	}
}

// TestRoundTrip renders every case, loads the output as `aigw run` would, and compares the
// Models.
func TestRoundTrip(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			m := c.load(t)
			for _, include := range []bool{true, false} {
				_, out := render(t, m, include)
				path := filepath.Join(t.TempDir(), "rendered.yaml")
				if err := os.WriteFile(path, out, 0o600); err != nil {
					t.Fatal(err)
				}
				back, err := config.LoadFile(path, getenvOf(c.env))
				if !include && clientKeys(m) {
					// The client keys of apiKeyAuth are not written: the route refuses every
					// client, and aigw refuses to load it, until they are set.
					if err == nil || !strings.Contains(err.Error(), "has no client keys") {
						t.Errorf("loading a rendering without client keys: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("include secrets %v: loading the rendering: %v\n%s", include, err, out)
				}
				if len(back.Warnings) > len(m.Warnings) {
					t.Errorf("include secrets %v: loading the rendering warns more than the input: %q", include, back.Warnings)
				}
				// Without real values only keys that came from a variable or a file (the
				// substitution annotation) survive; the others are placeholders.
				masked := map[string]bool{}
				for _, b := range m.Backends {
					masked[b.Name] = !include && config.EnvKeyVariable(m, b) == "" && (b.Auth == nil || b.Auth.Source == "")
				}
				want, got := normal(m, masked, !include), normal(back, masked, !include)
				if want != got {
					t.Errorf("include secrets %v: the Model changed\nwant %s\ngot  %s", include, want, got)
				}
			}
		})
	}
}

// normal is a Model as comparable text: what is served, not how the input spelled it.
func normal(m *config.Model, masked map[string]bool, mcpMasked bool) string {
	type auth struct {
		Type     config.AuthType
		Key      string
		Override *config.CredentialOverride
		Cloud    any
	}
	type backend struct {
		Name, Schema, Prefix, Version, Endpoint string
		Auth                                    *auth
		HeaderMutation                          *config.HeaderMutation
		BodyMutation                            *config.BodyMutation
		TLS                                     *config.TLS
		MaxOutputTokens                         int64
		ChatCompletionsOnly                     bool
	}
	type ref struct {
		Backend           string
		Weight, Priority  int
		ModelNameOverride string
		HeaderMutation    *config.HeaderMutation
		BodyMutation      *config.BodyMutation
	}
	type match struct{ Name, Exact, Regex string }
	type rule struct {
		Name             string
		Matches          [][]match
		Backends         []ref
		Timeout, Idle    string
		Retry            *config.RetryPolicy
		OwnedBy, Created string
	}
	type route struct {
		Name      string
		Hostnames []string
		Rules     []rule
		Costs     []string
	}
	costs := func(cs []config.Cost) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.MetadataKey+"|"+string(c.Type)+"|"+c.CEL)
		}
		return out
	}
	port := m.Port
	if port == 0 {
		port = defaultPort
	}
	var n struct {
		Port        int
		GlobalCosts []string
		Backends    []backend
		Routes      []route
		MCP         any
		Limits      []string
	}
	n.Port, n.GlobalCosts = port, costs(m.GlobalCosts)
	n.MCP = normalMCP(m.MCPRoutes, mcpMasked)
	n.Limits = normalLimits(m.Limits)
	for _, b := range m.Backends {
		nb := backend{Name: b.Name, Schema: string(b.Schema.Name), Prefix: b.Schema.Prefix, Version: b.Schema.Version,
			Endpoint: b.Endpoint.String(), BodyMutation: b.BodyMutation, TLS: b.TLS,
			MaxOutputTokens: b.MaxOutputTokens, ChatCompletionsOnly: b.ChatCompletionsOnly}
		// Headers set on every request are a header mutation in the CRDs.
		if len(b.Headers) > 0 || b.HeaderMutation != nil {
			hm := &config.HeaderMutation{Set: slices.Clone(b.Headers)}
			if b.HeaderMutation != nil {
				hm.Set = append(hm.Set, b.HeaderMutation.Set...)
				hm.Remove = b.HeaderMutation.Remove
			}
			for i := range hm.Set {
				// Header names are case-insensitive; the loader writes them in lower case.
				hm.Set[i].Name = strings.ToLower(hm.Set[i].Name)
			}
			nb.HeaderMutation = hm
		}
		if a := b.Auth; a != nil {
			nb.Auth = &auth{Type: a.Type, Key: a.Key.Reveal(), Override: a.Override, Cloud: normalCloud(a, masked[b.Name])}
			if masked[b.Name] {
				nb.Auth.Key = "masked"
			}
		}
		n.Backends = append(n.Backends, nb)
	}
	for _, r := range m.Routes {
		nr := route{Name: r.Name, Hostnames: r.Hostnames, Costs: costs(r.Costs)}
		for _, ru := range r.Rules {
			rr := rule{Name: ru.Name, Timeout: ru.Timeout.String(), Idle: ru.StreamIdleTimeout.String(), Retry: ru.Retry,
				OwnedBy: ru.ModelsOwnedBy, Created: ru.ModelsCreatedAt.String()}
			if rr.OwnedBy == "" {
				rr.OwnedBy = config.DefaultModelsOwnedBy
			}
			for _, mt := range ru.Matches {
				var hs []match
				for _, h := range mt.Headers {
					hm := match{Name: h.Name, Exact: h.Exact}
					if h.Regex != nil {
						hm.Regex = unanchor(h.Regex.String())
					}
					hs = append(hs, hm)
				}
				rr.Matches = append(rr.Matches, hs)
			}
			for _, br := range ru.Backends {
				rr.Backends = append(rr.Backends, ref{Backend: br.Backend.Name, Weight: br.Weight, Priority: br.Priority,
					ModelNameOverride: br.ModelNameOverride, HeaderMutation: br.HeaderMutation, BodyMutation: br.BodyMutation})
			}
			nr.Rules = append(nr.Rules, rr)
		}
		n.Routes = append(n.Routes, nr)
	}
	data, _ := json.Marshal(n)
	return string(data)
}

// normalLimits is what the rate limits and quotas count, without the names of their counters
// (which follow the policy names): a rule counted per route is one entry per route, as a
// rendering gives each route's policy its own copy.
func normalLimits(l *config.Limits) []string {
	if l == nil {
		return nil
	}
	headers := func(hs []config.RateLimitHeader) string {
		var out []string
		for _, h := range hs {
			re := ""
			if h.Regex != nil {
				re = unanchor(h.Regex.String())
			}
			out = append(out, fmt.Sprintf("%s distinct=%v exact=%q re=%q invert=%v", h.Name, h.Distinct, h.Exact, re, h.Invert))
		}
		return strings.Join(out, ",")
	}
	var out []string
	for _, r := range l.RateLimits {
		rule := fmt.Sprintf("global=%v limit=%d/%s cost=%q shadow=%v headers=[%s]", r.Global, r.Limit, r.Window, r.CostKey, r.Shadow, headers(r.Headers))
		switch {
		case r.Routes == nil:
			out = append(out, "rate limit on every route: "+rule+fmt.Sprintf(" shared=%v", r.Shared))
		case r.Shared && len(r.Routes) > 1:
			var names []string
			for _, rt := range r.Routes {
				names = append(names, rt.Name)
			}
			out = append(out, "rate limit shared by "+strings.Join(names, ",")+": "+rule)
		default:
			for _, rt := range r.Routes {
				out = append(out, "rate limit on "+rt.Name+": "+rule)
			}
		}
	}
	for _, q := range l.Quotas {
		e := fmt.Sprintf("quota %s model=%q limit=%d/%s cost=%q", q.Backend.Name, q.Model, q.Limit, q.Window, q.CostExpr)
		if q.Bucket != nil {
			e += fmt.Sprintf(" bucket shadow=%v headers=[%s]", q.Bucket.Shadow, headers(q.Bucket.Headers))
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}
