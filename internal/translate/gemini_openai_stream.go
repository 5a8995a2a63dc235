package translate

import (
	"encoding/json"
	"net/http"
	"slices"
)

// gmToOAStream turns streamGenerateContent?alt=sse events (each a whole GenerateContentResponse
// carrying the next parts) into chat.completion.chunk events.
//
//   - the first event → a chunk with the assistant role (and the first content);
//   - a thought part → reasoning_content, plus thinking_blocks when it is signed;
//   - a text part → content, plus a thinking block with its thought signature when it is signed
//     (gmTextSignaturePrefix);
//   - a functionCall part → a whole tool call with index (numbered from 0 among calls), id, type,
//     name and arguments, in one delta (Gemini sends calls whole);
//   - usageMetadata is cumulative; the last one counts;
//   - the event with a finishReason ends the answer; when the upstream body ends, the finishing
//     chunk with an empty delta, the usage chunk (choices: []) when the client asked for it, and
//     data: [DONE] follow. An upstream that stops before a finishReason gets an error event.
//
// With candidateCount > 1 (the client's n), each candidate is the choice of its index, with its
// own first delta, tool call numbering and finishing chunk (in index order); the answer has ended
// when every candidate seen has a finishReason.
type gmToOAStream struct {
	t       *openAIToGemini
	started bool
	id      string
	created int64
	choices []gmStreamChoice // in order of appearance; choice 0 from the first event on
	done    bool             // nothing more may be written
	atEOS   bool             // the upstream body has ended: an unreadable event was cut off
}

// gmStreamChoice is the state of one candidate's choice.
type gmStreamChoice struct {
	index  int
	calls  int
	finish string // set once the candidate has a finishReason
}

func (s *gmToOAStream) event(dst []byte, ev SSEEvent) []byte {
	if s.done || len(ev.Data) == 0 {
		return dst
	}
	var r gmResponse
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		if s.atEOS {
			return s.fail(dst, http.StatusBadGateway, "upstream_stream_truncated", "the Gemini backend's stream ended before the answer was complete")
		}
		return s.fail(dst, http.StatusBadGateway, "upstream_invalid", "the Gemini backend sent an event aigw cannot read")
	}
	if r.Error != nil {
		return s.fail(dst, gmHTTPStatus(r.Error.Code), r.Error.Status, r.Error.Message)
	}
	if r.UsageMetadata != nil {
		s.t.usage = r.UsageMetadata
	}
	if r.ModelVersion != "" {
		s.t.model = r.ModelVersion
	}
	if !s.started {
		s.started = true
		s.id = gmCompletionID(r.ResponseID)
		s.created = s.t.created(&r)
		dst, _ = s.choice(dst, 0)
	}
	if len(r.Candidates) == 0 {
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" && s.choices[0].finish == "" {
			s.choices[0].finish = "content_filter"
		}
		return dst
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		var ch *gmStreamChoice
		dst, ch = s.choice(dst, gmChoiceIndex(c, i))
		dst = s.parts(dst, ch, c, gmCandidateID(r.ResponseID, ch.index))
		if c.FinishReason != "" {
			ch.finish = gmFinishReason(c.FinishReason, ch.calls > 0)
		}
	}
	return dst
}

// choice returns the state of the choice index, starting it with a delta that carries the role
// when it is new.
func (s *gmToOAStream) choice(dst []byte, index int) ([]byte, *gmStreamChoice) {
	for i := range s.choices {
		if s.choices[i].index == index {
			return dst, &s.choices[i]
		}
	}
	s.choices = append(s.choices, gmStreamChoice{index: index})
	dst = s.chunk(dst, index, oaDelta{Role: "assistant", Content: ptr("")}, nil)
	return dst, &s.choices[len(s.choices)-1]
}

// parts appends the chunks of one candidate's parts in one event.
func (s *gmToOAStream) parts(dst []byte, ch *gmStreamChoice, c *gmCandidate, responseID string) []byte {
	for i := range c.Content.Parts {
		p := &c.Content.Parts[i]
		switch {
		case p.FunctionCall != nil:
			var m gmMessage
			m.add(p, responseID)
			tc := m.calls[0]
			tc.ID = gmCallID(responseID, ch.calls, p)
			tc.Index = ptr(ch.calls)
			ch.calls++
			dst = s.chunk(dst, ch.index, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
		case p.Text != nil && p.Thought:
			d := oaDelta{ReasoningContent: p.Text}
			if p.ThoughtSignature != "" {
				d.ThinkingBlocks = []oaThinkingBlock{gmThinkingBlock(p)}
			}
			dst = s.chunk(dst, ch.index, d, nil)
		case !p.Thought && p.ThoughtSignature != "" && p.InlineData == nil && p.FileData == nil:
			d := oaDelta{ThinkingBlocks: []oaThinkingBlock{gmTextSignatureBlock(p.ThoughtSignature)}}
			if p.Text != nil && *p.Text != "" {
				d.Content = p.Text
			}
			dst = s.chunk(dst, ch.index, d, nil)
		case p.Text != nil && *p.Text != "":
			dst = s.chunk(dst, ch.index, oaDelta{Content: p.Text}, nil)
		}
	}
	return dst
}

// end finishes the stream when the upstream body ends: the finishing chunk of each choice in
// index order, the usage chunk when asked for, [DONE].
func (s *gmToOAStream) end(dst []byte) []byte {
	if s.done {
		return dst
	}
	ended := len(s.choices) > 0
	for i := range s.choices {
		ended = ended && s.choices[i].finish != ""
	}
	if !ended {
		return s.fail(dst, http.StatusBadGateway, "upstream_stream_truncated", "the Gemini backend's stream ended before the answer was complete")
	}
	s.done = true
	slices.SortFunc(s.choices, func(a, b gmStreamChoice) int { return a.index - b.index })
	for i := range s.choices {
		dst = s.chunk(dst, s.choices[i].index, oaDelta{}, &s.choices[i].finish)
	}
	if s.t.includeUsage {
		u, _ := marshalJSON(s.t.usage.openAI())
		dst = appendSSEJSON(dst, "", oaChunk{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.t.responseModel(),
			Choices: []oaChunkChoice{}, Usage: u,
		})
	}
	return AppendSSE(dst, "", []byte("[DONE]"))
}

// fail appends an OpenAI error object and ends the stream.
func (s *gmToOAStream) fail(dst []byte, status int, code, message string) []byte {
	s.done = true
	e := openAIErrorBody{Error: openAIErrorDetail{Message: message, Type: openAIErrorType(status)}}
	if code != "" {
		e.Error.Code = &code
	}
	return appendSSEJSON(dst, "", e)
}

// chunk appends one chat.completion.chunk with a single choice.
func (s *gmToOAStream) chunk(dst []byte, index int, d oaDelta, finish *string) []byte {
	c := oaChunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.t.responseModel(),
		Choices: []oaChunkChoice{{Index: index, Delta: d, FinishReason: finish}},
	}
	if s.t.includeUsage {
		c.Usage = json.RawMessage("null")
	}
	return appendSSEJSON(dst, "", c)
}

// gmHTTPStatus is the HTTP status of a Google error code (which is one), or 502.
func gmHTTPStatus(code int) int {
	if code >= 400 && code < 600 {
		return code
	}
	return http.StatusBadGateway
}
