package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// openAIRequest converts an Anthropic Messages request into an OpenAI Chat Completions one.
//
// max_tokens becomes max_completion_tokens, the field OpenAI documents (max_tokens is deprecated
// and rejected by its reasoning models). Dropped because Chat Completions has no equivalent:
// top_k, cache_control (OpenAI caches prompts by itself), the signatures of thinking blocks and
// redacted_thinking blocks (encrypted for Anthropic, unreadable anywhere else), tool_result's
// is_error flag, service_tier, container, context_management. Rejected with 422: server tools
// (web search, code execution, ...), mcp_servers, document sources other than base64 PDFs and
// text.
func (t *anthropicToOpenAI) openAIRequest(in *anRequest) (*oaChatRequest, error) {
	out := &oaChatRequest{
		Model:               t.target.Model,
		MaxCompletionTokens: in.MaxTokens,
		Temperature:         in.Temperature,
		TopP:                in.TopP,
		Stop:                oaStop(in.StopSequences),
		Stream:              in.Stream,
	}
	if in.Stream {
		// Usage arrives only when asked for; aigw always needs it.
		out.StreamOptions = &oaStreamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil && in.Metadata.UserID != "" {
		out.User = openAIUser(in.Metadata.UserID)
	}
	if !isJSONNull(in.MCPServers) && string(in.MCPServers) != "[]" {
		return nil, untranslatable("mcp_servers", "MCP servers are run by Anthropic and cannot be used with an OpenAI backend")
	}
	if in.System != nil {
		if sys := openAISystem(in.System); sys != nil {
			out.Messages = append(out.Messages, *sys)
		}
	}
	for i := range in.Messages {
		msgs, err := openAIMessages(fmt.Sprintf("messages[%d]", i), &in.Messages[i])
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if err := openAITools(in, out); err != nil {
		return nil, err
	}
	openAIReasoning(in, out)
	format := in.OutputFormat
	if in.OutputConfig != nil && in.OutputConfig.Format != nil {
		format = in.OutputConfig.Format
	}
	if format != nil && format.Type == "json_schema" {
		out.ResponseFormat = &oaResponseFormat{Type: "json_schema", JSONSchema: &oaJSONSchema{
			Name: "response", Schema: format.Schema, Strict: ptr(true),
		}}
	}
	fitOpenAIModel(out)
	switch {
	case t.carryAnthropic && t.carryRequest != nil:
		t.carryRequest(t.target, in, out)
	case t.carryAnthropic:
		carryAnthropicRequest(t.target, in, out)
	default:
		dropAnthropicFields(out)
	}
	return out, nil
}

// dropAnthropicFields removes what only a backend reading Anthropic's own fields can use
// (cache_control, signed thinking_blocks): OpenAI refuses fields it does not know.
func dropAnthropicFields(out *oaChatRequest) {
	dropCacheControl(out)
	for i := range out.Messages {
		out.Messages[i].ThinkingBlocks = nil
	}
}

// dropCacheControl removes Anthropic's cache_control from messages, their parts and tools.
func dropCacheControl(out *oaChatRequest) {
	for i := range out.Messages {
		m := &out.Messages[i]
		m.CacheControl = nil
		for j := range m.Content.Parts {
			m.Content.Parts[j].CacheControl = nil
		}
	}
	for i := range out.Tools {
		out.Tools[i].CacheControl = nil
	}
}

// openAISystem is the system prompt as one system message: a string when it is one block.
func openAISystem(c *anContent) *oaMessage {
	if c.Text != nil {
		return &oaMessage{Role: "system", Content: oaContent{Text: c.Text}}
	}
	var parts []oaContentPart
	for _, b := range c.Blocks {
		if b.Type == "text" && b.Text != nil {
			parts = append(parts, oaContentPart{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return &oaMessage{Role: "system", Content: oaContent{Text: parts[0].Text}, CacheControl: parts[0].CacheControl}
	}
	return &oaMessage{Role: "system", Content: oaContent{Parts: parts}}
}

// openAIMessages converts one Anthropic turn into OpenAI messages. A user turn's tool_result
// blocks become tool messages, placed before the rest of the turn as OpenAI requires them right
// after the assistant's tool calls; an assistant turn becomes one message. A system turn (which
// Anthropic accepts inside messages and Claude Code sends after the prompt) becomes a system
// message at the same position; only its text can be carried.
func openAIMessages(param string, m *anMessageParam) ([]oaMessage, error) {
	switch m.Role {
	case "system":
		for j, b := range m.Content.blocks() {
			if b.Type != "text" {
				return nil, untranslatable(fmt.Sprintf("%s.content[%d]", param, j), "system messages can only hold text, not %q blocks", b.Type)
			}
		}
		if sys := openAISystem(&m.Content); sys != nil {
			return []oaMessage{*sys}, nil
		}
		return nil, nil
	case "user":
		return openAIUserMessages(param, m.Content.blocks())
	case "assistant":
		msg, err := openAIAssistantMessage(param, m.Content.blocks())
		if err != nil {
			return nil, err
		}
		return []oaMessage{msg}, nil
	}
	return nil, badRequest(param+".role", "unknown message role %q", m.Role)
}

func openAIUserMessages(param string, blocks []anBlock) ([]oaMessage, error) {
	var out []oaMessage
	var parts []oaContentPart
	for j := range blocks {
		b := &blocks[j]
		bp := fmt.Sprintf("%s.content[%d]", param, j)
		if b.Type == "tool_result" {
			tool, extra, err := openAIToolMessage(bp, b)
			if err != nil {
				return nil, err
			}
			out = append(out, tool)
			parts = append(parts, extra...)
			continue
		}
		p, err := openAIPart(bp, b)
		if err != nil {
			return nil, err
		}
		if p != nil {
			parts = append(parts, *p)
		}
	}
	if len(parts) > 0 {
		m := oaMessage{Role: "user", Content: openAIContent(parts)}
		if m.Content.Text != nil {
			m.CacheControl = parts[0].CacheControl
		}
		out = append(out, m)
	}
	return out, nil
}

// openAIContent is a content array, or a plain string when it is one text part.
func openAIContent(parts []oaContentPart) oaContent {
	if len(parts) == 1 && parts[0].Type == "text" {
		return oaContent{Text: parts[0].Text}
	}
	return oaContent{Parts: parts}
}

// openAIPart converts a user content block (text, image, document) into a content part.
func openAIPart(param string, b *anBlock) (*oaContentPart, error) {
	switch b.Type {
	case "text":
		if b.Text == nil {
			return nil, badRequest(param+".text", "text block has no text")
		}
		return &oaContentPart{Type: "text", Text: b.Text, CacheControl: b.CacheControl}, nil
	case "image":
		if b.Source == nil {
			return nil, badRequest(param+".source", "image block has no source")
		}
		switch b.Source.Type {
		case "base64":
			return &oaContentPart{Type: "image_url", ImageURL: &oaImageURL{URL: dataURL(b.Source.MediaType, b.Source.Data)}, CacheControl: b.CacheControl}, nil
		case "url":
			return &oaContentPart{Type: "image_url", ImageURL: &oaImageURL{URL: b.Source.URL}, CacheControl: b.CacheControl}, nil
		}
		return nil, untranslatable(param+".source", "image sources of type %q cannot be sent to an OpenAI backend", b.Source.Type)
	case "document":
		return openAIDocumentPart(param, b)
	case "thinking", "redacted_thinking":
		return nil, nil // only meaningful in assistant turns
	}
	return nil, untranslatable(param, "content blocks of type %q cannot be sent to an OpenAI backend", b.Type)
}

// openAIDocumentPart sends a base64 PDF as an inline file and a text document as text.
func openAIDocumentPart(param string, b *anBlock) (*oaContentPart, error) {
	if b.Source == nil {
		return nil, badRequest(param+".source", "document block has no source")
	}
	switch {
	case b.Source.Type == "base64" && b.Source.MediaType == "application/pdf":
		name := b.Title
		if name == "" {
			name = "document.pdf"
		}
		return &oaContentPart{Type: "file", File: &oaFile{Filename: name, FileData: dataURL(b.Source.MediaType, b.Source.Data)}}, nil
	case b.Source.Type == "text":
		text := b.Source.Data
		return &oaContentPart{Type: "text", Text: &text}, nil
	}
	return nil, untranslatable(param+".source", "document sources of type %q cannot be sent to an OpenAI backend", b.Source.Type)
}

// openAIToolMessage converts a tool_result block into a tool message. Tool messages hold only
// text, so images in a result go into the user message that follows (returned as extra).
func openAIToolMessage(param string, b *anBlock) (oaMessage, []oaContentPart, error) {
	msg := oaMessage{Role: "tool", ToolCallID: b.ToolUseID, CacheControl: b.CacheControl}
	if b.Content == nil {
		msg.Content.Text = ptr("")
		return msg, nil, nil
	}
	if b.Content.Text != nil {
		msg.Content.Text = b.Content.Text
		return msg, nil, nil
	}
	var texts []oaContentPart
	var extra []oaContentPart
	for k := range b.Content.Blocks {
		p, err := openAIPart(fmt.Sprintf("%s.content[%d]", param, k), &b.Content.Blocks[k])
		if err != nil {
			return msg, nil, err
		}
		if p == nil {
			continue
		}
		if p.Type == "text" {
			texts = append(texts, *p)
		} else {
			extra = append(extra, *p)
		}
	}
	switch len(texts) {
	case 0:
		msg.Content.Text = ptr("")
	case 1:
		msg.Content.Text = texts[0].Text
	default:
		msg.Content.Parts = texts
	}
	return msg, extra, nil
}

// openAIAssistantMessage converts an assistant turn: text into content, tool_use into
// tool_calls, thinking into reasoning_content (what OpenAI-compatible reasoning backends read
// back; OpenAI itself ignores it).
func openAIAssistantMessage(param string, blocks []anBlock) (oaMessage, error) {
	msg := oaMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	hasText, hasReasoning := false, false
	for j := range blocks {
		b := &blocks[j]
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
				hasText = true
			}
		case "thinking":
			if b.Thinking != nil {
				reasoning.WriteString(*b.Thinking)
				hasReasoning = true
				if b.Signature != nil && *b.Signature != "" {
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
				}
			}
		case "redacted_thinking":
			// Encrypted for Anthropic: only a backend that carries Anthropic's fields reads it.
			if b.Data != "" {
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, oaThinkingBlock{Type: "redacted_thinking", Data: b.Data})
			}
		case "tool_use":
			args := "{}"
			if !isJSONNull(b.Input) {
				args = string(compactJSON(b.Input))
			}
			msg.ToolCalls = append(msg.ToolCalls, oaToolCall{ID: b.ID, Type: "function", Function: oaFunctionCall{Name: b.Name, Arguments: args}})
		default:
			return msg, untranslatable(fmt.Sprintf("%s.content[%d]", param, j), "content blocks of type %q cannot be sent to an OpenAI backend", b.Type)
		}
		if len(b.CacheControl) > 0 {
			msg.CacheControl = b.CacheControl
		}
	}
	if hasText {
		msg.Content.Text = ptr(text.String())
	}
	if hasReasoning {
		msg.ReasoningContent = ptr(reasoning.String())
	}
	return msg, nil
}

// openAITools converts custom tools and tool_choice; disable_parallel_tool_use becomes
// parallel_tool_calls false.
func openAITools(in *anRequest, out *oaChatRequest) error {
	for i, tl := range in.Tools {
		if tl.Type != "" && tl.Type != "custom" {
			return untranslatable(fmt.Sprintf("tools[%d]", i), "server tools of type %q run at Anthropic and cannot be used with an OpenAI backend", tl.Type)
		}
		params := tl.InputSchema
		if isJSONNull(params) {
			params = emptyObjectSchema
		}
		out.Tools = append(out.Tools, oaTool{Type: "function", Function: &oaFunction{
			Name: tl.Name, Description: tl.Description, Parameters: params, Strict: tl.Strict,
		}, CacheControl: tl.CacheControl})
	}
	tc := in.ToolChoice
	if tc == nil || len(out.Tools) == 0 {
		return nil
	}
	switch tc.Type {
	case "auto":
		out.ToolChoice = &oaToolChoice{Mode: "auto"}
	case "any":
		out.ToolChoice = &oaToolChoice{Mode: "required"}
	case "none":
		out.ToolChoice = &oaToolChoice{Mode: "none"}
	case "tool":
		out.ToolChoice = &oaToolChoice{Type: "function", Function: tc.Name}
	default:
		return badRequest("tool_choice.type", "unknown tool_choice type %q", tc.Type)
	}
	if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
		out.ParallelToolCalls = ptr(false)
	}
	return nil
}

// openAIReasoning maps thinking and output_config.effort to reasoning_effort (see reasoning.go).
// Thinking disabled, or absent with no effort, sends none and leaves the backend's default.
func openAIReasoning(in *anRequest, out *oaChatRequest) {
	effort := ""
	if in.OutputConfig != nil {
		effort = in.OutputConfig.Effort
	}
	switch th := in.Thinking; {
	case th != nil && th.Type == "enabled" && th.BudgetTokens != nil:
		out.ReasoningEffort = effortForBudget(*th.BudgetTokens)
	case th != nil && th.Type == "adaptive":
		out.ReasoningEffort = effortForAdaptive(effort)
	case th != nil && th.Type == "disabled":
	case effort != "":
		out.ReasoningEffort = effortForAdaptive(effort)
	}
}

// maxOpenAIUserLen is the longest user OpenAI accepts.
const maxOpenAIUserLen = 64

// openAIUser is metadata.user_id as OpenAI's user: as is when it fits, or else its SHA-256 in
// hex, which is exactly 64 characters, still stable per user, and reveals nothing. Claude Code
// sends ids of over 100 characters (user, account and session ids joined).
func openAIUser(id string) string {
	if len(id) <= maxOpenAIUserLen {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// openAIToolArguments is the input of a tool call as Anthropic wants it: a JSON object. Invalid
// or non-object arguments from a backend (possible without strict mode) are kept under one key
// rather than lost.
func openAIToolArguments(args string) json.RawMessage {
	raw := json.RawMessage(args)
	switch {
	case strings.TrimSpace(args) == "":
		return json.RawMessage("{}")
	case isJSONObject(raw):
		return compactJSON(raw)
	}
	wrapped, err := marshalJSON(map[string]string{"_raw_arguments": args})
	if err != nil {
		return json.RawMessage("{}")
	}
	return wrapped
}
