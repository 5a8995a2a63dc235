package translate

import (
	"encoding/json"
	"net/http"
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
type gmToOAStream struct {
	t       *openAIToGemini
	started bool
	id      string
	created int64
	calls   int
	finish  string
	ended   bool // a finishReason came
	done    bool // nothing more may be written
	atEOS   bool // the upstream body has ended: an unreadable event was cut off
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
		dst = s.chunk(dst, oaDelta{Role: "assistant", Content: ptr("")}, nil)
	}
	if len(r.Candidates) == 0 {
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			s.finish, s.ended = "content_filter", true
		}
		return dst
	}
	c := &r.Candidates[0]
	for i := range c.Content.Parts {
		p := &c.Content.Parts[i]
		switch {
		case p.FunctionCall != nil:
			var m gmMessage
			m.add(p, r.ResponseID)
			tc := m.calls[0]
			tc.ID = gmCallID(r.ResponseID, s.calls, p)
			tc.Index = ptr(s.calls)
			s.calls++
			dst = s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
		case p.Text != nil && p.Thought:
			d := oaDelta{ReasoningContent: p.Text}
			if p.ThoughtSignature != "" {
				d.ThinkingBlocks = []oaThinkingBlock{gmThinkingBlock(p)}
			}
			dst = s.chunk(dst, d, nil)
		case !p.Thought && p.ThoughtSignature != "":
			d := oaDelta{ThinkingBlocks: []oaThinkingBlock{gmTextSignatureBlock(p.ThoughtSignature)}}
			if p.Text != nil && *p.Text != "" {
				d.Content = p.Text
			}
			dst = s.chunk(dst, d, nil)
		case p.Text != nil && *p.Text != "":
			dst = s.chunk(dst, oaDelta{Content: p.Text}, nil)
		}
	}
	if c.FinishReason != "" {
		s.finish, s.ended = gmFinishReason(c.FinishReason, s.calls > 0), true
	}
	return dst
}

// end finishes the stream when the upstream body ends.
func (s *gmToOAStream) end(dst []byte) []byte {
	if s.done {
		return dst
	}
	if !s.ended {
		return s.fail(dst, http.StatusBadGateway, "upstream_stream_truncated", "the Gemini backend's stream ended before the answer was complete")
	}
	s.done = true
	dst = s.chunk(dst, oaDelta{}, &s.finish)
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
func (s *gmToOAStream) chunk(dst []byte, d oaDelta, finish *string) []byte {
	c := oaChunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.t.responseModel(),
		Choices: []oaChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
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
