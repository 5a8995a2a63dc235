package demo

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// anthropicEvent is the test's view of any Messages stream event.
type anthropicEvent struct {
	Type         string                    `json:"type"`
	Index        int                       `json:"index"`
	Message      *anthropicMessageResponse `json:"message"`
	ContentBlock *json.RawMessage          `json:"content_block"`
	Delta        struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		Thinking    string  `json:"thinking"`
		Signature   string  `json:"signature"`
		PartialJSON string  `json:"partial_json"`
		StopReason  string  `json:"stop_reason"`
		StopSeq     *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
}

var msgIDPattern = regexp.MustCompile(`^msg_01[A-Za-z0-9]{22}$`)

const anthropicWeatherTool = `"tools":[{"name":"get_weather","description":"weather","input_schema":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}}}}]`

func TestMessages(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 8}) + "/v1/messages"
	tests := []struct {
		name       string
		body       string
		wantStop   string
		wantBlocks []string // block types in order
		wantText   int      // text deltas
	}{
		{name: "plain", body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}`,
			wantStop: "end_turn", wantBlocks: []string{"text"}, wantText: 8},
		{name: "blocks and system", body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"be nice"}],"messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}]}`,
			wantStop: "end_turn", wantBlocks: []string{"text"}, wantText: 8},
		{name: "max_tokens cuts", body: `{"model":"claude-haiku-4-5","max_tokens":3,"messages":[{"role":"user","content":"Hello"}]}`,
			wantStop: "max_tokens", wantBlocks: []string{"text"}, wantText: 3},
		{name: "thinking", body: `{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"Hello"}]}`,
			wantStop: "end_turn", wantBlocks: []string{"thinking", "text"}, wantText: 8},
		{name: "adaptive thinking", body: `{"model":"claude-opus-4-8","max_tokens":2048,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"Hello"}]}`,
			wantStop: "end_turn", wantBlocks: []string{"thinking", "text"}, wantText: 8},
		{name: "weather tool", body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"weather in Paris?"}],` + anthropicWeatherTool + `}`,
			wantStop: "tool_use", wantBlocks: []string{"tool_use"}},
		{name: "tool_choice any", body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}],` + anthropicWeatherTool + `}`,
			wantStop: "tool_use", wantBlocks: []string{"tool_use"}},
		{name: "tool_choice none", body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"weather"}],` + anthropicWeatherTool + `}`,
			wantStop: "end_turn", wantBlocks: []string{"text"}, wantText: 8},
		{name: "thinking then tool", body: `{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"hi"}],` + anthropicWeatherTool + `}`,
			wantStop: "tool_use", wantBlocks: []string{"thinking", "tool_use"}},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/non-stream", func(t *testing.T) {
			resp, body := post(t, url, tc.body, map[string]string{"anthropic-version": "2023-06-01"})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
				!strings.HasPrefix(resp.Header.Get("Request-Id"), "req_") {
				t.Fatalf("status %d headers %v: %s", resp.StatusCode, resp.Header, body)
			}
			var m anthropicMessageResponse
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			if !msgIDPattern.MatchString(m.ID) || m.Type != "message" || m.Role != "assistant" || m.StopReason == nil ||
				*m.StopReason != tc.wantStop || !strings.Contains(body, `"stop_sequence":null`) {
				t.Errorf("envelope: %s", body)
			}
			var types []string
			for _, b := range m.Content {
				types = append(types, b.Type)
				if b.Type == "tool_use" {
					var in map[string]string
					if err := json.Unmarshal(b.Input, &in); err != nil || in["city"] != "San Francisco, CA" || in["unit"] != "c" ||
						!strings.HasPrefix(b.ID, "toolu_01") || b.Name != "get_weather" {
						t.Errorf("tool_use block: %+v (%v)", b, err)
					}
				}
			}
			if strings.Join(types, ",") != strings.Join(tc.wantBlocks, ",") {
				t.Errorf("blocks %v, want %v", types, tc.wantBlocks)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			resp, body := post(t, url, `{"stream":true,`+tc.body[1:], nil) // no anthropic-version: accepted
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d content-type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			checkMessageStream(t, parseSSE(t, body), tc.wantStop, tc.wantBlocks, tc.wantText)
		})
	}
}

// checkMessageStream validates the full event grammar of a Messages stream.
func checkMessageStream(t *testing.T, events []sseEvent, wantStop string, wantBlocks []string, wantText int) {
	t.Helper()
	var names []string
	var blocks []string
	var args string
	deltas, text := 0, 0
	open := -1
	var finalUsage *anthropicUsage
	for i, ev := range events {
		names = append(names, ev.name)
		var e anthropicEvent
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, ev.data)
		}
		if e.Type != ev.name {
			t.Errorf("event name %q carries type %q", ev.name, e.Type)
		}
		switch e.Type {
		case "message_start":
			if i != 0 || e.Message == nil || !msgIDPattern.MatchString(e.Message.ID) || len(e.Message.Content) != 0 ||
				e.Message.Usage.OutputTokens != 1 || e.Message.Usage.InputTokens < 1 || e.Message.StopReason != nil {
				t.Errorf("message_start: %s", ev.data)
			}
		case "content_block_start":
			var b responseBlock
			if err := json.Unmarshal(*e.ContentBlock, &b); err != nil || e.Index != len(blocks) || open != -1 {
				t.Errorf("content_block_start: %s", ev.data)
			}
			open = e.Index
			blocks = append(blocks, b.Type)
		case "content_block_delta":
			if e.Index != open {
				t.Errorf("delta for block %d while %d is open", e.Index, open)
			}
			switch e.Delta.Type {
			case "text_delta":
				text++
				deltas++
			case "thinking_delta":
				deltas++
			case "input_json_delta":
				deltas++
				args += e.Delta.PartialJSON
			case "signature_delta":
				if e.Delta.Signature == "" || blocks[open] != "thinking" {
					t.Errorf("signature_delta: %s", ev.data)
				}
			default:
				t.Errorf("unknown delta %s", ev.data)
			}
		case "content_block_stop":
			if e.Index != open {
				t.Errorf("stop for block %d while %d is open", e.Index, open)
			}
			open = -1
		case "message_delta":
			if e.Delta.StopReason != wantStop || e.Usage == nil || !strings.Contains(ev.data, `"stop_sequence":null`) {
				t.Errorf("message_delta: %s", ev.data)
			}
			finalUsage = e.Usage
		}
	}
	grammar := strings.Join(names, " ")
	if !regexp.MustCompile(`^message_start content_block_start ping( content_block_delta)+ content_block_stop` +
		`( content_block_start( content_block_delta)+ content_block_stop)* message_delta message_stop$`).MatchString(grammar) {
		t.Errorf("event sequence: %s", grammar)
	}
	if strings.Join(blocks, ",") != strings.Join(wantBlocks, ",") {
		t.Errorf("blocks %v, want %v", blocks, wantBlocks)
	}
	if wantText > 0 && text != wantText {
		t.Errorf("%d text deltas, want %d", text, wantText)
	}
	if finalUsage == nil || finalUsage.OutputTokens != deltas {
		t.Errorf("output_tokens %+v, want %d deltas", finalUsage, deltas)
	}
	if args != "" && !json.Valid([]byte(args)) {
		t.Errorf("partial_json fragments do not join into JSON: %q", args)
	}
}

func TestCountTokens(t *testing.T) {
	url := startServer(t, Options{}) + "/v1/messages/count_tokens"
	resp, body := post(t, url, `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"`+strings.Repeat("abcd", 100)+`"}]}`, nil)
	var c tokensCount
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil || c.InputTokens < 100 || c.InputTokens > 110 {
		t.Errorf("status %d body %s", resp.StatusCode, body)
	}
}
