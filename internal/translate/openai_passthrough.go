package translate

import (
	"bytes"
	"net/http"
	"net/url"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// openAIPaths are the OpenAI API's endpoint paths below the backend's prefix.
var openAIPaths = map[Endpoint]string{
	EndpointChatCompletions: "/chat/completions",
	EndpointCompletions:     "/completions",
	EndpointEmbeddings:      "/embeddings",
}

// openAIPassthrough forwards an OpenAI-API request to an OpenAI-schema backend (OpenAI itself,
// Azure OpenAI, or any compatible server) and its response back unchanged, reading usage on the
// way. It makes streams report usage even when the client did not ask, and hides that from the
// client so it receives exactly what it asked for.
type openAIPassthrough struct {
	target   Target
	path     func(t Target, e Endpoint) string
	endpoint Endpoint

	sseResponse bool
	// stripUsage is set when aigw, not the client, asked for stream usage.
	stripUsage bool
	// base64Embeddings is set when the client asked for embeddings as base64.
	base64Embeddings bool
	sse              SSEDecoder
	body             bodyBuffer
	out              []byte
	usage            Usage
	model            string
}

var _ Translator = (*openAIPassthrough)(nil)

func newOpenAIPassthrough(t Target) Translator {
	return &openAIPassthrough{target: t, path: openAIPath}
}

func newAzureOpenAIPassthrough(t Target) Translator {
	return &openAIPassthrough{target: t, path: azurePath}
}

// openAIPath is prefix + endpoint, e.g. /v1/chat/completions or /api/v1/chat/completions.
func openAIPath(t Target, e Endpoint) string {
	return t.Backend.Schema.Prefix + openAIPaths[e]
}

// azurePath addresses the deployment named by the model, with the configured api-version.
func azurePath(t Target, e Endpoint) string {
	p := t.Backend.Schema.Prefix + "/openai/deployments/" + url.PathEscape(t.Model) + openAIPaths[e]
	if v := t.Backend.Schema.Version; v != "" {
		p += "?api-version=" + url.QueryEscape(v)
	}
	return p
}

func (p *openAIPassthrough) RequestBody(req *Request) (*Upstream, error) {
	p.endpoint = req.Endpoint
	body := req.Body
	p.base64Embeddings = req.Endpoint == EndpointEmbeddings && gjson.GetBytes(body, "encoding_format").String() == "base64"
	var err error
	if p.target.Model != req.Model {
		if body, err = sjson.SetBytes(body, "model", p.target.Model); err != nil {
			return nil, Errorf(http.StatusBadRequest, "invalid_body", "cannot set model: %v", err)
		}
	}
	if req.Stream && req.Endpoint != EndpointEmbeddings && !gjson.GetBytes(body, "stream_options.include_usage").Bool() {
		if body, err = sjson.SetBytes(body, "stream_options.include_usage", true); err != nil {
			return nil, Errorf(http.StatusBadRequest, "invalid_body", "cannot request stream usage: %v", err)
		}
		p.stripUsage = true
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Upstream{Method: http.MethodPost, Path: p.path(p.target, req.Endpoint), Header: h, Body: body}, nil
}

func (p *openAIPassthrough) ResponseHeaders(_ int, h http.Header) error {
	p.sseResponse = IsEventStream(h)
	return nil
}

func (p *openAIPassthrough) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	if !p.sseResponse {
		return p.jsonBody(chunk, eos), nil
	}
	if cap(p.out) < len(chunk) {
		// What goes out is at most what came in (usage:null stripped) plus a partial event held
		// back before: sized once, not grown event by event.
		p.out = make([]byte, 0, len(chunk)+len(chunk)/4+512)
	}
	p.out = p.sse.Each(p.out[:0], chunk, p.streamEvent)
	if eos {
		p.out = append(p.out, p.sse.Rest()...)
	}
	return p.out, nil
}

// streamEvent appends what the client should see of one event.
func (p *openAIPassthrough) streamEvent(dst []byte, ev SSEEvent) []byte {
	if len(ev.Data) == 0 || ev.Data[0] != '{' {
		return append(dst, ev.Raw...) // [DONE], comments, keep-alives
	}
	if p.model == "" {
		p.model = gjson.GetBytes(ev.Data, "model").String()
	}
	// Most chunks carry no usage, or (when it was asked for) "usage":null: tell those apart
	// without parsing. Chat and completion chunks have no nested "usage" keys.
	k := bytes.Index(ev.Data, []byte(`"usage":`))
	if k < 0 {
		return append(dst, ev.Raw...)
	}
	if v := bytes.TrimLeft(ev.Data[k+len(`"usage":`):], " \t"); !bytes.HasPrefix(v, []byte("null")) {
		usage := gjson.GetBytes(ev.Data, "usage")
		if usage.IsObject() {
			p.usage = openAIUsage(usage)
			if p.stripUsage && len(gjson.GetBytes(ev.Data, "choices").Array()) == 0 {
				return dst // the usage-only chunk the client did not ask for
			}
		}
	} else if p.stripUsage {
		// Streams asked for usage carry "usage":null on every chunk; without it they carry none.
		if i := bytes.Index(ev.Raw, []byte(`,"usage":null`)); i >= 0 {
			dst = append(dst, ev.Raw[:i]...)
			return append(dst, ev.Raw[i+len(`,"usage":null`):]...)
		}
		data, err := sjson.DeleteBytes(ev.Data, "usage")
		if err == nil {
			return AppendSSE(dst, ev.Event, data)
		}
	}
	return append(dst, ev.Raw...)
}

// jsonBody collects a non-streamed body and reads its usage once it is whole.
func (p *openAIPassthrough) jsonBody(chunk []byte, eos bool) []byte {
	body, whole := p.body.whole(chunk, eos)
	if !whole {
		return nil
	}
	res := gjson.GetManyBytes(body, "model", "usage")
	p.model = res[0].String()
	if res[1].IsObject() {
		p.usage = openAIUsage(res[1])
	}
	if p.base64Embeddings {
		body = embeddingsToBase64(body)
	}
	return body
}

func (p *openAIPassthrough) ResponseError(status int, _ http.Header, body []byte) []byte {
	if gjson.GetBytes(body, "error").IsObject() {
		return body
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (p *openAIPassthrough) Usage() Usage          { return p.usage }
func (p *openAIPassthrough) ResponseModel() string { return p.model }

// openAIUsage reads an OpenAI usage object (chat, completions or embeddings) without decoding
// the body, converting it by the same rule as a decoded one (oaUsage.usage).
func openAIUsage(u gjson.Result) Usage {
	o := oaUsage{
		PromptTokens:            u.Get("prompt_tokens").Int(),
		CompletionTokens:        u.Get("completion_tokens").Int(),
		TotalTokens:             u.Get("total_tokens").Int(),
		PromptTokensDetails:     &oaPromptTokensDetails{CachedTokens: u.Get("prompt_tokens_details.cached_tokens").Int()},
		CompletionTokensDetails: &oaCompletionTokensDetails{ReasoningTokens: u.Get("completion_tokens_details.reasoning_tokens").Int()},
	}
	return o.usage()
}
