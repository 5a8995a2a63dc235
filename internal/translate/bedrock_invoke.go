package translate

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// BedrockAnthropicVersion is the anthropic_version Claude on Bedrock's InvokeModel takes in the
// body (the Messages API's anthropic-version header has no place there).
const BedrockAnthropicVersion = "bedrock-2023-05-31"

// anthropicToBedrockInvoke serves Anthropic Messages from Claude on Bedrock (AWSAnthropic):
// InvokeModel (POST /model/{id}/invoke) or InvokeModelWithResponseStream
// (/invoke-with-response-stream) with the Messages body itself, minus model and stream (the model
// is in the path), plus anthropic_version, and the anthropic-beta header as the anthropic_beta
// list. A whole answer is the Anthropic message as is; a stream is event-stream frames whose
// "chunk" events each carry one Anthropic stream event (base64 in "bytes"), unwrapped into SSE
// and read for usage by the Anthropic passthrough.
type anthropicToBedrockInvoke struct {
	target      Target
	eventStream bool
	frames      awsEventDecoder
	sse         []byte
	out         []byte
	inner       *anthropicPassthrough
	stopped     bool
	failed      bool
}

var _ Translator = (*anthropicToBedrockInvoke)(nil)

func newAnthropicToBedrockInvoke(t Target) Translator {
	return &anthropicToBedrockInvoke{target: t, inner: &anthropicPassthrough{target: t}}
}

// newOpenAIToBedrockAnthropic serves Chat Completions from Claude on Bedrock, through the
// Chat Completions → Messages translation.
func newOpenAIToBedrockAnthropic(t Target) Translator {
	return &chained{outer: newOpenAIToAnthropic(t), inner: newAnthropicToBedrockInvoke(t), via: EndpointMessages}
}

func (t *anthropicToBedrockInvoke) RequestBody(req *Request) (*Upstream, error) {
	if !gjson.ValidBytes(req.Body) || !gjson.ParseBytes(req.Body).IsObject() {
		return nil, badRequest("", "request body is not a JSON object")
	}
	stream := gjson.GetBytes(req.Body, "stream").Bool()
	body, err := sjson.DeleteBytes(req.Body, "model")
	if err == nil {
		body, err = sjson.DeleteBytes(body, "stream")
	}
	if err == nil {
		body, err = sjson.SetBytes(body, "anthropic_version", BedrockAnthropicVersion)
	}
	if beta := anthropicBetas(req.Header); err == nil && len(beta) > 0 {
		body, err = sjson.SetBytes(body, "anthropic_beta", beta)
	}
	if err != nil {
		return nil, badRequest("", "cannot rewrite the request for Bedrock: %v", err)
	}
	op := "invoke"
	if stream {
		op = "invoke-with-response-stream"
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	if stream {
		// The stream is event-stream frames; the body of each chunk is JSON.
		h.Set("Accept", AWSEventStreamType)
		h.Set("X-Amzn-Bedrock-Accept", "application/json")
	}
	return &Upstream{Method: http.MethodPost, Path: bedrockModelPath(t.target.Model, op), Header: h, Remove: vendorHeaders[APIAnthropic], Body: body}, nil
}

// anthropicBetas splits the anthropic-beta headers ("a,b" or repeated) into a list.
func anthropicBetas(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Anthropic-Beta") {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

func (t *anthropicToBedrockInvoke) ResponseHeaders(status int, h http.Header) error {
	t.eventStream = IsAWSEventStream(h)
	if t.eventStream {
		h.Set("Content-Type", "text/event-stream")
		h.Del("Content-Length")
	}
	return t.inner.ResponseHeaders(status, h)
}

func (t *anthropicToBedrockInvoke) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !t.eventStream {
		return t.inner.ResponseBody(chunk, eos)
	}
	t.sse = t.sse[:0]
	if err := t.frames.each(chunk, t.frame); err != nil && !t.failed {
		t.fail(&Error{Status: http.StatusBadGateway, Code: "invalid_upstream_response", Message: "the Bedrock backend sent a stream aigw cannot read: " + err.Error()})
	}
	if eos && !t.stopped && !t.failed {
		t.fail(&Error{Status: http.StatusBadGateway, Code: "upstream_stream_truncated", Message: "the Bedrock backend's stream ended before the message was complete"})
	}
	out, err := t.inner.ResponseBody(t.sse, eos)
	t.out = append(t.out[:0], out...)
	return t.out, err
}

// frame unwraps one chunk event into an SSE event; an exception ends the stream with an error.
func (t *anthropicToBedrockInvoke) frame(ev awsEvent) error {
	if t.failed {
		return nil
	}
	if ev.messageType == "exception" || ev.messageType == "error" {
		t.fail(bedrockStreamError(ev))
		return nil
	}
	if ev.eventType != "chunk" {
		return nil
	}
	var c struct {
		Bytes []byte `json:"bytes"`
	}
	if err := json.Unmarshal(ev.payload, &c); err != nil || len(c.Bytes) == 0 {
		t.fail(upstreamInvalid("the Bedrock backend sent a chunk aigw cannot read"))
		return nil
	}
	typ := gjson.GetBytes(c.Bytes, "type").String()
	if typ == "" {
		t.fail(upstreamInvalid("the Bedrock backend sent a chunk without an event type"))
		return nil
	}
	if typ == "message_stop" {
		t.stopped = true
	}
	t.sse = AppendSSE(t.sse, typ, c.Bytes)
	return nil
}

func (t *anthropicToBedrockInvoke) fail(e *Error) {
	t.failed = true
	t.sse = AppendStreamError(t.sse, APIAnthropic, e)
}

func (t *anthropicToBedrockInvoke) ResponseError(status int, h http.Header, body []byte) []byte {
	return ErrorBody(APIAnthropic, bedrockErrorBody(status, h, body))
}

func (t *anthropicToBedrockInvoke) Usage() Usage { return t.inner.Usage() }

func (t *anthropicToBedrockInvoke) ResponseModel() string {
	if m := t.inner.ResponseModel(); m != "" {
		return m
	}
	return t.target.Model
}
