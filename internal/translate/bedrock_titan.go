package translate

import (
	"encoding/json"
	"net/http"
	"strings"
)

// openAIToTitanEmbed serves OpenAI /v1/embeddings from Amazon Titan Text Embeddings on Bedrock
// (InvokeModel, e.g. amazon.titan-embed-text-v2:0). Titan embeds one text per call: a request
// with several inputs is split into one part per input (Upstream.Parts), which the data plane
// sends at most MaxPartsInFlight at once and answers with the array of Titan's answers, turned
// here into one list in input order with the token counts summed; the first part that fails is
// the client's error. dimensions maps to Titan's dimensions (v2: 256, 512 or 1024), and
// embeddings are always normalised, as OpenAI's are; encoding_format base64 is applied to
// Titan's floats.
type openAIToTitanEmbed struct {
	target Target
	base64 bool
	// parts is how many calls the request was split into; 0 when it was sent whole.
	parts int
	body  bodyBuffer
	usage Usage
}

// maxTitanInputs is OpenAI's own limit of inputs in one embeddings request.
const maxTitanInputs = 2048

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
	texts := []string{""}
	if err := json.Unmarshal(in.Input, &texts[0]); err != nil {
		texts = nil
		if json.Unmarshal(in.Input, &texts) != nil {
			return nil, untranslatable("input", "Titan embeds text: input must be a string or an array of strings (token arrays are not supported)")
		}
		if len(texts) == 0 || len(texts) > maxTitanInputs {
			return nil, badRequest("input", "input must hold between 1 and %d texts (got %d)", maxTitanInputs, len(texts))
		}
	}
	t.base64 = in.EncodingFormat == "base64"
	out := titanRequest{}
	// Titan v1 takes the text alone; v2 takes dimensions and normalisation.
	if !strings.Contains(t.target.Model, "titan-embed-text-v1") {
		out.Dimensions = in.Dimensions
		out.Normalize = ptr(true)
	} else if in.Dimensions != nil {
		return nil, untranslatable("dimensions", "%s has a fixed size; dimensions needs amazon.titan-embed-text-v2", t.target.Model)
	}
	bodies := make([][]byte, len(texts))
	for i, text := range texts {
		out.InputText = text
		b, err := marshalJSON(out)
		if err != nil {
			return nil, badRequest("", "cannot encode the Titan request: %v", err)
		}
		bodies[i] = b
	}
	body := bodies[0]
	if len(bodies) > 1 {
		t.parts = len(bodies)
	} else {
		bodies = nil
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	return &Upstream{Method: http.MethodPost, Path: bedrockModelPath(t.target.Model, "invoke"), Header: h, Remove: vendorHeaders[APIOpenAI], Body: body, Parts: bodies}, nil
}

func (t *openAIToTitanEmbed) ResponseHeaders(int, http.Header) error { return nil }

func (t *openAIToTitanEmbed) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, whole := t.body.whole(chunk, eos)
	if !whole {
		return nil, nil
	}
	var answers []titanResponse
	if t.parts > 0 {
		if err := json.Unmarshal(body, &answers); err != nil {
			return nil, upstreamInvalid("the Bedrock backend sent embeddings aigw cannot read: %v", err)
		}
		if len(answers) != t.parts {
			return nil, upstreamInvalid("the Bedrock backend answered %d of %d texts", len(answers), t.parts)
		}
	} else {
		answers = make([]titanResponse, 1)
		if err := json.Unmarshal(body, &answers[0]); err != nil {
			return nil, upstreamInvalid("the Bedrock backend sent an embedding aigw cannot read: %v", err)
		}
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]item, len(answers))
	var tokens int64
	for i, r := range answers {
		if r.Embedding == nil {
			return nil, upstreamInvalid("the Bedrock backend's answer has no embedding")
		}
		data[i] = item{"embedding", i, r.Embedding}
		tokens += r.InputTextTokenCount
	}
	t.usage = Usage{InputTokens: tokens, TotalTokens: tokens}
	out, err := marshalJSON(struct {
		Object string  `json:"object"`
		Data   []item  `json:"data"`
		Model  string  `json:"model"`
		Usage  oaUsage `json:"usage"`
	}{"list", data, t.target.Model, oaUsage{PromptTokens: tokens, TotalTokens: tokens}})
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
