package translate

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

var (
	anthropicBackend = &config.Backend{Name: "anthropic", Schema: config.Schema{Name: config.SchemaAnthropic, Prefix: "/v1"}}
	openAIBackend    = &config.Backend{Name: "openai", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}}
)

// chatMeaning is what a Chat Completions request means, with the representation choices either
// API leaves open (string or parts, one system message or several, field spellings) removed.
type chatMeaning struct {
	System      []string
	Messages    []string
	MaxTokens   int64
	Temperature float64
	Stop        []string
	Tools       []string
	ToolChoice  string
	Parallel    string
	Effort      string
	Schema      string
	Stream      bool
}

func meaningOf(t *testing.T, body []byte) chatMeaning {
	t.Helper()
	var r oaChatRequest
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	m := chatMeaning{Stop: r.Stop, Effort: r.ReasoningEffort, Stream: r.Stream}
	if r.MaxCompletionTokens != nil {
		m.MaxTokens = *r.MaxCompletionTokens
	} else if r.MaxTokens != nil {
		m.MaxTokens = *r.MaxTokens
	}
	if r.Temperature != nil {
		m.Temperature = *r.Temperature
	}
	text := func(c oaContent) string {
		if c.Text != nil {
			return *c.Text
		}
		var parts []string
		for _, p := range c.Parts {
			switch {
			case p.Text != nil:
				parts = append(parts, *p.Text)
			case p.ImageURL != nil:
				parts = append(parts, "image:"+p.ImageURL.URL)
			case p.File != nil:
				parts = append(parts, "file:"+p.File.FileData)
			}
		}
		return strings.Join(parts, "|")
	}
	for _, msg := range r.Messages {
		if msg.Role == "system" || msg.Role == "developer" {
			if msg.Content.Text != nil {
				m.System = append(m.System, *msg.Content.Text)
			}
			for _, p := range msg.Content.Parts {
				m.System = append(m.System, *p.Text)
			}
			continue
		}
		s := msg.Role + ":" + text(msg.Content)
		if r := msg.reasoningText(); r != "" {
			s += " reasoning:" + r
		}
		for _, tc := range msg.ToolCalls {
			s += " call:" + tc.ID + "/" + tc.Function.Name + string(compactJSON([]byte(tc.Function.Arguments)))
		}
		if msg.ToolCallID != "" {
			s += " result-of:" + msg.ToolCallID
		}
		m.Messages = append(m.Messages, s)
	}
	for _, tl := range r.Tools {
		m.Tools = append(m.Tools, tl.Function.Name+":"+tl.Function.Description+":"+string(compactJSON(tl.Function.Parameters)))
	}
	if r.ToolChoice != nil {
		m.ToolChoice = r.ToolChoice.Mode + r.ToolChoice.Function
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		m.Parallel = "off"
	}
	if r.ResponseFormat != nil && r.ResponseFormat.JSONSchema != nil {
		m.Schema = string(compactJSON(r.ResponseFormat.JSONSchema.Schema))
	}
	return m
}

// TestRoundTripOpenAIRequest sends OpenAI requests to Anthropic's schema and back, and requires
// the same meaning.
func TestRoundTripOpenAIRequest(t *testing.T) {
	cases := map[string]string{
		"conversation": `{"model":"claude-sonnet-4-5","max_tokens":300,"temperature":0.4,"stop":["END"],
			"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":"Use metric units."},
			{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
		"tools": `{"model":"claude-sonnet-4-5","max_completion_tokens":500,"stream":true,"parallel_tool_calls":false,
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
			"tool_choice":"required",
			"messages":[{"role":"user","content":"Weather in Oslo and Rome?"},
			{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Oslo\"}"}},{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"-3C"},{"role":"tool","tool_call_id":"call_2","content":"18C"},
			{"role":"user","content":"Thanks"}]}`,
		"named tool": `{"model":"claude-sonnet-4-5","max_tokens":50,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"messages":[{"role":"user","content":"go"}]}`,
		"reasoning":  `{"model":"claude-sonnet-4-5","max_tokens":40000,"reasoning_effort":"high","messages":[{"role":"user","content":"Think"}]}`,
		"adaptive":   `{"model":"claude-opus-4-7","max_tokens":40000,"reasoning_effort":"xhigh","messages":[{"role":"user","content":"Think hard"}]}`,
		"schema":     `{"model":"claude-sonnet-4-5","max_tokens":40,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}}},"messages":[{"role":"user","content":"a=1"}]}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			body := []byte(in)
			model := modelOf(body)
			toAn, _ := New(EndpointChatCompletions, Target{Backend: anthropicBackend, Model: model})
			up, err := toAn.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: body, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			back, _ := New(EndpointMessages, Target{Backend: openAIBackend, Model: model})
			up2, err := back.RequestBody(&Request{Endpoint: EndpointMessages, Body: up.Body, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			want, got := meaningOf(t, body), meaningOf(t, up2.Body)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("meaning changed:\n got %+v\nwant %+v\nvia %s", got, want, up.Body)
			}
		})
	}
}

// TestRoundTripAnthropicRequest sends an Anthropic request to OpenAI's schema and back.
func TestRoundTripAnthropicRequest(t *testing.T) {
	in := []byte(`{"model":"claude-sonnet-4-5","max_tokens":100,"system":"Be brief.","temperature":0.5,"stop_sequences":["X"],
		"tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"a":{"type":"string"}}}}],
		"tool_choice":{"type":"any","disable_parallel_tool_use":true},
		"messages":[{"role":"user","content":"go"},
		{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":"b"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"done"},{"type":"text","text":"next"}]}]}`)
	model := modelOf(in)
	toOA, _ := New(EndpointMessages, Target{Backend: openAIBackend, Model: model})
	up, err := toOA.RequestBody(&Request{Endpoint: EndpointMessages, Body: in, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	back, _ := New(EndpointChatCompletions, Target{Backend: anthropicBackend, Model: model})
	up2, err := back.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: up.Body, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	var a, b anRequest
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(up2.Body, &b); err != nil {
		t.Fatal(err)
	}
	// Representation choices: a string system prompt comes back as a block, string content as
	// text blocks. Compare through the block view.
	norm := func(r *anRequest) string {
		r.System = &anContent{Blocks: r.System.blocks()}
		for i := range r.Messages {
			r.Messages[i].Content = anContent{Blocks: r.Messages[i].Content.blocks()}
			for j := range r.Messages[i].Content.Blocks {
				blk := &r.Messages[i].Content.Blocks[j]
				if blk.Content != nil {
					blk.Content = &anContent{Blocks: blk.Content.blocks()}
				}
				blk.Input = compactJSON(blk.Input)
			}
		}
		for i := range r.Tools {
			r.Tools[i].InputSchema = compactJSON(r.Tools[i].InputSchema)
		}
		out, _ := marshalJSON(r)
		return string(out)
	}
	if got, want := norm(&b), norm(&a); got != want {
		t.Errorf("meaning changed:\n got %s\nwant %s", got, want)
	}
}

// TestRoundTripResponse converts an OpenAI completion to an Anthropic message and back.
func TestRoundTripResponse(t *testing.T) {
	completion := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1",
		"choices":[{"index":0,"message":{"role":"assistant","content":"Calling.","reasoning_content":"plan",
		"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":60}}}`)
	toOA, _ := New(EndpointMessages, Target{Backend: openAIBackend, Model: "gpt-4.1"})
	if _, err := toOA.RequestBody(&Request{Endpoint: EndpointMessages, Body: []byte(anthropicToOpenAISuite.defaultReq), Model: "gpt-4.1"}); err != nil {
		t.Fatal(err)
	}
	_ = toOA.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
	msg, err := toOA.ResponseBody(completion, true)
	if err != nil {
		t.Fatal(err)
	}
	toAn, _ := New(EndpointChatCompletions, Target{Backend: anthropicBackend, Model: "gpt-4.1"})
	if _, err := toAn.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(openAIToAnthropicSuite.defaultReq), Model: "gpt-4.1"}); err != nil {
		t.Fatal(err)
	}
	_ = toAn.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
	back, err := toAn.ResponseBody(msg, true)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		ID      string `json:"id"`
		Choices []struct {
			Message struct {
				Content          string       `json:"content"`
				ReasoningContent string       `json:"reasoning_content"`
				ToolCalls        []oaToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage oaUsage `json:"usage"`
	}
	var want, got view
	if err := json.Unmarshal(completion, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("meaning changed:\n got %+v\nwant %+v\nvia %s", got, want, msg)
	}
	if toOA.Usage() != toAn.Usage() {
		t.Errorf("usage differs: %+v vs %+v", toOA.Usage(), toAn.Usage())
	}
}
