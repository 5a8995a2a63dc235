package translate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// jsonToolName is the tool aigw forces an Anthropic model to call when an OpenAI client asks for
// response_format json_object: Anthropic's structured outputs (output_config.format) need a
// schema, so plain JSON mode uses the tool-use technique Anthropic documents for JSON output,
// and the tool's input comes back to the client as the message content.
const jsonToolName = "json_response"

// emptyObjectSchema is the input schema of a tool that declares no parameters; Anthropic
// requires one.
var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// anthropicRequest converts an OpenAI Chat Completions request into an Anthropic Messages one.
//
// Dropped because the Messages API has no equivalent: frequency_penalty, presence_penalty,
// logit_bias, logprobs, seed, service_tier, store, metadata, prediction, modalities, audio,
// verbosity, web_search_options, message names, image detail. Rejected with 422 because
// dropping them would change the answer: n > 1, audio input, file ids, non-function tools,
// legacy function calling.
func (t *openAIToAnthropic) anthropicRequest(in *oaChatRequest) (*anRequest, error) {
	out := &anRequest{
		Model:         t.target.Model,
		Stream:        in.Stream,
		Temperature:   in.Temperature,
		TopP:          in.TopP,
		TopK:          in.TopK,
		StopSequences: in.Stop,
		MaxTokens:     in.MaxCompletionTokens,
	}
	if out.MaxTokens == nil {
		out.MaxTokens = in.MaxTokens
	}
	if out.MaxTokens == nil { // Anthropic requires it (see max_tokens.go)
		out.MaxTokens = ptr(defaultMaxTokens(t.target))
	}
	if in.N != nil && *in.N > 1 {
		return nil, untranslatable("n", "n=%d asks for several choices, which Anthropic backends cannot produce", *in.N)
	}
	if in.User != "" {
		out.Metadata = &anMetadata{UserID: in.User}
	}
	system, messages, err := anthropicMessages(in.Messages)
	if err != nil {
		return nil, err
	}
	if len(system) > 0 {
		out.System = &anContent{Blocks: system}
	}
	out.Messages = messages
	if err := t.anthropicTools(in, out); err != nil {
		return nil, err
	}
	if err := t.anthropicResponseFormat(in, out); err != nil {
		return nil, err
	}
	if err := anthropicThinking(in.ReasoningEffort, in.Thinking, out); err != nil {
		return nil, err
	}
	fitThinkingSampling(out)
	return out, nil
}

// anthropicMessages splits OpenAI messages into Anthropic's system blocks and alternating turns.
// System and developer messages all become system blocks, wherever they stood (Anthropic has
// one system prompt). Tool results go into a user turn; consecutive messages of the same
// Anthropic role are merged into one turn, as Anthropic would do itself.
func anthropicMessages(msgs []oaMessage) (system []anBlock, out []anMessageParam, err error) {
	add := func(role string, blocks []anBlock) {
		if len(blocks) == 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content.Blocks = append(out[n-1].Content.Blocks, blocks...)
			return
		}
		out = append(out, anMessageParam{Role: role, Content: anContent{Blocks: blocks}})
	}
	for i := range msgs {
		m := &msgs[i]
		param := fmt.Sprintf("messages[%d]", i)
		var blocks []anBlock
		role := "user"
		switch m.Role {
		case "system", "developer":
			if blocks, err = anthropicTextBlocks(param, &m.Content); err != nil {
				return nil, nil, err
			}
			withCacheControl(blocks, m.CacheControl)
			system = append(system, blocks...)
			continue
		case "user":
			blocks, err = anthropicUserBlocks(param, &m.Content)
		case "assistant":
			role = "assistant"
			blocks, err = anthropicAssistantBlocks(param, m)
		case "tool":
			blocks, err = anthropicToolResult(param, m)
		case "function":
			err = untranslatable(param+".role", "legacy function messages cannot be sent to an Anthropic backend: use tool messages")
		default:
			err = badRequest(param+".role", "unknown message role %q", m.Role)
		}
		if err != nil {
			return nil, nil, err
		}
		withCacheControl(blocks, m.CacheControl)
		add(role, blocks)
	}
	return system, out, nil
}

// withCacheControl puts a message-level cache_control on the message's last block.
func withCacheControl(blocks []anBlock, cc json.RawMessage) {
	if len(blocks) > 0 && !isJSONNull(cc) {
		blocks[len(blocks)-1].CacheControl = cc
	}
}

// anthropicTextBlocks converts content that may only hold text (system, developer, tool).
func anthropicTextBlocks(param string, c *oaContent) ([]anBlock, error) {
	if c.Parts == nil {
		if c.Text == nil {
			return nil, nil
		}
		return []anBlock{{Type: "text", Text: c.Text}}, nil
	}
	blocks := make([]anBlock, 0, len(c.Parts))
	for j, p := range c.Parts {
		if p.Type != "text" || p.Text == nil {
			return nil, untranslatable(fmt.Sprintf("%s.content[%d]", param, j), "content parts of type %q are not allowed here", p.Type)
		}
		blocks = append(blocks, anBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
	}
	return blocks, nil
}

// anthropicUserBlocks converts user content: text, images and PDF files.
func anthropicUserBlocks(param string, c *oaContent) ([]anBlock, error) {
	if c.Parts == nil {
		return anthropicTextBlocks(param, c)
	}
	blocks := make([]anBlock, 0, len(c.Parts))
	for j, p := range c.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		b := anBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl}
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, badRequest(pp+".text", "text content part has no text")
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, badRequest(pp+".image_url", "image_url content part has no image_url")
			}
			src, err := anthropicImageSource(pp, p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			b = anBlock{Type: "image", Source: src, CacheControl: p.CacheControl}
		case "file":
			src, err := anthropicDocumentSource(pp, p.File)
			if err != nil {
				return nil, err
			}
			b = anBlock{Type: "document", Source: src, CacheControl: p.CacheControl}
		default:
			return nil, untranslatable(pp, "content parts of type %q cannot be sent to an Anthropic backend", p.Type)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// anthropicImageSource turns an image URL into a URL source, or a data URL into a base64 one.
func anthropicImageSource(param, u string) (*anSource, error) {
	if strings.HasPrefix(u, "data:") {
		mt, data, ok := parseDataURL(u)
		if !ok {
			return nil, badRequest(param+".image_url.url", "image data URLs must be base64-encoded")
		}
		return &anSource{Type: "base64", MediaType: mt, Data: data}, nil
	}
	if u == "" {
		return nil, badRequest(param+".image_url.url", "image_url has no url")
	}
	return &anSource{Type: "url", URL: u}, nil
}

// anthropicDocumentSource turns an inline file into a document source. Anthropic reads PDFs
// (base64) and plain text; OpenAI file ids mean nothing to it.
func anthropicDocumentSource(param string, f *oaFile) (*anSource, error) {
	if f == nil || f.FileData == "" {
		return nil, untranslatable(param+".file", "only inline files (file_data) can be sent to an Anthropic backend, not file ids")
	}
	mt, data, ok := parseDataURL(f.FileData)
	if !ok {
		return nil, badRequest(param+".file.file_data", "file_data must be a base64 data URL")
	}
	if mt != "application/pdf" {
		return nil, untranslatable(param+".file", "files of type %q cannot be sent to an Anthropic backend (PDF only)", mt)
	}
	return &anSource{Type: "base64", MediaType: mt, Data: data}, nil
}

// anthropicAssistantBlocks converts an assistant turn: its thinking blocks first (Anthropic
// requires them to lead the turn they belong to), then text, then tool calls.
//
// Reasoning given only as reasoning_content is dropped: Anthropic accepts earlier thinking only
// with the signature it issued, which thinking_blocks carry.
func anthropicAssistantBlocks(param string, m *oaMessage) ([]anBlock, error) {
	if !isJSONNull(m.FunctionCall) {
		return nil, untranslatable(param+".function_call", "legacy function calls cannot be sent to an Anthropic backend: use tool_calls")
	}
	var blocks []anBlock
	for _, tb := range m.ThinkingBlocks {
		switch {
		case tb.Type == "thinking" && tb.Signature != nil && *tb.Signature != "":
			text := ""
			if tb.Thinking != nil {
				text = *tb.Thinking
			}
			blocks = append(blocks, anBlock{Type: "thinking", Thinking: &text, Signature: tb.Signature})
		case tb.Type == "redacted_thinking" && tb.Data != "":
			blocks = append(blocks, anBlock{Type: "redacted_thinking", Data: tb.Data})
		}
	}
	if m.Content.Parts != nil {
		for _, p := range m.Content.Parts {
			text := p.Text
			if p.Type == "refusal" {
				text = p.Refusal
			}
			if text != nil && *text != "" {
				blocks = append(blocks, anBlock{Type: "text", Text: text, CacheControl: p.CacheControl})
			}
		}
	} else if m.Content.Text != nil && *m.Content.Text != "" {
		blocks = append(blocks, anBlock{Type: "text", Text: m.Content.Text})
	}
	for j, tc := range m.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			input = json.RawMessage("{}")
		} else if !isJSONObject(input) {
			return nil, badRequest(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments must be a JSON object")
		}
		blocks = append(blocks, anBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: compactJSON(input)})
	}
	return blocks, nil
}

// anthropicToolResult converts a tool message into a tool_result block.
func anthropicToolResult(param string, m *oaMessage) ([]anBlock, error) {
	blocks, err := anthropicTextBlocks(param, &m.Content)
	if err != nil {
		return nil, err
	}
	content := &anContent{Blocks: blocks}
	if m.Content.Parts == nil {
		content = &anContent{Text: m.Content.Text}
		if m.Content.Text == nil {
			content = &anContent{Text: ptr("")}
		}
	}
	return []anBlock{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: content}}, nil
}

// anthropicTools converts tools and tool_choice. parallel_tool_calls false becomes
// disable_parallel_tool_use on the tool choice (auto when the client named none).
func (t *openAIToAnthropic) anthropicTools(in *oaChatRequest, out *anRequest) error {
	for i, tl := range in.Tools {
		if tl.Type != "function" || tl.Function == nil {
			return untranslatable(fmt.Sprintf("tools[%d]", i), "tools of type %q cannot be sent to an Anthropic backend", tl.Type)
		}
		schema := tl.Function.Parameters
		if isJSONNull(schema) {
			schema = emptyObjectSchema
		}
		out.Tools = append(out.Tools, anTool{
			Name:         tl.Function.Name,
			Description:  tl.Function.Description,
			InputSchema:  schema,
			Strict:       tl.Function.Strict,
			CacheControl: tl.CacheControl,
		})
	}
	if len(out.Tools) == 0 {
		return nil // a tool_choice without tools means nothing; Anthropic would reject it
	}
	var choice *anToolChoice
	if tc := in.ToolChoice; tc != nil {
		switch {
		case tc.Mode == "auto":
			choice = &anToolChoice{Type: "auto"}
		case tc.Mode == "none":
			choice = &anToolChoice{Type: "none"}
		case tc.Mode == "required":
			choice = &anToolChoice{Type: "any"}
		case tc.Mode == "" && tc.Type == "function" && tc.Function != "":
			choice = &anToolChoice{Type: "tool", Name: tc.Function}
		default:
			return untranslatable("tool_choice", "this tool_choice cannot be sent to an Anthropic backend")
		}
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls {
		if choice == nil {
			choice = &anToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			choice.DisableParallelToolUse = ptr(true)
		}
	}
	out.ToolChoice = choice
	return nil
}

// anthropicResponseFormat maps response_format: json_schema to Anthropic's structured outputs
// (output_config.format, generally available, no beta header), json_object to a forced tool
// (see jsonToolName). With client tools present json_object cannot force a tool of its own and
// is dropped, leaving the instruction to the prompt.
func (t *openAIToAnthropic) anthropicResponseFormat(in *oaChatRequest, out *anRequest) error {
	rf := in.ResponseFormat
	if rf == nil {
		return nil
	}
	switch rf.Type {
	case "", "text":
	case "json_schema":
		if rf.JSONSchema == nil || isJSONNull(rf.JSONSchema.Schema) {
			return badRequest("response_format.json_schema", "json_schema response format needs a schema")
		}
		if out.OutputConfig == nil {
			out.OutputConfig = &anOutputConfig{}
		}
		out.OutputConfig.Format = &anOutputFormat{Type: "json_schema", Schema: rf.JSONSchema.Schema}
	case "json_object":
		if len(out.Tools) > 0 {
			return nil
		}
		t.jsonTool = true
		out.Tools = []anTool{{
			Name:        jsonToolName,
			Description: "Respond with a JSON object.",
			InputSchema: json.RawMessage(`{"type":"object"}`),
		}}
		out.ToolChoice = &anToolChoice{Type: "tool", Name: jsonToolName}
	default:
		return untranslatable("response_format.type", "response_format %q cannot be sent to an Anthropic backend", rf.Type)
	}
	return nil
}

// anthropicThinking maps reasoning_effort (see reasoning.go). "none" asks for no thinking, which
// is Anthropic's default. A budget is lowered to fit under max_tokens when it can stay at or
// above Anthropic's minimum; otherwise the request goes as is and Anthropic explains.
//
// A thinking object in the request is Anthropic's own and goes as it is (display included);
// reasoning_effort then only sets the effort of adaptive thinking.
func anthropicThinking(effort string, thinking *anThinking, out *anRequest) error {
	var level effortLevel
	if effort != "" && effort != "none" {
		var ok bool
		if level, ok = effortByName(effort); !ok {
			return badRequest("reasoning_effort", "unknown reasoning_effort %q", effort)
		}
	}
	if thinking != nil {
		if thinking.Type == "" {
			return badRequest("thinking.type", "thinking needs a type: enabled, adaptive or disabled")
		}
		out.Thinking = thinking
		if thinking.Type == "adaptive" && level.adaptive != "" {
			if out.OutputConfig == nil {
				out.OutputConfig = &anOutputConfig{}
			}
			out.OutputConfig.Effort = level.adaptive
		}
		return nil
	}
	if level.effort == "" {
		return nil
	}
	if adaptiveThinking(out.Model) {
		out.Thinking = &anThinking{Type: "adaptive"}
		if out.OutputConfig == nil {
			out.OutputConfig = &anOutputConfig{}
		}
		out.OutputConfig.Effort = level.adaptive
		return nil
	}
	budget := level.budget
	if mt := out.MaxTokens; mt != nil && budget >= *mt && *mt-1 >= minThinkingBudget {
		budget = *mt - 1
	}
	out.Thinking = &anThinking{Type: "enabled", BudgetTokens: &budget}
	return nil
}

// fitThinkingSampling drops the sampling settings Anthropic refuses with thinking on: a
// temperature other than 1, top_k, and a top_p below 0.95. Clients that ask for reasoning
// rarely mean them (the Agents SDK and LangChain send a default temperature), and the answer
// would otherwise be a 400.
func fitThinkingSampling(out *anRequest) {
	if out.Thinking == nil || out.Thinking.Type == "disabled" {
		return
	}
	if out.Temperature != nil && *out.Temperature != 1 {
		out.Temperature = nil
	}
	out.TopK = nil
	if out.TopP != nil && *out.TopP < 0.95 {
		out.TopP = nil
	}
}
