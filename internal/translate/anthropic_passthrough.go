package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// DefaultAnthropicVersion is sent to Anthropic-schema backends when the client names none.
const DefaultAnthropicVersion = "2023-06-01"

// anthropicPassthrough forwards an Anthropic Messages request to an Anthropic-schema backend
// and its response back unchanged, reading usage from the message or its stream events.
type anthropicPassthrough struct {
	target      Target
	sseResponse bool
	sse         SSEDecoder
	body        bodyBuffer
	out         []byte
	usage       anthropicUsage
	model       string
}

var _ Translator = (*anthropicPassthrough)(nil)

func newAnthropicPassthrough(t Target) Translator { return &anthropicPassthrough{target: t} }

func (p *anthropicPassthrough) RequestBody(req *Request) (*Upstream, error) {
	body := req.Body
	if p.target.Model != req.Model {
		var err error
		if body, err = sjson.SetBytes(body, "model", p.target.Model); err != nil {
			return nil, Errorf(http.StatusBadRequest, "invalid_body", "cannot set model: %v", err)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	v := req.Header.Get("Anthropic-Version")
	if v == "" {
		v = DefaultAnthropicVersion
	}
	h.Set("Anthropic-Version", v)
	return &Upstream{Method: http.MethodPost, Path: p.target.Backend.Schema.Prefix + "/messages", Header: h, Body: body}, nil
}

func (p *anthropicPassthrough) ResponseHeaders(_ int, h http.Header) error {
	p.sseResponse = IsEventStream(h)
	return nil
}

func (p *anthropicPassthrough) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !p.sseResponse {
		body, whole := p.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		res := gjson.GetManyBytes(body, "model", "usage")
		p.model = res[0].String()
		p.usage.read(res[1])
		return body, nil
	}
	p.out = p.sse.Each(p.out[:0], chunk, p.streamEvent)
	if eos {
		p.out = append(p.out, p.sse.Rest()...)
	}
	return p.out, nil
}

// streamEvent reads usage from the events that carry it and forwards every event unchanged.
func (p *anthropicPassthrough) streamEvent(dst []byte, ev SSEEvent) []byte {
	switch ev.Event {
	case "message_start":
		res := gjson.GetManyBytes(ev.Data, "message.model", "message.usage")
		p.model = res[0].String()
		p.usage.read(res[1])
	case "message_delta":
		p.usage.read(gjson.GetBytes(ev.Data, "usage"))
	}
	return append(dst, ev.Raw...)
}

func (p *anthropicPassthrough) ResponseError(status int, _ http.Header, body []byte) []byte {
	if gjson.GetBytes(body, "type").String() == "error" {
		return body
	}
	return ErrorBody(APIAnthropic, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (p *anthropicPassthrough) Usage() Usage          { return p.usage.Usage() }
func (p *anthropicPassthrough) ResponseModel() string { return p.model }

// anthropicUsage accumulates Anthropic's usage fields, which arrive split across message_start
// and message_delta in a stream (the later value wins: message_delta counts are cumulative).
type anthropicUsage struct {
	input, cacheRead, cacheCreation, output int64
	// thinking is output_tokens_details.thinking_tokens, which newer API versions report.
	thinking int64
}

func (a *anthropicUsage) read(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	u.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "input_tokens":
			a.input = v.Int()
		case "cache_read_input_tokens":
			a.cacheRead = v.Int()
		case "cache_creation_input_tokens":
			a.cacheCreation = v.Int()
		case "output_tokens":
			a.output = v.Int()
		case "output_tokens_details":
			if t := v.Get("thinking_tokens"); t.Exists() {
				a.thinking = t.Int()
			}
		}
		return true
	})
}

// accumulate is read for a decoded usage object: present fields replace earlier values.
func (a *anthropicUsage) accumulate(u *anUsage) {
	if u == nil {
		return
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.input, u.InputTokens)
	set(&a.cacheRead, u.CacheReadInputTokens)
	set(&a.cacheCreation, u.CacheCreationInputTokens)
	set(&a.output, u.OutputTokens)
	if u.OutputTokensDetails != nil {
		a.thinking = u.OutputTokensDetails.ThinkingTokens
	}
}

// Usage converts to aigw's convention: Anthropic's input_tokens excludes cache reads and writes,
// aigw's InputTokens includes them.
func (a *anthropicUsage) Usage() Usage {
	in := a.input + a.cacheRead + a.cacheCreation
	return Usage{
		InputTokens:              in,
		CachedInputTokens:        a.cacheRead,
		CacheCreationInputTokens: a.cacheCreation,
		OutputTokens:             a.output,
		ReasoningTokens:          a.thinking,
		TotalTokens:              in + a.output,
	}
}
