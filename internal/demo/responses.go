package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// minOutputTokens is the smallest max_output_tokens the Responses API accepts.
const minOutputTokens = 16

// responsesPlan is a plan plus the reasoning item a reasoning model puts before its answer.
type responsesPlan struct {
	plan
	reasoningItem bool   // a reasoning model answers with a reasoning item first
	summary       output // the reasoning summary; n is 0 unless the request asked for one
	encrypted     string // encrypted_content, when the request includes it
}

// responses serves POST /v1/responses. The simulator keeps no state, so it answers as a store
// that has never seen a response: previous_response_id is a 400 "not found", as OpenAI says for
// an id it does not know.
func (s *Server) responses(w http.ResponseWriter, r *http.Request, start time.Time) {
	var req responsesRequest
	model, ok := readOpenAI(s, w, r, &req, validateResponses, func(q *responsesRequest) string { return *q.Model })
	if !ok {
		return
	}
	usage, e := s.responsesPromptUsage(r, &req)
	if e != nil {
		s.openAIRequestError(w, e)
		return
	}
	p := s.responsesPlanFor(&req)
	usage.OutputTokens = p.outputTokens() + p.reasoning
	usage.OutputTokensDetails.ReasoningTokens = p.reasoning
	usage.TotalTokens = usage.InputTokens + usage.OutputTokens

	if sleep(r.Context(), s.opts.TimeToFirstToken) != nil {
		return
	}
	res := s.newResponse(&req, model)
	s.openAIHeaders(w, start, usage.InputTokens)
	if req.Stream {
		obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil || *req.StreamOptions.IncludeObfuscation
		s.streamResponse(w, r, res, p, usage, obfuscate)
		return
	}
	res.Output = s.responseOutput(p)
	s.finishResponse(res, p, usage)
	s.writeJSON(w, http.StatusOK, res)
}

// validateResponses applies the checks OpenAI makes before looking at the model.
func validateResponses(req *responsesRequest) *requestError {
	switch {
	case req.Model == nil || *req.Model == "":
		return badRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter")
	case req.MaxOutputTokens != nil && *req.MaxOutputTokens < minOutputTokens:
		return badRequest("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "+
			strconv.Itoa(minOutputTokens)+", but got "+strconv.Itoa(*req.MaxOutputTokens)+" instead.",
			"max_output_tokens", "integer_below_min_value")
	case req.PreviousResponseID != nil && *req.PreviousResponseID != "":
		return badRequest("Previous response with id '"+*req.PreviousResponseID+"' not found.",
			"previous_response_id", "previous_response_not_found")
	}
	return nil
}

// responsesPromptUsage meters the prompt (tools, instructions, then the input items) and works
// out the cached part as for chat.
func (s *Server) responsesPromptUsage(r *http.Request, req *responsesRequest) (responseUsage, *requestError) {
	var m promptMeter
	m.reset(s.seed, "openai\x00"+*req.Model, cacheStepTokens*bytesPerToken)
	for i := range req.Tools {
		m.write(req.Tools[i].raw)
	}
	m.write(string(req.Instructions))
	m.write(req.Input.text)
	for i := range req.Input.items {
		it := &req.Input.items[i]
		m.write(it.Role)
		it.Content.meter(&m)
		m.write(it.raw)
	}
	var u responseUsage
	u.InputTokens = m.tokens()
	n, ok, e := cachedOverride(r)
	switch {
	case e != nil:
		return u, e
	case ok:
		u.InputTokens += n
		u.InputTokensDetails.CachedTokens = n
	default:
		u.InputTokensDetails.CachedTokens = tokensFor(s.cache.lookupInsert(m.marks))
	}
	return u, nil
}

// responsesPlanFor decides the answer from the last user message, the function tools offered
// and whether the input ends with a tool's output.
func (s *Server) responsesPlanFor(req *responsesRequest) responsesPlan {
	items := req.Input.items
	var last *chatContent
	for i := len(items) - 1; i >= 0 && last == nil; i-- {
		if items[i].Type == "message" && items[i].Role == "user" {
			last = &items[i].Content
		}
	}
	h := fnv64(fnvOffset, req.Input.text)
	prompt := req.Input.text
	if last != nil {
		h = last.hash()
	}
	tools := toolRequest{mode: req.ToolChoice.mode, name: req.ToolChoice.name}
	for i := range req.Tools {
		if req.Tools[i].Type == "function" {
			tools.tools = append(tools.tools, toolDef{name: req.Tools[i].Name, schema: req.Tools[i].Parameters})
		}
	}
	if len(tools.tools) > 0 {
		if last != nil {
			prompt = last.lastText()
		}
		tools.prompt = prompt
	}
	tools.answered = len(items) > 0 && items[len(items)-1].toolOutput()
	limit := 0
	if req.MaxOutputTokens != nil {
		limit = *req.MaxOutputTokens
	}
	reasons := modelReasons(*req.Model)
	if rc := req.Reasoning; rc != nil && rc.Effort != nil && *rc.Effort == "none" {
		reasons = false
	}
	p := responsesPlan{plan: s.planFor(h, limit, reasons, tools), reasoningItem: reasons}
	if reasons && req.Reasoning != nil && req.Reasoning.Summary != nil && *req.Reasoning.Summary != "" {
		p.summary = s.thinking.output(h, max(4, s.opts.OutputTokens/2))
	}
	for _, inc := range req.Include {
		if inc == "reasoning.encrypted_content" && reasons {
			p.encrypted = signature(h)
		}
	}
	return p
}

// newResponse is the response object as it stands when generation starts: in progress, no
// output, no usage, with the request's settings echoed as OpenAI echoes them.
func (s *Server) newResponse(req *responsesRequest, model string) *response {
	res := &response{
		ID:                s.responseID(),
		Object:            "response",
		CreatedAt:         time.Now().Unix(),
		Status:            "in_progress",
		Instructions:      nullIfEmpty(json.RawMessage(req.Instructions)),
		MaxOutputTokens:   req.MaxOutputTokens,
		Model:             model,
		Output:            []outputItem{},
		ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		ServiceTier:       "default",
		Store:             req.Store == nil || *req.Store,
		Temperature:       1,
		TopP:              1,
		Text:              json.RawMessage(`{"format":{"type":"text"},"verbosity":"medium"}`),
		ToolChoice:        json.RawMessage(`"auto"`),
		Tools:             []json.RawMessage{},
		Truncation:        "disabled",
		Metadata:          json.RawMessage(`{}`),
	}
	if req.Temperature != nil {
		res.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		res.TopP = *req.TopP
	}
	if len(req.ToolChoice.raw) > 0 {
		res.ToolChoice = req.ToolChoice.raw
	}
	for i := range req.Tools {
		res.Tools = append(res.Tools, json.RawMessage(req.Tools[i].raw))
	}
	if len(req.Metadata) > 0 && string(req.Metadata) != "null" {
		res.Metadata = req.Metadata
	}
	if modelReasons(model) {
		effort := "medium"
		if rc := req.Reasoning; rc != nil && rc.Effort != nil {
			effort = *rc.Effort
		}
		res.Reasoning.Effort = &effort
		if rc := req.Reasoning; rc != nil && rc.Summary != nil {
			res.Reasoning.Summary = rc.Summary
		}
	}
	return res
}

// finishResponse sets the final status, completion time and usage.
func (s *Server) finishResponse(res *response, p responsesPlan, usage responseUsage) {
	res.Status = "completed"
	if p.truncated {
		res.Status = "incomplete"
		res.IncompleteDetails = &incomplete{Reason: "max_output_tokens"}
	} else {
		now := time.Now().Unix()
		res.CompletedAt = &now
	}
	res.Usage = &usage
}

// itemIDs are the ids of a response's output items, fixed once so the streamed events and the
// final response name the same items.
type itemIDs struct {
	reasoning, message, call, callID string
}

func (s *Server) newItemIDs(p responsesPlan) itemIDs {
	var ids itemIDs
	if p.reasoningItem {
		ids.reasoning = s.newID("rs_", hexDigits, 50)
	}
	if p.tool != nil {
		ids.call, ids.callID = s.newID("fc_", hexDigits, 50), s.toolCallID()
	} else {
		ids.message = s.newID("msg_", hexDigits, 50)
	}
	return ids
}

// responseOutput is the complete output of a non-streamed response.
func (s *Server) responseOutput(p responsesPlan) []outputItem {
	ids := s.newItemIDs(p)
	var out []outputItem
	if p.reasoningItem {
		out = append(out, reasoningItem(ids.reasoning, p, true))
	}
	if p.tool != nil {
		return append(out, callItem(ids, p.tool, p.tool.args, "completed"))
	}
	return append(out, messageItem(ids.message, p.text.text(), p.truncated, true))
}

// reasoningItem is the reasoning output item, with its summary once done.
func reasoningItem(id string, p responsesPlan, done bool) outputItem {
	summary := []summaryPart{}
	if done && p.summary.n > 0 {
		summary = append(summary, summaryPart{Type: "summary_text", Text: p.summary.text()})
	}
	it := outputItem{ID: id, Type: "reasoning", Summary: &summary}
	if p.encrypted != "" {
		enc := p.encrypted
		it.EncryptedContent = &enc
	}
	return it
}

// messageItem is the assistant message item; done adds its text part.
func messageItem(id, text string, truncated, done bool) outputItem {
	content := []outputText{}
	status := "in_progress"
	if done {
		content = append(content, outputText{Type: "output_text", Text: text})
		status = "completed"
		if truncated {
			status = "incomplete"
		}
	}
	return outputItem{ID: id, Type: "message", Status: status, Content: &content, Role: "assistant"}
}

// callItem is the function_call item with the arguments generated so far.
func callItem(ids itemIDs, t *toolPlan, args, status string) outputItem {
	return outputItem{ID: ids.call, Type: "function_call", Status: status, Arguments: &args, CallID: ids.callID, Name: t.name}
}

// responseID is a Responses API id: "resp_" and 50 hex digits.
func (s *Server) responseID() string { return s.newID("resp_", hexDigits, 50) }

const hexDigits = "0123456789abcdef"

// nullIfEmpty turns an absent raw value into JSON null.
func nullIfEmpty(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}
