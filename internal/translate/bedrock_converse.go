package translate

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// openAIToBedrock serves an OpenAI Chat Completions client from Bedrock Converse (AWSBedrock
// backends): POST /model/{id}/converse, or /converse-stream for a streamed answer, whose body
// is binary AWS event-stream frames, decoded frame by frame and re-encoded as
// chat.completion.chunk events (bedrock_converse_stream.go). The request is converted in
// bedrock_converse_request.go; the credential (SigV4) is the backend's handler's.
type openAIToBedrock struct {
	target Target
	now    func() time.Time

	includeUsage bool
	stream       bool
	// jsonTool: response_format json_object is served by the forced jsonToolName tool.
	jsonTool bool
	// generalOnly turns the fast paths for the request (bedrock_converse_request_fast.go) and
	// whole answers (bedrock_converse_answer.go) off, for tests that compare them with the
	// general path.
	generalOnly bool

	eventStream bool
	requestID   string
	id          string // chatID's
	body        bodyBuffer
	frames      awsEventDecoder
	out         []byte
	cs          cvToOAStream
	usage       Usage
}

var _ Translator = (*openAIToBedrock)(nil)

func newOpenAIToBedrock(t Target) Translator {
	return &openAIToBedrock{target: t, now: time.Now}
}

func (t *openAIToBedrock) RequestBody(req *Request) (*Upstream, error) {
	body, ok := []byte(nil), false
	if !t.generalOnly {
		body, ok = t.fastConverseRequest(req.Body)
	}
	if !ok {
		var err error
		if body, err = t.converseBody(req.Body); err != nil {
			return nil, err
		}
	}
	op := "converse"
	if t.stream {
		op = "converse-stream"
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Upstream{Method: http.MethodPost, Path: bedrockModelPath(t.target.Model, op), Header: h, Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

// converseBody is the Converse body for a chat body, by the general path: the chat body and its
// Bedrock extensions decoded, converted, and encoded.
func (t *openAIToBedrock) converseBody(b []byte) ([]byte, error) {
	var in oaChatRequest
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, badRequest("", "request body is not a valid chat completion request: %v", err)
	}
	var ext bedrockExtensions
	if mayHaveBedrockExtensions(b) {
		if err := json.Unmarshal(b, &ext); err != nil {
			return nil, badRequest("", "request body has an invalid Bedrock field: %v", err)
		}
	}
	t.stream = in.Stream
	t.includeUsage = in.Stream && in.StreamOptions != nil && in.StreamOptions.IncludeUsage
	out, err := t.converseRequest(&in, &ext)
	if err != nil {
		return nil, err
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Converse request: %v", err)
	}
	return body, nil
}

func (t *openAIToBedrock) ResponseHeaders(_ int, h http.Header) error {
	t.requestID, t.id = h.Get("X-Amzn-Requestid"), ""
	t.eventStream = IsAWSEventStream(h)
	if t.eventStream {
		h.Set("Content-Type", "text/event-stream")
	}
	h.Del("Content-Length")
	t.cs = cvToOAStream{t: t}
	return nil
}

func (t *openAIToBedrock) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !t.eventStream {
		body, whole := t.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		return t.completion(body)
	}
	if cap(t.out) == 0 {
		// A text chunk is about twice the frame it comes from: one allocation, not a dozen.
		t.out = make([]byte, 0, 2*len(chunk)+512)
	}
	t.out = t.out[:0]
	if err := t.frames.each(chunk, t.cs.frame); err != nil && !t.cs.done {
		t.out = t.cs.fail(t.out, &Error{Status: http.StatusBadGateway, Code: "invalid_upstream_response", Message: "the Bedrock backend sent a stream aigw cannot read: " + err.Error()})
	}
	if eos {
		t.out = t.cs.end(t.out)
	}
	return t.out, nil
}

// chatID is the id of the answer: Bedrock's request id, which it does not repeat in the body.
// It is made once per answer, since every chunk of a stream carries it.
func (t *openAIToBedrock) chatID() string {
	if t.id == "" {
		t.id = "chatcmpl-bedrock"
		if t.requestID != "" {
			t.id = "chatcmpl-" + t.requestID
		}
	}
	return t.id
}

// completion converts a whole Converse response to a chat.completion.
func (t *openAIToBedrock) completion(body []byte) ([]byte, error) {
	if !t.generalOnly {
		if out, ok := t.fastCompletion(body); ok {
			return out, nil
		}
	}
	var r cvResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamInvalid("the Bedrock backend sent a response aigw cannot read: %v", err)
	}
	if r.Usage != nil {
		t.usage = r.Usage.usage()
	}
	// The nil-output guard: a response without a message (seen from some models after a
	// guardrail or a cut-off) is an error for the client, never an empty success or a crash.
	if r.Output == nil || r.Output.Message == nil {
		return nil, upstreamInvalid("the Bedrock backend's response has no output message (stopReason %q)", r.StopReason)
	}
	msg := oaMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	hasText, hasReasoning := false, false
	for _, b := range r.Output.Message.Content {
		switch {
		case b.Text != nil:
			text.WriteString(*b.Text)
			hasText = true
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			rt := b.ReasoningContent.ReasoningText
			reasoning.WriteString(rt.Text)
			hasReasoning = true
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "thinking", Thinking: ptr(rt.Text), Signature: ptr(rt.Signature)})
		case b.ReasoningContent != nil && len(b.ReasoningContent.RedactedContent) > 0:
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)})
		case b.ToolUse != nil:
			args := string(compactJSON(b.ToolUse.Input))
			if len(b.ToolUse.Input) == 0 || isJSONNull(b.ToolUse.Input) {
				args = "{}"
			}
			if t.jsonTool && b.ToolUse.Name == jsonToolName {
				text.WriteString(args)
				hasText = true
				continue
			}
			msg.ToolCalls = append(msg.ToolCalls, oaToolCall{ID: b.ToolUse.ToolUseID, Type: "function", Function: oaFunctionCall{Name: b.ToolUse.Name, Arguments: args}})
		}
	}
	if hasText {
		msg.Content.Text = ptr(text.String())
	}
	if hasReasoning {
		msg.ReasoningContent = ptr(reasoning.String())
	}
	res := oaChatCompletion{
		ID:      t.chatID(),
		Object:  "chat.completion",
		Created: t.now().Unix(),
		Model:   t.target.Model,
		Choices: []oaChoice{{Index: 0, Message: msg, FinishReason: ptr(t.finishReason(r.StopReason))}},
		Usage:   oaUsageOf(t.usage),
	}
	out, err := marshalJSON(res)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the chat completion: %v", err)
	}
	return out, nil
}

// bedrockFinishReasons maps Converse stop reasons to OpenAI finish reasons.
var bedrockFinishReasons = map[string]string{
	"end_turn":                      "stop",
	"stop_sequence":                 "stop",
	"max_tokens":                    "length",
	"model_context_window_exceeded": "length",
	"tool_use":                      "tool_calls",
	"guardrail_intervened":          "content_filter",
	"content_filtered":              "content_filter",
}

// finishReason is the OpenAI finish_reason for a Converse stop reason; the forced JSON tool's
// call is the answer itself, so it finishes with "stop".
func (t *openAIToBedrock) finishReason(stop string) string {
	if f, ok := bedrockFinishReasons[stop]; ok && (stop != "tool_use" || !t.jsonTool) {
		return f
	}
	return "stop"
}

// oaUsageOf is aigw's usage as OpenAI reports it.
func oaUsageOf(u Usage) *oaUsage {
	out := &oaUsage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.TotalTokens, CacheCreationInputTokens: u.CacheCreationInputTokens}
	if u.CachedInputTokens > 0 {
		out.PromptTokensDetails = &oaPromptTokensDetails{CachedTokens: u.CachedInputTokens}
	}
	if u.ReasoningTokens > 0 {
		out.CompletionTokensDetails = &oaCompletionTokensDetails{ReasoningTokens: u.ReasoningTokens}
	}
	return out
}

func (t *openAIToBedrock) ResponseError(status int, h http.Header, body []byte) []byte {
	return ErrorBody(APIOpenAI, bedrockErrorBody(status, h, body))
}

func (t *openAIToBedrock) Usage() Usage          { return t.usage }
func (t *openAIToBedrock) ResponseModel() string { return t.target.Model }
