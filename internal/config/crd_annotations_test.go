package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// annotatedBackendYAML is the smallest configuration with one AIServiceBackend whose
// annotations are %s.
const annotatedBackendYAML = `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules:
    - backendRefs: [{name: local}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: local}
spec:
  endpoints: [{fqdn: {hostname: 127.0.0.1, port: 8000}}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata:
  name: local
  annotations: {%s}
spec:
  schema: {name: OpenAI}
  backendRef: {name: local, kind: Backend, group: gateway.envoyproxy.io}
`

func TestBackendAnnotations(t *testing.T) {
	cases := []struct {
		name, annotations string
		maxTokens         int64
		chatOnly          bool
		err, warning      string
	}{
		{name: "none"},
		{name: "both", annotations: `"aigw.run/max-output-tokens": "8192", "aigw.run/chat-completions-only": "true"`, maxTokens: 8192, chatOnly: true},
		{name: "bad number", annotations: `"aigw.run/max-output-tokens": "lots"`, err: `annotation aigw.run/max-output-tokens: "lots" is not a positive number`},
		{name: "zero", annotations: `"aigw.run/max-output-tokens": "0"`, err: "is not a positive number"},
		{name: "bad bool", annotations: `"aigw.run/chat-completions-only": "yes please"`, err: "is not true or false"},
		{name: "misspelled", annotations: `"aigw.run/chat-only": "true"`, warning: "annotation aigw.run/chat-only: unknown"},
		{name: "foreign", annotations: `"example.com/x": "y"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aigw.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(annotatedBackendYAML, "%s", c.annotations, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := LoadFile(path, envOf(nil))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := m.Backends[0]
			if b.MaxOutputTokens != c.maxTokens || b.ChatCompletionsOnly != c.chatOnly {
				t.Errorf("MaxOutputTokens=%d ChatCompletionsOnly=%v, want %d %v", b.MaxOutputTokens, b.ChatCompletionsOnly, c.maxTokens, c.chatOnly)
			}
			warnings := strings.Join(m.Warnings, "\n")
			if (c.warning == "") != (warnings == "") || !strings.Contains(warnings, c.warning) {
				t.Errorf("warnings = %q, want %q", warnings, c.warning)
			}
		})
	}
}

func TestChatCompletionsOnlyFromEnv(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "false": false} {
		m, err := FromEnv(envOf(map[string]string{"OPENAI_BASE_URL": "http://localhost:11434/v1", chatCompletionsOnlyEnv: v}))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Backends[0].ChatCompletionsOnly; got != want {
			t.Errorf("%s=%q: ChatCompletionsOnly %v", chatCompletionsOnlyEnv, v, got)
		}
	}
	if _, err := FromEnv(envOf(map[string]string{"OPENAI_BASE_URL": "http://localhost:11434/v1", chatCompletionsOnlyEnv: "maybe"})); err == nil || !strings.Contains(err.Error(), chatCompletionsOnlyEnv) {
		t.Errorf("error = %v", err)
	}
}
