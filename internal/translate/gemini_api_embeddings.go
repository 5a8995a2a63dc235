package translate

import (
	"encoding/json"
	"net/http"
	"strings"
)

// openAIToGeminiAPIEmbeddings serves OpenAI /v1/embeddings from the Gemini API
// (config.Backend.GeminiAPI) with batchEmbedContents, the one method the Gemini API embeds
// through whether it gets one text or many (as Google's genai SDK calls it): each input becomes
// one request of the batch with the model, its text, the task type (the task_type extension)
// and dimensions as outputDimensionality. The embeddings come back as an OpenAI list in order,
// base64 encoded when the client asked so. The Gemini API reports token counts only in
// usageMetadata, when it sends one; otherwise the usage is zero.
type openAIToGeminiAPIEmbeddings struct {
	target Target
	inputs int
	base64 bool
	body   bodyBuffer
	usage  Usage
}

var _ Translator = (*openAIToGeminiAPIEmbeddings)(nil)

// gaBatchEmbedRequest is batchEmbedContents' body.
type gaBatchEmbedRequest struct {
	Requests []gaEmbedRequest `json:"requests"`
}

// gaEmbedRequest is one EmbedContentRequest: model is "models/<model>", the one of the path.
type gaEmbedRequest struct {
	Model                string    `json:"model"`
	Content              gmContent `json:"content"`
	TaskType             string    `json:"taskType,omitempty"`
	OutputDimensionality *int64    `json:"outputDimensionality,omitempty"`
}

type gaBatchEmbedResponse struct {
	Embeddings []struct {
		Values json.RawMessage `json:"values"`
	} `json:"embeddings"`
	UsageMetadata *struct {
		PromptTokenCount int64 `json:"promptTokenCount"`
	} `json:"usageMetadata"`
}

func (t *openAIToGeminiAPIEmbeddings) RequestBody(req *Request) (*Upstream, error) {
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
		return nil, untranslatable("input", "Gemini API embeddings take text; token arrays are OpenAI's")
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
	model := "models/" + t.target.Model
	out := gaBatchEmbedRequest{Requests: make([]gaEmbedRequest, 0, len(texts))}
	for i := range texts {
		out.Requests = append(out.Requests, gaEmbedRequest{Model: model, Content: gmContent{Parts: []gmPart{{Text: &texts[i]}}},
			TaskType: task, OutputDimensionality: in.Dimensions})
	}
	t.inputs = len(texts)
	body, err := marshalJSON(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Gemini API request: %v", err)
	}
	return &Upstream{Method: http.MethodPost, Path: geminiPath(t.target.Model, "batchEmbedContents"), Header: geminiHeaders(),
		Remove: vendorHeaders[APIOpenAI], Body: body}, nil
}

func (t *openAIToGeminiAPIEmbeddings) ResponseHeaders(_ int, h http.Header) error {
	h.Del("Content-Length")
	return nil
}

func (t *openAIToGeminiAPIEmbeddings) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, whole := t.body.whole(chunk, eos)
	if !whole {
		return nil, nil
	}
	var r gaBatchEmbedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamInvalid("the Gemini API sent embeddings aigw cannot read: %v", err)
	}
	if len(r.Embeddings) != t.inputs {
		return nil, upstreamInvalid("the Gemini API sent %d embeddings for %d inputs", len(r.Embeddings), t.inputs)
	}
	out := oaEmbeddingList{Object: "list", Model: t.target.Model, Data: make([]oaEmbedding, 0, len(r.Embeddings))}
	for i, e := range r.Embeddings {
		if len(e.Values) == 0 || e.Values[0] != '[' {
			return nil, upstreamInvalid("embedding %d has no values", i)
		}
		out.Data = append(out.Data, oaEmbedding{Object: "embedding", Index: i, Embedding: e.Values})
	}
	if u := r.UsageMetadata; u != nil {
		out.Usage.PromptTokens, out.Usage.TotalTokens = u.PromptTokenCount, u.PromptTokenCount
		t.usage = Usage{InputTokens: u.PromptTokenCount, TotalTokens: u.PromptTokenCount}
	}
	b, err := marshalJSON(out)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the embeddings: %v", err)
	}
	if t.base64 {
		b = embeddingsToBase64(b)
	}
	return b, nil
}

func (t *openAIToGeminiAPIEmbeddings) ResponseError(status int, _ http.Header, body []byte) []byte {
	if msg, code := gmErrorMessage(body); msg != "" {
		return ErrorBody(APIOpenAI, &Error{Status: status, Code: code, Message: msg})
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (t *openAIToGeminiAPIEmbeddings) Usage() Usage          { return t.usage }
func (t *openAIToGeminiAPIEmbeddings) ResponseModel() string { return "" }
