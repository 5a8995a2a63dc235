package demo

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"time"
)

// embeddingRequest is the body of POST /v1/embeddings.
type embeddingRequest struct {
	Model          *string     `json:"model"`
	Input          promptInput `json:"input"`
	Dimensions     *int        `json:"dimensions"`
	EncodingFormat string      `json:"encoding_format"`
}

// maxEmbeddingDimensions bounds dimensions so a request cannot make the simulator allocate
// without limit; OpenAI's largest model has 3072.
const maxEmbeddingDimensions = 3072

// embeddings serves POST /v1/embeddings. Vectors are unit vectors drawn from a PRNG seeded by a
// stable hash of each input, so equal inputs embed equally across runs and processes.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, start time.Time) {
	var req embeddingRequest
	model, ok := readOpenAI(s, w, r, &req, validateEmbedding, func(q *embeddingRequest) string { return *q.Model })
	if !ok {
		return
	}
	dims := embeddingDimensions(model)
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	tokens := req.Input.tokenCount()
	if sleep(r.Context(), s.opts.TimeToFirstToken) != nil {
		return
	}
	s.openAIHeaders(w, start, tokens)

	// The body is assembled by hand: thousands of floats through encoding/json would dominate the
	// cost of the request.
	buf := s.getBuf()
	defer s.putBuf(buf)
	b := append((*buf)[:0], `{"object":"list","data":[`...)
	vec := make([]float32, dims)
	raw := make([]byte, 0, 4*dims)
	n := 0
	for _, text := range req.Input.texts {
		b = s.appendEmbedding(b, n, embed(vec, fnv64(fnvOffset, text)), req.EncodingFormat, &raw)
		n++
	}
	for _, ids := range req.Input.tokens {
		h := fnvOffset
		for _, id := range ids {
			h = splitmix64(h ^ uint64(id))
		}
		b = s.appendEmbedding(b, n, embed(vec, h), req.EncodingFormat, &raw)
		n++
	}
	b = append(b, `],"model":`...)
	b = appendString(b, model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}\n"...)
	*buf = b

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func validateEmbedding(req *embeddingRequest) *requestError {
	switch {
	case req.Model == nil || *req.Model == "":
		return badRequest("you must provide a model parameter", "", "")
	case !req.Input.set:
		return badRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter")
	case req.Input.count() == 0:
		return badRequest("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "", "")
	case req.Dimensions != nil && *req.Dimensions < 1:
		return badRequest(strconv.Itoa(*req.Dimensions)+" is less than the minimum of 1 - 'dimensions'", "", "")
	case req.Dimensions != nil && *req.Dimensions > maxEmbeddingDimensions:
		return badRequest(strconv.Itoa(*req.Dimensions)+" is greater than the maximum of "+
			strconv.Itoa(maxEmbeddingDimensions)+" - 'dimensions'", "", "")
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		return badRequest("'"+req.EncodingFormat+"' is not one of ['float', 'base64'] - 'encoding_format'", "", "")
	}
	return nil
}

// embed fills vec with a unit vector derived from h and returns it.
func embed(vec []float32, h uint64) []float32 {
	var sum float64
	x := h
	for i := range vec {
		x = splitmix64(x)
		v := float64(int64(x>>11))/float64(1<<52) - 1 // uniform in [-1, 1)
		vec[i] = float32(v)
		sum += v * v
	}
	norm := math.Sqrt(sum)
	if norm == 0 {
		norm = 1
	}
	for i := range vec {
		vec[i] = float32(float64(vec[i]) / norm)
	}
	return vec
}

// appendEmbedding appends one embedding object; base64 is little-endian float32, as OpenAI's.
func (s *Server) appendEmbedding(b []byte, index int, vec []float32, format string, raw *[]byte) []byte {
	if index > 0 {
		b = append(b, ',')
	}
	b = append(b, `{"object":"embedding","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"embedding":`...)
	if format == "base64" {
		r := (*raw)[:0]
		for _, f := range vec {
			r = binary.LittleEndian.AppendUint32(r, math.Float32bits(f))
		}
		*raw = r
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, r)
		b = append(b, '"')
	} else {
		b = append(b, '[')
		for i, f := range vec {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
