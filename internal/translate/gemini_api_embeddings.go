package translate

import "encoding/json"

// openAIToGeminiAPIEmbeddings serves OpenAI /v1/embeddings from the Gemini API
// (config.Backend.GeminiAPI) with batchEmbedContents, the one method the Gemini API embeds
// through whether it gets one text or many (as Google's genai SDK calls it): each input becomes
// one request of the batch with the model, its text, the task type (the task_type extension)
// and dimensions as outputDimensionality. The embeddings come back as an OpenAI list in order,
// base64 encoded when the client asked so. The Gemini API reports token counts only in
// usageMetadata, when it sends one; otherwise the usage is zero.
type openAIToGeminiAPIEmbeddings struct {
	openAIToVertexEmbeddings // the response headers, errors and usage are the same
	inputs                   int
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
	in, err := readGoogleEmbeddings(req.Body, "Gemini API")
	if err != nil {
		return nil, err
	}
	t.base64 = in.base64
	model := "models/" + t.target.Model
	out := gaBatchEmbedRequest{Requests: make([]gaEmbedRequest, 0, len(in.texts))}
	for i := range in.texts {
		out.Requests = append(out.Requests, gaEmbedRequest{Model: model, Content: gmContent{Parts: []gmPart{{Text: &in.texts[i]}}},
			TaskType: in.task, OutputDimensionality: in.Dimensions})
	}
	t.inputs = len(in.texts)
	return gmEmbedUpstream(t.target.Model, "batchEmbedContents", out, "Gemini API")
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
	vectors := make([]json.RawMessage, 0, len(r.Embeddings))
	for i, e := range r.Embeddings {
		if len(e.Values) == 0 || e.Values[0] != '[' {
			return nil, upstreamInvalid("embedding %d has no values", i)
		}
		vectors = append(vectors, e.Values)
	}
	var tokens int64
	if u := r.UsageMetadata; u != nil {
		tokens = u.PromptTokenCount
		t.usage = Usage{InputTokens: tokens, TotalTokens: tokens}
	}
	return embeddingList(t.target.Model, vectors, tokens, t.base64)
}
