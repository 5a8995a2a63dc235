package translate

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// responsesToChat serves a Responses API client from a backend that speaks Chat Completions
// only: an Anthropic backend (through openAIToAnthropic) or an OpenAI-compatible server without
// /v1/responses (through openAIPassthrough, for backends marked ChatCompletionsOnly). It is a
// layer over the chat translator: the Responses request becomes a chat request
// (responses_chat_request.go) that the inner translator sends on; what the inner translator
// returns, a chat completion or chat.completion.chunk events, becomes a response object or the
// Responses event sequence (responses_chat_stream.go), event by event. Usage is the inner
// translator's, read from the backend's own counts.
type responsesToChat struct {
	// generalOnly turns the fast path for common stream events off, for tests that compare it
	// with the general path.
	generalOnly bool
	target      Target
	inner       Translator
	// custom names the client's custom (free-form) tools, sent as functions taking one string.
	custom map[string]bool
	// namespaced maps the flat name of each function of a namespace tool to its namespace and
	// name.
	namespaced map[string][2]string
	// echo is the response object's echo of the request's parameters.
	echo rsResponse

	sseResponse bool
	body        bodyBuffer
	sse         SSEDecoder
	out         []byte
	stream      chatToRsStream
}

var _ Translator = (*responsesToChat)(nil)

func newResponsesToAnthropic(t Target) Translator {
	return &responsesToChat{target: t, inner: newOpenAIToAnthropic(t)}
}

// newOpenAIResponses serves /v1/responses on an OpenAI-schema backend: passed through when the
// backend has the Responses API, through its chat completions when it is ChatCompletionsOnly.
func newOpenAIResponses(t Target) Translator {
	if t.Backend.ChatCompletionsOnly {
		return &responsesToChat{target: t, inner: newOpenAIPassthrough(t)}
	}
	return newOpenAIGeneric(t)
}

func (t *responsesToChat) RequestBody(req *Request) (*Upstream, error) {
	var in rsRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid Responses request: %v", err)
	}
	chat, err := t.chatRequest(&in)
	if err != nil {
		return nil, err
	}
	t.echoRequest(req.Body, &in)
	body, err := marshalJSON(chat)
	if err != nil {
		return nil, badRequest("", "cannot encode the chat request: %v", err)
	}
	up, err := t.inner.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: body, Model: t.target.Model, Stream: chat.Stream, Header: req.Header})
	if err != nil {
		return nil, err
	}
	return up, nil
}

func (t *responsesToChat) ResponseHeaders(status int, h http.Header) error {
	if err := t.inner.ResponseHeaders(status, h); err != nil {
		return err
	}
	t.sseResponse = IsEventStream(h)
	h.Del("Content-Length")
	t.stream = chatToRsStream{t: t}
	return nil
}

func (t *responsesToChat) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	inner, err := t.inner.ResponseBody(chunk, eos)
	if err != nil {
		return nil, err
	}
	if !t.sseResponse {
		body, whole := t.body.whole(inner, eos)
		if !whole {
			return nil, nil
		}
		return t.response(body)
	}
	t.out = t.sse.Each(t.out[:0], inner, t.stream.event)
	if eos {
		t.out = t.stream.end(t.out)
	}
	return t.out, nil
}

// response converts a whole chat.completion into a response object.
func (t *responsesToChat) response(body []byte) ([]byte, error) {
	var c oaCompletionIn
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, upstreamInvalid("the backend sent a completion aigw cannot read: %v", err)
	}
	ids := newRsIDs(c.ID)
	r := t.newResponse(&ids, c.Created, c.Model)
	r.Usage = rsUsageFromChat(c.Usage)
	if len(c.Choices) > 0 {
		msg := &c.Choices[0].Message
		for _, tb := range msg.ThinkingBlocks {
			r.Output = append(r.Output, reasoningItem(ids.next("rs"), tb))
		}
		if len(msg.ThinkingBlocks) == 0 {
			if text := msg.reasoningText(); text != "" {
				r.Output = append(r.Output, reasoningItem(ids.next("rs"), oaThinkingBlock{Type: "thinking", Thinking: &text}))
			}
		}
		text := msg.Content.Text
		if text == nil && msg.Content.Parts != nil {
			s := ""
			for _, p := range msg.Content.Parts {
				if p.Text != nil {
					s += *p.Text
				}
			}
			text = &s
		}
		if text != nil && *text != "" {
			r.Output = append(r.Output, messageItem(ids.next("msg"), *text, "completed"))
		}
		if msg.Refusal != nil && *msg.Refusal != "" {
			item := messageItem(ids.next("msg"), "", "completed")
			item.Content.Parts[0] = rsPart{Type: "refusal", Refusal: msg.Refusal}
			r.Output = append(r.Output, item)
		}
		for _, tc := range msg.ToolCalls {
			r.Output = append(r.Output, t.callItem(ids.next("fc"), tc.ID, tc.Function.Name, tc.Function.Arguments, "completed"))
		}
		t.finish(&r, c.Choices[0].FinishReason)
	} else {
		r.Status = "completed"
	}
	out, err := marshalJSON(r)
	if err != nil {
		return nil, upstreamInvalid("cannot encode the response: %v", err)
	}
	return out, nil
}

// finish sets the status from the finish reason: cut by the token limit or a content filter is
// "incomplete", as the Responses API reports it.
func (t *responsesToChat) finish(r *rsResponse, finish *string) {
	r.Status = "completed"
	if finish == nil {
		return
	}
	switch *finish {
	case "length":
		r.Status, r.IncompleteDetails = "incomplete", &rsIncomplete{Reason: "max_output_tokens"}
	case "content_filter":
		r.Status, r.IncompleteDetails = "incomplete", &rsIncomplete{Reason: "content_filter"}
	}
}

// callItem is a function_call item, or a custom_tool_call when the function stands for a custom
// tool (its input is the one string argument).
func (t *responsesToChat) callItem(id, callID, name, args, status string) rsItem {
	if t.custom[name] {
		var a struct {
			Input string `json:"input"`
		}
		if json.Unmarshal([]byte(args), &a) != nil {
			a.Input = args
		}
		return rsItem{Type: "custom_tool_call", ID: id, Status: status, CallID: callID, Name: name, Input: &a.Input}
	}
	if strings.TrimSpace(args) == "" {
		args = "{}"
	}
	item := rsItem{Type: "function_call", ID: id, Status: status, CallID: callID, Name: name, Arguments: &args}
	if ns, ok := t.namespaced[name]; ok {
		item.Namespace, item.Name = ns[0], ns[1]
	}
	return item
}

// messageItem is an assistant message item with one output_text part.
func messageItem(id, text, status string) rsItem {
	return rsItem{Type: "message", ID: id, Status: status, Role: "assistant", Content: rsContent{Parts: []rsPart{outputText(text)}}}
}

func outputText(text string) rsPart {
	return rsPart{Type: "output_text", Text: &text, Annotations: &[]json.RawMessage{}}
}

// reasoningItem is a reasoning item: the thinking as its summary, an Anthropic signature or
// redacted thinking as its encrypted_content, so that the client can send it back.
func reasoningItem(id string, tb oaThinkingBlock) rsItem {
	item := rsItem{Type: "reasoning", ID: id, Summary: []rsPart{}}
	if tb.Thinking != nil && *tb.Thinking != "" {
		item.Summary = append(item.Summary, rsPart{Type: "summary_text", Text: tb.Thinking})
	}
	switch {
	case tb.Type == "redacted_thinking" && tb.Data != "":
		item.EncryptedContent = ptr(anthropicRedactedPrefix + tb.Data)
	case tb.Signature != nil && *tb.Signature != "":
		item.EncryptedContent = ptr(anthropicSignaturePrefix + *tb.Signature)
	}
	return item
}

// ResponseError passes on the inner translator's error, which is already in OpenAI's shape.
func (t *responsesToChat) ResponseError(status int, h http.Header, body []byte) []byte {
	return t.inner.ResponseError(status, h, body)
}

func (t *responsesToChat) Usage() Usage          { return t.inner.Usage() }
func (t *responsesToChat) ResponseModel() string { return t.inner.ResponseModel() }

// rsIDs makes the ids of one response and its items from the completion's id, so that they are
// stable for a given completion: resp_<base>, and <kind>_<base>_<n> per item.
type rsIDs struct {
	base string
	n    int
}

func newRsIDs(chatID string) rsIDs {
	base := chatID
	if i := strings.IndexAny(base, "_-"); i >= 0 && i < len(base)-1 {
		base = base[i+1:]
	}
	if base == "" {
		base = strings.TrimPrefix(messageID(""), "msg_")
	}
	return rsIDs{base: base}
}

func (g *rsIDs) next(kind string) string {
	g.n++
	return kind + "_" + g.base + "_" + strconv.Itoa(g.n)
}

// newResponse is the response object before any output, with the request's parameters.
func (t *responsesToChat) newResponse(ids *rsIDs, created int64, model string) rsResponse {
	r := t.echo
	r.ID, r.Object, r.CreatedAt, r.Status, r.Model, r.Output = "resp_"+ids.base, "response", created, "in_progress", model, []rsItem{}
	return r
}

// echoRequest keeps the request's parameters for the response objects, with the API's
// defaults for those it did not set.
func (t *responsesToChat) echoRequest(body []byte, in *rsRequest) {
	raw := func(path, def string) json.RawMessage {
		if v := gjson.GetBytes(body, path); v.Exists() && v.Type != gjson.Null {
			return json.RawMessage(v.Raw)
		}
		return json.RawMessage(def)
	}
	t.echo = rsResponse{
		Instructions: in.Instructions, MaxOutputTokens: in.MaxOutputTokens,
		ParallelToolCalls: in.ParallelToolCalls == nil || *in.ParallelToolCalls,
		Reasoning:         raw("reasoning", `{"effort":null,"summary":null}`),
		Temperature:       in.Temperature, TopP: in.TopP,
		Text:       raw("text", `{"format":{"type":"text"}}`),
		ToolChoice: raw("tool_choice", `"auto"`), Tools: raw("tools", `[]`),
		Truncation: "disabled", Metadata: raw("metadata", `{}`),
	}
}
