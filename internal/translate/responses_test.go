package translate

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
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

// TestResponsesStreamFastPath requires the Responses stream's fast path to write exactly what
// the general path writes, for every Responses stream fixture and the benchmark streams.
func TestResponsesStreamFastPath(t *testing.T) {
	type input struct {
		suite  goldenSuite
		name   string
		stream []byte
	}
	var inputs []input
	for path, stream := range goldenStreams(t) {
		s := suiteFor(path)
		if s.endpoint != EndpointResponses {
			continue
		}
		inputs = append(inputs, input{s, strings.SplitN(filepath.Base(path), ".", 2)[0], stream})
	}
	inputs = append(inputs, input{responsesToAnthropicSuite, "", anthropicBenchStream()}, input{responsesToChatSuite, "", openAIBenchStream()})
	for _, in := range inputs {
		run := func(general bool) []byte {
			var tr Translator
			if in.name != "" {
				tr = in.suite.translator(t, in.name)
			} else {
				tr = responsesTranslator(t, in.suite.backend(""), "m", `{"model":"m","stream":true,"input":"Hi"}`)
			}
			r := tr.(*responsesToChat)
			r.generalOnly = general
			if o, ok := r.inner.(*openAIToAnthropic); ok {
				o.generalOnly = general
			}
			_ = tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}})
			return feedStream(t, tr, in.stream, []int{13})
		}
		if fast, general := run(false), run(true); !bytes.Equal(fast, general) {
			t.Errorf("%s/%s: fast path differs:\n--- fast\n%s\n--- general\n%s", in.suite.dir, in.name, fast, general)
		}
	}
}
