package translate

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
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
	scratch []byte // reused by the fast path to decode strings
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
	if !s.t.generalOnly && s.started {
		if out, ok := s.fastChunk(dst, ev.Data); ok {
			return out
		}
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
	carry := s.t.carryAnthropic && len(d.ThinkingBlocks) > 0
	if r := d.reasoningText(); r != "" {
		if carry && s.open >= 0 && s.kind == "thinking" && signsReasoning(d.ThinkingBlocks, r) {
			// The delta is a whole signed part (a Gemini thought): the thinking streamed before it
			// is another part's, whose block ends here, unsigned, as it does in a whole message.
			dst = s.closeAll(dst)
		}
		dst = s.ensureBlock(dst, "thinking")
		dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "thinking_delta", Thinking: &r})
	}
	if carry {
		dst = s.carriedThinking(dst, d.ThinkingBlocks, false)
	}
	for _, text := range []*string{d.Content, d.Refusal} {
		if text != nil && *text != "" {
			dst = s.ensureBlock(dst, "text")
			dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "text_delta", Text: text})
		}
	}
	if carry {
		// A Gemini text part's signature comes with the part's text, and follows it.
		dst = s.carriedThinking(dst, d.ThinkingBlocks, true)
	}
	for i := range d.ToolCalls {
		dst = s.toolDelta(dst, &d.ToolCalls[i])
	}
	return dst
}

// signsReasoning reports whether a delta's thinking blocks hold a signed block of exactly its
// reasoning text: the delta is a signed part of its own.
func signsReasoning(tbs []oaThinkingBlock, reasoning string) bool {
	for _, tb := range tbs {
		if tb.Type == "thinking" && tb.Signature != nil && *tb.Signature != "" && tb.Thinking != nil && *tb.Thinking == reasoning {
			return true
		}
	}
	return false
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

// The JSON names of the fields of oaChunkIn, of its choices and of oaDelta, which the fast path
// must not mistake for ignorable keys.
var (
	oaChunkInFields     = []string{"id", "model", "choices", "usage", "error"}
	oaChunkChoiceFields = []string{"index", "delta", "finish_reason"}
	oaDeltaFields       = []string{"role", "content", "reasoning_content", "reasoning", "refusal", "tool_calls", "thinking_blocks"}
)

// fastChunk is event for the usual chunk after the first: at most one choice, whose delta
// holds at most role and content, no finish reason, no usage. It reads and answers it without
// encoding/json (see stream_fast.go). ok is false, with nothing done, for a chunk it does not
// take, which the general path then handles.
func (s *oaToAnStream) fastChunk(dst, data []byte) (_ []byte, ok bool) {
	c, ok := readFastChatChunk(data)
	if !ok {
		return dst, false
	}
	// From here on, as event and delta for a started stream.
	if len(c.model) > 0 && s.t.model == "" {
		s.t.model = string(c.model)
	}
	if c.choices == 1 && c.index == 0 && len(c.content) > 2 {
		dst = s.ensureBlock(dst, "text")
		dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
		dst = strconv.AppendInt(dst, int64(s.open), 10)
		dst = append(dst, `,"delta":{"type":"text_delta","text":`...)
		dst = appendJSONString(dst, jsonStringValue(c.content, c.contentEsc, &s.scratch))
		dst = append(dst, "}}\n\n"...)
	}
	return dst, true
}

// fastChatChunk is what readFastChatChunk takes from the usual chat.completion.chunk: one
// choice at most, its content, nothing else but nulls and ignorable fields.
type fastChatChunk struct {
	model      []byte // the model's bytes, needing no decoding
	choices    int
	index      int
	content    []byte // raw string literal, or nil
	contentEsc bool
}

// readFastChatChunk reads a chunk without encoding/json, for the stream translators that read
// Chat Completions streams. ok is false for a chunk it does not take (tool calls, reasoning,
// a finish reason, usage, anything unusual), which the general path then handles; what it
// takes, it reads exactly as json.Unmarshal into oaChunkIn would.
func readFastChatChunk(data []byte) (c fastChatChunk, ok bool) {
	const (
		seenID = 1 << iota
		seenModel
		seenChoices
		seenUsage
		seenError
		seenIndex
		seenDelta
		seenFinish
		seenRole
		seenContent
		seenRefusal
		seenReasoningContent
		seenReasoning
		seenToolCalls
		seenThinkingBlocks
	)
	var (
		seen       uint
		model      []byte // the model's bytes, needing no decoding
		choices    int
		index      int
		content    []byte // raw string literal
		contentEsc bool
	)
	once := func(bit uint) bool {
		if seen&bit != 0 {
			return false // encoding/json keeps the last of duplicate keys; leave that to it
		}
		seen |= bit
		return true
	}
	// null reads a null, the only value the fast path takes for some fields: decoded, it is
	// the same as an absent field.
	null := func(bit uint, v int) (int, bool) {
		if !once(bit) {
			return 0, false
		}
		return jsonIsNull(data, v)
	}
	// str reads a string or null, returning the string literal or nil.
	str := func(bit uint, v int) (raw []byte, esc bool, end int, ok bool) {
		if !once(bit) {
			return nil, false, 0, false
		}
		if end, ok := jsonIsNull(data, v); ok {
			return nil, false, end, true
		}
		end, esc, ok = jsonScanString(data, v)
		if !ok {
			return nil, false, 0, false
		}
		return data[v:end], esc, end, true
	}
	delta := func(key []byte, esc bool, v int) (int, bool) {
		if !esc {
			switch string(key) {
			case "role":
				_, _, end, ok := str(seenRole, v)
				return end, ok
			case "content":
				var end int
				var ok bool
				content, contentEsc, end, ok = str(seenContent, v)
				return end, ok
			case "refusal":
				return null(seenRefusal, v)
			case "reasoning_content":
				return null(seenReasoningContent, v)
			case "reasoning":
				return null(seenReasoning, v)
			case "tool_calls":
				return null(seenToolCalls, v)
			case "thinking_blocks":
				return null(seenThinkingBlocks, v)
			}
		}
		if ignorableKey(key, esc, oaDeltaFields) {
			return jsonSkipValue(data, v, 0)
		}
		return 0, false
	}
	choice := func(key []byte, esc bool, v int) (int, bool) {
		if !esc {
			switch string(key) {
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
			case "finish_reason":
				return null(seenFinish, v)
			}
		}
		if ignorableKey(key, esc, oaChunkChoiceFields) {
			return jsonSkipValue(data, v, 0)
		}
		return 0, false
	}
	end, ok := jsonObject(data, jsonWS(data, 0), func(key []byte, esc bool, v int) (int, bool) {
		if !esc {
			switch string(key) {
			case "id":
				_, _, end, ok := str(seenID, v)
				return end, ok
			case "model":
				raw, e, end, ok := str(seenModel, v)
				if !ok || e || (raw != nil && !utf8.Valid(raw)) {
					return 0, false
				}
				if raw != nil {
					model = raw[1 : len(raw)-1]
				}
				return end, true
			case "usage":
				return null(seenUsage, v)
			case "error":
				return null(seenError, v)
			case "choices":
				if !once(seenChoices) || v >= len(data) || data[v] != '[' {
					return 0, false
				}
				i := jsonWS(data, v+1)
				if i < len(data) && data[i] == ']' {
					return i + 1, true
				}
				choices = 1
				i, ok := jsonObject(data, i, choice)
				if !ok {
					return 0, false
				}
				if i = jsonWS(data, i); i >= len(data) || data[i] != ']' {
					return 0, false // more than one choice
				}
				return i + 1, true
			}
		}
		if ignorableKey(key, esc, oaChunkInFields) {
			return jsonSkipValue(data, v, 0)
		}
		return 0, false
	})
	if !ok || jsonWS(data, end) != len(data) {
		return c, false
	}
	return fastChatChunk{model: model, choices: choices, index: index, content: content, contentEsc: contentEsc}, true
}
