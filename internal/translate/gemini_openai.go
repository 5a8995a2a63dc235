package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// openAIToGemini serves an OpenAI Chat Completions client from Gemini on Vertex AI (schema
// GCPVertexAI): the request becomes a generateContent request (gemini_request.go), or
// streamGenerateContent?alt=sse for a stream; the answer comes back as a chat.completion, or
// event by event as chat.completion.chunk events.
type openAIToGemini struct {
	target Target
	now    func() time.Time

	includeUsage bool

	sseResponse bool
	body        bodyBuffer
	sse         SSEDecoder
	out         []byte
	stream      gmToOAStream
	usage       *gmUsage
	model       string
}

var _ Translator = (*openAIToGemini)(nil)

func newOpenAIToGemini(t Target) Translator {
	g := &openAIToGemini{target: t, now: time.Now}
	g.stream = gmToOAStream{t: g}
	return g
}

func (t *openAIToGemini) RequestBody(req *Request) (*Upstream, error) {
	var in oaChatRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid chat completion request: %v", err)
	}
	var x gmExtras
	if err := json.Unmarshal(req.Body, &x); err != nil {
		return nil, badRequest("", "request body is not a valid chat completion request: %v", err)
	}
	t.includeUsage = in.Stream && in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	out, err := geminiRequest(&in, &x, t.target.Model)
	if err != nil {
		return nil, err
	}
	if t.target.Backend.GeminiAPI() {
		if err := gmGeminiAPIOnly(out); err != nil {
			return nil, err
		}
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Gemini request: %v", err)
	}
	method := "generateContent"
	if in.Stream {
		method = "streamGenerateContent?alt=sse"
	}
	return &Upstream{Method: http.MethodPost, Path: geminiPath(t.target.Model, method), Header: geminiHeaders(),
		Remove: append(vendorHeaders[APIOpenAI], vendorHeaders[APIAnthropic]...), Body: body}, nil
}

func (t *openAIToGemini) ResponseHeaders(_ int, h http.Header) error {
	t.sseResponse = IsEventStream(h)
	h.Del("Content-Length")
	t.stream = gmToOAStream{t: t}
	return nil
}

func (t *openAIToGemini) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !t.sseResponse {
		body, whole := t.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		return t.completion(body)
	}
	t.out = t.sse.Each(t.out[:0], chunk, t.stream.event)
	if eos {
		if len(t.sse.Rest()) > 0 { // a last event without its blank line, or a cut one
			t.stream.atEOS = true
			t.out = t.sse.Each(t.out, []byte("\n\n"), t.stream.event)
		}
		t.out = t.stream.end(t.out)
	}
	return t.out, nil
}

// gmMessage is what a candidate's parts say, in OpenAI's terms.
type gmMessage struct {
	text, reasoning strings.Builder
	hasText         bool
	hasReasoning    bool
	thinking        []oaThinkingBlock
	calls           []oaToolCall
}

// add reads one part; tool calls are numbered from 0 in the order they come.
func (m *gmMessage) add(p *gmPart, id string) {
	switch {
	case p.FunctionCall != nil:
		args := string(compactJSON(p.FunctionCall.Args))
		if len(p.FunctionCall.Args) == 0 || isJSONNull(p.FunctionCall.Args) {
			args = "{}"
		}
		m.calls = append(m.calls, oaToolCall{ID: gmCallID(id, len(m.calls), p), Type: "function",
			Function: oaFunctionCall{Name: p.FunctionCall.Name, Arguments: args}})
	case p.Text != nil && p.Thought:
		m.reasoning.WriteString(*p.Text)
		m.hasReasoning = true
		m.thinking = append(m.thinking, gmThinkingBlock(p))
	case !p.Thought && p.InlineData == nil && p.FileData == nil && (p.Text != nil || p.ThoughtSignature != ""):
		if p.Text != nil {
			m.text.WriteString(*p.Text)
			m.hasText = true
		}
		if p.ThoughtSignature != "" {
			m.thinking = append(m.thinking, gmTextSignatureBlock(p.ThoughtSignature))
		}
	}
}

// gmTextSignaturePrefix marks the signature of a thinking block that carries the thought
// signature of a text part (Gemini 3 signs text too, often on the last part of an answer): the
// block has no thinking of its own, and its signature goes back on the assistant message's last
// text part instead of on a thought part. Clients keep thinking_blocks for Gemini's thought
// signatures already; this one rides along with them.
const gmTextSignaturePrefix = "aigw.gemini.text."

// gmTextSignatureBlock is the thinking block of a text part's thought signature.
func gmTextSignatureBlock(sig string) oaThinkingBlock {
	return oaThinkingBlock{Type: "thinking", Thinking: ptr(""), Signature: ptr(gmTextSignaturePrefix + sig)}
}

// gmThinkingBlock is a thought summary part as a thinking block, with its signature when it has
// one (a signed block goes back to Gemini as it came).
func gmThinkingBlock(p *gmPart) oaThinkingBlock {
	b := oaThinkingBlock{Type: "thinking", Thinking: p.Text}
	if p.ThoughtSignature != "" {
		b.Signature = ptr(p.ThoughtSignature)
	}
	return b
}

// gmCallID is a tool call's id: Gemini's own when it gave one, else one made from the response
// id and the call's number, so that the same answer has the same ids whole or streamed. A thought
// signature on the call rides along after gmThoughtSep.
func gmCallID(responseID string, n int, p *gmPart) string {
	id := p.FunctionCall.ID
	if id == "" {
		id = "call_" + responseID + "_" + strconv.Itoa(n)
	}
	if p.ThoughtSignature != "" {
		id += gmThoughtSep + p.ThoughtSignature
	}
	return id
}

// completion converts a whole generateContent response into a chat.completion.
func (t *openAIToGemini) completion(body []byte) ([]byte, error) {
	var r gmResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamInvalid("the Gemini backend sent a response aigw cannot read: %v", err)
	}
	t.model = r.ModelVersion
	t.usage = r.UsageMetadata
	var choices []oaChoice
	for i := range r.Candidates {
		c := &r.Candidates[i]
		idx := gmChoiceIndex(c, i)
		var m gmMessage
		for k := range c.Content.Parts {
			m.add(&c.Content.Parts[k], gmCandidateID(r.ResponseID, idx))
		}
		finish := gmFinishReason(c.FinishReason, len(m.calls) > 0)
		choices = append(choices, oaChoice{Index: idx, Message: m.message(), FinishReason: &finish})
	}
	if len(choices) == 0 {
		finish := "stop"
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			finish = "content_filter"
		}
		choices = []oaChoice{{Index: 0, Message: oaMessage{Role: "assistant"}, FinishReason: &finish}}
	}
	res := oaChatCompletion{
		ID: gmCompletionID(r.ResponseID), Object: "chat.completion", Created: t.created(&r), Model: t.responseModel(),
		Choices: choices,
		Usage:   r.UsageMetadata.openAI(),
	}
	out, err := marshalJSON(res)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the chat completion: %v", err)
	}
	return out, nil
}

// created is the response's creation time (Vertex's createTime), or now.
func (t *openAIToGemini) created(r *gmResponse) int64 {
	if ts, err := time.Parse(time.RFC3339Nano, r.CreateTime); err == nil {
		return ts.Unix()
	}
	return t.now().Unix()
}

// responseModel is the model the backend reported, or the one asked for.
func (t *openAIToGemini) responseModel() string {
	if t.model != "" {
		return t.model
	}
	return t.target.Model
}

// message is the assistant message the parts make.
func (m *gmMessage) message() oaMessage {
	msg := oaMessage{Role: "assistant", ToolCalls: m.calls, ThinkingBlocks: m.thinking}
	if m.hasText {
		msg.Content.Text = ptr(m.text.String())
	}
	if m.hasReasoning {
		msg.ReasoningContent = ptr(m.reasoning.String())
	}
	return msg
}

// gmChoiceIndex is the OpenAI choice index of the i-th candidate: its own index (candidateCount
// > 1), or its position when Gemini left the index out.
func gmChoiceIndex(c *gmCandidate, i int) int {
	if c.Index == 0 && i > 0 {
		return i
	}
	return c.Index
}

// gmCandidateID is the response id tool call ids of a candidate are made from: the response's for
// the first candidate, with the candidate's index after it for the others, so that the calls of
// two choices never share an id.
func gmCandidateID(responseID string, idx int) string {
	if idx == 0 {
		return responseID
	}
	return responseID + "_c" + strconv.Itoa(idx)
}

// gmCompletionID is the chat completion id for a Gemini response id.
func gmCompletionID(responseID string) string { return "chatcmpl-" + responseID }

// gmFinishReasons maps Gemini finish reasons to OpenAI's; unlisted ones are "stop".
var gmFinishReasons = map[string]string{
	"STOP":                    "stop",
	"MAX_TOKENS":              "length",
	"SAFETY":                  "content_filter",
	"RECITATION":              "content_filter",
	"BLOCKLIST":               "content_filter",
	"PROHIBITED_CONTENT":      "content_filter",
	"SPII":                    "content_filter",
	"IMAGE_SAFETY":            "content_filter",
	"MALFORMED_FUNCTION_CALL": "stop",
}

// gmFinishReason is the OpenAI finish_reason; an answer with tool calls finishes with tool_calls.
func gmFinishReason(reason string, calls bool) string {
	if calls && (reason == "STOP" || reason == "") {
		return "tool_calls"
	}
	if f, ok := gmFinishReasons[reason]; ok {
		return f
	}
	return "stop"
}

func (t *openAIToGemini) ResponseError(status int, _ http.Header, body []byte) []byte {
	return gmErrorToOpenAI(status, body)
}

// gmErrorToOpenAI is a Google error body as OpenAI's error, with Google's message and status
// when the body is Google's and the upstream's text otherwise.
func gmErrorToOpenAI(status int, body []byte) []byte {
	if msg, code := gmErrorMessage(body); msg != "" {
		return ErrorBody(APIOpenAI, &Error{Status: status, Code: code, Message: msg})
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

// gmErrorMessage reads a Google error body, {"error":{...}} or (from stream methods) a one-item
// array of it.
func gmErrorMessage(body []byte) (message, status string) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []gmErrorBody
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 && arr[0].Error != nil {
			return arr[0].Error.Message, arr[0].Error.Status
		}
		return "", ""
	}
	var e gmErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		return e.Error.Message, e.Error.Status
	}
	return "", ""
}

func (t *openAIToGemini) Usage() Usage          { return t.usage.usage() }
func (t *openAIToGemini) ResponseModel() string { return t.model }
