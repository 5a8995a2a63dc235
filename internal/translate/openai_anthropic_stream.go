package translate

import (
	"encoding/json"
	"net/http"
	"strings"
)

// anToOAStream turns Anthropic Messages stream events into chat.completion.chunk events.
//
//   - message_start → a first chunk with the assistant role.
//   - text_delta → content; thinking_delta → reasoning_content. When a thinking block ends, one
//     more chunk carries the whole block with its signature in thinking_blocks, so a client can
//     send it back; a redacted_thinking block is carried the same way when it starts.
//   - a tool_use block → a tool call numbered among tool calls from 0 (not the Anthropic block
//     index): its first delta has id, type and name, then input_json_delta fragments follow as
//     argument fragments.
//   - message_delta → finish_reason and usage; message_stop → the finishing chunk, the usage
//     chunk (choices: []) when the client asked for it, and data: [DONE].
//   - error → data: {"error":{...}} and the end of the stream.
type anToOAStream struct {
	t       *openAIToAnthropic
	id      string
	created int64
	blocks  map[int]*anStreamBlock // by Anthropic block index
	tools   int                    // tool calls started so far
	stop    *string
	done    bool
}

// anStreamBlock is the state of one open Anthropic content block.
type anStreamBlock struct {
	kind      string // text, thinking, tool, json (the forced JSON tool), other
	toolIndex int
	hasArgs   bool
	thinking  strings.Builder
	signature string
}

// event appends the client's bytes for one upstream event.
func (s *anToOAStream) event(dst []byte, ev SSEEvent) []byte {
	if s.done || len(ev.Data) == 0 {
		return dst
	}
	var e anStreamEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return s.fail(dst, http.StatusBadGateway, "invalid_upstream_response", "the Anthropic backend sent an event aigw cannot read")
	}
	if e.Type == "" {
		e.Type = ev.Event
	}
	switch e.Type {
	case "message_start":
		return s.messageStart(dst, &e)
	case "content_block_start":
		return s.blockStart(dst, &e)
	case "content_block_delta":
		return s.blockDelta(dst, &e)
	case "content_block_stop":
		return s.blockStop(dst, e.Index)
	case "message_delta":
		if e.Delta != nil && e.Delta.StopReason != nil {
			s.stop = e.Delta.StopReason
		}
		s.t.usage.accumulate(e.Usage)
	case "message_stop":
		return s.finish(dst)
	case "error":
		if e.Error == nil {
			e.Error = &anthropicErrorDetail{Type: "api_error", Message: "the Anthropic backend reported an error"}
		}
		status, ok := anthropicErrorStatus[e.Error.Type]
		if !ok {
			status = http.StatusInternalServerError
		}
		return s.fail(dst, status, e.Error.Type, e.Error.Message)
	}
	return dst // ping, and event types added to the API later
}

func (s *anToOAStream) messageStart(dst []byte, e *anStreamEvent) []byte {
	if e.Message != nil {
		s.id = e.Message.ID
		s.t.model = e.Message.Model
		s.t.usage.accumulate(&e.Message.Usage)
	}
	s.created = s.t.now().Unix()
	return s.chunk(dst, oaDelta{Role: "assistant", Content: ptr("")}, nil)
}

func (s *anToOAStream) blockStart(dst []byte, e *anStreamEvent) []byte {
	if s.blocks == nil {
		s.blocks = map[int]*anStreamBlock{}
	}
	b := &anStreamBlock{kind: "other"}
	s.blocks[e.Index] = b
	cb := e.ContentBlock
	if cb == nil {
		return dst
	}
	switch cb.Type {
	case "text":
		b.kind = "text"
		if cb.Text != nil && *cb.Text != "" {
			return s.chunk(dst, oaDelta{Content: cb.Text}, nil)
		}
	case "thinking":
		b.kind = "thinking"
		if cb.Thinking != nil && *cb.Thinking != "" {
			b.thinking.WriteString(*cb.Thinking)
			return s.chunk(dst, oaDelta{ReasoningContent: cb.Thinking}, nil)
		}
	case "redacted_thinking":
		return s.chunk(dst, oaDelta{ThinkingBlocks: []oaThinkingBlock{{Type: "redacted_thinking", Data: cb.Data}}}, nil)
	case "tool_use":
		if s.t.jsonTool && cb.Name == jsonToolName {
			b.kind = "json"
			return dst
		}
		b.kind = "tool"
		b.toolIndex = s.tools
		s.tools++
		tc := oaToolCall{Index: ptr(b.toolIndex), ID: cb.ID, Type: "function", Function: oaFunctionCall{Name: cb.Name}}
		return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
	}
	return dst
}

func (s *anToOAStream) blockDelta(dst []byte, e *anStreamEvent) []byte {
	b := s.blocks[e.Index]
	d := e.Delta
	if b == nil || d == nil {
		return dst
	}
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			return s.chunk(dst, oaDelta{Content: &d.Text}, nil)
		}
	case "thinking_delta":
		if d.Thinking != "" {
			b.thinking.WriteString(d.Thinking)
			return s.chunk(dst, oaDelta{ReasoningContent: &d.Thinking}, nil)
		}
	case "signature_delta":
		b.signature += d.Signature
	case "input_json_delta":
		if d.PartialJSON == "" {
			return dst
		}
		switch b.kind {
		case "json":
			return s.chunk(dst, oaDelta{Content: &d.PartialJSON}, nil)
		case "tool":
			b.hasArgs = true
			tc := oaToolCall{Index: ptr(b.toolIndex), Function: oaFunctionCall{Arguments: d.PartialJSON}}
			return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
		}
	}
	return dst // citations_delta and later delta types have no Chat Completions form
}

func (s *anToOAStream) blockStop(dst []byte, index int) []byte {
	b := s.blocks[index]
	if b == nil {
		return dst
	}
	delete(s.blocks, index)
	switch b.kind {
	case "thinking":
		text := b.thinking.String()
		tb := oaThinkingBlock{Type: "thinking", Thinking: &text, Signature: &b.signature}
		return s.chunk(dst, oaDelta{ThinkingBlocks: []oaThinkingBlock{tb}}, nil)
	case "tool":
		if !b.hasArgs { // a call without parameters: OpenAI clients expect an object
			tc := oaToolCall{Index: ptr(b.toolIndex), Function: oaFunctionCall{Arguments: "{}"}}
			return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
		}
	}
	return dst
}

// finish ends a complete stream: the finishing chunk, the usage chunk if asked for, [DONE].
func (s *anToOAStream) finish(dst []byte) []byte {
	s.done = true
	finish := s.t.finishReason(s.stop)
	if finish == nil {
		finish = ptr("stop")
	}
	dst = s.chunk(dst, oaDelta{}, finish)
	if s.t.includeUsage {
		u, _ := marshalJSON(s.t.usage.openAI())
		dst = appendSSEJSON(dst, "", oaChunk{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.t.model,
			Choices: []oaChunkChoice{}, Usage: u,
		})
	}
	return AppendSSE(dst, "", []byte("[DONE]"))
}

// end is called when the upstream body ends; a stream cut before message_stop must not look
// complete to the client.
func (s *anToOAStream) end(dst []byte) []byte {
	if s.done {
		return dst
	}
	return s.fail(dst, http.StatusBadGateway, "upstream_stream_truncated", "the Anthropic backend's stream ended before the message was complete")
}

// fail appends an OpenAI error object and ends the stream.
func (s *anToOAStream) fail(dst []byte, status int, code, message string) []byte {
	s.done = true
	e := openAIErrorBody{Error: openAIErrorDetail{Message: message, Type: openAIErrorType(status)}}
	if code != "" {
		e.Error.Code = &code
	}
	return appendSSEJSON(dst, "", e)
}

// chunk appends one chat.completion.chunk with a single choice.
func (s *anToOAStream) chunk(dst []byte, d oaDelta, finish *string) []byte {
	c := oaChunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.t.model,
		Choices: []oaChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	}
	if s.t.includeUsage {
		c.Usage = json.RawMessage("null")
	}
	return appendSSEJSON(dst, "", c)
}
