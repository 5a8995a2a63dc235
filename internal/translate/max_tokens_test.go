package translate

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func TestDefaultMaxTokens(t *testing.T) {
	configured := &config.Backend{Name: "custom", Schema: config.Schema{Name: config.SchemaAnthropic}, MaxOutputTokens: 8192}
	cases := []struct {
		model   string
		backend *config.Backend
		want    int64
	}{
		{"claude-sonnet-4-5", anthropicBackend, 64000},
		{"claude-sonnet-4-5-20250929", anthropicBackend, 64000},
		{"claude-opus-4-1-20250805", anthropicBackend, 32000},
		{"claude-opus-4-20250514", anthropicBackend, 32000},
		{"claude-opus-4-6", anthropicBackend, 128000},
		{"claude-sonnet-4-20250514", anthropicBackend, 64000},
		{"claude-3-5-haiku-latest", anthropicBackend, 8192},
		{"claude-3-haiku-20240307", anthropicBackend, 4096},
		{"Claude-Haiku-4-5", anthropicBackend, 64000},
		{"claude-sonnet-5", anthropicBackend, newerClaudeMaxOutputTokens},
		{"glm-4.6", anthropicBackend, otherMaxOutputTokens},
		{"claude-opus-4-6", configured, 8192},
		{"glm-4.6", configured, 8192},
	}
	for _, c := range cases {
		if got := defaultMaxTokens(Target{Backend: c.backend, Model: c.model}); got != c.want {
			t.Errorf("%s on %s: %d, want %d", c.model, c.backend.Name, got, c.want)
		}
	}
}

// TestMissingMaxTokensFilled is the defect of issue 13: an OpenAI client that sends no
// max_tokens must still reach Anthropic with one, the backend's when it is configured.
func TestMissingMaxTokensFilled(t *testing.T) {
	body := []byte(`{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}`)
	for _, b := range []*config.Backend{anthropicBackend, {Name: "a", Schema: config.Schema{Name: config.SchemaAnthropic, Prefix: "/v1"}, MaxOutputTokens: 1000}} {
		tr, err := New(EndpointChatCompletions, Target{Backend: b, Model: "claude-haiku-4-5"})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: body, Model: "claude-haiku-4-5"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]string{0: `"max_tokens":64000`, 1000: `"max_tokens":1000`}[b.MaxOutputTokens]
		if !strings.Contains(string(up.Body), want) {
			t.Errorf("backend %s: body %s lacks %s", b.Name, up.Body, want)
		}
	}
}
