package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrNoConfiguration means no input described any backend.
var ErrNoConfiguration = errors.New(`nothing to serve: no backend is configured

Start aigw in one of these ways:
  aigw run --demo                              a simulated provider, offline
  OPENAI_API_KEY=sk-... aigw run               OpenAI (OPENAI_BASE_URL for any OpenAI-compatible server)
  OPENAI_BASE_URL=http://localhost:11434/v1 aigw run   Ollama, vLLM, llama.cpp (no key needed)
  ANTHROPIC_API_KEY=sk-ant-... aigw run        Anthropic
  AZURE_OPENAI_API_KEY=... AZURE_OPENAI_ENDPOINT=https://NAME.openai.azure.com OPENAI_API_VERSION=2024-10-21 aigw run
  aigw run config.yaml                         Envoy AI Gateway CRD YAML`)

// claudeModels routes Claude-named models to the Anthropic backend when there are two backends.
var claudeModels = regexp.MustCompile(`^claude-.*$`)

// FromEnv builds a Model from the provider variables the reference aigw reads. It returns
// ErrNoConfiguration when none is set.
func FromEnv(getenv func(string) string) (*Model, error) {
	for _, k := range []string{"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY"} {
		if why := checkOneLineKey(getenv(k)); why != "" {
			return nil, fmt.Errorf("%s %s", k, why)
		}
	}
	openAI, err := openAIFamilyFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	anthropic, err := anthropicFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if openAI == nil && anthropic == nil {
		return nil, ErrNoConfiguration
	}
	return twoBackendModel("environment", openAI, anthropic), nil
}

// Demo builds the --demo Model: an OpenAI and an Anthropic backend both served by the simulator
// at baseURL, routed like the environment configuration.
func Demo(baseURL string, models []string) (*Model, error) {
	u, err := parseBaseURL("demo simulator", baseURL)
	if err != nil {
		return nil, err
	}
	var oa, an []string
	for _, m := range models {
		if claudeModels.MatchString(m) {
			an = append(an, m)
		} else {
			oa = append(oa, m)
		}
	}
	openAI := &Backend{Name: "demo-openai", Schema: Schema{Name: SchemaOpenAI, Prefix: "/v1"}, Endpoint: u, Models: oa, ModelsOwnedBy: "aigw-demo"}
	anthropic := &Backend{Name: "demo-anthropic", Schema: Schema{Name: SchemaAnthropic, Prefix: "/v1"}, Endpoint: u, Models: an, ModelsOwnedBy: "aigw-demo"}
	return twoBackendModel("demo", openAI, anthropic), nil
}

// twoBackendModel routes claude-* to the Anthropic backend and every other model to the
// OpenAI-family backend; with one backend, everything goes to it.
func twoBackendModel(source string, openAI, anthropic *Backend) *Model {
	m := &Model{Source: source, MaxRequestBodyBytes: DefaultMaxRequestBodyBytes}
	route := &Route{Name: "aigw-run"}
	if anthropic != nil {
		rule := &Rule{Name: "aigw-run/anthropic", Backends: []*BackendRef{{Backend: anthropic, Weight: 1}}, Timeout: DefaultRequestTimeout}
		if openAI != nil {
			rule.Matches = []Match{{Headers: []HeaderMatch{{Name: ModelHeader, Regex: claudeModels}}}}
		}
		route.Rules = append(route.Rules, rule)
		m.Backends = append(m.Backends, anthropic)
	}
	if openAI != nil {
		route.Rules = append(route.Rules, &Rule{Name: "aigw-run/openai", Backends: []*BackendRef{{Backend: openAI, Weight: 1}}, Timeout: DefaultRequestTimeout})
		m.Backends = append(m.Backends, openAI)
	}
	slices.SortFunc(m.Backends, func(a, b *Backend) int { return strings.Compare(a.Name, b.Name) })
	m.Routes = []*Route{route}
	return m
}

func openAIFamilyFromEnv(getenv func(string) string) (*Backend, error) {
	azureKey := getenv("AZURE_OPENAI_API_KEY")
	openAIKey, openAIBase := getenv("OPENAI_API_KEY"), getenv("OPENAI_BASE_URL")
	if azureKey != "" {
		if openAIKey != "" || openAIBase != "" {
			return nil, errors.New("both AZURE_OPENAI_API_KEY and OPENAI_API_KEY/OPENAI_BASE_URL are set: unset one of them, or use a config file to serve both")
		}
		return azureFromEnv(getenv, azureKey)
	}
	if openAIKey == "" && openAIBase == "" {
		return nil, nil
	}
	if openAIBase == "" {
		openAIBase = "https://api.openai.com/v1"
	}
	u, err := parseBaseURL("OPENAI_BASE_URL", openAIBase)
	if err != nil {
		return nil, err
	}
	b := &Backend{Name: "openai", Schema: Schema{Name: SchemaOpenAI, Prefix: strings.TrimSuffix(u.Path, "/")}, Endpoint: stripPath(u)}
	if openAIKey != "" {
		b.Auth = &Auth{Type: AuthAPIKey, Key: Secret(openAIKey)}
	}
	if v := getenv("OPENAI_ORG_ID"); v != "" {
		b.Headers = append(b.Headers, Header{Name: "OpenAI-Organization", Value: v})
	}
	if v := getenv("OPENAI_PROJECT_ID"); v != "" {
		b.Headers = append(b.Headers, Header{Name: "OpenAI-Project", Value: v})
	}
	if v := getenv(chatCompletionsOnlyEnv); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want true or false", chatCompletionsOnlyEnv, v)
		}
		b.ChatCompletionsOnly = on
	}
	return b, nil
}

func azureFromEnv(getenv func(string) string, key string) (*Backend, error) {
	endpoint, version := getenv("AZURE_OPENAI_ENDPOINT"), getenv("OPENAI_API_VERSION")
	var missing []string
	if endpoint == "" {
		missing = append(missing, "AZURE_OPENAI_ENDPOINT (e.g. https://NAME.openai.azure.com)")
	}
	if version == "" {
		missing = append(missing, "OPENAI_API_VERSION (e.g. 2024-10-21)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("AZURE_OPENAI_API_KEY is set but %s %s not", strings.Join(missing, " and "), map[bool]string{true: "is", false: "are"}[len(missing) == 1])
	}
	u, err := parseBaseURL("AZURE_OPENAI_ENDPOINT", endpoint)
	if err != nil {
		return nil, err
	}
	return &Backend{
		Name:     "azure-openai",
		Schema:   Schema{Name: SchemaAzureOpenAI, Prefix: strings.TrimSuffix(u.Path, "/"), Version: version},
		Endpoint: stripPath(u),
		Auth:     &Auth{Type: AuthAzureAPIKey, Key: Secret(key)},
	}, nil
}

func anthropicFromEnv(getenv func(string) string) (*Backend, error) {
	key, base := getenv("ANTHROPIC_API_KEY"), getenv("ANTHROPIC_BASE_URL")
	if key == "" && base == "" {
		return nil, nil
	}
	if base == "" {
		base = "https://api.anthropic.com"
	}
	u, err := parseBaseURL("ANTHROPIC_BASE_URL", base)
	if err != nil {
		return nil, err
	}
	// ANTHROPIC_BASE_URL, as the Anthropic SDKs read it, stops before the /v1 of the API.
	b := &Backend{Name: "anthropic", Schema: Schema{Name: SchemaAnthropic, Prefix: strings.TrimSuffix(u.Path, "/") + "/v1"}, Endpoint: stripPath(u)}
	if key != "" {
		b.Auth = &Auth{Type: AuthAnthropicAPIKey, Key: Secret(key)}
	}
	return b, nil
}

// parseBaseURL checks that v is an absolute http(s) URL.
func parseBaseURL(name, v string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a URL: %w", name, v, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: %q must start with http:// or https://", name, v)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: %q has no host", name, v)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: credentials in the URL are not supported; use the API key variable", name)
	}
	return u, nil
}

func stripPath(u *url.URL) *url.URL {
	return &url.URL{Scheme: u.Scheme, Host: u.Host}
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
