package translate

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// openAIToAnthropic serves an OpenAI Chat Completions client from an Anthropic Messages
// backend: the request is converted (openai_anthropic_request.go), the response converted
// back, as one JSON body or event by event (openai_anthropic_stream.go).
type openAIToAnthropic struct {
	// generalOnly turns the fast path for common stream events off, for tests that compare it
	// with the general path.
	generalOnly bool
	target      Target
	now         func() time.Time

	// From the request.
	includeUsage bool // the client asked for stream_options.include_usage
	jsonTool     bool // response_format json_object is served by the forced jsonToolName tool

	sseResponse bool
	body        bodyBuffer
	sse         SSEDecoder
	out         []byte
	stream      anToOAStream
	usage       anthropicUsage
	model       string
}

var _ Translator = (*openAIToAnthropic)(nil)

func newOpenAIToAnthropic(t Target) Translator {
	o := &openAIToAnthropic{target: t, now: time.Now}
	o.stream = anToOAStream{t: o}
	return o
}

func (t *openAIToAnthropic) RequestBody(req *Request) (*Upstream, error) {
	var in oaChatRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid chat completion request: %v", err)
	}
	t.includeUsage = in.Stream && in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	out, err := t.anthropicRequest(&in)
	if err != nil {
		return nil, err
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Anthropic request: %v", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	v := req.Header.Get("Anthropic-Version")
	if v == "" {
		v = DefaultAnthropicVersion
	}
	h.Set("Anthropic-Version", v)
	if beta := req.Header.Values("Anthropic-Beta"); len(beta) > 0 {
		h["Anthropic-Beta"] = beta
	}
	return &Upstream{Method: http.MethodPost, Path: t.target.Backend.Schema.Prefix + "/messages", Header: h, Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

func (t *openAIToAnthropic) ResponseHeaders(_ int, h http.Header) error {
	t.sseResponse = IsEventStream(h)
	h.Del("Content-Length") // the body is rewritten
	t.stream = anToOAStream{t: t}
	return nil
}

func (t *openAIToAnthropic) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !t.sseResponse {
		body, whole := t.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		return t.completion(body)
	}
	t.out = t.sse.Each(t.out[:0], chunk, t.stream.event)
	if eos {
		t.out = t.stream.end(t.out)
	}
	return t.out, nil
}

// completion converts a whole Anthropic message into a chat.completion.
func (t *openAIToAnthropic) completion(body []byte) ([]byte, error) {
	var m anMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, upstreamInvalid("the Anthropic backend sent a message aigw cannot read: %v", err)
	}
	t.model = m.Model
	t.usage.accumulate(&m.Usage)

	msg := oaMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	hasText, hasReasoning := false, false
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
				hasText = true
			}
		case "thinking":
			if b.Thinking != nil {
				reasoning.WriteString(*b.Thinking)
				hasReasoning = true
			}
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		case "tool_use":
			args := string(compactJSON(b.Input))
			if len(b.Input) == 0 {
				args = "{}"
			}
			if t.jsonTool && b.Name == jsonToolName {
				text.WriteString(args)
				hasText = true
				continue
			}
			msg.ToolCalls = append(msg.ToolCalls, oaToolCall{ID: b.ID, Type: "function", Function: oaFunctionCall{Name: b.Name, Arguments: args}})
		}
		// Server tool blocks (server_tool_use, web_search_tool_result, ...) only answer server
		// tools, which this translator never sends.
	}
	if hasText {
		msg.Content.Text = ptr(text.String())
	}
	if hasReasoning {
		msg.ReasoningContent = ptr(reasoning.String())
	}
	finish := t.finishReason(m.StopReason)
	res := oaChatCompletion{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: t.now().Unix(),
		Model:   m.Model,
		Choices: []oaChoice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:   t.usage.openAI(),
	}
	out, err := marshalJSON(res)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the chat completion: %v", err)
	}
	return out, nil
}

// finishReasons maps Anthropic stop reasons to OpenAI finish reasons.
var finishReasons = map[string]string{
	"end_turn":                      "stop",
	"stop_sequence":                 "stop",
	"pause_turn":                    "stop",
	"max_tokens":                    "length",
	"model_context_window_exceeded": "length",
	"tool_use":                      "tool_calls",
	"refusal":                       "content_filter",
}

// finishReason is the OpenAI finish_reason for a stop reason; the forced JSON tool's call is
// the answer itself, so it finishes with "stop".
func (t *openAIToAnthropic) finishReason(stop *string) *string {
	if stop == nil {
		return nil
	}
	if *stop == "tool_use" && t.jsonTool {
		return ptr("stop")
	}
	if f, ok := finishReasons[*stop]; ok {
		return &f
	}
	return ptr("stop")
}

func (t *openAIToAnthropic) ResponseError(status int, _ http.Header, body []byte) []byte {
	var e anthropicErrorBody
	if json.Unmarshal(body, &e) == nil && e.Type == "error" && e.Error.Message != "" {
		return ErrorBody(APIOpenAI, &Error{Status: status, Code: e.Error.Type, Message: e.Error.Message})
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (t *openAIToAnthropic) Usage() Usage          { return t.usage.Usage() }
func (t *openAIToAnthropic) ResponseModel() string { return t.model }
