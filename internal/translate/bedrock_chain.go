package translate

import (
	"bytes"
	"net/http"
)

// chained serves one client API through two translators: outer turns the client's request into
// an intermediate API's (and that API's answers back into the client's), inner sends the
// intermediate request to the backend (and turns its answers into the intermediate API's). It is
// how Anthropic Messages reach Bedrock Converse (outer: Messages → Chat Completions, inner: Chat
// Completions → Converse) and how Chat Completions reach Claude through InvokeModel (outer: Chat
// Completions → Messages, inner: Messages → InvokeModel), each mapping written once. Usage is the
// inner translator's, read from the backend's own counts.
type chained struct {
	outer, inner Translator
	// via is the intermediate endpoint the outer translator speaks.
	via Endpoint
}

var _ Translator = (*chained)(nil)

func (c *chained) RequestBody(req *Request) (*Upstream, error) {
	mid, err := c.outer.RequestBody(req)
	if err != nil {
		return nil, err
	}
	up, err := c.inner.RequestBody(&Request{Endpoint: c.via, Body: mid.Body, Model: req.Model, Stream: req.Stream, Header: mergedHeader(req.Header, mid.Header)})
	if err != nil {
		return nil, err
	}
	up.Remove = append(up.Remove, mid.Remove...)
	return up, nil
}

// mergedHeader is the client's headers with the outer translator's set over them, as the
// inner translator would see them from a client of the intermediate API.
func mergedHeader(client, mid http.Header) http.Header {
	h := client.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range mid {
		h[k] = v
	}
	return h
}

func (c *chained) ResponseHeaders(status int, h http.Header) error {
	if err := c.inner.ResponseHeaders(status, h); err != nil {
		return err
	}
	return c.outer.ResponseHeaders(status, h)
}

func (c *chained) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	mid, err := c.inner.ResponseBody(chunk, eos)
	if err != nil {
		return nil, err
	}
	if len(mid) == 0 && !eos {
		return nil, nil
	}
	// The outer translator may keep a partial event of mid until the next call; mid is the
	// inner translator's buffer, reused then, so the outer gets its own copy.
	return c.outer.ResponseBody(bytes.Clone(mid), eos)
}

func (c *chained) ResponseError(status int, h http.Header, body []byte) []byte {
	return c.outer.ResponseError(status, h, c.inner.ResponseError(status, h, body))
}

func (c *chained) Usage() Usage          { return c.inner.Usage() }
func (c *chained) ResponseModel() string { return c.inner.ResponseModel() }

// newAnthropicToBedrock serves Anthropic Messages from Bedrock Converse, so Claude clients
// reach every Bedrock model.
func newAnthropicToBedrock(t Target) Translator {
	return &chained{outer: newAnthropicToOpenAI(t), inner: newOpenAIToBedrock(t), via: EndpointChatCompletions}
}
