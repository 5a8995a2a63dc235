package translate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// anthropicToOpenAI serves an Anthropic Messages client from an OpenAI Chat Completions backend
// (OpenAI, Azure OpenAI, or any compatible server): the request is converted
// (anthropic_openai_request.go), the response converted back, as one message or as the full
// Anthropic event sequence (anthropic_openai_stream.go).
type anthropicToOpenAI struct {
	// generalOnly turns the fast path for common stream events off, for tests that compare it
	// with the general path.
	generalOnly bool
	target      Target
	path        func(Target, Endpoint) string
	// carryAnthropic keeps what only a backend reading Anthropic's own fields can use
	// (cache_control, signed thinking_blocks) in the chat request, and reads signed
	// thinking_blocks back: aigw's own chat → Bedrock Converse translation is such a backend.
	carryAnthropic bool
	// carryRequest, with carryAnthropic, sets what the backend's chat translator reads of
	// Anthropic's fields in the chat request (nil: carryAnthropicRequest, all of them).
	carryRequest func(Target, *anRequest, *oaChatRequest)

	sseResponse bool
	body        bodyBuffer
	sse         SSEDecoder
	out         []byte
	stream      oaToAnStream
	usage       Usage
	model       string
}

var _ Translator = (*anthropicToOpenAI)(nil)

func newAnthropicToOpenAI(t Target) Translator {
	a := &anthropicToOpenAI{target: t, path: openAIPath}
	a.stream = oaToAnStream{t: a, open: -1}
	return a
}

func newAnthropicToAzureOpenAI(t Target) Translator {
	a := &anthropicToOpenAI{target: t, path: azurePath}
	a.stream = oaToAnStream{t: a, open: -1}
	return a
}

func (t *anthropicToOpenAI) RequestBody(req *Request) (*Upstream, error) {
	var in anRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid Messages request: %v", err)
	}
	out, err := t.openAIRequest(&in)
	if err != nil {
		return nil, err
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the OpenAI request: %v", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Upstream{Method: http.MethodPost, Path: t.path(t.target, EndpointChatCompletions), Header: h, Remove: vendorHeaders[APIAnthropic], Body: body}, nil
}

func (t *anthropicToOpenAI) ResponseHeaders(_ int, h http.Header) error {
	t.sseResponse = IsEventStream(h)
	h.Del("Content-Length") // the body is rewritten
	t.stream = oaToAnStream{t: t, open: -1}
	return nil
}

func (t *anthropicToOpenAI) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !t.sseResponse {
		body, whole := t.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		return t.message(body)
	}
	t.out = t.sse.Each(t.out[:0], chunk, t.stream.event)
	if eos {
		t.out = t.stream.end(t.out)
	}
	return t.out, nil
}

// message converts a whole chat.completion into an Anthropic message. Reasoning text becomes a
// thinking block with an empty signature (the backend issues none), content a text block, a
// refusal a text block, tool calls tool_use blocks.
func (t *anthropicToOpenAI) message(body []byte) ([]byte, error) {
	var c oaCompletionIn
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, upstreamInvalid("the OpenAI backend sent a completion aigw cannot read: %v", err)
	}
	t.model = c.Model
	if c.Usage != nil {
		t.usage = c.Usage.usage()
	}
	m := anMessage{
		ID: messageID(c.ID), Type: "message", Role: "assistant", Model: c.Model,
		Content: []anBlock{}, Usage: anthropicUsageFromOpenAI(c.Usage),
	}
	if len(c.Choices) > 0 {
		msg := &c.Choices[0].Message
		thinking, textSigs := t.carriedMessageThinking(msg.ThinkingBlocks)
		if thinking != nil {
			m.Content = append(m.Content, thinking...)
		} else if r := msg.reasoningText(); r != "" {
			m.Content = append(m.Content, anBlock{Type: "thinking", Thinking: &r, Signature: ptr("")})
		}
		if text := msg.Content.Text; text != nil && *text != "" {
			m.Content = append(m.Content, anBlock{Type: "text", Text: text})
		}
		for _, p := range msg.Content.Parts {
			if p.Type == "text" && p.Text != nil {
				m.Content = append(m.Content, anBlock{Type: "text", Text: p.Text})
			}
		}
		if msg.Refusal != nil && *msg.Refusal != "" {
			m.Content = append(m.Content, anBlock{Type: "text", Text: msg.Refusal})
		}
		m.Content = append(m.Content, textSigs...)
		for i, tc := range msg.ToolCalls {
			m.Content = append(m.Content, anBlock{
				Type: "tool_use", ID: toolUseID(tc.ID, i), Name: tc.Function.Name,
				Input: openAIToolArguments(tc.Function.Arguments),
			})
		}
		m.StopReason = stopReason(c.Choices[0].FinishReason)
	}
	out, err := marshalJSON(m)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the message: %v", err)
	}
	return out, nil
}

// carriedMessageThinking is the Anthropic thinking blocks of a whole message's thinking_blocks
// when the translator carries them, in their order: signed thinking with its signature, unsigned
// thinking (a Gemini thought summary without a signature) with an empty one (consecutive ones
// joined), redacted thinking.
// The blocks that carry a Gemini text part's thought signature come apart, as textSigs: they go
// after the text, where a stream has them (the signature comes with the answer's last part).
// thinking is nil when no thinking block is carried, and the reasoning text then stands alone.
func (t *anthropicToOpenAI) carriedMessageThinking(tbs []oaThinkingBlock) (thinking, textSigs []anBlock) {
	if !t.carryAnthropic {
		return nil, nil
	}
	for _, tb := range tbs {
		switch {
		case tb.Type == "thinking" && tb.Signature != nil && isGeminiTextSignature(*tb.Signature):
			textSigs = append(textSigs, anBlock{Type: "thinking", Thinking: ptr(""), Signature: tb.Signature})
		case tb.Type == "thinking" && tb.Signature != nil && *tb.Signature != "":
			text := ""
			if tb.Thinking != nil {
				text = *tb.Thinking
			}
			thinking = append(thinking, anBlock{Type: "thinking", Thinking: &text, Signature: tb.Signature})
		case tb.Type == "thinking" && tb.Thinking != nil && *tb.Thinking != "":
			if n := len(thinking); n > 0 && thinking[n-1].Type == "thinking" && *thinking[n-1].Signature == "" {
				// Unsigned thinking after unsigned thinking is one block, as a stream has it.
				joined := *thinking[n-1].Thinking + *tb.Thinking
				thinking[n-1].Thinking = &joined
				continue
			}
			thinking = append(thinking, anBlock{Type: "thinking", Thinking: tb.Thinking, Signature: ptr("")})
		case tb.Type == "redacted_thinking" && tb.Data != "":
			thinking = append(thinking, anBlock{Type: "redacted_thinking", Data: tb.Data})
		}
	}
	return thinking, textSigs
}

// stopReasons maps OpenAI finish reasons to Anthropic stop reasons. OpenAI does not say which
// stop sequence ended a completion, so "stop" is always end_turn.
var stopReasons = map[string]string{
	"stop":           "end_turn",
	"length":         "max_tokens",
	"tool_calls":     "tool_use",
	"function_call":  "tool_use",
	"content_filter": "refusal",
}

func stopReason(finish *string) *string {
	if finish == nil {
		return ptr("end_turn")
	}
	if s, ok := stopReasons[*finish]; ok {
		return &s
	}
	return ptr("end_turn")
}

// messageID is the upstream's completion id, or a fresh one when it sent none.
func messageID(id string) string {
	if id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// toolUseID is the upstream's tool call id, or a stable one when it sent none (some compatible
// servers do not).
func toolUseID(id string, i int) string {
	if id != "" {
		return id
	}
	return fmt.Sprintf("toolu_aigw_%d", i)
}

func (t *anthropicToOpenAI) ResponseError(status int, _ http.Header, body []byte) []byte {
	var e oaErrorIn
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.message()
	}
	if msg == "" {
		msg = upstreamMessage(status, body)
	}
	return ErrorBody(APIAnthropic, &Error{Status: status, Message: msg})
}

func (t *anthropicToOpenAI) Usage() Usage          { return t.usage }
func (t *anthropicToOpenAI) ResponseModel() string { return t.model }
