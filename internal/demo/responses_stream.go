package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// responseEvent is one event of a Responses stream, for the events sent once per item; the
// per-token deltas are written by hand (appendDelta). Only the fields of the event's type are set.
type responseEvent struct {
	Type           string       `json:"type"`
	SequenceNumber int          `json:"sequence_number"`
	Response       *response    `json:"response,omitempty"`
	ItemID         string       `json:"item_id,omitempty"`
	OutputIndex    *int         `json:"output_index,omitempty"`
	ContentIndex   *int         `json:"content_index,omitempty"`
	SummaryIndex   *int         `json:"summary_index,omitempty"`
	Item           *outputItem  `json:"item,omitempty"`
	Part           any          `json:"part,omitempty"`
	Text           *string      `json:"text,omitempty"`
	Name           string       `json:"name,omitempty"`
	Arguments      *string      `json:"arguments,omitempty"`
	Logprobs       *[0]struct{} `json:"logprobs,omitempty"`
}

// responseStream writes one Responses stream: every event carries the next sequence_number.
type responseStream struct {
	*sse
	seq       int
	obfuscate bool
}

// send encodes ev with the next sequence number and flushes it.
func (rs *responseStream) send(ev responseEvent) error {
	ev.SequenceNumber = rs.seq
	rs.seq++
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	rs.buf = append(rs.buf, "event: "...)
	rs.buf = append(rs.buf, ev.Type...)
	rs.buf = append(rs.buf, "\ndata: "...)
	rs.buf = append(rs.buf, data...)
	rs.buf = append(rs.buf, "\n\n"...)
	return rs.flush()
}

// delta writes one delta event without encoding/json: the prefix up to the delta (type, item
// and indexes) is built once per item; text is escaped for a JSON string here unless escaped.
func (rs *responseStream) delta(typ, prefix, text string, escaped bool, logprobs bool) error {
	rs.buf = append(rs.buf, "event: "...)
	rs.buf = append(rs.buf, typ...)
	rs.buf = append(rs.buf, "\ndata: {\"type\":\""...)
	rs.buf = append(rs.buf, typ...)
	rs.buf = append(rs.buf, `","sequence_number":`...)
	rs.buf = strconv.AppendInt(rs.buf, int64(rs.seq), 10)
	rs.seq++
	rs.buf = append(rs.buf, prefix...)
	rs.buf = append(rs.buf, `,"delta":"`...)
	n := len(rs.buf)
	if escaped {
		rs.buf = append(rs.buf, text...)
	} else {
		rs.buf = appendEscaped(rs.buf, text)
	}
	textLen := len(rs.buf) - n
	rs.buf = append(rs.buf, '"')
	if logprobs {
		rs.buf = append(rs.buf, `,"logprobs":[]`...)
	}
	if rs.obfuscate {
		rs.buf = append(rs.buf, `,"obfuscation":"`...)
		rs.buf = append(rs.buf, obfuscation(textLen)...)
		rs.buf = append(rs.buf, '"')
	}
	rs.buf = append(rs.buf, "}\n\n"...)
	return rs.flush()
}

// itemPrefix is `,"item_id":"ID","output_index":N` plus extra, the fixed part of a delta.
func itemPrefix(id string, index int, extra string) string {
	b := append([]byte(`,"item_id":"`), id...)
	b = append(b, `","output_index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	return string(append(b, extra...))
}

// streamResponse sends the answer as the Responses API streams it: response.created and
// response.in_progress; per output item output_item.added, its parts and deltas, and
// output_item.done; then response.completed (or response.incomplete when cut by
// max_output_tokens) carrying the whole response with usage.
func (s *Server) streamResponse(w http.ResponseWriter, r *http.Request, res *response, p responsesPlan, usage responseUsage, obfuscate bool) {
	buf := s.getBuf()
	rs := &responseStream{sse: s.newSSE(r.Context(), w, *buf), obfuscate: obfuscate}
	defer func() { *buf = rs.end(); s.putBuf(buf) }()
	zero := 0
	index := func(i int) *int { return &i }

	rs.begin("text/event-stream; charset=utf-8")
	if rs.send(responseEvent{Type: "response.created", Response: res}) != nil ||
		rs.send(responseEvent{Type: "response.in_progress", Response: res}) != nil {
		return
	}
	ids := s.newItemIDs(p)
	var output []outputItem
	if p.reasoningItem {
		oi := len(output)
		added := reasoningItem(ids.reasoning, p, false)
		if rs.send(responseEvent{Type: "response.output_item.added", OutputIndex: index(oi), Item: &added}) != nil {
			return
		}
		if p.summary.n > 0 {
			part := summaryPart{Type: "summary_text"}
			if rs.send(responseEvent{Type: "response.reasoning_summary_part.added", ItemID: ids.reasoning,
				OutputIndex: index(oi), SummaryIndex: &zero, Part: part}) != nil {
				return
			}
			prefix := itemPrefix(ids.reasoning, oi, `,"summary_index":0`)
			for i := 0; i < p.summary.n; i++ {
				if rs.pace() != nil {
					return
				}
				t := p.summary.at(i)
				if rs.delta("response.reasoning_summary_text.delta", prefix, t.escaped, true, false) != nil {
					return
				}
			}
			part.Text = p.summary.text()
			if rs.send(responseEvent{Type: "response.reasoning_summary_text.done", ItemID: ids.reasoning,
				OutputIndex: index(oi), SummaryIndex: &zero, Text: &part.Text}) != nil ||
				rs.send(responseEvent{Type: "response.reasoning_summary_part.done", ItemID: ids.reasoning,
					OutputIndex: index(oi), SummaryIndex: &zero, Part: part}) != nil {
				return
			}
		}
		done := reasoningItem(ids.reasoning, p, true)
		if rs.send(responseEvent{Type: "response.output_item.done", OutputIndex: index(oi), Item: &done}) != nil {
			return
		}
		output = append(output, done)
	}
	oi := len(output)
	if p.tool != nil {
		added := callItem(ids, p.tool, "", "in_progress")
		if rs.send(responseEvent{Type: "response.output_item.added", OutputIndex: index(oi), Item: &added}) != nil {
			return
		}
		prefix := itemPrefix(ids.call, oi, "")
		for _, piece := range p.tool.pieces {
			if rs.pace() != nil {
				return
			}
			if rs.delta("response.function_call_arguments.delta", prefix, piece, false, false) != nil {
				return
			}
		}
		args := p.tool.args
		done := callItem(ids, p.tool, args, "completed")
		if rs.send(responseEvent{Type: "response.function_call_arguments.done", ItemID: ids.call,
			OutputIndex: index(oi), Name: p.tool.name, Arguments: &args}) != nil ||
			rs.send(responseEvent{Type: "response.output_item.done", OutputIndex: index(oi), Item: &done}) != nil {
			return
		}
		output = append(output, done)
	} else {
		added := messageItem(ids.message, "", false, false)
		part := outputText{Type: "output_text"}
		if rs.send(responseEvent{Type: "response.output_item.added", OutputIndex: index(oi), Item: &added}) != nil ||
			rs.send(responseEvent{Type: "response.content_part.added", ItemID: ids.message, OutputIndex: index(oi),
				ContentIndex: &zero, Part: part}) != nil {
			return
		}
		prefix := itemPrefix(ids.message, oi, `,"content_index":0`)
		for i := 0; i < p.text.n; i++ {
			if rs.pace() != nil {
				return
			}
			t := p.text.at(i)
			if rs.delta("response.output_text.delta", prefix, t.escaped, true, true) != nil {
				return
			}
		}
		part.Text = p.text.text()
		done := messageItem(ids.message, part.Text, p.truncated, true)
		if rs.send(responseEvent{Type: "response.output_text.done", ItemID: ids.message, OutputIndex: index(oi),
			ContentIndex: &zero, Text: &part.Text, Logprobs: &[0]struct{}{}}) != nil ||
			rs.send(responseEvent{Type: "response.content_part.done", ItemID: ids.message, OutputIndex: index(oi),
				ContentIndex: &zero, Part: part}) != nil ||
			rs.send(responseEvent{Type: "response.output_item.done", OutputIndex: index(oi), Item: &done}) != nil {
			return
		}
		output = append(output, done)
	}
	res.Output = output
	s.finishResponse(res, p, usage)
	final := "response.completed"
	if p.truncated {
		final = "response.incomplete"
	}
	_ = rs.send(responseEvent{Type: final, Response: res})
}
