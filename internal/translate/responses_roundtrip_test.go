package translate

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// The same answer from each kind of backend, whole and streamed: a thinking block (signed at
// Anthropic), a line of text and a tool call.
const (
	rtAnthropicMessage = `{"id":"msg_rt1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"Need the weather.","signature":"SIGrt"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_rt","name":"get_weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":30,"cache_read_input_tokens":20,"output_tokens":12}}`
	rtAnthropicStream  = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_rt1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":30,\"cache_read_input_tokens\":20,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Need the \"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"weather.\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"SIGrt\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking.\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_rt\",\"name\":\"get_weather\",\"input\":{}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	rtChatCompletion = `{"id":"chatcmpl-rt1","object":"chat.completion","created":1767225600,"model":"qwen3","choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","reasoning_content":"Need the weather.","tool_calls":[{"id":"call_rt","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":12,"total_tokens":62,"prompt_tokens_details":{"cached_tokens":20}}}`
	rtChatStream     = "data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"Need the \"},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"weather.\"},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Checking.\"},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_rt\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Oslo\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n" +
		"data: {\"id\":\"chatcmpl-rt1\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"qwen3\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":12,\"total_tokens\":62,\"prompt_tokens_details\":{\"cached_tokens\":20}}}\n\n" +
		"data: [DONE]\n\n"
)

// TestResponsesToolLoop runs the first two turns of an agent's tool loop through each Responses
// translator, whole and streamed: the first answer's output items, sent back as input with the
// tool's output, must reach the backend as the same tool call (and, at Anthropic, the same
// signed thinking), followed by its result. The streamed answer's final response must equal the
// whole one, and usage must be the backend's.
func TestResponsesToolLoop(t *testing.T) {
	anthropic := &config.Backend{Name: "anthropic", Schema: config.Schema{Name: config.SchemaAnthropic, Prefix: "/v1"}}
	chatOnly := &config.Backend{Name: "vllm", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}, ChatCompletionsOnly: true}
	cases := []struct {
		name          string
		backend       *config.Backend
		model         string
		whole, stream string
		wantNext      string // what the second upstream request must contain, in order
		wantUsage     Usage
	}{
		{"anthropic", anthropic, "claude-sonnet-4-5", rtAnthropicMessage, rtAnthropicStream,
			`{"type":"thinking","thinking":"Need the weather.","signature":"SIGrt"}|{"type":"tool_use","id":"toolu_rt","name":"get_weather","input":{"city":"Oslo"}}|{"type":"tool_result","tool_use_id":"toolu_rt","content":"-3C"}`,
			Usage{InputTokens: 50, CachedInputTokens: 20, OutputTokens: 12, TotalTokens: 62}},
		{"chat only", chatOnly, "qwen3", rtChatCompletion, rtChatStream,
			`"content":"Checking.","tool_calls":[{"id":"call_rt","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}],"reasoning_content":"Need the weather."}|{"role":"tool","content":"-3C","tool_call_id":"call_rt"}`,
			Usage{InputTokens: 50, CachedInputTokens: 20, OutputTokens: 12, TotalTokens: 62}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := `{"model":"` + c.model + `","input":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]`
			var outputs [2][]rsItem
			for i, stream := range []bool{false, true} {
				req := first + `}`
				if stream {
					req = first + `,"stream":true}`
				}
				tr := responsesTranslator(t, c.backend, c.model, req)
				var r rsResponse
				if !stream {
					_ = tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"application/json"}})
					body, err := tr.ResponseBody([]byte(c.whole), true)
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(body, &r); err != nil {
						t.Fatalf("%v\n%s", err, body)
					}
				} else {
					_ = tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}})
					r = completedResponse(t, feedStream(t, tr, []byte(c.stream), []int{7, 31}))
				}
				if r.Status != "completed" || r.Usage == nil || r.Usage.InputTokens != c.wantUsage.InputTokens || r.Usage.InputTokensDetails.CachedTokens != c.wantUsage.CachedInputTokens {
					t.Errorf("stream=%v: status %q usage %+v", stream, r.Status, r.Usage)
				}
				if got := tr.Usage(); got != c.wantUsage {
					t.Errorf("stream=%v: Usage() = %+v, want %+v", stream, got, c.wantUsage)
				}
				outputs[i] = r.Output
			}
			if !reflect.DeepEqual(outputs[0], outputs[1]) {
				a, _ := json.Marshal(outputs[0])
				b, _ := json.Marshal(outputs[1])
				t.Errorf("streamed output differs from whole:\n whole  %s\n stream %s", a, b)
			}
			// The second turn: the first answer's items and the tool's output.
			items, _ := json.Marshal(outputs[0])
			var call rsItem
			for _, it := range outputs[0] {
				if it.Type == "function_call" {
					call = it
				}
			}
			next := `{"model":"` + c.model + `","input":[{"role":"user","content":"Weather in Oslo?"},` + string(items[1:len(items)-1]) +
				`,{"type":"function_call_output","call_id":"` + call.CallID + `","output":"-3C"}],"tools":[{"type":"function","name":"get_weather"}]}`
			tr := responsesTranslator(t, c.backend, c.model, next)
			up, err := tr.RequestBody(&Request{Endpoint: EndpointResponses, Body: []byte(next), Model: c.model, Header: http.Header{}})
			if err != nil {
				t.Fatal(err)
			}
			body := string(up.Body)
			at := 0
			for _, want := range strings.Split(c.wantNext, "|") {
				i := strings.Index(body[at:], want)
				if i < 0 {
					t.Fatalf("second request lacks %s after offset %d:\n%s", want, at, body)
				}
				at += i + len(want)
			}
		})
	}
}

// responsesTranslator is a Responses translator that has built its upstream request.
func responsesTranslator(t *testing.T, b *config.Backend, model, body string) Translator {
	t.Helper()
	tr, err := New(EndpointResponses, Target{Backend: b, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	setClock(tr)
	if _, err := tr.RequestBody(&Request{Endpoint: EndpointResponses, Body: []byte(body), Model: model, Header: http.Header{}}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// completedResponse checks a Responses event stream (sequence numbers from 0 without gaps, every
// event named as its type) and returns the response of its response.completed event.
func completedResponse(t *testing.T, stream []byte) rsResponse {
	t.Helper()
	var d SSEDecoder
	d.Feed(stream)
	var r *rsResponse
	for seq := 0; ; seq++ {
		ev, ok := d.Next()
		if !ok {
			break
		}
		var e struct {
			Type     string      `json:"type"`
			Sequence int         `json:"sequence_number"`
			Response *rsResponse `json:"response"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			t.Fatalf("event %d: %v: %s", seq, err, ev.Data)
		}
		if e.Sequence != seq || e.Type != ev.Event {
			t.Fatalf("event %d: sequence_number %d, type %q named %q", seq, e.Sequence, e.Type, ev.Event)
		}
		if e.Type == "response.completed" {
			r = e.Response
		}
	}
	if r == nil {
		t.Fatalf("no response.completed in:\n%s", stream)
	}
	return *r
}
