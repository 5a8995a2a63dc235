package translate

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

var vertexAnthropicSuite = goldenSuite{
	dir:      "vertex_anthropic",
	endpoint: EndpointMessages,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "vertex-claude", Schema: config.Schema{Name: config.SchemaGCPAnthropic}}
	},
	defaultReq: `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`,
}

var anthropicToGeminiSuite = goldenSuite{
	dir:      "gemini_anthropic",
	endpoint: EndpointMessages,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "vertex", Schema: config.Schema{Name: config.SchemaGCPVertexAI}}
	},
	defaultReq: `{"model":"gemini-2.5-flash","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
}

func TestGoldenVertexAnthropic(t *testing.T)   { vertexAnthropicSuite.run(t) }
func TestGoldenAnthropicToGemini(t *testing.T) { anthropicToGeminiSuite.run(t) }

// TestVertexAnthropicFromChat checks a Chat Completions request to Claude on Vertex: the
// Anthropic body without model, Vertex's anthropic_version, the model and method in the path.
func TestVertexAnthropicFromChat(t *testing.T) {
	for stream, method := range map[bool]string{false: "rawPredict", true: "streamRawPredict"} {
		body := `{"model":"claude-sonnet-4-5","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"reasoning_effort":"low","messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}`
		tr, err := New(EndpointChatCompletions, Target{Backend: vertexAnthropicSuite.backend(""), Model: "claude-sonnet-4-5"})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(body), Model: "claude-sonnet-4-5", Stream: stream, Header: http.Header{}})
		if err != nil {
			t.Fatal(err)
		}
		if want := "/publishers/anthropic/models/claude-sonnet-4-5:" + method; up.Path != want {
			t.Errorf("path %s, want %s", up.Path, want)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(up.Body, &got); err != nil {
			t.Fatal(err)
		}
		if _, has := got["model"]; has || string(got["anthropic_version"]) != `"vertex-2023-10-16"` || got["thinking"] == nil || got["max_tokens"] == nil {
			t.Errorf("body %s", up.Body)
		}
		if up.Header.Get("Anthropic-Version") != "" {
			t.Errorf("anthropic-version header sent to Vertex: %v", up.Header)
		}
		e := tr.ResponseError(404, http.Header{}, []byte(`{"error":{"code":404,"message":"Publisher Model not found.","status":"NOT_FOUND"}}`))
		if string(e) != `{"error":{"message":"Publisher Model not found.","type":"not_found_error","param":null,"code":"NOT_FOUND"}}` {
			t.Errorf("error %s", e)
		}
	}
}

var vertexEmbeddingsSuite = goldenSuite{
	dir:      "gemini_embeddings",
	endpoint: EndpointEmbeddings,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "vertex", Schema: config.Schema{Name: config.SchemaGCPVertexAI}}
	},
	defaultReq: `{"model":"gemini-embedding-001","input":["a","b"]}`,
}

func TestGoldenVertexEmbeddings(t *testing.T) { vertexEmbeddingsSuite.run(t) }

func TestVertexAnthropicCountTokens(t *testing.T) {
	tr, err := New(EndpointCountTokens, Target{Backend: vertexAnthropicSuite.backend(""), Model: "claude-sonnet-4-5@20250929"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"claude-sonnet-4-5@20250929","messages":[{"role":"user","content":"Hi"}]}`
	up, err := tr.RequestBody(&Request{Endpoint: EndpointCountTokens, Body: []byte(body), Model: "claude-sonnet-4-5@20250929", Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Path != "/publishers/anthropic/models/count-tokens:rawPredict" || string(up.Body) != `{"model":"claude-sonnet-4-5@20250929","messages":[{"role":"user","content":"Hi"}],"anthropic_version":"vertex-2023-10-16"}` {
		t.Errorf("%s %s", up.Path, up.Body)
	}
	if err := tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}); err != nil {
		t.Fatal(err)
	}
	if out, err := tr.ResponseBody([]byte(`{"input_tokens":9}`), true); err != nil || string(out) != `{"input_tokens":9}` || tr.Usage() != (Usage{}) {
		t.Errorf("%s %v %+v", out, err, tr.Usage())
	}
}
