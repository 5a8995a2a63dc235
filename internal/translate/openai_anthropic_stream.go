package translate

import (
	"encoding/json"
	"net/http"
	"strconv"
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
	scratch []byte // reused by the fast path to decode strings
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
	if !s.t.generalOnly && ev.Event == "content_block_delta" {
		if out, ok := s.fastBlockDelta(dst, ev.Data); ok {
			return out
		}
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

// anStreamEventFields and anStreamDeltaFields are the JSON names of anStreamEvent's and
// anStreamDelta's fields, which the fast path must not mistake for ignorable keys.
var (
	anStreamEventFields = []string{"type", "message", "index", "content_block", "delta", "usage", "error"}
	anStreamDeltaFields = []string{"type", "text", "partial_json", "thinking", "signature", "stop_reason"}
)

// fastBlockDelta is blockDelta for the usual content_block_delta event, read and answered
// without encoding/json (see stream_fast.go). ok is false, with nothing done, for an event it
// does not take, which the general path then handles.
func (s *anToOAStream) fastBlockDelta(dst, data []byte) (_ []byte, ok bool) {
	const (
		seenType = 1 << iota
		seenIndex
		seenDelta
		seenDeltaType
		seenText
		seenPartialJSON
		seenThinking
	)
	var (
		seen        uint
		index       int
		deltaType   []byte
		text        []byte // raw string literals
		partialJSON []byte
		thinking    []byte
		textEsc     bool
		partialEsc  bool
		thinkingEsc bool
	)
	once := func(bit uint) bool {
		if seen&bit != 0 {
			return false // encoding/json keeps the last of duplicate keys; leave that to it
		}
		seen |= bit
		return true
	}
	str := func(bit uint, v int, raw *[]byte, esc *bool) (int, bool) {
		if !once(bit) {
			return 0, false
		}
		end, e, ok := jsonScanString(data, v)
		if !ok {
			return 0, false
		}
		*raw, *esc = data[v:end], e
		return end, true
	}
	delta := func(key []byte, esc bool, v int) (int, bool) {
		if !esc {
			switch string(key) {
			case "type":
				var e bool
				end, ok := str(seenDeltaType, v, &deltaType, &e)
				return end, ok && !e
			case "text":
				return str(seenText, v, &text, &textEsc)
			case "partial_json":
				return str(seenPartialJSON, v, &partialJSON, &partialEsc)
			case "thinking":
				return str(seenThinking, v, &thinking, &thinkingEsc)
			}
		}
		if ignorableKey(key, esc, anStreamDeltaFields) {
			return jsonSkipValue(data, v, 0)
		}
		return 0, false
	}
	end, ok := jsonObject(data, jsonWS(data, 0), func(key []byte, esc bool, v int) (int, bool) {
		if !esc {
			switch string(key) {
			case "type":
				var typ []byte
				var e bool
				end, ok := str(seenType, v, &typ, &e)
				return end, ok && !e && string(typ) == `"content_block_delta"`
			case "index":
				if !once(seenIndex) {
					return 0, false
				}
				var end int
				var ok bool
				index, end, ok = jsonScanInt(data, v)
				return end, ok
			case "delta":
				if !once(seenDelta) {
					return 0, false
				}
				return jsonObject(data, v, delta)
			}
		}
		if ignorableKey(key, esc, anStreamEventFields) {
			return jsonSkipValue(data, v, 0)
		}
		return 0, false
	})
	if !ok || jsonWS(data, end) != len(data) || seen&(seenType|seenDelta) != seenType|seenDelta {
		return dst, false
	}
	// From here on, as blockDelta.
	b := s.blocks[index]
	if b == nil {
		return dst, true
	}
	switch string(deltaType) {
	case `"text_delta"`:
		if len(text) > 2 {
			dst = s.fastChunkStart(dst)
			dst = append(dst, `"content":`...)
			dst = appendJSONString(dst, jsonStringValue(text, textEsc, &s.scratch))
			dst = s.fastChunkEnd(dst)
		}
	case `"thinking_delta"`:
		if len(thinking) > 2 {
			v := jsonStringValue(thinking, thinkingEsc, &s.scratch)
			b.thinking.Write(v)
			dst = s.fastChunkStart(dst)
			dst = append(dst, `"reasoning_content":`...)
			dst = appendJSONString(dst, v)
			dst = s.fastChunkEnd(dst)
		}
	case `"input_json_delta"`:
		if len(partialJSON) <= 2 {
			return dst, true
		}
		switch b.kind {
		case "json":
			dst = s.fastChunkStart(dst)
			dst = append(dst, `"content":`...)
			dst = appendJSONString(dst, jsonStringValue(partialJSON, partialEsc, &s.scratch))
			dst = s.fastChunkEnd(dst)
		case "tool":
			b.hasArgs = true
			dst = s.fastChunkStart(dst)
			dst = append(dst, `"tool_calls":[{"index":`...)
			dst = strconv.AppendInt(dst, int64(b.toolIndex), 10)
			dst = append(dst, `,"function":{"arguments":`...)
			dst = appendJSONString(dst, jsonStringValue(partialJSON, partialEsc, &s.scratch))
			dst = append(dst, `}}]`...)
			dst = s.fastChunkEnd(dst)
		}
	case `"signature_delta"`:
		return dst, false // rare; its field is left to the general path
	}
	return dst, true
}

// fastChunkStart and fastChunkEnd write what chunk writes around the members of the delta.
func (s *anToOAStream) fastChunkStart(dst []byte) []byte {
	dst = append(dst, `data: {"id":`...)
	dst = appendJSONString(dst, s.id)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, s.created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, s.t.model)
	return append(dst, `,"choices":[{"index":0,"delta":{`...)
}

func (s *anToOAStream) fastChunkEnd(dst []byte) []byte {
	dst = append(dst, `},"logprobs":null,"finish_reason":null}]`...)
	if s.t.includeUsage {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}
