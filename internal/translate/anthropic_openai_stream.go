package translate

import (
	"encoding/json"
	"net/http"
)

// oaToAnStream turns chat.completion.chunk events into the Anthropic Messages event sequence:
// message_start; per content block content_block_start, content_block_delta (text_delta,
// thinking_delta, input_json_delta) and content_block_stop; message_delta with the stop reason
// and usage; message_stop.
//
// OpenAI reports usage only in the last chunk, after the finish reason, so message_start carries
// zero counts and message_delta the real ones (Anthropic's message_delta usage is cumulative and
// may carry input counts, which clients read from there). message_delta therefore waits for the
// usage chunk or the end of the stream.
//
// One block is open at a time, as Anthropic streams them. OpenAI numbers tool calls and streams
// them one after the other; a new index (or a new id at the same index, from servers that send
// whole calls) starts a new tool_use block. Argument fragments for a call whose block was
// already closed, which only a server interleaving its calls would send, are dropped.
type oaToAnStream struct {
	t       *anthropicToOpenAI
	id      string
	next    int    // index of the next Anthropic block
	open    int    // index of the open text or thinking block, or -1
	kind    string // "text" or "thinking": the open block's kind
	tools   []oaToAnTool
	stop    *string // set when the choice finished
	usage   *oaUsage
	started bool
	done    bool
}

// oaToAnTool is one OpenAI tool call and the Anthropic block it became.
type oaToAnTool struct {
	openAIIndex int
	id          string // as the upstream sent it, possibly ""
	block       int
	open        bool
}

// event appends the client's bytes for one upstream event.
func (s *oaToAnStream) event(dst []byte, ev SSEEvent) []byte {
	if s.done || len(ev.Data) == 0 {
		return dst
	}
	if string(ev.Data) == "[DONE]" {
		return s.finish(dst)
	}
	var c oaChunkIn
	if err := json.Unmarshal(ev.Data, &c); err != nil {
		return s.fail(dst, http.StatusBadGateway, "the OpenAI backend sent an event aigw cannot read")
	}
	if c.Error != nil {
		status, ok := openAIErrorStatus[c.Error.Type]
		if !ok {
			status = http.StatusInternalServerError
		}
		return s.fail(dst, status, c.Error.Message)
	}
	if !s.started {
		if len(c.Choices) == 0 && c.Usage == nil {
			return dst // Azure's content-filter preamble comes before the completion's first chunk
		}
		dst = s.messageStart(dst, &c)
	}
	if c.Model != "" && s.t.model == "" {
		s.t.model = c.Model
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // n > 1 is never asked for; ignore stray choices
		}
		dst = s.delta(dst, &ch.Delta)
		if ch.FinishReason != nil {
			dst = s.closeAll(dst)
			s.stop = stopReason(ch.FinishReason)
		}
	}
	if c.Usage != nil {
		s.usage = c.Usage
		s.t.usage = c.Usage.usage()
	}
	return dst
}

func (s *oaToAnStream) messageStart(dst []byte, c *oaChunkIn) []byte {
	s.started = true
	s.open = -1
	s.id = messageID(c.ID)
	s.t.model = c.Model
	zero := anthropicUsageFromOpenAI(nil)
	return appendSSEJSON(dst, "message_start", anMessageStartEvent{Type: "message_start", Message: anMessage{
		ID: s.id, Type: "message", Role: "assistant", Model: c.Model, Content: []anBlock{}, Usage: zero,
	}})
}

// delta appends the events for one choice delta: reasoning, then text, then tool calls, the
// order in which a single delta could carry them.
func (s *oaToAnStream) delta(dst []byte, d *oaDelta) []byte {
	if r := d.reasoningText(); r != "" {
		dst = s.ensureBlock(dst, "thinking")
		dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "thinking_delta", Thinking: &r})
	}
	for _, text := range []*string{d.Content, d.Refusal} {
		if text != nil && *text != "" {
			dst = s.ensureBlock(dst, "text")
			dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "text_delta", Text: text})
		}
	}
	for i := range d.ToolCalls {
		dst = s.toolDelta(dst, &d.ToolCalls[i])
	}
	return dst
}

// ensureBlock makes an open block of kind the current one, closing whatever else is open.
func (s *oaToAnStream) ensureBlock(dst []byte, kind string) []byte {
	if s.open >= 0 && s.kind == kind {
		return dst
	}
	dst = s.closeAll(dst)
	s.open, s.kind = s.next, kind
	s.next++
	b := anBlock{Type: "text", Text: ptr("")}
	if kind == "thinking" {
		b = anBlock{Type: "thinking", Thinking: ptr(""), Signature: ptr("")}
	}
	return appendSSEJSON(dst, "content_block_start", anBlockStartEvent{Type: "content_block_start", Index: s.open, ContentBlock: b})
}

func (s *oaToAnStream) toolDelta(dst []byte, tc *oaToolCall) []byte {
	idx := len(s.tools)
	if tc.Index != nil {
		idx = *tc.Index
	}
	var tool *oaToAnTool
	for i := range s.tools {
		if s.tools[i].openAIIndex == idx {
			tool = &s.tools[i]
		}
	}
	if tool != nil && tc.ID != "" && tc.ID != tool.id {
		tool = nil // a new call reusing the index, as servers that send whole calls do
	}
	if tool == nil {
		dst = s.closeAll(dst)
		id := toolUseID(tc.ID, len(s.tools))
		s.tools = append(s.tools, oaToAnTool{openAIIndex: idx, id: tc.ID, block: s.next, open: true})
		tool = &s.tools[len(s.tools)-1]
		s.next++
		dst = appendSSEJSON(dst, "content_block_start", anBlockStartEvent{Type: "content_block_start", Index: tool.block, ContentBlock: anBlock{
			Type: "tool_use", ID: id, Name: tc.Function.Name, Input: json.RawMessage("{}"),
		}})
	}
	if !tool.open || tc.Function.Arguments == "" {
		return dst
	}
	args := tc.Function.Arguments
	return s.blockDelta(dst, tool.block, anBlockDelta{Type: "input_json_delta", PartialJSON: &args})
}

func (s *oaToAnStream) blockDelta(dst []byte, index int, d anBlockDelta) []byte {
	return appendSSEJSON(dst, "content_block_delta", anBlockDeltaEvent{Type: "content_block_delta", Index: index, Delta: d})
}

func (s *oaToAnStream) closeBlock(dst []byte, index int) []byte {
	return appendSSEJSON(dst, "content_block_stop", anBlockStopEvent{Type: "content_block_stop", Index: index})
}

// closeAll closes the open block, whatever its kind.
func (s *oaToAnStream) closeAll(dst []byte) []byte {
	if s.open >= 0 {
		dst = s.closeBlock(dst, s.open)
		s.open = -1
	}
	for i := range s.tools {
		if s.tools[i].open {
			s.tools[i].open = false
			dst = s.closeBlock(dst, s.tools[i].block)
		}
	}
	return dst
}

// finish ends a complete stream with message_delta and message_stop.
func (s *oaToAnStream) finish(dst []byte) []byte {
	if !s.started || s.stop == nil {
		return s.fail(dst, http.StatusBadGateway, "the OpenAI backend's stream ended before the completion finished")
	}
	s.done = true
	dst = s.closeAll(dst)
	dst = appendSSEJSON(dst, "message_delta", anMessageDeltaEvent{
		Type:  "message_delta",
		Delta: anMessageDeltaDelta{StopReason: s.stop},
		Usage: anthropicUsageFromOpenAI(s.usage),
	})
	return appendSSEJSON(dst, "message_stop", anTypeOnlyEvent{Type: "message_stop"})
}

// end is called when the upstream body ends. Servers that omit data: [DONE] still end well
// when the choice finished.
func (s *oaToAnStream) end(dst []byte) []byte {
	if s.done {
		return dst
	}
	return s.finish(dst)
}

// fail appends an Anthropic error event and ends the stream.
func (s *oaToAnStream) fail(dst []byte, status int, message string) []byte {
	s.done = true
	return appendSSEJSON(dst, "error", anthropicErrorBody{Type: "error", Error: anthropicErrorDetail{
		Type: anthropicErrorType(status), Message: message,
	}})
}

// openAIErrorStatus is the HTTP status of each OpenAI error type, for errors sent inside a
// stream, where there is no status.
var openAIErrorStatus = map[string]int{
	"invalid_request_error": http.StatusBadRequest,
	"authentication_error":  http.StatusUnauthorized,
	"permission_error":      http.StatusForbidden,
	"not_found_error":       http.StatusNotFound,
	"rate_limit_error":      http.StatusTooManyRequests,
	"insufficient_quota":    http.StatusTooManyRequests,
	"server_error":          http.StatusInternalServerError,
}
