package translate

import (
	"encoding/json"
	"strconv"
	"strings"
)

// chatToRsStream turns chat.completion.chunk events into the Responses event sequence:
//
//   - the first chunk → response.created, response.in_progress;
//   - reasoning deltas → a reasoning item (output_item.added, reasoning_summary_part.added,
//     reasoning_summary_text.delta…); the thinking_blocks chunk that ends an Anthropic thinking
//     block gives the item its encrypted_content (the signature);
//   - content deltas → a message item (output_item.added, content_part.added,
//     output_text.delta…);
//   - each tool call → a function_call item (output_item.added,
//     function_call_arguments.delta…), or a custom_tool_call for a custom tool;
//   - starting an item closes the open one (its …done events and output_item.done), as
//     OpenAI streams items one after the other; [DONE] closes the last and ends with response.completed, or
//     response.incomplete when the output was cut (length, content filter), carrying the whole
//     output and the usage;
//   - an error chunk, or a stream cut short, → an error event and response.failed.
//
// Every event has its sequence_number; items their output_index, parts their content_index or
// summary_index. Only the items' texts are kept, for their …done events and the final response.
type chatToRsStream struct {
	t       *responsesToChat
	started bool
	done    bool
	seq     int
	ids     rsIDs
	resp    rsResponse
	items   []*rsStreamItem // in output order
	open    *rsStreamItem   // the open item; items are streamed one after the other
	// tools are the function call items by the chat tool call index. A fragment for a call
	// already closed (a backend interleaving parallel calls) still reaches the final response.
	tools  map[int]*rsStreamItem
	finish *string
	usage  *oaUsage
	// scratch is reused by the fast path to decode strings.
	scratch []byte
}

// rsStreamItem is one output item of a stream.
type rsStreamItem struct {
	kind      string // message, reasoning, call
	index     int
	id        string
	text      strings.Builder // message or reasoning text, call arguments
	callID    string
	name      string
	block     oaThinkingBlock // a reasoning item's signature or redacted data
	summary   bool            // a reasoning item has its summary part
	done      bool
	finalItem rsItem
}

func (s *chatToRsStream) event(dst []byte, ev SSEEvent) []byte {
	if s.done || len(ev.Data) == 0 {
		return dst
	}
	if string(ev.Data) == "[DONE]" {
		return s.complete(dst)
	}
	if !s.t.generalOnly && s.started {
		if out, ok := s.fastChunk(dst, ev.Data); ok {
			return out
		}
	}
	var c oaChunkIn
	if err := json.Unmarshal(ev.Data, &c); err != nil {
		return s.fail(dst, "invalid_upstream_response", "the backend sent an event aigw cannot read")
	}
	if c.Error != nil {
		code := jsonString(c.Error.Code)
		if code == "" {
			code = c.Error.Type
		}
		return s.fail(dst, code, c.Error.Message)
	}
	if !s.started {
		if len(c.Choices) == 0 && c.Usage == nil {
			return dst // Azure's content-filter preamble comes before the completion's first chunk
		}
		dst = s.start(dst, &c)
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	if len(c.Choices) == 0 {
		return dst
	}
	ch := &c.Choices[0]
	d := &ch.Delta
	if r := d.reasoningText(); r != "" {
		dst = s.reasoningDelta(dst, r)
	}
	for _, tb := range d.ThinkingBlocks {
		dst = s.thinkingBlock(dst, tb)
	}
	if d.Content != nil && *d.Content != "" {
		dst = s.textDelta(dst, *d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		dst = s.textDelta(dst, *d.Refusal)
	}
	for i, tc := range d.ToolCalls {
		idx := i
		if tc.Index != nil {
			idx = *tc.Index
		}
		dst = s.toolDelta(dst, idx, &tc)
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.finish = ch.FinishReason
	}
	return dst
}

func (s *chatToRsStream) start(dst []byte, c *oaChunkIn) []byte {
	s.started = true
	s.ids = newRsIDs(c.ID)
	s.resp = s.t.newResponse(&s.ids, c.Created, c.Model)
	dst = s.emit(dst, "response.created", &rsResponseEvent{Response: s.resp})
	return s.emit(dst, "response.in_progress", &rsResponseEvent{Response: s.resp})
}

// emit appends one event with the next sequence number.
func (s *chatToRsStream) emit(dst []byte, typ string, ev any) []byte {
	switch e := ev.(type) {
	case *rsResponseEvent:
		e.Type, e.Sequence = typ, s.seq
	case *rsItemEvent:
		e.Type, e.Sequence = typ, s.seq
	case *rsPartEvent:
		e.Type, e.Sequence = typ, s.seq
	case *rsDeltaEvent:
		e.Type, e.Sequence = typ, s.seq
	case *rsErrorEvent:
		e.Type, e.Sequence = typ, s.seq
	}
	s.seq++
	return appendSSEJSON(dst, typ, ev)
}

// add opens a new output item, closing the open message or reasoning item first.
func (s *chatToRsStream) add(dst []byte, it *rsStreamItem) []byte {
	dst = s.closeOpen(dst)
	it.index = len(s.items)
	s.items = append(s.items, it)
	var item rsItem
	switch it.kind {
	case "message":
		item = rsItem{Type: "message", ID: it.id, Status: "in_progress", Role: "assistant", Content: rsContent{Parts: []rsPart{}}}
		s.open = it
	case "reasoning":
		item = rsItem{Type: "reasoning", ID: it.id, Summary: []rsPart{}}
		s.open = it
	case "call":
		s.open = it
		item = s.t.callItem(it.id, it.callID, it.name, "", "in_progress")
		if item.Arguments != nil {
			item.Arguments = ptr("")
		}
		if item.Input != nil {
			item.Input = ptr("")
		}
	}
	return s.emit(dst, "response.output_item.added", &rsItemEvent{OutputIndex: it.index, Item: item})
}

func (s *chatToRsStream) reasoningDelta(dst []byte, text string) []byte {
	if s.open == nil || s.open.kind != "reasoning" {
		dst = s.add(dst, &rsStreamItem{kind: "reasoning", id: s.ids.next("rs")})
	}
	it := s.open
	if !it.summary {
		it.summary = true
		dst = s.emit(dst, "response.reasoning_summary_part.added", &rsPartEvent{ItemID: it.id, OutputIndex: it.index, SummaryIndex: ptr(0), Part: rsPart{Type: "summary_text", Text: ptr("")}})
	}
	it.text.WriteString(text)
	return s.emit(dst, "response.reasoning_summary_text.delta", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, SummaryIndex: ptr(0), Delta: &text})
}

// thinkingBlock takes the whole thinking block an Anthropic backend ends a thinking block with:
// its signature belongs to the open reasoning item. A redacted block is an item of its own.
func (s *chatToRsStream) thinkingBlock(dst []byte, tb oaThinkingBlock) []byte {
	switch {
	case tb.Type == "redacted_thinking":
		dst = s.add(dst, &rsStreamItem{kind: "reasoning", id: s.ids.next("rs"), block: tb})
		return s.closeOpen(dst)
	case s.open != nil && s.open.kind == "reasoning":
		s.open.block = tb
		return s.closeOpen(dst)
	case tb.Signature != nil && *tb.Signature != "":
		it := &rsStreamItem{kind: "reasoning", id: s.ids.next("rs"), block: tb}
		dst = s.add(dst, it)
		if tb.Thinking != nil && *tb.Thinking != "" {
			dst = s.reasoningDelta(dst, *tb.Thinking)
		}
		return s.closeOpen(dst)
	}
	return dst
}

func (s *chatToRsStream) textDelta(dst []byte, text string) []byte {
	it := s.openMessage(&dst)
	it.text.WriteString(text)
	return s.emit(dst, "response.output_text.delta", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, ContentIndex: ptr(0), Delta: &text, Logprobs: &[]json.RawMessage{}})
}

// openMessage is the open message item, started (its events appended to dst) if need be.
func (s *chatToRsStream) openMessage(dst *[]byte) *rsStreamItem {
	if s.open == nil || s.open.kind != "message" {
		it := &rsStreamItem{kind: "message", id: s.ids.next("msg")}
		*dst = s.add(*dst, it)
		*dst = s.emit(*dst, "response.content_part.added", &rsPartEvent{ItemID: it.id, OutputIndex: it.index, ContentIndex: ptr(0), Part: outputText("")})
	}
	return s.open
}

// fastChunk is event for the usual text chunk after the first (see readFastChatChunk), its
// output_text.delta written by hand exactly as emit would write it.
func (s *chatToRsStream) fastChunk(dst, data []byte) (_ []byte, ok bool) {
	c, ok := readFastChatChunk(data)
	if !ok {
		return dst, false
	}
	if c.choices != 1 || c.index != 0 || len(c.content) <= 2 {
		return dst, true // nothing for the client: a role, an empty content, no choice
	}
	it := s.openMessage(&dst)
	text := jsonStringValue(c.content, c.contentEsc, &s.scratch)
	it.text.Write(text)
	dst = append(dst, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, int64(s.seq), 10)
	s.seq++
	dst = append(dst, `,"item_id":`...)
	dst = appendJSONString(dst, it.id)
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.index), 10)
	dst = append(dst, `,"content_index":0,"delta":`...)
	dst = appendJSONString(dst, text)
	return append(dst, ",\"logprobs\":[]}\n\n"...), true
}

func (s *chatToRsStream) toolDelta(dst []byte, idx int, tc *oaToolCall) []byte {
	if s.tools == nil {
		s.tools = map[int]*rsStreamItem{}
	}
	it := s.tools[idx]
	if it == nil {
		it = &rsStreamItem{kind: "call", id: s.ids.next("fc"), callID: tc.ID, name: tc.Function.Name}
		if it.callID == "" {
			it.callID = "call_" + it.id
		}
		s.tools[idx] = it
		dst = s.add(dst, it)
	}
	if tc.Function.Arguments == "" {
		return dst
	}
	it.text.WriteString(tc.Function.Arguments)
	if it.done {
		it.finalItem = s.t.callItem(it.id, it.callID, it.name, it.text.String(), "completed")
		return dst
	}
	if s.t.custom[it.name] {
		return dst // the input is a JSON string inside the arguments; given whole when done
	}
	args := tc.Function.Arguments
	return s.emit(dst, "response.function_call_arguments.delta", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, Delta: &args})
}

// closeOpen ends the open item.
func (s *chatToRsStream) closeOpen(dst []byte) []byte {
	it := s.open
	if it == nil {
		return dst
	}
	s.open = nil
	return s.close(dst, it)
}

// close writes an item's closing events and keeps its final form for the response.
func (s *chatToRsStream) close(dst []byte, it *rsStreamItem) []byte {
	if it.done {
		return dst
	}
	it.done = true
	text := it.text.String()
	switch it.kind {
	case "message":
		dst = s.emit(dst, "response.output_text.done", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, ContentIndex: ptr(0), Text: &text, Logprobs: &[]json.RawMessage{}})
		dst = s.emit(dst, "response.content_part.done", &rsPartEvent{ItemID: it.id, OutputIndex: it.index, ContentIndex: ptr(0), Part: outputText(text)})
		it.finalItem = messageItem(it.id, text, "completed")
	case "reasoning":
		if it.summary {
			dst = s.emit(dst, "response.reasoning_summary_text.done", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, SummaryIndex: ptr(0), Text: &text})
			dst = s.emit(dst, "response.reasoning_summary_part.done", &rsPartEvent{ItemID: it.id, OutputIndex: it.index, SummaryIndex: ptr(0), Part: rsPart{Type: "summary_text", Text: &text}})
		}
		tb := it.block
		tb.Thinking = &text
		if tb.Type == "" {
			tb.Type = "thinking"
		}
		it.finalItem = reasoningItem(it.id, tb)
	case "call":
		it.finalItem = s.t.callItem(it.id, it.callID, it.name, text, "completed")
		if it.finalItem.Arguments != nil {
			dst = s.emit(dst, "response.function_call_arguments.done", &rsDeltaEvent{ItemID: it.id, OutputIndex: it.index, Arguments: it.finalItem.Arguments})
		}
	}
	return s.emit(dst, "response.output_item.done", &rsItemEvent{OutputIndex: it.index, Item: it.finalItem})
}

// complete ends a finished stream with response.completed (or incomplete).
func (s *chatToRsStream) complete(dst []byte) []byte {
	if !s.started {
		return s.fail(dst, "invalid_upstream_response", "the backend's stream ended without a completion")
	}
	dst = s.closeOpen(dst)
	for _, it := range s.items {
		dst = s.close(dst, it)
	}
	s.done = true
	r := s.resp
	r.Output = make([]rsItem, 0, len(s.items))
	for _, it := range s.items {
		r.Output = append(r.Output, it.finalItem)
	}
	r.Usage = rsUsageFromChat(s.usage)
	s.t.finish(&r, s.finish)
	typ := "response.completed"
	if r.Status == "incomplete" {
		typ = "response.incomplete"
	}
	return s.emit(dst, typ, &rsResponseEvent{Response: r})
}

// end is called when the body ends: a stream that finished without [DONE] is completed, one cut
// before it finished fails.
func (s *chatToRsStream) end(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.finish != nil {
		return s.complete(dst)
	}
	return s.fail(dst, "upstream_stream_truncated", "the backend's stream ended before the response was complete")
}

// fail ends the stream with an error event and response.failed.
func (s *chatToRsStream) fail(dst []byte, code, message string) []byte {
	s.done = true
	if code == "" {
		code = "server_error"
	}
	dst = s.emit(dst, "error", &rsErrorEvent{Code: code, Message: message})
	if !s.started {
		s.ids = newRsIDs("")
		s.resp = s.t.newResponse(&s.ids, 0, s.t.target.Model)
	}
	r := s.resp
	r.Status = "failed"
	r.Error = &rsError{Code: code, Message: message}
	r.Usage = rsUsageFromChat(s.usage)
	return s.emit(dst, "response.failed", &rsResponseEvent{Response: r})
}
