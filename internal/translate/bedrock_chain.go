package translate

import (
	"bytes"
	"net/http"
)

// chained serves one client API through two translators: outer turns the client's request into
// an intermediate API's (and that API's answers back into the client's), inner sends the
// intermediate request to the backend (and turns its answers into the intermediate API's). It is
// how Anthropic Messages reach Bedrock Converse (outer: Messages → Chat Completions, inner: Chat
// Completions → Converse) and how Chat Completions reach Claude through InvokeModel (outer: Chat
// Completions → Messages, inner: Messages → InvokeModel), each mapping written once. Usage is the
// inner translator's, read from the backend's own counts.
type chained struct {
	outer, inner Translator
	// via is the intermediate endpoint the outer translator speaks.
	via Endpoint
}

var _ Translator = (*chained)(nil)

func (c *chained) RequestBody(req *Request) (*Upstream, error) {
	mid, err := c.outer.RequestBody(req)
	if err != nil {
		return nil, err
	}
	up, err := c.inner.RequestBody(&Request{Endpoint: c.via, Body: mid.Body, Model: req.Model, Stream: req.Stream, Header: mergedHeader(req.Header, mid.Header)})
	if err != nil {
		return nil, err
	}
	up.Remove = append(up.Remove, mid.Remove...)
	return up, nil
}

// mergedHeader is the client's headers with the outer translator's set over them, as the
// inner translator would see them from a client of the intermediate API.
func mergedHeader(client, mid http.Header) http.Header {
	h := client.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range mid {
		h[k] = v
	}
	return h
}

func (c *chained) ResponseHeaders(status int, h http.Header) error {
	if err := c.inner.ResponseHeaders(status, h); err != nil {
		return err
	}
	return c.outer.ResponseHeaders(status, h)
}

func (c *chained) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	mid, err := c.inner.ResponseBody(chunk, eos)
	if err != nil {
		return nil, err
	}
	if len(mid) == 0 && !eos {
		return nil, nil
	}
	// The outer translator may keep a partial event of mid until the next call; mid is the
	// inner translator's buffer, reused then, so the outer gets its own copy.
	return c.outer.ResponseBody(bytes.Clone(mid), eos)
}

func (c *chained) ResponseError(status int, h http.Header, body []byte) []byte {
	return c.outer.ResponseError(status, h, c.inner.ResponseError(status, h, body))
}

func (c *chained) Usage() Usage          { return c.inner.Usage() }
func (c *chained) ResponseModel() string { return c.inner.ResponseModel() }

// newAnthropicToBedrock serves Anthropic Messages from Bedrock Converse, so Claude clients
// reach every Bedrock model. The chat request between the two carries Anthropic's cache_control
// and signed thinking blocks (as LiteLLM's cache_control and thinking_blocks fields, which the
// Converse translator reads as cachePoint and reasoningContent), and the signed thinking blocks
// Converse returns come back to the client as thinking blocks with their signatures, whole and
// streamed.
func newAnthropicToBedrock(t Target) Translator {
	outer := newAnthropicToOpenAI(t).(*anthropicToOpenAI)
	outer.carryAnthropic = true
	return &chained{outer: outer, inner: newOpenAIToBedrock(t), via: EndpointChatCompletions}
}

// carryAnthropicRequest adds to the chat request what the Converse translator reads beyond
// OpenAI's fields: for a Claude model, Anthropic's thinking object as the client sent it (its
// budget, which reasoning_effort would round to a level).
func carryAnthropicRequest(t Target, in *anRequest, out *oaChatRequest) {
	if in.Thinking != nil && isClaude(t.Model) {
		out.Thinking = in.Thinking
	}
}

// carriedThinking is the Anthropic thinking blocks of a chat message's thinking_blocks when
// the translator carries them (signed thinking, redacted thinking), or nil.
func (t *anthropicToOpenAI) carriedThinking(tbs []oaThinkingBlock) []anBlock {
	if !t.carryAnthropic {
		return nil
	}
	var out []anBlock
	for _, tb := range tbs {
		switch {
		case tb.Type == "thinking" && tb.Signature != nil && *tb.Signature != "":
			text := ""
			if tb.Thinking != nil {
				text = *tb.Thinking
			}
			out = append(out, anBlock{Type: "thinking", Thinking: &text, Signature: tb.Signature})
		case tb.Type == "redacted_thinking" && tb.Data != "":
			out = append(out, anBlock{Type: "redacted_thinking", Data: tb.Data})
		}
	}
	return out
}

// carriedThinking streams the thinking blocks of a chunk's thinking_blocks. The Converse
// translator sends a reasoning block's text as reasoning_content deltas and then, when the block
// ends, the whole block with its signature: the open thinking block gets the signature as a
// signature_delta and is closed (one is opened, with the text, if none was streamed). A redacted
// block is a redacted_thinking block of its own, and so is the signature of a Gemini text part
// (isGeminiTextSignature), never added to a thought's block. textSigs picks the blocks: those of
// text parts, or all others.
func (s *oaToAnStream) carriedThinking(dst []byte, tbs []oaThinkingBlock, textSigs bool) []byte {
	for _, b := range s.t.carriedThinking(tbs) {
		own := b.Signature != nil && isGeminiTextSignature(*b.Signature)
		if own != textSigs {
			continue
		}
		if own {
			dst = s.closeAll(dst)
		}
		if b.Type == "redacted_thinking" {
			dst = s.closeAll(dst)
			i := s.next
			s.next++
			dst = appendSSEJSON(dst, "content_block_start", anBlockStartEvent{Type: "content_block_start", Index: i, ContentBlock: b})
			dst = s.closeBlock(dst, i)
			continue
		}
		if s.open < 0 || s.kind != "thinking" {
			dst = s.ensureBlock(dst, "thinking")
			if *b.Thinking != "" {
				dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "thinking_delta", Thinking: b.Thinking})
			}
		}
		dst = s.blockDelta(dst, s.open, anBlockDelta{Type: "signature_delta", Signature: b.Signature})
		dst = s.closeAll(dst)
	}
	return dst
}
