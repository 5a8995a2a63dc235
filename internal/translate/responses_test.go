package translate

import (
	"bytes"
	"encoding/json"
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

// FuzzResponsesStream feeds any bytes, in any split, to both Responses stream translators: no
// panic, every event written is one JSON object named as its type, and the stream always ends
// with response.completed, response.incomplete or response.failed.
func FuzzResponsesStream(f *testing.F) {
	for _, b := range goldenStreams(f) {
		f.Add(b, uint8(5), false)
		f.Add(b, uint8(9), true)
	}
	f.Add(anthropicBenchStream(), uint8(3), true)
	f.Add(openAIBenchStream(), uint8(3), false)
	f.Fuzz(func(t *testing.T, stream []byte, split uint8, anthropic bool) {
		suite := responsesToChatSuite
		if anthropic {
			suite = responsesToAnthropicSuite
		}
		tr := responsesTranslator(t, suite.backend(""), "m", `{"model":"m","stream":true,"input":"Hi","tools":[{"type":"custom","name":"apply_patch"}]}`)
		_ = tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}})
		out := feedStream(t, tr, stream, []int{int(split)%61 + 1})
		if len(stream) == 0 { // feedStream makes no call then; the data plane still ends the body
			end, err := tr.ResponseBody(nil, true)
			if err != nil {
				t.Fatal(err)
			}
			out = end
		}
		var d SSEDecoder
		d.Feed(out)
		last := ""
		for {
			ev, ok := d.Next()
			if !ok {
				break
			}
			var e struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(ev.Data, &e); err != nil || e.Type != ev.Event {
				t.Fatalf("event %q is not its named JSON object (%v): %s", ev.Event, err, ev.Data)
			}
			last = e.Type
		}
		if len(d.Rest()) != 0 {
			t.Fatalf("output ends mid-event: %q", d.Rest())
		}
		switch last {
		case "response.completed", "response.incomplete", "response.failed":
		default:
			t.Fatalf("stream ends with %q:\n%s", last, out)
		}
	})
}
