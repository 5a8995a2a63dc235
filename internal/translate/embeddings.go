package translate

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
)

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

// embeddingList is OpenAI's embeddings response for model: vectors (JSON arrays of numbers, in
// the order of the inputs) with tokens as the prompt and total usage, base64 encoded when the
// client asked so.
func embeddingList(model string, vectors []json.RawMessage, tokens int64, b64 bool) ([]byte, error) {
	out := oaEmbeddingList{Object: "list", Model: model, Data: make([]oaEmbedding, len(vectors))}
	for i, v := range vectors {
		out.Data[i] = oaEmbedding{Object: "embedding", Index: i, Embedding: v}
	}
	out.Usage.PromptTokens, out.Usage.TotalTokens = tokens, tokens
	b, err := marshalJSON(out)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the embeddings: %v", err)
	}
	if b64 {
		b = embeddingsToBase64(b)
	}
	return b, nil
}

// embeddingsToBase64 rewrites embeddings returned as arrays of floats into the base64 strings a
// client that asked for encoding_format "base64" decodes (little-endian float32, as OpenAI
// encodes them). OpenAI-compatible servers that ignore the parameter would otherwise hand such a
// client numbers where it expects a string. Embeddings already in base64 are left alone.
func embeddingsToBase64(body []byte) []byte {
	res := gjson.GetBytes(body, "data.#.embedding")
	vecs := res.Array()
	if len(vecs) == 0 || len(res.Indexes) != len(vecs) {
		return body
	}
	var out []byte
	last := 0
	for i, v := range vecs {
		at := res.Indexes[i]
		if !v.IsArray() || at < last || at+len(v.Raw) > len(body) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(body))
		}
		out = append(out, body[last:at]...)
		out = strconv.AppendQuote(out, base64.StdEncoding.EncodeToString(float32LE(v)))
		last = at + len(v.Raw)
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
}

// float32LE encodes a JSON array of numbers as consecutive little-endian float32 values.
func float32LE(arr gjson.Result) []byte {
	vals := arr.Array()
	buf := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(v.Float())))
	}
	return buf
}
