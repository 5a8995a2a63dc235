package translate

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// openAIGenericPaths are the endpoint paths, below the backend's prefix, of the OpenAI endpoints
// served by openAIGeneric.
var openAIGenericPaths = map[Endpoint]string{
	EndpointResponses:           "/responses",
	EndpointImageGenerations:    "/images/generations",
	EndpointAudioSpeech:         "/audio/speech",
	EndpointAudioTranscriptions: "/audio/transcriptions",
	EndpointAudioTranslations:   "/audio/translations",
}

// openAIGeneric forwards a request to an OpenAI-schema endpoint that has no translation (the
// Responses API, images, audio) and its response back unchanged: JSON bodies whole, event
// streams event by event, anything else (audio bytes) as it arrives. It reads usage where the
// endpoint reports it: the usage object of a JSON body (input_tokens/output_tokens or
// prompt_tokens/completion_tokens), of a stream event, or of the response a Responses stream
// ends with (response.completed, response.incomplete, response.failed).
type openAIGeneric struct {
	target Target
	path   func(Target, Endpoint) string

	kind  responseKind
	sse   SSEDecoder
	body  bodyBuffer
	out   []byte
	usage Usage
	model string
}

type responseKind int

const (
	responseJSON responseKind = iota
	responseSSE
	responseRaw
)

var _ Translator = (*openAIGeneric)(nil)

func newOpenAIGeneric(t Target) Translator {
	return &openAIGeneric{target: t, path: func(t Target, e Endpoint) string {
		return t.Backend.Schema.Prefix + openAIGenericPaths[e]
	}}
}

func newAzureOpenAIGeneric(t Target) Translator {
	return &openAIGeneric{target: t, path: azureGenericPath}
}

// azureGenericPath addresses Azure OpenAI. The Responses API exists only on Azure's v1 API,
// /openai/v1/responses, where the deployment is the body's model and no dated api-version
// applies (only "preview" and "latest" are passed on). The other endpoints are per deployment.
func azureGenericPath(t Target, e Endpoint) string {
	if e == EndpointResponses {
		p := t.Backend.Schema.Prefix + "/openai/v1/responses"
		if v := t.Backend.Schema.Version; v == "preview" || v == "latest" {
			p += "?api-version=" + v
		}
		return p
	}
	p := t.Backend.Schema.Prefix + "/openai/deployments/" + url.PathEscape(t.Model) + openAIGenericPaths[e]
	if v := t.Backend.Schema.Version; v != "" {
		p += "?api-version=" + url.QueryEscape(v)
	}
	return p
}

func (p *openAIGeneric) RequestBody(req *Request) (*Upstream, error) {
	ct := req.Header.Get("Content-Type")
	body := req.Body
	if p.target.Model != req.Model {
		var err error
		if isMultipart(ct) {
			body, err = setMultipartField(body, ct, "model", p.target.Model)
		} else {
			body, err = sjson.SetBytes(body, "model", p.target.Model)
		}
		if err != nil {
			return nil, badRequest("model", "cannot set model: %v", err)
		}
	}
	if ct == "" {
		ct = "application/json"
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	return &Upstream{Method: http.MethodPost, Path: p.path(p.target, req.Endpoint), Header: h, Body: body}, nil
}

func (p *openAIGeneric) ResponseHeaders(_ int, h http.Header) error {
	ct := h.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		p.kind = responseSSE
	case strings.HasPrefix(ct, "application/json"):
		p.kind = responseJSON
	default:
		p.kind = responseRaw
	}
	return nil
}

func (p *openAIGeneric) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	switch p.kind {
	case responseRaw:
		return chunk, nil
	case responseJSON:
		body, whole := p.body.whole(chunk, eos)
		if !whole {
			return nil, nil
		}
		p.read(gjson.ParseBytes(body))
		return body, nil
	}
	p.out = p.sse.Each(p.out[:0], chunk, p.streamEvent)
	if eos {
		p.out = append(p.out, p.sse.Rest()...)
	}
	return p.out, nil
}

// streamEvent reads each JSON event for usage and forwards it unchanged.
func (p *openAIGeneric) streamEvent(dst []byte, ev SSEEvent) []byte {
	if len(ev.Data) > 0 && ev.Data[0] == '{' {
		p.read(gjson.ParseBytes(ev.Data))
	}
	return append(dst, ev.Raw...)
}

// read takes the model and usage from a body or event, at the top or under "response".
func (p *openAIGeneric) read(v gjson.Result) {
	res := v.Get("response")
	if !res.IsObject() {
		res = v
	}
	if m := res.Get("model").String(); m != "" && p.model == "" {
		p.model = m
	}
	if u := res.Get("usage"); u.IsObject() {
		p.usage = genericUsage(u)
	}
}

func (p *openAIGeneric) ResponseError(status int, _ http.Header, body []byte) []byte {
	if gjson.GetBytes(body, "error").IsObject() {
		return body
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (p *openAIGeneric) Usage() Usage          { return p.usage }
func (p *openAIGeneric) ResponseModel() string { return p.model }

// genericUsage reads an OpenAI usage object in either naming: input/output tokens (Responses,
// images, audio) or prompt/completion tokens (chat, embeddings).
func genericUsage(u gjson.Result) Usage {
	first := func(paths ...string) int64 {
		for _, p := range paths {
			if v := u.Get(p); v.Exists() {
				return v.Int()
			}
		}
		return 0
	}
	out := Usage{
		InputTokens:       first("input_tokens", "prompt_tokens"),
		CachedInputTokens: first("input_tokens_details.cached_tokens", "prompt_tokens_details.cached_tokens"),
		OutputTokens:      first("output_tokens", "completion_tokens"),
		ReasoningTokens:   first("output_tokens_details.reasoning_tokens", "completion_tokens_details.reasoning_tokens"),
		TotalTokens:       first("total_tokens"),
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.InputTokens + out.OutputTokens
	}
	return out
}
