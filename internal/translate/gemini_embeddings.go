package translate

import (
	"encoding/json"
	"net/http"
	"strings"
)

// openAIToVertexEmbeddings serves OpenAI /v1/embeddings from a Vertex AI embedding model
// (gemini-embedding-001, text-embedding-005, text-multilingual-embedding-002) through its predict
// method: each input becomes an instance with its task type, dimensions becomes
// parameters.outputDimensionality; predictions come back as an OpenAI embedding list, base64
// encoded when the client asked so, with the token counts Vertex reports as usage.
type openAIToVertexEmbeddings struct {
	target Target
	base64 bool
	body   bodyBuffer
	usage  Usage
}

var _ Translator = (*openAIToVertexEmbeddings)(nil)

// newOpenAIToVertexEmbeddings embeds through Vertex AI's predict, or through the Gemini API's
// batchEmbedContents when the backend is the Gemini API.
func newOpenAIToVertexEmbeddings(t Target) Translator {
	if t.Backend.GeminiAPI() {
		return &openAIToGeminiAPIEmbeddings{openAIToVertexEmbeddings: openAIToVertexEmbeddings{target: t}}
	}
	return &openAIToVertexEmbeddings{target: t}
}

// oaEmbeddingsRequest is an OpenAI embeddings request, with task_type (Vertex's, as LiteLLM
// passes it) as an extension.
type oaEmbeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int64          `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	TaskType       string          `json:"task_type"`
	User           string          `json:"user"`
}

type vxEmbedRequest struct {
	Instances  []vxEmbedInstance `json:"instances"`
	Parameters *vxEmbedParams    `json:"parameters,omitempty"`
}

type vxEmbedInstance struct {
	Content  string `json:"content"`
	TaskType string `json:"task_type,omitempty"`
}

type vxEmbedParams struct {
	OutputDimensionality *int64 `json:"outputDimensionality,omitempty"`
	AutoTruncate         *bool  `json:"autoTruncate,omitempty"`
}

type vxEmbedResponse struct {
	Predictions []struct {
		Embeddings struct {
			Values     json.RawMessage `json:"values"`
			Statistics struct {
				TokenCount float64 `json:"token_count"`
			} `json:"statistics"`
		} `json:"embeddings"`
	} `json:"predictions"`
}

// vxTaskTypes are the task types Vertex embedding models take.
var vxTaskTypes = map[string]bool{
	"RETRIEVAL_QUERY": true, "RETRIEVAL_DOCUMENT": true, "SEMANTIC_SIMILARITY": true, "CLASSIFICATION": true,
	"CLUSTERING": true, "QUESTION_ANSWERING": true, "FACT_VERIFICATION": true, "CODE_RETRIEVAL_QUERY": true,
}

// gmEmbeddingsInput is an OpenAI embeddings request as Google's embedding methods take it: its
// texts in order, the task type upper-cased, and whether the client asked for base64.
type gmEmbeddingsInput struct {
	oaEmbeddingsRequest
	texts  []string
	task   string
	base64 bool
}

// readGoogleEmbeddings reads an OpenAI embeddings request for Vertex AI's predict or the Gemini
// API's batchEmbedContents; backend names the one in the error a token-array input gets.
func readGoogleEmbeddings(body []byte, backend string) (*gmEmbeddingsInput, error) {
	in := &gmEmbeddingsInput{}
	if err := json.Unmarshal(body, &in.oaEmbeddingsRequest); err != nil {
		return nil, badRequest("", "request body is not a valid embeddings request: %v", err)
	}
	var one string
	switch {
	case json.Unmarshal(in.Input, &one) == nil:
		in.texts = []string{one}
	case json.Unmarshal(in.Input, &in.texts) == nil:
	default:
		return nil, untranslatable("input", "%s embeddings take text; token arrays are OpenAI's", backend)
	}
	if len(in.texts) == 0 {
		return nil, badRequest("input", "input is empty")
	}
	in.task = strings.ToUpper(in.TaskType)
	if in.task != "" && !vxTaskTypes[in.task] {
		return nil, badRequest("task_type", "unknown task_type %q", in.TaskType)
	}
	switch in.EncodingFormat {
	case "", "float":
	case "base64":
		in.base64 = true
	default:
		return nil, badRequest("encoding_format", "encoding_format must be float or base64")
	}
	return in, nil
}

func (t *openAIToVertexEmbeddings) RequestBody(req *Request) (*Upstream, error) {
	in, err := readGoogleEmbeddings(req.Body, "Vertex AI")
	if err != nil {
		return nil, err
	}
	t.base64 = in.base64
	out := vxEmbedRequest{}
	for _, s := range in.texts {
		out.Instances = append(out.Instances, vxEmbedInstance{Content: s, TaskType: in.task})
	}
	if in.Dimensions != nil {
		out.Parameters = &vxEmbedParams{OutputDimensionality: in.Dimensions}
	}
	return gmEmbedUpstream(t.target.Model, "predict", out, "Vertex")
}

// gmEmbedUpstream is the POST of req to model's method, for backend (named in the error).
func gmEmbedUpstream(model, method string, req any, backend string) (*Upstream, error) {
	body, err := marshalJSON(req)
	if err != nil {
		return nil, badRequest("", "cannot encode the %s request: %v", backend, err)
	}
	return &Upstream{Method: http.MethodPost, Path: geminiPath(model, method), Header: geminiHeaders(),
		Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

func (t *openAIToVertexEmbeddings) ResponseHeaders(_ int, h http.Header) error {
	h.Del("Content-Length")
	return nil
}

func (t *openAIToVertexEmbeddings) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, whole := t.body.whole(chunk, eos)
	if !whole {
		return nil, nil
	}
	var r vxEmbedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamInvalid("the Vertex backend sent embeddings aigw cannot read: %v", err)
	}
	vectors := make([]json.RawMessage, 0, len(r.Predictions))
	var tokens int64
	for i, p := range r.Predictions {
		if len(p.Embeddings.Values) == 0 || p.Embeddings.Values[0] != '[' {
			return nil, upstreamInvalid("prediction %d has no embedding values", i)
		}
		vectors = append(vectors, p.Embeddings.Values)
		tokens += int64(p.Embeddings.Statistics.TokenCount)
	}
	t.usage = Usage{InputTokens: tokens, TotalTokens: tokens}
	return embeddingList(t.target.Model, vectors, tokens, t.base64)
}

func (t *openAIToVertexEmbeddings) ResponseError(status int, _ http.Header, body []byte) []byte {
	return gmErrorToOpenAI(status, body)
}

func (t *openAIToVertexEmbeddings) Usage() Usage          { return t.usage }
func (t *openAIToVertexEmbeddings) ResponseModel() string { return "" }
