package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		// want is a compact description of the backends: name schema endpoint prefix version auth.
		want    []string
		headers []string
		errLike string
	}{
		{name: "nothing", env: nil, errLike: "aigw run --demo"},
		{name: "openai", env: map[string]string{"OPENAI_API_KEY": "sk-1"},
			want: []string{"openai OpenAI https://api.openai.com /v1  APIKey"}},
		{name: "openrouter prefix", env: map[string]string{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://openrouter.ai/api/v1/"},
			want: []string{"openai OpenAI https://openrouter.ai /api/v1  APIKey"}},
		{name: "ollama without key", env: map[string]string{"OPENAI_BASE_URL": "http://localhost:11434/v1"},
			want: []string{"openai OpenAI http://localhost:11434 /v1  none"}},
		{name: "org and project", env: map[string]string{"OPENAI_API_KEY": "k", "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1"},
			want: []string{"openai OpenAI https://api.openai.com /v1  APIKey"}, headers: []string{"OpenAI-Organization=org-1", "OpenAI-Project=proj-1"}},
		{name: "azure", env: map[string]string{"AZURE_OPENAI_API_KEY": "az", "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/", "OPENAI_API_VERSION": "2024-10-21"},
			want: []string{"azure-openai AzureOpenAI https://x.openai.azure.com  2024-10-21 AzureAPIKey"}},
		{name: "azure missing endpoint", env: map[string]string{"AZURE_OPENAI_API_KEY": "az", "OPENAI_API_VERSION": "v"}, errLike: "AZURE_OPENAI_ENDPOINT"},
		{name: "azure missing both", env: map[string]string{"AZURE_OPENAI_API_KEY": "az"}, errLike: "AZURE_OPENAI_ENDPOINT (e.g. https://NAME.openai.azure.com) and OPENAI_API_VERSION (e.g. 2024-10-21) are not"},
		{name: "azure and openai", env: map[string]string{"AZURE_OPENAI_API_KEY": "az", "OPENAI_API_KEY": "k"}, errLike: "unset one"},
		{name: "anthropic", env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant"},
			want: []string{"anthropic Anthropic https://api.anthropic.com /v1  AnthropicAPIKey"}},
		{name: "anthropic base url", env: map[string]string{"ANTHROPIC_API_KEY": "a", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9000/proxy"},
			want: []string{"anthropic Anthropic http://127.0.0.1:9000 /proxy/v1  AnthropicAPIKey"}},
		{name: "both", env: map[string]string{"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"},
			want: []string{"anthropic Anthropic https://api.anthropic.com /v1  AnthropicAPIKey", "openai OpenAI https://api.openai.com /v1  APIKey"}},
		{name: "bad url", env: map[string]string{"OPENAI_BASE_URL": "localhost:11434"}, errLike: "must start with http"},
		{name: "credentials in url", env: map[string]string{"OPENAI_BASE_URL": "http://u:p@host/v1"}, errLike: "credentials in the URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := FromEnv(envOf(c.env))
			if c.errLike != "" {
				if err == nil || !strings.Contains(err.Error(), c.errLike) {
					t.Fatalf("error %v, want one containing %q", err, c.errLike)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var headers []string
			for _, b := range m.Backends {
				auth := "none"
				if b.Auth != nil {
					auth = string(b.Auth.Type)
				}
				got = append(got, strings.Join([]string{b.Name, string(b.Schema.Name), b.Endpoint.String(), b.Schema.Prefix, b.Schema.Version, auth}, " "))
				for _, h := range b.Headers {
					headers = append(headers, h.Name+"="+h.Value)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("backends\n got %q\nwant %q", got, c.want)
			}
			if strings.Join(headers, ",") != strings.Join(c.headers, ",") {
				t.Errorf("headers %v, want %v", headers, c.headers)
			}
		})
	}
}

func TestFromEnvNothingIsErrNoConfiguration(t *testing.T) {
	if _, err := FromEnv(envOf(nil)); !errors.Is(err, ErrNoConfiguration) {
		t.Fatalf("got %v", err)
	}
}

// TestEnvRouting: with both providers, claude-* goes to Anthropic and the rest to OpenAI; with
// one, everything goes to it.
func TestEnvRouting(t *testing.T) {
	both, _ := FromEnv(envOf(map[string]string{"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}))
	only, _ := FromEnv(envOf(map[string]string{"ANTHROPIC_API_KEY": "a"}))
	for _, c := range []struct {
		m     *Model
		model string
		want  string
	}{
		{both, "claude-sonnet-4-5", "anthropic"},
		{both, "gpt-4o", "openai"},
		{both, "my-claude-model", "openai"},
		{only, "gpt-4o", "anthropic"},
	} {
		_, rule := c.m.Match("localhost:1975", func(h string) string {
			if h == ModelHeader {
				return c.model
			}
			return ""
		})
		if rule == nil || rule.Backends[0].Backend.Name != c.want {
			t.Errorf("%s routed to %v, want %s", c.model, rule, c.want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	m, _ := FromEnv(envOf(map[string]string{"OPENAI_API_KEY": "sk-very-secret"}))
	a := m.Backends[0].Auth
	for _, s := range []string{a.Key.String(), fmt.Sprintf("%v %+v %#v %s", a.Key, *a, a.Key, a.Key)} {
		if strings.Contains(s, "sk-very-secret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if a.Key.Reveal() != "sk-very-secret" {
		t.Fatal("Reveal lost the value")
	}
}

func TestHostMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "API.example.com.", true},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
	} {
		if got := HostMatches(c.pattern, c.host); got != c.want {
			t.Errorf("HostMatches(%q, %q) = %v", c.pattern, c.host, got)
		}
	}
}

func TestResolveDirs(t *testing.T) {
	d, err := ResolveDirs(Dirs{ConfigHome: "/flag/config"}, envOf(map[string]string{"AIGW_STATE_HOME": "~/state", "HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if d.ConfigHome != "/flag/config" || d.StateHome != "/home/u/state" || !strings.HasSuffix(d.DataHome, "aigw") || !strings.Contains(d.RuntimeDir, "aigw-") {
		t.Errorf("%+v", d)
	}
}

// TestFromEnvKeyOneLine: a key variable holding a newline or another control character is an
// error at start, naming the variable, not a 502 on every request.
func TestFromEnvKeyOneLine(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"OPENAI_API_KEY", "sk-one\nsk-two", "OPENAI_API_KEY has 2 non-empty lines"},
		{"ANTHROPIC_API_KEY", "sk-ant\n", "ANTHROPIC_API_KEY holds a control character (byte 0x0a at offset 6)"},
		{"AZURE_OPENAI_API_KEY", "az\x00", "AZURE_OPENAI_API_KEY holds a control character (byte 0x00 at offset 2)"},
	} {
		_, err := FromEnv(envOf(map[string]string{c.key: c.value}))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s=%q: %v, want %q", c.key, c.value, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-") {
			t.Errorf("the error reveals the key: %v", err)
		}
	}
}
