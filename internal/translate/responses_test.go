package translate

import (
	"testing"

	"github.com/aigw/aigw/internal/config"
)

var responsesToAnthropicSuite = goldenSuite{
	dir:      "responses_anthropic",
	endpoint: EndpointResponses,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "anthropic", Schema: config.Schema{Name: config.SchemaAnthropic, Prefix: "/v1"}}
	},
	defaultReq: `{"model":"claude-sonnet-4-5","input":"Hi"}`,
}

var responsesToChatSuite = goldenSuite{
	dir:      "responses_chat",
	endpoint: EndpointResponses,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "ollama", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}, ChatCompletionsOnly: true}
	},
	defaultReq: `{"model":"qwen3:8b","input":"Hi"}`,
}

func TestGoldenResponsesToAnthropic(t *testing.T) { responsesToAnthropicSuite.run(t) }
func TestGoldenResponsesToChat(t *testing.T)      { responsesToChatSuite.run(t) }

// goldenSuites are every translator's fixtures, for the tests that run them all (stream splits,
// fuzz seeds).
func goldenSuites() []goldenSuite {
	return []goldenSuite{openAIToAnthropicSuite, anthropicToOpenAISuite, responsesToAnthropicSuite, responsesToChatSuite}
}
