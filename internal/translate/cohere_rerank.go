package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// defaultCohereVersion is the Cohere API version rerank is served at when the backend names none.
const defaultCohereVersion = "v2"

// cohereRerank forwards /cohere/v2/rerank to a Cohere-schema backend (/{version}/rerank) and its
// answer back unchanged, reading the input tokens Cohere reports in meta.
type cohereRerank struct {
	target Target
	body   bodyBuffer
	usage  Usage
}

var _ Translator = (*cohereRerank)(nil)

func newCohereRerank(t Target) Translator { return &cohereRerank{target: t} }

func (c *cohereRerank) RequestBody(req *Request) (*Upstream, error) {
	body := req.Body
	if c.target.Model != req.Model {
		var err error
		if body, err = sjson.SetBytes(body, "model", c.target.Model); err != nil {
			return nil, Errorf(http.StatusBadRequest, "invalid_body", "cannot set model: %v", err)
		}
	}
	v := c.target.Backend.Schema.Version
	if v == "" {
		v = defaultCohereVersion
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Upstream{Method: http.MethodPost, Path: c.target.Backend.Schema.Prefix + "/" + v + "/rerank", Header: h, Body: body}, nil
}

func (c *cohereRerank) ResponseHeaders(int, http.Header) error { return nil }

func (c *cohereRerank) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	body, whole := c.body.whole(chunk, eos)
	if !whole {
		return nil, nil
	}
	meta := gjson.GetBytes(body, "meta")
	in := meta.Get("tokens.input_tokens")
	if !in.Exists() {
		in = meta.Get("billed_units.input_tokens")
	}
	c.usage = Usage{InputTokens: in.Int(), TotalTokens: in.Int()}
	return body, nil
}

// ResponseError keeps Cohere's own error body ({"message": ...}) for Cohere clients, and wraps
// anything else.
func (c *cohereRerank) ResponseError(status int, _ http.Header, body []byte) []byte {
	if gjson.GetBytes(body, "message").Type == gjson.String {
		return body
	}
	return ErrorBody(APIOpenAI, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (c *cohereRerank) Usage() Usage          { return c.usage }
func (c *cohereRerank) ResponseModel() string { return "" }
