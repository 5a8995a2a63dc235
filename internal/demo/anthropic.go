package demo

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"time"
)

// minThinkingBudget is Anthropic's smallest allowed thinking.budget_tokens.
const minThinkingBudget = 1024

// anthropicPlan is a plan plus the optional extended-thinking block that precedes the answer.
type anthropicPlan struct {
	plan
	thinking  output // n is 0 without extended thinking
	signature string
}

// outputTokens counts every delta that carries generated content: thinking, text and tool
// input fragments. The signature is not generated text and does not count.
func (p anthropicPlan) outputTokens() int { return p.plan.outputTokens() + p.thinking.n }

// stopReason is Anthropic's name for why the answer ended.
func (p anthropicPlan) stopReason() string {
	switch {
	case p.tool != nil:
		return "tool_use"
	case p.truncated:
		return "max_tokens"
	}
	return "end_turn"
}

// messages serves POST /v1/messages. The anthropic-version header is accepted but not required.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, start time.Time) {
	var req messagesRequest
	if e := s.readJSON(w, r, &req); e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	if e := validateMessages(&req, true); e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	model := *req.Model
	if modelUnknown(model) {
		s.anthropicError(w, http.StatusNotFound, errNotFound, "model: "+model)
		return
	}
	usage, e := s.messagesPromptUsage(r, &req, true)
	if e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	p := s.anthropicPlanFor(&req)
	usage.OutputTokens = p.outputTokens()

	if sleep(r.Context(), s.opts.TimeToFirstToken) != nil {
		return
	}
	msg := anthropicMessageResponse{
		ID:    s.messageID(),
		Type:  "message",
		Role:  "assistant",
		Model: model,
		Usage: usage,
	}
	s.anthropicHeaders(w, start, usage.InputTokens)
	if req.Stream {
		s.streamMessage(w, r, &msg, p)
		return
	}
	if p.thinking.n > 0 {
		thinking, sig := p.thinking.text(), p.signature
		msg.Content = append(msg.Content, responseBlock{Type: "thinking", Thinking: &thinking, Signature: &sig})
	}
	if p.tool != nil {
		msg.Content = append(msg.Content, responseBlock{Type: "tool_use", ID: s.toolUseID(), Name: p.tool.name,
			Input: []byte(p.tool.args)})
	} else {
		text := p.text.text()
		msg.Content = append(msg.Content, responseBlock{Type: "text", Text: &text})
	}
	stop := p.stopReason()
	msg.StopReason = &stop
	s.writeJSON(w, http.StatusOK, msg)
}

// countTokens serves POST /v1/messages/count_tokens: the prompt size, without touching the cache.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	var req messagesRequest
	if e := s.readJSON(w, r, &req); e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	if e := validateMessages(&req, false); e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	if modelUnknown(*req.Model) {
		s.anthropicError(w, http.StatusNotFound, errNotFound, "model: "+*req.Model)
		return
	}
	usage, e := s.messagesPromptUsage(r, &req, false)
	if e != nil {
		s.anthropicRequestError(w, e)
		return
	}
	w.Header().Set("Request-Id", s.anthropicRequestID())
	s.writeJSON(w, http.StatusOK, tokensCount{InputTokens: usage.InputTokens})
}

// validateMessages applies Anthropic's request checks, worded as Anthropic words them.
// max_tokens is required to create a message but not to count tokens.
func validateMessages(req *messagesRequest, create bool) *requestError {
	switch {
	case req.Model == nil || *req.Model == "":
		return badRequest("model: Field required", "model", "")
	case create && req.MaxTokens == nil:
		return badRequest("max_tokens: Field required", "max_tokens", "")
	case req.Messages == nil:
		return badRequest("messages: Field required", "messages", "")
	case len(req.Messages) == 0:
		return badRequest("messages: at least one message is required", "messages", "")
	case create && *req.MaxTokens < 1:
		return badRequest("max_tokens: Input should be greater than or equal to 1", "max_tokens", "")
	}
	if t := req.Thinking; t != nil && t.Type == "enabled" {
		if t.BudgetTokens < minThinkingBudget {
			return badRequest("thinking.enabled.budget_tokens: Input should be greater than or equal to "+
				strconv.Itoa(minThinkingBudget), "thinking", "")
		}
		if create && *req.MaxTokens <= t.BudgetTokens {
			return badRequest("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "+
				"documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
				"max_tokens", "")
		}
	}
	return nil
}

// messagesPromptUsage meters the prompt in Anthropic's cache order (tools, system, messages),
// and, when creating, settles which part was read from or written to the simulated cache.
// Anthropic's input_tokens excludes both cached parts.
func (s *Server) messagesPromptUsage(r *http.Request, req *messagesRequest, create bool) (anthropicUsage, *requestError) {
	var m promptMeter
	m.reset(s.seed, "anthropic\x00"+*req.Model, 0)
	for i := range req.Tools {
		m.write(req.Tools[i].raw)
		if req.Tools[i].CacheControl != "" {
			m.mark()
		}
	}
	req.System.meter(&m)
	for i := range req.Messages {
		m.write(req.Messages[i].Role)
		req.Messages[i].Content.meter(&m)
	}
	u := anthropicUsage{InputTokens: m.tokens()}
	if !create {
		return u, nil
	}
	n, ok, e := cachedOverride(r)
	switch {
	case e != nil:
		return u, e
	case ok:
		u.CacheReadInputTokens = n
	case len(m.marks) > 0:
		hit := s.cache.lookupInsert(m.marks)
		cached := tokensFor(m.marks[len(m.marks)-1].bytes)
		u.CacheReadInputTokens = tokensFor(hit)
		u.CacheCreationInputTokens = cached - u.CacheReadInputTokens
		u.InputTokens -= cached
	}
	return u, nil
}

// anthropicPlanFor decides the answer: thinking first when enabled or adaptive, then text or a tool call,
// all within max_tokens.
func (s *Server) anthropicPlanFor(req *messagesRequest) anthropicPlan {
	var last *anthropicMessage
	for i := len(req.Messages) - 1; i >= 0 && last == nil; i-- {
		if req.Messages[i].Role == "user" {
			last = &req.Messages[i]
		}
	}
	h := fnvOffset
	tools := toolRequest{mode: "auto"}
	if c := req.ToolChoice; c != nil {
		tools.mode, tools.name = c.Type, c.Name
		switch c.Type {
		case "any":
			tools.mode = "required"
		case "tool":
			tools.mode = "named"
		}
	}
	for i := range req.Tools {
		tools.tools = append(tools.tools, toolDef{name: req.Tools[i].Name, schema: req.Tools[i].InputSchema})
	}
	if last != nil {
		h = last.Content.hash()
		if len(tools.tools) > 0 {
			tools.prompt = last.Content.lastText()
		}
		tools.answered = last == &req.Messages[len(req.Messages)-1] && last.Content.hasToolResult()
	}
	limit := *req.MaxTokens
	var p anthropicPlan
	if t := req.Thinking; t != nil && (t.Type == "enabled" || t.Type == "adaptive") && limit > 1 {
		n := min(max(4, s.opts.OutputTokens/2), limit-1)
		if t.Type == "enabled" { // adaptive thinking has no budget: the model decides, within max_tokens
			n = min(n, t.BudgetTokens)
		}
		p.thinking = s.thinking.output(h, n)
		p.signature = signature(h)
		limit -= n
	}
	p.plan = s.planFor(h, limit, false, tools)
	return p
}

// signature is a stable stand-in for the opaque signature that closes a thinking block.
func signature(h uint64) string {
	raw := make([]byte, 0, 96)
	for len(raw) < cap(raw) {
		h = splitmix64(h)
		raw = binary.LittleEndian.AppendUint64(raw, h)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
