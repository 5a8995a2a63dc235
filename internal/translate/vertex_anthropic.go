package translate

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Claude on Vertex AI (schema GCPAnthropic) takes the Anthropic Messages body at
// /publishers/anthropic/models/<model>:rawPredict (or :streamRawPredict for a stream), with the
// model in the path instead of the body, anthropic_version "vertex-2023-10-16" in the body, and
// beta flags as the body's anthropic_beta instead of a header. Answers are Anthropic's own, so
// the Anthropic translators read them unchanged; errors from Vertex's front end come in Google's
// shape and are converted.

// VertexAnthropicVersion is the anthropic_version Vertex AI requires in the body.
const VertexAnthropicVersion = "vertex-2023-10-16"

// vertexAnthropic adapts a translator that writes Anthropic Messages requests (the passthrough
// for Messages clients, openAIToAnthropic for Chat Completions clients) to Vertex's rawPredict.
type vertexAnthropic struct {
	Translator
	api API // the client's API, for error shapes
	// countTokens sends to Vertex's count-tokens model, which reads the model from the body.
	countTokens bool
}

var _ Translator = (*vertexAnthropic)(nil)

func newVertexAnthropic(t Target) Translator {
	return &vertexAnthropic{Translator: newAnthropicPassthrough(t), api: APIAnthropic}
}

// newVertexAnthropicCountTokens serves /v1/messages/count_tokens from Vertex's count-tokens
// endpoint (publishers/anthropic/models/count-tokens:rawPredict, the model in the body).
func newVertexAnthropicCountTokens(t Target) Translator {
	return &vertexAnthropic{Translator: newAnthropicCountTokens(t), api: APIAnthropic, countTokens: true}
}

func newOpenAIToVertexAnthropic(t Target) Translator {
	return &vertexAnthropic{Translator: newOpenAIToAnthropic(t), api: APIOpenAI}
}

// newResponsesToVertexAnthropic serves the Responses API from Claude on Vertex through chat.
func newResponsesToVertexAnthropic(t Target) Translator {
	return &responsesToChat{target: t, inner: newOpenAIToVertexAnthropic(t)}
}

func (v *vertexAnthropic) RequestBody(req *Request) (*Upstream, error) {
	up, err := v.Translator.RequestBody(req)
	if err != nil {
		return nil, err
	}
	res := gjson.GetManyBytes(up.Body, "model", "stream")
	model := res[0].String()
	method := "rawPredict"
	if res[1].Bool() {
		method = "streamRawPredict"
	}
	body, err := up.Body, error(nil)
	if !v.countTokens {
		body, err = sjson.DeleteBytes(body, "model")
	}
	if err == nil {
		body, err = sjson.SetBytes(body, "anthropic_version", VertexAnthropicVersion)
	}
	var betas []string
	for _, b := range append(req.Header.Values("Anthropic-Beta"), up.Header.Values("Anthropic-Beta")...) {
		for _, f := range strings.Split(b, ",") {
			if f = strings.TrimSpace(f); f != "" && !slices.Contains(betas, f) {
				betas = append(betas, f)
			}
		}
	}
	if err == nil && len(betas) > 0 {
		body, err = sjson.SetBytes(body, "anthropic_beta", betas)
	}
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "invalid_body", "cannot prepare the Vertex request: %v", err)
	}
	up.Body = body
	up.Path = "/publishers/anthropic/models/" + pathEscapeModel(model) + ":" + method
	if v.countTokens {
		up.Path = "/publishers/anthropic/models/count-tokens:rawPredict"
	}
	up.Header.Del("Anthropic-Version")
	up.Header.Del("Anthropic-Beta")
	up.Remove = append(up.Remove, vendorHeaders[APIAnthropic]...)
	return up, nil
}

// ResponseError converts a Google-shaped error (Vertex's own: quota, permission, unknown model)
// into the client's shape; Anthropic-shaped ones go to the inner translator.
func (v *vertexAnthropic) ResponseError(status int, h http.Header, body []byte) []byte {
	if msg, code := gmErrorMessage(body); msg != "" {
		return ErrorBody(v.api, &Error{Status: status, Code: code, Message: msg})
	}
	return v.Translator.ResponseError(status, h, body)
}
