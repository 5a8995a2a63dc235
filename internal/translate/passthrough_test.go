package translate

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func passthroughTarget(schema config.SchemaName, model string) Target {
	u, _ := url.Parse("https://example.com")
	return Target{Backend: &config.Backend{Name: "b", Schema: config.Schema{Name: schema, Prefix: "/v1", Version: "2024-10-21"}, Endpoint: u}, Model: model}
}

// feed sends body through the translator in random chunk sizes and returns what the client got.
func feed(t *testing.T, tr Translator, body string, contentType string, seed uint64) string {
	t.Helper()
	h := http.Header{}
	h.Set("Content-Type", contentType)
	if err := tr.ResponseHeaders(200, h); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed))
	var out strings.Builder
	for len(body) > 0 {
		n := 1 + r.IntN(len(body))
		if !strings.HasPrefix(contentType, "text/event-stream") {
			n = len(body)
		}
		b, err := tr.ResponseBody([]byte(body[:n]), n == len(body))
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		body = body[n:]
	}
	return out.String()
}

const usageStream = `data: {"id":"c","object":"chat.completion.chunk","model":"gpt-x-2025","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}

data: {"id":"c","object":"chat.completion.chunk","model":"gpt-x-2025","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":null}

data: {"id":"c","object":"chat.completion.chunk","model":"gpt-x-2025","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":1}}}

data: [DONE]

`

func TestOpenAIStreamUsageHiddenUnlessAsked(t *testing.T) {
	for _, c := range []struct {
		name, body string
		stripped   bool
	}{
		{"not asked", `{"model":"gpt-x","stream":true}`, true},
		{"asked false", `{"model":"gpt-x","stream":true,"stream_options":{"include_usage":false}}`, true},
		{"asked", `{"model":"gpt-x","stream":true,"stream_options":{"include_usage":true}}`, false},
	} {
		for seed := uint64(0); seed < 20; seed++ {
			tr, _ := New(EndpointChatCompletions, passthroughTarget(config.SchemaOpenAI, "gpt-x"))
			up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(c.body), Model: "gpt-x", Stream: true, Header: http.Header{}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(up.Body), `"include_usage":true`) {
				t.Fatalf("%s: usage not requested upstream: %s", c.name, up.Body)
			}
			got := feed(t, tr, usageStream, "text/event-stream", seed)
			if c.stripped {
				if strings.Contains(got, "usage") || strings.Count(got, "chat.completion.chunk") != 2 || !strings.HasSuffix(got, "data: [DONE]\n\n") {
					t.Fatalf("%s seed %d: client saw\n%s", c.name, seed, got)
				}
			} else if got != usageStream {
				t.Fatalf("%s seed %d: stream changed:\n%s", c.name, seed, got)
			}
			u := tr.Usage()
			if u != (Usage{InputTokens: 9, CachedInputTokens: 8, OutputTokens: 2, ReasoningTokens: 1, TotalTokens: 11}) || tr.ResponseModel() != "gpt-x-2025" {
				t.Fatalf("%s: usage %+v model %q", c.name, u, tr.ResponseModel())
			}
		}
	}
}

func TestOpenAIPaths(t *testing.T) {
	// A deployment name that is not a safe path segment never reaches a path (see
	// config.SchemaName.CheckModel).
	var te *Error
	if _, err := New(EndpointChatCompletions, passthroughTarget(config.SchemaAzureOpenAI, "my/dep")); !errors.As(err, &te) || te.Status != http.StatusBadRequest {
		t.Errorf("unsafe Azure deployment: %v, want a 400", err)
	}
	for _, c := range []struct {
		schema   config.SchemaName
		endpoint Endpoint
		want     string
	}{
		{config.SchemaOpenAI, EndpointChatCompletions, "/v1/chat/completions"},
		{config.SchemaOpenAI, EndpointEmbeddings, "/v1/embeddings"},
		{config.SchemaAzureOpenAI, EndpointChatCompletions, "/v1/openai/deployments/my-dep.v2/chat/completions?api-version=2024-10-21"},
		{config.SchemaAnthropic, EndpointMessages, "/v1/messages"},
	} {
		tr, err := New(c.endpoint, passthroughTarget(c.schema, "my-dep.v2"))
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: c.endpoint, Body: []byte(`{"model":"my-dep.v2"}`), Model: "my-dep.v2", Header: http.Header{}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Path != c.want {
			t.Errorf("%s %s: path %q, want %q", c.schema, c.endpoint, up.Path, c.want)
		}
	}
}

const anthropicStream = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x-2025","content":[],"usage":{"input_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}

event: message_stop
data: {"type":"message_stop"}

`

func TestAnthropicPassthroughUsage(t *testing.T) {
	want := Usage{InputTokens: 1105, CachedInputTokens: 1000, CacheCreationInputTokens: 100, OutputTokens: 12, TotalTokens: 1117}
	for seed := uint64(0); seed < 20; seed++ {
		tr, _ := New(EndpointMessages, passthroughTarget(config.SchemaAnthropic, "claude-x"))
		up, err := tr.RequestBody(&Request{Endpoint: EndpointMessages, Body: []byte(`{"model":"claude-x"}`), Model: "claude-x", Stream: true, Header: http.Header{}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Header.Get("Anthropic-Version") != DefaultAnthropicVersion {
			t.Fatalf("anthropic-version %q", up.Header.Get("Anthropic-Version"))
		}
		if got := feed(t, tr, anthropicStream, "text/event-stream", seed); got != anthropicStream {
			t.Fatalf("stream changed:\n%s", got)
		}
		if tr.Usage() != want || tr.ResponseModel() != "claude-x-2025" {
			t.Fatalf("usage %+v model %q", tr.Usage(), tr.ResponseModel())
		}
	}
	tr, _ := New(EndpointMessages, passthroughTarget(config.SchemaAnthropic, "claude-x"))
	body := `{"id":"msg_1","type":"message","model":"claude-x-2025","content":[],"usage":{"input_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":12}}`
	if got := feed(t, tr, body, "application/json", 0); got != body || tr.Usage() != want {
		t.Fatalf("non-stream: %s %+v", got, tr.Usage())
	}
}

func TestErrorBodies(t *testing.T) {
	if got := string(ErrorBody(APIOpenAI, &Error{Status: 404, Message: "m", Code: "c", Param: "model"})); got != `{"error":{"message":"m","type":"not_found_error","param":"model","code":"c"}}` {
		t.Error(got)
	}
	if got := string(ErrorBody(APIAnthropic, &Error{Status: 413, Message: "big"})); got != `{"type":"error","error":{"type":"request_too_large","message":"big"}}` {
		t.Error(got)
	}
	tr, _ := New(EndpointMessages, passthroughTarget(config.SchemaAnthropic, "c"))
	if got := string(tr.ResponseError(503, nil, []byte("upstream connect error"))); !strings.Contains(got, `"type":"overloaded_error"`) || !strings.Contains(got, "upstream connect error") {
		t.Error(got)
	}
}

// TestAnthropicThinkingTokensCounted: thinking tokens count as reasoning whether the Messages
// response is passed through or translated (one usage reader serves both).
func TestAnthropicThinkingTokensCounted(t *testing.T) {
	body := `{"id":"msg_1","type":"message","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":12,"output_tokens_details":{"thinking_tokens":7}}}`
	for _, e := range []Endpoint{EndpointMessages, EndpointChatCompletions} {
		tr, _ := New(e, passthroughTarget(config.SchemaAnthropic, "claude-x"))
		if _, err := tr.RequestBody(&Request{Endpoint: e, Body: []byte(`{"model":"claude-x","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`), Model: "claude-x", Header: http.Header{}}); err != nil {
			t.Fatal(err)
		}
		feed(t, tr, body, "application/json", 0)
		if u := tr.Usage(); u.ReasoningTokens != 7 || u.OutputTokens != 12 {
			t.Errorf("%s: usage %+v", e, u)
		}
	}
}
