package translate

import (
	"encoding/json"
	"net/http"
	"strings"
)

// openAIToTitanEmbed serves OpenAI /v1/embeddings from Amazon Titan Text Embeddings on Bedrock
// (InvokeModel, e.g. amazon.titan-embed-text-v2:0). Titan embeds one text per call, and one
// client request is one upstream call here, so a request holds one input (a string, or an array
// of one string); more is a 422 that says so. dimensions maps to Titan's dimensions (v2: 256, 512
// or 1024), and embeddings are always normalised, as OpenAI's are; encoding_format base64 is
// applied to Titan's floats.
type openAIToTitanEmbed struct {
	target Target
	base64 bool
	body   bodyBuffer
	usage  Usage
}

var _ Translator = (*openAIToTitanEmbed)(nil)

func newOpenAIToTitanEmbed(t Target) Translator { return &openAIToTitanEmbed{target: t} }

type oaEmbeddingRequest struct {
	Input          json.RawMessage `json:"input"`
	Dimensions     *int64          `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
}

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int64 `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

type titanResponse struct {
	Embedding           []float64 `json:"embedding"`
	InputTextTokenCount int64     `json:"inputTextTokenCount"`
}

func (t *openAIToTitanEmbed) RequestBody(req *Request) (*Upstream, error) {
	var in oaEmbeddingRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid embeddings request: %v", err)
	}
	var text string
	if err := json.Unmarshal(in.Input, &text); err != nil {
		var many []string
		if json.Unmarshal(in.Input, &many) != nil {
			return nil, untranslatable("input", "Titan embeds text: input must be a string or an array of one string (token arrays are not supported)")
		}
		if len(many) != 1 {
			return nil, untranslatable("input", "Titan embeds one text per call: send one input per request (got %d)", len(many))
		}
		text = many[0]
	}
	t.base64 = in.EncodingFormat == "base64"
	out := titanRequest{InputText: text}
	// Titan v1 takes the text alone; v2 takes dimensions and normalisation.
	if !strings.Contains(t.target.Model, "titan-embed-text-v1") {
		out.Dimensions = in.Dimensions
		out.Normalize = ptr(true)
	} else if in.Dimensions != nil {
		return nil, untranslatable("dimensions", "%s has a fixed size; dimensions needs amazon.titan-embed-text-v2", t.target.Model)
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Titan request: %v", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	return &Upstream{Method: http.MethodPost, Path: bedrockModelPath(t.target.Model, "invoke"), Header: h, Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

func (t *openAIToTitanEmbed) ResponseHeaders(int, http.Header) error { return nil }

func (t *openAIToTitanEmbed) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, whole := t.body.whole(chunk, eos)
	if !whole {
		return nil, nil
	}
	var r titanResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamInvalid("the Bedrock backend sent an embedding aigw cannot read: %v", err)
	}
	if r.Embedding == nil {
		return nil, upstreamInvalid("the Bedrock backend's answer has no embedding")
	}
	t.usage = Usage{InputTokens: r.InputTextTokenCount, TotalTokens: r.InputTextTokenCount}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	out, err := marshalJSON(struct {
		Object string  `json:"object"`
		Data   []item  `json:"data"`
		Model  string  `json:"model"`
		Usage  oaUsage `json:"usage"`
	}{"list", []item{{"embedding", 0, r.Embedding}}, t.target.Model, oaUsage{PromptTokens: r.InputTextTokenCount, TotalTokens: r.InputTextTokenCount}})
	if err != nil {
		return nil, upstreamInvalid("cannot encode the embeddings: %v", err)
	}
	if t.base64 {
		out = embeddingsToBase64(out)
	}
	return out, nil
}

func (t *openAIToTitanEmbed) ResponseError(status int, h http.Header, body []byte) []byte {
	return ErrorBody(APIOpenAI, bedrockErrorBody(status, h, body))
}

func (t *openAIToTitanEmbed) Usage() Usage          { return t.usage }
func (t *openAIToTitanEmbed) ResponseModel() string { return t.target.Model }
