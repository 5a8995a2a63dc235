package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// chatCompletions serves POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request, start time.Time) {
	var req chatRequest
	model, ok := readOpenAI(s, w, r, &req, validateChat, func(q *chatRequest) string { return *q.Model })
	if !ok {
		return
	}
	usage, e := s.chatPromptUsage(r, &req)
	if e != nil {
		s.openAIRequestError(w, e)
		return
	}

	var last *chatMessage
	for i := len(req.Messages) - 1; i >= 0 && last == nil; i-- {
		if req.Messages[i].Role == "user" {
			last = &req.Messages[i]
		}
	}
	tools := toolRequest{mode: req.ToolChoice.mode, name: req.ToolChoice.name}
	if tools.mode == "function" {
		tools.mode = "named"
	}
	for i := range req.Tools {
		tools.tools = append(tools.tools, toolDef{name: req.Tools[i].Function.Name, schema: req.Tools[i].Function.Parameters})
	}
	var h uint64 = fnvOffset
	if last != nil {
		h = last.Content.hash()
		if len(tools.tools) > 0 {
			tools.prompt = last.Content.lastText()
		}
	}
	tools.answered = req.Messages[len(req.Messages)-1].Role == "tool"
	limit := 0
	if req.MaxCompletionTokens != nil {
		limit = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		limit = *req.MaxTokens
	}
	p := s.planFor(h, limit, modelReasons(model) && req.ReasoningEffort != "none", tools)
	usage.CompletionTokens = p.outputTokens() + p.reasoning
	usage.CompletionTokensDetails.ReasoningTokens = p.reasoning
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens

	if sleep(r.Context(), s.opts.TimeToFirstToken) != nil {
		return // the client left while "the model was thinking"
	}
	c := chatCompletion{
		ID:                s.chatID(),
		Object:            "chat.completion",
		Created:           time.Now().Unix(),
		Model:             model,
		Usage:             usage,
		ServiceTier:       "default",
		SystemFingerprint: fingerprint(model),
	}
	s.openAIHeaders(w, start, usage.PromptTokens)
	if req.Stream {
		opts := streamOptions{}
		if req.StreamOptions != nil {
			opts = *req.StreamOptions
		}
		s.streamChat(w, r, &c, p, opts)
		return
	}
	msg := responseMessage{Role: "assistant"}
	finish := "stop"
	switch {
	case p.tool != nil:
		finish = "tool_calls"
		msg.ToolCalls = []toolCallObject{{ID: s.toolCallID(), Type: "function",
			Function: functionCall{Name: p.tool.name, Arguments: p.tool.args}}}
	case p.truncated:
		finish = "length"
		fallthrough
	default:
		text := p.text.text()
		msg.Content = &text
	}
	c.Choices = []chatChoice{{Message: msg, FinishReason: finish}}
	s.writeJSON(w, http.StatusOK, c)
}

// validateChat applies the checks OpenAI makes before looking at the model.
func validateChat(req *chatRequest) *requestError {
	if req.Model == nil || *req.Model == "" {
		return badRequest("you must provide a model parameter", "", "")
	}
	if req.Messages == nil {
		return badRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
	}
	if len(req.Messages) == 0 {
		return badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "+
			"empty array instead.", "messages", "empty_array")
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if f.v != nil && *f.v < 1 {
			return badRequest("Invalid '"+f.name+"': integer below minimum value. Expected a value >= 1, but got "+
				strconv.Itoa(*f.v)+" instead.", f.name, "integer_below_min_value")
		}
	}
	return nil
}

// chatPromptUsage meters the prompt (tools first, then messages, the order OpenAI renders them
// in) and works out how much of it was served from the simulated prompt cache.
func (s *Server) chatPromptUsage(r *http.Request, req *chatRequest) (chatUsage, *requestError) {
	var m promptMeter
	m.reset(s.seed, "openai\x00"+*req.Model, cacheStepTokens*bytesPerToken)
	for i := range req.Tools {
		m.write(req.Tools[i].raw)
	}
	for i := range req.Messages {
		msg := &req.Messages[i]
		m.write(msg.Role)
		msg.Content.meter(&m)
		m.write(string(msg.ToolCalls))
	}
	var u chatUsage
	u.PromptTokens = m.tokens()
	n, ok, e := cachedOverride(r)
	switch {
	case e != nil:
		return u, e
	case ok:
		u.PromptTokens += n
		u.PromptTokensDetails.CachedTokens = n
	default:
		u.PromptTokensDetails.CachedTokens = tokensFor(s.cache.lookupInsert(m.marks))
	}
	return u, nil
}

// streamChat sends the answer as OpenAI streams it: a role chunk, one chunk per delta, a finish
// chunk, the usage chunk when asked for, then [DONE]. Every chunk shares a prefix computed once.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, c *chatCompletion, p plan, opts streamOptions) {
	buf := s.getBuf()
	e := s.newSSE(r.Context(), w, *buf)
	defer func() { *buf = e.end(); s.putBuf(buf) }()
	obfuscate := opts.IncludeObfuscation == nil || *opts.IncludeObfuscation

	head := make([]byte, 0, 256)
	head = append(head, `data: {"id":"`...)
	head = append(head, c.ID...)
	head = append(head, `","object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, c.Created, 10)
	head = append(head, `,"model":`...)
	head = appendString(head, c.Model)
	head = append(head, `,"service_tier":"default","system_fingerprint":"`...)
	head = append(head, c.SystemFingerprint...)
	head = append(head, `","choices":[`...)
	// chunk finishes the event whose choice was appended after head.
	chunk := func(deltaLen int) error {
		e.buf = append(e.buf, ']')
		if opts.IncludeUsage {
			e.buf = append(e.buf, `,"usage":null`...)
		}
		if obfuscate {
			e.buf = append(e.buf, `,"obfuscation":"`...)
			e.buf = append(e.buf, obfuscation(deltaLen)...)
			e.buf = append(e.buf, '"')
		}
		e.buf = append(e.buf, "}\n\n"...)
		return e.flush()
	}
	const choiceEnd = `},"logprobs":null,"finish_reason":null}`

	e.begin("text/event-stream; charset=utf-8")
	e.buf = append(e.buf, head...)
	finish := "stop"
	if p.tool != nil {
		finish = "tool_calls"
		e.buf = append(e.buf, `{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"`...)
		e.buf = append(e.buf, s.toolCallID()...)
		e.buf = append(e.buf, `","type":"function","function":{"name":`...)
		e.buf = appendString(e.buf, p.tool.name)
		e.buf = append(e.buf, `,"arguments":""}}],"refusal":null`...)
		e.buf = append(e.buf, choiceEnd...)
		if chunk(len(p.tool.name)) != nil {
			return
		}
		for _, piece := range p.tool.pieces {
			if e.pace() != nil {
				return
			}
			e.buf = append(e.buf, head...)
			e.buf = append(e.buf, `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`...)
			e.buf = appendString(e.buf, piece)
			e.buf = append(e.buf, `}}]`...)
			e.buf = append(e.buf, choiceEnd...)
			if chunk(len(piece)) != nil {
				return
			}
		}
	} else {
		e.buf = append(e.buf, `{"index":0,"delta":{"role":"assistant","content":"","refusal":null`...)
		e.buf = append(e.buf, choiceEnd...)
		if chunk(0) != nil {
			return
		}
		for i := 0; i < p.text.n; i++ {
			if e.pace() != nil {
				return
			}
			t := p.text.at(i)
			e.buf = append(e.buf, head...)
			e.buf = append(e.buf, `{"index":0,"delta":{"content":"`...)
			e.buf = append(e.buf, t.escaped...)
			e.buf = append(e.buf, '"')
			e.buf = append(e.buf, choiceEnd...)
			if chunk(len(t.text)) != nil {
				return
			}
		}
		if p.truncated {
			finish = "length"
		}
	}
	e.buf = append(e.buf, head...)
	e.buf = append(e.buf, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	e.buf = append(e.buf, finish...)
	e.buf = append(e.buf, `"}`...)
	if chunk(len(finish)) != nil {
		return
	}
	if opts.IncludeUsage {
		usage, err := json.Marshal(c.Usage)
		if err != nil {
			return
		}
		e.buf = append(e.buf, head...)
		e.buf = append(e.buf, `],"usage":`...)
		e.buf = append(e.buf, usage...)
		if obfuscate {
			e.buf = append(e.buf, `,"obfuscation":"`...)
			e.buf = append(e.buf, obfuscation(len(usage))...)
			e.buf = append(e.buf, '"')
		}
		e.buf = append(e.buf, "}\n\n"...)
		if e.flush() != nil {
			return
		}
	}
	e.buf = append(e.buf, "data: [DONE]\n\n"...)
	_ = e.flush()
}
