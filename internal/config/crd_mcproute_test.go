package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mcpEnv is the environment the MCPRoute cases load with.
var mcpEnv = map[string]string{"GITHUB_TOKEN": "ghp_test"}

// TestMCPRouteGolden loads testdata/mcproute/<case>.yaml and compares the MCP routes it compiles
// to and the warnings with <case>.golden.txt, or the errors. Run with -update to rewrite them.
func TestMCPRouteGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/mcproute/*.yaml")
	if len(inputs) == 0 {
		t.Fatal("no testdata/mcproute cases")
	}
	for _, in := range inputs {
		golden := strings.TrimSuffix(in, ".yaml") + ".golden.txt"
		t.Run(filepath.Base(in), func(t *testing.T) {
			m, err := LoadFile(in, envOf(mcpEnv))
			var got []byte
			if err != nil {
				got = []byte("errors:\n" + err.Error() + "\n")
			} else {
				got = renderMCPRoutes(t, m)
			}
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to record it):\n%s", err, got)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// renderMCPRoutes is a stable rendering of a Model's MCP routes and its warnings: regular
// expressions as text, compiled programs as whether they are there.
func renderMCPRoutes(t *testing.T, m *Model) []byte {
	t.Helper()
	type filter struct {
		Include, Exclude, IncludeRegex, ExcludeRegex []string `json:",omitempty"`
	}
	type backend struct {
		Name, URL, Transport string
		Headers              []Header           `json:",omitempty"`
		Query                []Header           `json:",omitempty"`
		ForwardHeaders       []MCPForwardHeader `json:",omitempty"`
		Tools                *filter            `json:",omitempty"`
	}
	type rule struct {
		Allow    bool
		CEL      string          `json:",omitempty"`
		Compiled bool            `json:",omitempty"`
		Scopes   []string        `json:",omitempty"`
		Claims   []MCPClaimMatch `json:",omitempty"`
		Tools    []MCPToolRef    `json:",omitempty"`
	}
	type authz struct {
		DefaultAllow bool
		Rules        []rule
	}
	type jwt struct {
		Issuer            string
		Audiences         []string
		JWKSURL           string `json:",omitempty"`
		JWKS              string `json:",omitempty"`
		JWKSCacheDuration string `json:",omitempty"`
		Metadata          MCPResourceMetadata
		ClaimToHeaders    []MCPClaimToHeader `json:",omitempty"`
	}
	type auth struct {
		JWT                            *jwt           `json:",omitempty"`
		APIKey                         *MCPAPIKeyAuth `json:",omitempty"`
		Authorization, BackendSelector *authz         `json:",omitempty"`
	}
	type route struct {
		Name, Path string
		Backends   []backend
		Auth       *auth `json:",omitempty"`
	}
	rules := func(a *MCPAuthorization) *authz {
		if a == nil {
			return nil
		}
		out := &authz{DefaultAllow: a.DefaultAllow}
		for _, r := range a.Rules {
			out.Rules = append(out.Rules, rule{Allow: r.Allow, CEL: r.CEL, Compiled: r.Program != nil, Scopes: r.Scopes, Claims: r.Claims, Tools: r.Tools})
		}
		return out
	}
	var routes []route
	for _, r := range m.MCPRoutes {
		rt := route{Name: r.Name, Path: r.Path}
		for _, b := range r.Backends {
			be := backend{Name: b.Name, URL: b.URL, Transport: b.Transport, Headers: b.Headers, Query: b.Query, ForwardHeaders: b.ForwardHeaders}
			if !b.Tools.Empty() {
				f := &filter{Include: b.Tools.Include, Exclude: b.Tools.Exclude}
				for _, re := range b.Tools.IncludeRegex {
					f.IncludeRegex = append(f.IncludeRegex, re.String())
				}
				for _, re := range b.Tools.ExcludeRegex {
					f.ExcludeRegex = append(f.ExcludeRegex, re.String())
				}
				be.Tools = f
			}
			rt.Backends = append(rt.Backends, be)
		}
		if a := r.Auth; a != nil {
			rt.Auth = &auth{APIKey: a.APIKey, Authorization: rules(a.Authorization), BackendSelector: rules(a.BackendSelector)}
			if j := a.JWT; j != nil {
				rt.Auth.JWT = &jwt{Issuer: j.Issuer, Audiences: j.Audiences, JWKSURL: j.JWKSURL, JWKS: string(j.JWKS),
					Metadata: j.Metadata, ClaimToHeaders: j.ClaimToHeaders}
				if j.JWKSCacheDuration != 0 {
					rt.Auth.JWT.JWKSCacheDuration = j.JWKSCacheDuration.String()
				}
			}
		}
		routes = append(routes, rt)
	}
	out, err := json.MarshalIndent(routes, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, w := range m.Warnings {
		warnings = append(warnings, strings.ReplaceAll(w, "testdata/mcproute/", ""))
	}
	return []byte(string(out) + "\nwarnings:\n" + strings.Join(warnings, "\n") + "\n")
}

// TestMCPRouteFixturesMatchCRDs validates the valid cases against the reference's CRDs, so
// the fixtures are what a cluster would accept.
func TestMCPRouteFixturesMatchCRDs(t *testing.T) {
	crds := loadCRDs(t)
	for _, name := range []string{"full.yaml", "v1alpha1.yaml", "warnings.yaml", "apikey.yaml"} {
		checked := 0
		for _, obj := range substitutedObjects(t, filepath.Join("testdata/mcproute", name), mcpEnv) {
			if obj["kind"] != "MCPRoute" {
				continue
			}
			msgs, ok := crds.Validate(obj)
			if !ok {
				t.Fatalf("%s: no CRD for MCPRoute", name)
			}
			checked++
			for _, msg := range msgs {
				t.Errorf("%s: %s", name, msg)
			}
		}
		if checked == 0 {
			t.Errorf("%s: no MCPRoute", name)
		}
	}
}

// TestMCPRouteRulesRun makes sure the compiled rules are the ones the CRD wrote: the program
// of each rule evaluates as its expression says.
func TestMCPRouteRulesRun(t *testing.T) {
	m, err := LoadFile("testdata/mcproute/full.yaml", envOf(mcpEnv))
	if err != nil {
		t.Fatal(err)
	}
	rules := m.MCPRoutes[0].Auth.Authorization.Rules
	act := map[string]any{"request": map[string]any{"mcp": map[string]any{
		"tool": "fs_write", "backend": "local",
		"params": map[string]any{"arguments": map[string]any{"path": "/etc/passwd"}},
	}}}
	out, _, err := rules[0].Program.Eval(act)
	if err != nil || out.Value() != true {
		t.Errorf("rule 0 on fs_write /etc/passwd: %v, %v", out, err)
	}
	act["request"].(map[string]any)["mcp"].(map[string]any)["params"] = map[string]any{"arguments": map[string]any{"path": "/tmp/x"}}
	if out, _, err := rules[0].Program.Eval(act); err != nil || out.Value() != false {
		t.Errorf("rule 0 on fs_write /tmp/x: %v, %v", out, err)
	}
	if d := m.MCPRoutes[0].Auth.JWT.JWKSCacheDuration; d != 10*time.Minute {
		t.Errorf("cacheDuration %v", d)
	}
}
