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
		return &openAIToGeminiAPIEmbeddings{target: t}
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

func (t *openAIToVertexEmbeddings) RequestBody(req *Request) (*Upstream, error) {
	var in oaEmbeddingsRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid embeddings request: %v", err)
	}
	var texts []string
	var one string
	switch {
	case json.Unmarshal(in.Input, &one) == nil:
		texts = []string{one}
	case json.Unmarshal(in.Input, &texts) == nil:
	default:
		return nil, untranslatable("input", "Vertex AI embeddings take text; token arrays are OpenAI's")
	}
	if len(texts) == 0 {
		return nil, badRequest("input", "input is empty")
	}
	task := strings.ToUpper(in.TaskType)
	if task != "" && !vxTaskTypes[task] {
		return nil, badRequest("task_type", "unknown task_type %q", in.TaskType)
	}
	switch in.EncodingFormat {
	case "", "float":
	case "base64":
		t.base64 = true
	default:
		return nil, badRequest("encoding_format", "encoding_format must be float or base64")
	}
	out := vxEmbedRequest{}
	for _, s := range texts {
		out.Instances = append(out.Instances, vxEmbedInstance{Content: s, TaskType: task})
	}
	if in.Dimensions != nil {
		out.Parameters = &vxEmbedParams{OutputDimensionality: in.Dimensions}
	}
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Vertex request: %v", err)
	}
	return &Upstream{Method: http.MethodPost, Path: geminiPath(t.target.Model, "predict"), Header: geminiHeaders(),
		Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

func (t *openAIToVertexEmbeddings) ResponseHeaders(_ int, h http.Header) error {
	h.Del("Content-Length")
	return nil
}

// oaEmbeddingList is OpenAI's embeddings response.
type oaEmbeddingList struct {
	Object string        `json:"object"`
	Data   []oaEmbedding `json:"data"`
	Model  string        `json:"model"`
	Usage  struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	} `json:"usage"`
}

type oaEmbedding struct {
	Object    string          `json:"object"`
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
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
	out := oaEmbeddingList{Object: "list", Model: t.target.Model, Data: []oaEmbedding{}}
	var tokens int64
	for i, p := range r.Predictions {
		if len(p.Embeddings.Values) == 0 || p.Embeddings.Values[0] != '[' {
			return nil, upstreamInvalid("prediction %d has no embedding values", i)
		}
		out.Data = append(out.Data, oaEmbedding{Object: "embedding", Index: i, Embedding: p.Embeddings.Values})
		tokens += int64(p.Embeddings.Statistics.TokenCount)
	}
	out.Usage.PromptTokens, out.Usage.TotalTokens = tokens, tokens
	t.usage = Usage{InputTokens: tokens, TotalTokens: tokens}
	b, err := marshalJSON(out)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the embeddings: %v", err)
	}
	if t.base64 {
		b = embeddingsToBase64(b)
	}
	return b, nil
}

func (t *openAIToVertexEmbeddings) ResponseError(status int, _ http.Header, body []byte) []byte {
	if msg, code := gmErrorMessage(body); msg != "" {
		return ErrorBody(APIOpenAI, &Error{Status: status, Code: code, Message: msg})
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (t *openAIToVertexEmbeddings) Usage() Usage          { return t.usage }
func (t *openAIToVertexEmbeddings) ResponseModel() string { return "" }
