package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// streamMessage sends the answer as Anthropic streams it: message_start, then for each content
// block content_block_start, (a ping after the first), deltas and content_block_stop, then
// message_delta with the stop reason and cumulative output tokens, then message_stop.
func (s *Server) streamMessage(w http.ResponseWriter, r *http.Request, msg *anthropicMessageResponse, p anthropicPlan) {
	buf := s.getBuf()
	e := s.newSSE(r.Context(), w, *buf)
	defer func() { *buf = e.end(); s.putBuf(buf) }()

	// event appends one event whose data is v encoded with encoding/json, and sends it.
	event := func(name string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		e.buf = append(e.buf, "event: "...)
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, "\ndata: "...)
		e.buf = append(e.buf, data...)
		e.buf = append(e.buf, "\n\n"...)
		return e.flush()
	}
	// delta sends one content_block_delta; value is already escaped for a JSON string.
	delta := func(index int, kind, field, value string) error {
		e.buf = append(e.buf, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
		e.buf = strconv.AppendInt(e.buf, int64(index), 10)
		e.buf = append(e.buf, `,"delta":{"type":"`...)
		e.buf = append(e.buf, kind...)
		e.buf = append(e.buf, `","`...)
		e.buf = append(e.buf, field...)
		e.buf = append(e.buf, `":"`...)
		e.buf = append(e.buf, value...)
		e.buf = append(e.buf, "\"}}\n\n"...)
		return e.flush()
	}
	stop := func(index int) error {
		e.buf = append(e.buf, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
		e.buf = strconv.AppendInt(e.buf, int64(index), 10)
		e.buf = append(e.buf, "}\n\n"...)
		return e.flush()
	}
	pinged := false
	start := func(index int, block responseBlock) error {
		if err := event("content_block_start", blockStartEvent{Type: "content_block_start", Index: index, ContentBlock: block}); err != nil {
			return err
		}
		if pinged {
			return nil
		}
		pinged = true
		e.buf = append(e.buf, "event: ping\ndata: {\"type\": \"ping\"}\n\n"...)
		return e.flush()
	}

	e.begin("text/event-stream")
	startMsg := *msg
	startMsg.Content = []responseBlock{}
	startMsg.Usage.OutputTokens = 1
	if event("message_start", messageStartEvent{Type: "message_start", Message: startMsg}) != nil {
		return
	}
	index := 0
	empty := ""
	if p.thinking.n > 0 {
		if start(index, responseBlock{Type: "thinking", Thinking: &empty, Signature: &empty}) != nil {
			return
		}
		for i := 0; i < p.thinking.n; i++ {
			if e.pace() != nil || delta(index, "thinking_delta", "thinking", p.thinking.at(i).escaped) != nil {
				return
			}
		}
		if delta(index, "signature_delta", "signature", p.signature) != nil || stop(index) != nil {
			return
		}
		index++
	}
	if p.tool != nil {
		block := responseBlock{Type: "tool_use", ID: s.toolUseID(), Name: p.tool.name, Input: []byte("{}")}
		if start(index, block) != nil {
			return
		}
		for _, piece := range p.tool.pieces {
			if e.pace() != nil || delta(index, "input_json_delta", "partial_json", string(appendEscaped(nil, piece))) != nil {
				return
			}
		}
	} else {
		if start(index, responseBlock{Type: "text", Text: &empty}) != nil {
			return
		}
		for i := 0; i < p.text.n; i++ {
			if e.pace() != nil || delta(index, "text_delta", "text", p.text.at(i).escaped) != nil {
				return
			}
		}
	}
	if stop(index) != nil {
		return
	}
	var md messageDeltaEvent
	md.Type = "message_delta"
	md.Delta.StopReason = p.stopReason()
	md.Usage.OutputTokens = p.outputTokens()
	if event("message_delta", md) != nil {
		return
	}
	e.buf = append(e.buf, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	_ = e.flush()
}
