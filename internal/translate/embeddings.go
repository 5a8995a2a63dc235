package translate

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
)

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
