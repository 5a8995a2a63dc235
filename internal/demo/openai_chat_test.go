package demo

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// chunk is the test's view of a chat.completion.chunk.
type chunk struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				Index    int     `json:"index"`
				ID       *string `json:"id"`
				Type     *string `json:"type"`
				Function struct {
					Name      *string `json:"name"`
					Arguments *string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

var chatIDPattern = regexp.MustCompile(`^chatcmpl-[A-Za-z0-9]{29}$`)

const weatherTools = `"tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the weather",
 "parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},"required":["location","unit","days"]}}}]`

func TestChatCompletions(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 10}) + "/v1/chat/completions"
	tests := []struct {
		name         string
		body         string
		stream       bool
		includeUsage bool
		wantFinish   string
		wantTokens   int // visible completion tokens
		wantReason   bool
		wantTool     bool
	}{
		{name: "plain", body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}`,
			wantFinish: "stop", wantTokens: 10},
		{name: "parts content", body: `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"Hello!"}]}]}`,
			wantFinish: "stop", wantTokens: 10},
		{name: "max_tokens cuts", body: `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"Hello!"}]}`,
			wantFinish: "length", wantTokens: 3},
		{name: "max above length", body: `{"model":"gpt-4o-mini","max_completion_tokens":300,"messages":[{"role":"user","content":"Hello!"}]}`,
			wantFinish: "stop", wantTokens: 10},
		{name: "reasoning model", body: `{"model":"gpt-5-nano","messages":[{"role":"user","content":"Hello!"}]}`,
			wantFinish: "stop", wantTokens: 10, wantReason: true},
		{name: "reasoning effort none", body: `{"model":"gpt-5.4","reasoning_effort":"none","messages":[{"role":"user","content":"Hello!"}]}`,
			wantFinish: "stop", wantTokens: 10},
		{name: "weather calls tool", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"What's the Weather in Boston?"}],` + weatherTools + `}`,
			wantFinish: "tool_calls", wantTool: true},
		{name: "tool_choice none", body: `{"model":"gpt-4o","tool_choice":"none","messages":[{"role":"user","content":"weather?"}],` + weatherTools + `}`,
			wantFinish: "stop", wantTokens: 10},
		{name: "tool_choice required", body: `{"model":"gpt-4o","tool_choice":"required","messages":[{"role":"user","content":"hi"}],` + weatherTools + `}`,
			wantFinish: "tool_calls", wantTool: true},
		{name: "tool_choice named", body: `{"model":"gpt-4o","tool_choice":{"type":"function","function":{"name":"get_current_weather"}},"messages":[{"role":"user","content":"hi"}],` + weatherTools + `}`,
			wantFinish: "tool_calls", wantTool: true},
		{name: "no trigger", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],` + weatherTools + `}`,
			wantFinish: "stop", wantTokens: 10},
	}
	for _, tc := range tests {
		for _, mode := range []string{"non-stream", "stream", "stream+usage"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				body := tc.body
				if mode != "non-stream" {
					opts := `"stream":true,`
					if mode == "stream+usage" {
						opts += `"stream_options":{"include_usage":true},`
					}
					body = "{" + opts + body[1:]
				}
				resp, got := post(t, url, body, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, got)
				}
				if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Openai-Processing-Ms") == "" ||
					resp.Header.Get("X-Ratelimit-Remaining-Tokens") == "" {
					t.Errorf("missing OpenAI headers: %v", resp.Header)
				}
				var content, args, finish string
				var usage *chatUsage
				if mode == "non-stream" {
					content, args, finish, usage = checkChatJSON(t, resp, got)
				} else {
					content, args, finish, usage = checkChatStream(t, resp, got, mode == "stream+usage")
				}
				if finish != tc.wantFinish {
					t.Errorf("finish_reason = %q, want %q", finish, tc.wantFinish)
				}
				if tc.wantTool {
					var parsed map[string]any
					if err := json.Unmarshal([]byte(args), &parsed); err != nil {
						t.Fatalf("arguments %q are not JSON: %v", args, err)
					}
					if parsed["location"] != "San Francisco, CA" || parsed["unit"] != "celsius" || parsed["days"] != 42.0 {
						t.Errorf("arguments = %s", args)
					}
					if content != "" {
						t.Errorf("tool call carries content %q", content)
					}
				} else if n := len(strings.Fields(content)); n == 0 {
					t.Errorf("empty content")
				}
				if usage == nil {
					return
				}
				visible := usage.CompletionTokens - usage.CompletionTokensDetails.ReasoningTokens
				if !tc.wantTool && visible != tc.wantTokens {
					t.Errorf("visible completion tokens = %d, want %d", visible, tc.wantTokens)
				}
				if got := usage.CompletionTokensDetails.ReasoningTokens > 0; got != tc.wantReason {
					t.Errorf("reasoning tokens = %d, want some: %v", usage.CompletionTokensDetails.ReasoningTokens, tc.wantReason)
				}
				if usage.TotalTokens != usage.PromptTokens+usage.CompletionTokens || usage.PromptTokens < 1 {
					t.Errorf("inconsistent usage %+v", usage)
				}
			})
		}
	}
}

// checkChatJSON validates a non-streamed answer and returns what it said.
func checkChatJSON(t *testing.T, resp *http.Response, body string) (content, args, finish string, usage *chatUsage) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	var c chatCompletion
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !chatIDPattern.MatchString(c.ID) || c.Object != "chat.completion" || c.Created == 0 ||
		c.ServiceTier != "default" || !strings.HasPrefix(c.SystemFingerprint, "fp_") || len(c.Choices) != 1 {
		t.Errorf("envelope: %s", body)
	}
	for _, want := range []string{`"refusal":null`, `"annotations":[]`, `"logprobs":null`, `"audio_tokens":0`, `"accepted_prediction_tokens":0`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	m := c.Choices[0].Message
	if m.Content != nil {
		content = *m.Content
	}
	if len(m.ToolCalls) == 1 {
		args = m.ToolCalls[0].Function.Arguments
		if !strings.HasPrefix(m.ToolCalls[0].ID, "call_") || m.ToolCalls[0].Type != "function" {
			t.Errorf("tool call %+v", m.ToolCalls[0])
		}
	}
	return content, args, c.Choices[0].FinishReason, &c.Usage
}

// checkChatStream validates the chunk sequence of a streamed answer and returns what it said.
func checkChatStream(t *testing.T, resp *http.Response, body string, includeUsage bool) (content, args, finish string, usage *chatUsage) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("content-type %q", ct)
	}
	events := parseSSE(t, body)
	if len(events) < 3 || events[len(events)-1].data != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", body)
	}
	events = events[:len(events)-1]
	if includeUsage {
		last := events[len(events)-1]
		var c chunk
		if err := json.Unmarshal([]byte(last.data), &c); err != nil || c.Usage == nil || len(c.Choices) != 0 ||
			!strings.Contains(last.data, `"choices":[]`) {
			t.Fatalf("last chunk is not a usage chunk: %s", last.data)
		}
		usage = c.Usage
		events = events[:len(events)-1]
	}
	var id string
	deltas := 0
	for i, ev := range events {
		if strings.Contains(ev.data, `"usage":null`) != includeUsage {
			t.Errorf("chunk %d: usage:null present = %v, want %v", i, !includeUsage, includeUsage)
		}
		var c chunk
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("chunk %d: %v: %s", i, err, ev.data)
		}
		if i == 0 {
			id = c.ID
		}
		if c.ID != id || !chatIDPattern.MatchString(c.ID) || c.Object != "chat.completion.chunk" || c.ServiceTier != "default" || len(c.Choices) != 1 {
			t.Fatalf("chunk %d envelope: %s", i, ev.data)
		}
		d := c.Choices[0].Delta
		switch {
		case i == 0:
			if d.Role == nil || *d.Role != "assistant" {
				t.Errorf("first chunk lacks role: %s", ev.data)
			}
			if len(d.ToolCalls) == 0 && (d.Content == nil || *d.Content != "") {
				t.Errorf("first chunk content is not empty string: %s", ev.data)
			}
			if len(d.ToolCalls) == 1 {
				tc := d.ToolCalls[0]
				if tc.ID == nil || tc.Type == nil || tc.Function.Name == nil || tc.Function.Arguments == nil || *tc.Function.Arguments != "" {
					t.Errorf("first tool chunk shape: %s", ev.data)
				}
			}
		case i == len(events)-1:
			if c.Choices[0].FinishReason == nil || !strings.Contains(ev.data, `"delta":{}`) {
				t.Fatalf("last chunk has no finish_reason: %s", ev.data)
			}
			finish = *c.Choices[0].FinishReason
		default:
			if c.Choices[0].FinishReason != nil {
				t.Errorf("finish_reason before the end: %s", ev.data)
			}
			deltas++
			if d.Content != nil {
				content += *d.Content
			}
			if len(d.ToolCalls) == 1 {
				if d.ToolCalls[0].ID != nil || d.ToolCalls[0].Function.Name != nil {
					t.Errorf("later tool chunk repeats id or name: %s", ev.data)
				}
				args += *d.ToolCalls[0].Function.Arguments
			}
		}
	}
	if usage != nil && usage.CompletionTokens-usage.CompletionTokensDetails.ReasoningTokens != deltas {
		t.Errorf("completion tokens %d (reasoning %d) != %d deltas", usage.CompletionTokens, usage.CompletionTokensDetails.ReasoningTokens, deltas)
	}
	return content, args, finish, usage
}

func TestChatDeterministic(t *testing.T) {
	url := startServer(t, Options{}) + "/v1/chat/completions"
	other := startServer(t, Options{}) + "/v1/chat/completions"
	ask := func(u, q string, stream bool) string {
		body := `{"model":"gpt-4o","stream":` + map[bool]string{true: "true", false: "false"}[stream] +
			`,"messages":[{"role":"user","content":"` + q + `"}]}`
		_, got := post(t, u, body, nil)
		if !stream {
			var c chatCompletion
			if err := json.Unmarshal([]byte(got), &c); err != nil {
				t.Fatal(err)
			}
			return *c.Choices[0].Message.Content
		}
		var text string
		for _, ev := range parseSSE(t, got) {
			var c chunk
			if json.Unmarshal([]byte(ev.data), &c) == nil && len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil {
				text += *c.Choices[0].Delta.Content
			}
		}
		return text
	}
	a := ask(url, "What is a gateway?", false)
	if b := ask(other, "What is a gateway?", false); a != b {
		t.Errorf("same question, different servers: %q vs %q", a, b)
	}
	if b := ask(url, "What is a gateway?", true); a != b {
		t.Errorf("stream differs from non-stream: %q vs %q", a, b)
	}
	if strings.HasPrefix(a, " ") || len(strings.Fields(a)) == 0 {
		t.Errorf("answer %q", a)
	}
	differs := false
	for _, q := range []string{"one", "two", "three", "four"} {
		if ask(url, q, false) != a {
			differs = true
		}
	}
	if !differs {
		t.Errorf("every prompt got the same answer %q", a)
	}
}
