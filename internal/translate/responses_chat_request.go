package translate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// anthropicSignaturePrefix marks a reasoning item's encrypted_content as an Anthropic thinking
// signature that aigw put there, so that only those go back to Anthropic as signed thinking (a
// real OpenAI encrypted reasoning blob would be rejected by Anthropic); redacted thinking is
// carried under anthropicRedactedPrefix.
const (
	anthropicSignaturePrefix = "aigw.anthropic.signature."
	anthropicRedactedPrefix  = "aigw.anthropic.redacted."
)

// customToolSchema is the parameters of the function a custom (free-form) tool becomes: its
// whole input as one string.
var customToolSchema = json.RawMessage(`{"type":"object","properties":{"input":{"type":"string","description":"The tool's whole input, as free-form text."}},"required":["input"],"additionalProperties":false}`)

// hostedToolsDropped are hosted tools that only add an ability the backend does not have; a
// request naming them is answered without it rather than refused.
var hostedToolsDropped = map[string]bool{"web_search": true, "web_search_preview": true, "web_search_2025_08_26": true, "web_search_preview_2025_03_11": true}

// chatRequest converts a Responses request into a Chat Completions one (see responses_chat.go).
//
// Stateless only: previous_response_id, conversation, item_reference, prompt templates and
// background mode need responses stored by the backend, and are a 422. Dropped: store (nothing
// is stored), include (encrypted reasoning is always returned when there is any), metadata,
// prompt_cache_key, service_tier, truncation, text.verbosity, reasoning.summary, top_logprobs,
// max_tool_calls, and the hosted web search tool.
func (t *responsesToChat) chatRequest(in *rsRequest) (*oaChatRequest, error) {
	switch {
	case in.PreviousResponseID != "":
		return nil, untranslatable("previous_response_id", "previous_response_id needs responses stored by the backend; backend %q is served statelessly through another API: send the whole conversation as input (store: false)", t.target.Backend.Name)
	case !isJSONNull(in.Conversation):
		return nil, untranslatable("conversation", "conversations are stored by OpenAI; backend %q is served statelessly: send the whole conversation as input", t.target.Backend.Name)
	case in.Background:
		return nil, untranslatable("background", "background responses are stored by OpenAI and cannot be run on backend %q", t.target.Backend.Name)
	case !isJSONNull(in.Prompt):
		return nil, untranslatable("prompt", "prompt templates are stored by OpenAI and cannot be used with backend %q", t.target.Backend.Name)
	}
	out := &oaChatRequest{
		Model:         t.target.Model,
		Temperature:   in.Temperature,
		TopP:          in.TopP,
		Stream:        in.Stream,
		User:          in.User,
		MaxTokens:     in.MaxOutputTokens,
		Thinking:      in.Thinking,
		StreamOptions: nil,
	}
	if out.User == "" {
		out.User = in.SafetyIdentifier
	}
	if in.Stream {
		out.StreamOptions = &oaStreamOptions{IncludeUsage: true}
	}
	if in.Reasoning != nil {
		out.ReasoningEffort = in.Reasoning.Effort
	}
	if in.Instructions != nil && *in.Instructions != "" {
		out.Messages = append(out.Messages, oaMessage{Role: "system", Content: oaContent{Text: in.Instructions}})
	}
	msgs, err := t.chatMessages(&in.Input)
	if err != nil {
		return nil, err
	}
	out.Messages = append(out.Messages, msgs...)
	if err := t.chatTools(in, out); err != nil {
		return nil, err
	}
	if f := in.Text; f != nil && f.Format != nil {
		switch f.Format.Type {
		case "", "text":
		case "json_object":
			out.ResponseFormat = &oaResponseFormat{Type: "json_object"}
		case "json_schema":
			name := f.Format.Name
			if name == "" {
				name = "response"
			}
			out.ResponseFormat = &oaResponseFormat{Type: "json_schema", JSONSchema: &oaJSONSchema{
				Name: name, Description: f.Format.Description, Schema: f.Format.Schema, Strict: f.Format.Strict,
			}}
		default:
			return nil, untranslatable("text.format.type", "text format %q cannot be translated", f.Format.Type)
		}
	}
	return out, nil
}

// chatMessages converts the input items. Responses lists an assistant turn as separate items
// (reasoning, message, function calls); Chat Completions wants one assistant message, so
// consecutive assistant items are merged, reasoning going onto the message that follows it.
func (t *responsesToChat) chatMessages(in *rsInput) ([]oaMessage, error) {
	if in.Text != nil {
		return []oaMessage{{Role: "user", Content: oaContent{Text: in.Text}}}, nil
	}
	var out []oaMessage
	// assistant is the open assistant message, which later assistant items join.
	assistant := -1
	var pendingThinking []oaThinkingBlock
	var pendingReasoning strings.Builder
	openAssistant := func() *oaMessage {
		if assistant < 0 {
			out = append(out, oaMessage{Role: "assistant"})
			assistant = len(out) - 1
		}
		m := &out[assistant]
		if pendingReasoning.Len() > 0 {
			r := pendingReasoning.String()
			if m.ReasoningContent != nil {
				r = *m.ReasoningContent + r
			}
			m.ReasoningContent = &r
			pendingReasoning.Reset()
		}
		m.ThinkingBlocks = append(m.ThinkingBlocks, pendingThinking...)
		pendingThinking = nil
		return m
	}
	for i := range in.Items {
		it := &in.Items[i]
		param := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "", "message":
			if it.Role == "assistant" {
				m := openAssistant()
				text := it.Content.text()
				for _, p := range it.Content.Parts {
					if p.Type == "refusal" && p.Refusal != nil {
						text += *p.Refusal
					}
				}
				if text != "" {
					if m.Content.Text != nil {
						text = *m.Content.Text + text
					}
					m.Content.Text = &text
				}
				continue
			}
			assistant = -1
			msg, err := chatMessage(param, it)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
		case "reasoning":
			text := ""
			for _, p := range it.Summary {
				if p.Text != nil {
					text += *p.Text
				}
			}
			for _, p := range it.Content.Parts {
				if p.Text != nil && text == "" {
					text += *p.Text
				}
			}
			pendingReasoning.WriteString(text)
			if it.EncryptedContent != nil {
				switch ec := *it.EncryptedContent; {
				case strings.HasPrefix(ec, anthropicSignaturePrefix):
					sig := strings.TrimPrefix(ec, anthropicSignaturePrefix)
					pendingThinking = append(pendingThinking, oaThinkingBlock{Type: "thinking", Thinking: ptr(text), Signature: &sig})
				case strings.HasPrefix(ec, anthropicRedactedPrefix):
					pendingThinking = append(pendingThinking, oaThinkingBlock{Type: "redacted_thinking", Data: strings.TrimPrefix(ec, anthropicRedactedPrefix)})
				}
			}
		case "function_call", "custom_tool_call":
			m := openAssistant()
			args := "{}"
			if it.Type == "custom_tool_call" {
				input := ""
				if it.Input != nil {
					input = *it.Input
				}
				b, _ := marshalJSON(map[string]string{"input": input})
				args = string(b)
			} else if it.Arguments != nil && strings.TrimSpace(*it.Arguments) != "" {
				args = *it.Arguments
			}
			if it.CallID == "" {
				return nil, badRequest(param+".call_id", "%s item has no call_id", it.Type)
			}
			name := it.Name
			if it.Namespace != "" {
				name = namespacedName(it.Namespace, it.Name)
			}
			m.ToolCalls = append(m.ToolCalls, oaToolCall{ID: it.CallID, Type: "function", Function: oaFunctionCall{Name: name, Arguments: args}})
		case "function_call_output", "custom_tool_call_output":
			assistant = -1
			msg, extra, err := chatToolMessage(param, it)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
			if len(extra) > 0 {
				out = append(out, oaMessage{Role: "user", Content: oaContent{Parts: extra}})
			}
		case "item_reference":
			return nil, untranslatable(param, "item references need responses stored by the backend; backend %q is served statelessly: send the items themselves", t.target.Backend.Name)
		case "web_search_call":
			// The record of a hosted search an earlier response ran; the search's findings are
			// in the message that followed it.
		default:
			return nil, untranslatable(param+".type", "input items of type %q cannot be translated for backend %q", it.Type, t.target.Backend.Name)
		}
	}
	return out, nil
}

// chatMessage converts a user, system or developer message. A developer message becomes a system
// message: the backends served this way know system (OpenAI itself treats the two alike), and the
// chat templates of many local servers know nothing else.
func chatMessage(param string, it *rsItem) (oaMessage, error) {
	msg := oaMessage{Role: it.Role}
	switch it.Role {
	case "user", "system":
	case "developer":
		msg.Role = "system"
	default:
		return msg, badRequest(param+".role", "unknown message role %q", it.Role)
	}
	if it.Content.Text != nil {
		msg.Content.Text = it.Content.Text
		return msg, nil
	}
	parts, err := chatParts(param+".content", it.Content.Parts)
	if err != nil {
		return msg, err
	}
	msg.Content = openAIContent(parts)
	if msg.Content.Parts == nil && msg.Content.Text == nil {
		msg.Content.Text = ptr("")
	}
	return msg, nil
}

// chatParts converts input content parts: text, images and inline files.
func chatParts(param string, in []rsPart) ([]oaContentPart, error) {
	parts := make([]oaContentPart, 0, len(in))
	for j, p := range in {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "input_text", "output_text", "text":
			if p.Text == nil {
				return nil, badRequest(pp+".text", "text part has no text")
			}
			parts = append(parts, oaContentPart{Type: "text", Text: p.Text})
		case "input_image":
			if p.ImageURL == "" {
				return nil, untranslatable(pp, "only images given by image_url can be translated, not file ids")
			}
			parts = append(parts, oaContentPart{Type: "image_url", ImageURL: &oaImageURL{URL: p.ImageURL}})
		case "input_file":
			if p.FileData == "" {
				return nil, untranslatable(pp, "only inline files (file_data) can be translated, not file ids or URLs")
			}
			parts = append(parts, oaContentPart{Type: "file", File: &oaFile{FileData: p.FileData, Filename: p.Filename}})
		default:
			return nil, untranslatable(pp+".type", "content parts of type %q cannot be translated", p.Type)
		}
	}
	return parts, nil
}

// chatToolMessage converts a function call's output. Tool messages hold only text, so images in
// an output go into a user message that follows (returned as extra).
func chatToolMessage(param string, it *rsItem) (oaMessage, []oaContentPart, error) {
	msg := oaMessage{Role: "tool", ToolCallID: it.CallID}
	if it.CallID == "" {
		return msg, nil, badRequest(param+".call_id", "%s item has no call_id", it.Type)
	}
	var out rsContent
	if err := json.Unmarshal(it.Output, &out); err != nil && !isJSONNull(it.Output) {
		return msg, nil, badRequest(param+".output", "output must be a string or a list of content parts")
	}
	if out.Text != nil {
		msg.Content.Text = out.Text
		return msg, nil, nil
	}
	parts, err := chatParts(param+".output", out.Parts)
	if err != nil {
		return msg, nil, err
	}
	text := ""
	var extra []oaContentPart
	for _, p := range parts {
		if p.Type == "text" {
			text += *p.Text
		} else {
			extra = append(extra, p)
		}
	}
	msg.Content.Text = &text
	return msg, extra, nil
}

// namespacedName is the one function name a function of a namespace tool is sent as, since
// Chat Completions has no namespaces ("__" joins them, as aigw names MCP tools; Anthropic allows
// only letters, digits, "_" and "-" in names).
func namespacedName(ns, name string) string { return ns + "__" + name }

func chatFunction(name string, tl *rsTool) oaTool {
	params := tl.Parameters
	if isJSONNull(params) {
		params = emptyObjectSchema
	}
	return oaTool{Type: "function", Function: &oaFunction{Name: name, Description: tl.Description, Parameters: params, Strict: tl.Strict}}
}

// chatTools converts function, namespace and custom tools and the tool choice.
func (t *responsesToChat) chatTools(in *rsRequest, out *oaChatRequest) error {
	for i, tl := range in.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		switch tl.Type {
		case "function":
			out.Tools = append(out.Tools, chatFunction(tl.Name, &tl))
		case "namespace":
			for j := range tl.Tools {
				fn := &tl.Tools[j]
				if fn.Type != "function" {
					return untranslatable(fmt.Sprintf("%s.tools[%d].type", param, j), "tools of type %q in a namespace cannot be translated", fn.Type)
				}
				if t.namespaced == nil {
					t.namespaced = map[string][2]string{}
				}
				flat := namespacedName(tl.Name, fn.Name)
				t.namespaced[flat] = [2]string{tl.Name, fn.Name}
				out.Tools = append(out.Tools, chatFunction(flat, fn))
			}
		case "custom":
			if t.custom == nil {
				t.custom = map[string]bool{}
			}
			t.custom[tl.Name] = true
			out.Tools = append(out.Tools, oaTool{Type: "function", Function: &oaFunction{Name: tl.Name, Description: tl.Description, Parameters: customToolSchema}})
		default:
			if hostedToolsDropped[tl.Type] {
				continue
			}
			if strings.HasPrefix(tl.Type, "local_shell") || strings.HasPrefix(tl.Type, "shell") || strings.HasPrefix(tl.Type, "apply_patch") {
				return untranslatable(param+".type", "tools of type %q are OpenAI models' own and cannot be translated for backend %q: declare the tool as a function", tl.Type, t.target.Backend.Name)
			}
			return untranslatable(param+".type", "tools of type %q run at OpenAI and cannot be used with backend %q", tl.Type, t.target.Backend.Name)
		}
	}
	out.ParallelToolCalls = in.ParallelToolCalls
	if len(out.Tools) == 0 {
		out.ParallelToolCalls = nil
		return nil
	}
	mode, typ, name, err := rsToolChoice(in.ToolChoice)
	if err != nil {
		return badRequest("tool_choice", "%v", err)
	}
	switch {
	case mode != "":
		out.ToolChoice = &oaToolChoice{Mode: mode}
	case (typ == "function" || typ == "custom") && name != "":
		out.ToolChoice = &oaToolChoice{Type: "function", Function: name}
	case typ != "":
		return untranslatable("tool_choice", "tool_choice of type %q cannot be translated", typ)
	}
	return nil
}
