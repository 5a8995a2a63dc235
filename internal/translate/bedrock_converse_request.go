package translate

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// bedrockExtensions are request fields with no OpenAI equivalent that a client aiming at
// Bedrock may send in the chat body (as LiteLLM accepts them); they pass through to Converse.
type bedrockExtensions struct {
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths"`
	PerformanceConfig                 json.RawMessage   `json:"performanceConfig"`
	PromptVariables                   json.RawMessage   `json:"promptVariables"`
	RequestMetadata                   map[string]string `json:"requestMetadata"`
	ServiceTier                       string            `json:"service_tier"`
}

// serviceTiers maps OpenAI's service_tier to Bedrock's; auto (and anything else) sends none.
var serviceTiers = map[string]string{"default": "default", "flex": "flex", "priority": "priority"}

// converseRequest converts a chat request to a Converse request.
func (t *openAIToBedrock) converseRequest(in *oaChatRequest, ext *bedrockExtensions) (*cvRequest, error) {
	if in.N != nil && *in.N > 1 {
		return nil, untranslatable("n", "Bedrock Converse returns one choice; n must be 1")
	}
	out := &cvRequest{
		GuardrailConfig:                   ext.GuardrailConfig,
		AdditionalModelResponseFieldPaths: ext.AdditionalModelResponseFieldPaths,
		PerformanceConfig:                 ext.PerformanceConfig,
		PromptVariables:                   ext.PromptVariables,
		RequestMetadata:                   ext.RequestMetadata,
	}
	if tier, ok := serviceTiers[ext.ServiceTier]; ok {
		out.ServiceTier = &cvServiceTier{Type: tier}
	}
	var err error
	if out.System, out.Messages, err = converseMessages(in.Messages); err != nil {
		return nil, err
	}
	inf := &cvInference{Temperature: in.Temperature, TopP: in.TopP, StopSequences: in.Stop}
	inf.MaxTokens = in.MaxCompletionTokens
	if inf.MaxTokens == nil {
		inf.MaxTokens = in.MaxTokens
	}
	if inf.MaxTokens != nil || inf.Temperature != nil || inf.TopP != nil || len(inf.StopSequences) > 0 {
		out.InferenceConfig = inf
	}
	if err := converseTools(in, out); err != nil {
		return nil, err
	}
	if err := t.responseFormat(in.ResponseFormat, out); err != nil {
		return nil, err
	}
	extra, effort, thinking, err := t.reasoningFields(in, ext.AdditionalModelRequestFields)
	if err != nil {
		return nil, err
	}
	out.AdditionalModelRequestFields = extra
	if thinking && t.jsonTool {
		// Claude with thinking refuses a forced tool: json_response is offered, not forced.
		out.ToolConfig.ToolChoice = &cvToolChoice{Auto: &struct{}{}}
	}
	if effort != "" {
		if out.OutputConfig == nil {
			out.OutputConfig = &cvOutputConfig{}
		}
		out.OutputConfig.Effort = effort
	}
	if thinking && out.InferenceConfig != nil {
		// As at Anthropic, Claude with thinking on refuses temperature other than 1 and top_p
		// below 0.95 (and top_k, which reasoningFields leaves out then).
		if c := out.InferenceConfig; c.Temperature != nil && *c.Temperature != 1 {
			c.Temperature = nil
		}
		if c := out.InferenceConfig; c.TopP != nil && *c.TopP < 0.95 {
			c.TopP = nil
		}
		if c := out.InferenceConfig; c.MaxTokens == nil && c.Temperature == nil && c.TopP == nil && len(c.StopSequences) == 0 {
			out.InferenceConfig = nil
		}
	}
	return out, nil
}

// reasoningFields adds reasoning to additionalModelRequestFields: Claude models take
// Anthropic's thinking object (a budget from reasoning_effort, adaptive thinking for Claude 4.6
// and later, or the client's own thinking); other models take reasoning_effort as named (gpt-oss
// and other reasoning models on Bedrock). effort is the adaptive thinking's effort, for
// Converse's outputConfig.effort (none when the client set Anthropic's output_config in
// additionalModelRequestFields itself). thinking reports whether Claude's thinking is on, for
// the sampling limits that come with it.
func (t *openAIToBedrock) reasoningFields(in *oaChatRequest, extra json.RawMessage) (_ json.RawMessage, effort string, thinking bool, _ error) {
	fields := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &fields); err != nil {
			return nil, "", false, badRequest("additionalModelRequestFields", "additionalModelRequestFields must be an object")
		}
	}
	claude := isClaude(t.target.Model)
	var lvl effortLevel
	if claude && in.ReasoningEffort != "" && in.ReasoningEffort != "none" {
		var ok bool
		if lvl, ok = effortByName(in.ReasoningEffort); !ok {
			return nil, "", false, badRequest("reasoning_effort", "unknown reasoning_effort %q", in.ReasoningEffort)
		}
	}
	if _, own := fields["output_config"]; !own {
		effort = lvl.adaptive
	}
	switch {
	case in.Thinking != nil:
		b, _ := json.Marshal(in.Thinking)
		fields["thinking"] = b
		if in.Thinking.Type != "adaptive" {
			effort = ""
		}
	case lvl.effort != "" && adaptiveThinking(t.target.Model):
		// Claude 4.6 and later on Bedrock: adaptive thinking steered by an effort (Opus 4.7
		// refuses budgets), as at Anthropic.
		fields["thinking"] = json.RawMessage(`{"type":"adaptive"}`)
	case lvl.effort != "":
		effort = ""
		budget := lvl.budget
		if m := in.MaxCompletionTokens; m != nil && *m-1 < budget && *m-1 >= 1024 {
			budget = *m - 1
		} else if m := in.MaxTokens; m != nil && *m-1 < budget && *m-1 >= 1024 {
			budget = *m - 1
		}
		fields["thinking"] = json.RawMessage(`{"type":"enabled","budget_tokens":` + strconv.FormatInt(budget, 10) + `}`)
	case in.ReasoningEffort != "" && !claude:
		fields["reasoning_effort"], _ = json.Marshal(in.ReasoningEffort)
	default:
		effort = ""
	}
	if th, ok := fields["thinking"]; ok && claude && !strings.Contains(string(th), `"disabled"`) {
		thinking = true
	}
	if in.TopK != nil && !thinking {
		fields["top_k"] = json.RawMessage(strconv.FormatInt(*in.TopK, 10))
	}
	if len(fields) == 0 {
		return nil, effort, thinking, nil
	}
	b, err := marshalJSON(fields)
	if err != nil {
		return nil, "", false, badRequest("additionalModelRequestFields", "%v", err)
	}
	return b, effort, thinking, nil
}

// responseFormat maps response_format: json_schema to Converse's structured output
// (outputConfig.textFormat, the schema as a JSON string); json_object, which has no schema, to a
// forced tool (jsonToolName, as for Anthropic) whose input comes back as the message content.
// With client tools present json_object cannot force a tool of its own and is dropped, leaving
// the instruction to the prompt.
func (t *openAIToBedrock) responseFormat(rf *oaResponseFormat, out *cvRequest) error {
	if rf == nil {
		return nil
	}
	switch rf.Type {
	case "", "text":
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 || isJSONNull(rf.JSONSchema.Schema) {
			return badRequest("response_format.json_schema", "json_schema response format needs a schema")
		}
		if !isJSONObject(rf.JSONSchema.Schema) {
			return badRequest("response_format.json_schema.schema", "the schema must be a JSON object")
		}
		if out.OutputConfig == nil {
			out.OutputConfig = &cvOutputConfig{}
		}
		out.OutputConfig.TextFormat = &cvOutputFormat{Type: "json_schema", Structure: cvOutputStructure{JSONSchema: &cvJSONSchemaDefinition{
			Schema: string(compactJSON(rf.JSONSchema.Schema)), Name: rf.JSONSchema.Name, Description: rf.JSONSchema.Description,
		}}}
	case "json_object":
		if out.ToolConfig != nil {
			return nil
		}
		t.jsonTool = true
		out.ToolConfig = &cvToolConfig{
			Tools: []cvTool{{ToolSpec: &cvToolSpec{Name: jsonToolName, Description: "Respond with a JSON object.",
				InputSchema: cvJSONValue{JSON: json.RawMessage(`{"type":"object"}`)}}}},
			ToolChoice: &cvToolChoice{Tool: &cvToolChoiceOne{Name: jsonToolName}},
		}
	default:
		return untranslatable("response_format.type", "response_format %q cannot be sent to Bedrock Converse", rf.Type)
	}
	return nil
}

// converseMessages splits the chat messages into Converse system blocks and alternating user
// and assistant messages (consecutive same-role turns, tool results included, are merged).
func converseMessages(msgs []oaMessage) ([]cvSystemBlock, []cvMessage, error) {
	var system []cvSystemBlock
	var out []cvMessage
	add := func(role string, blocks []cvBlock) {
		if len(blocks) == 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			return
		}
		out = append(out, cvMessage{Role: role, Content: blocks})
	}
	for i := range msgs {
		m := &msgs[i]
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			if _, err := textParts(param, &m.Content); err != nil {
				return nil, nil, err
			}
			if m.Content.Text != nil {
				system = append(system, cvSystemBlock{Text: m.Content.Text})
			}
			for _, p := range m.Content.Parts {
				system = append(system, cvSystemBlock{Text: p.Text})
				if len(p.CacheControl) > 0 {
					system = append(system, cvSystemBlock{CachePoint: &cvCachePoint{Type: "default"}})
				}
			}
			if len(m.CacheControl) > 0 {
				system = append(system, cvSystemBlock{CachePoint: &cvCachePoint{Type: "default"}})
			}
		case "user":
			blocks, err := converseUserBlocks(param, &m.Content)
			if err != nil {
				return nil, nil, err
			}
			add("user", withCachePoint(blocks, m.CacheControl))
		case "assistant":
			blocks, err := converseAssistantBlocks(param, m)
			if err != nil {
				return nil, nil, err
			}
			add("assistant", withCachePoint(blocks, m.CacheControl))
		case "tool":
			texts, err := textParts(param, &m.Content)
			if err != nil {
				return nil, nil, err
			}
			res := &cvToolResult{ToolUseID: m.ToolCallID, Status: "success"}
			for _, s := range texts {
				res.Content = append(res.Content, cvToolResultContent{Text: ptr(s)})
			}
			if len(res.Content) == 0 {
				res.Content = []cvToolResultContent{{Text: ptr("")}}
			}
			add("user", withCachePoint([]cvBlock{{ToolResult: res}}, m.CacheControl))
		default:
			return nil, nil, badRequest(param+".role", "unknown role %q", m.Role)
		}
	}
	if len(out) == 0 {
		return nil, nil, badRequest("messages", "Bedrock Converse needs at least one user or assistant message")
	}
	return system, out, nil
}

// withCachePoint appends a cache point after the blocks of a message that has cache_control.
func withCachePoint(blocks []cvBlock, cc json.RawMessage) []cvBlock {
	if len(cc) == 0 || len(blocks) == 0 {
		return blocks
	}
	return append(blocks, cvBlock{CachePoint: &cvCachePoint{Type: "default"}})
}

// textParts returns the texts of content that may only hold text.
func textParts(param string, c *oaContent) ([]string, error) {
	if c.Text != nil {
		return []string{*c.Text}, nil
	}
	var out []string
	for j, p := range c.Parts {
		if p.Type != "text" || p.Text == nil {
			return nil, untranslatable(param+".content["+strconv.Itoa(j)+"]", "only text parts can be sent to Bedrock here, not %q", p.Type)
		}
		out = append(out, *p.Text)
	}
	return out, nil
}

// converseUserBlocks converts user content: text, images and documents as bytes.
func converseUserBlocks(param string, c *oaContent) ([]cvBlock, error) {
	if c.Text != nil {
		return []cvBlock{{Text: c.Text}}, nil
	}
	var out []cvBlock
	for j, p := range c.Parts {
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		switch {
		case p.Type == "text" && p.Text != nil:
			out = append(out, cvBlock{Text: p.Text})
		case p.Type == "image_url" && p.ImageURL != nil:
			media, data, ok := parseDataURL(p.ImageURL.URL)
			if !ok {
				return nil, untranslatable(pp, "Bedrock takes images as bytes: send a data: URL, not a link")
			}
			format, ok := bedrockImageFormats[media]
			if !ok {
				return nil, untranslatable(pp, "Bedrock takes png, jpeg, gif and webp images, not %s", media)
			}
			raw, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				return nil, badRequest(pp, "the image's data URL is not valid base64")
			}
			out = append(out, cvBlock{Image: &cvImage{Format: format, Source: cvSource{Bytes: raw}}})
		case p.Type == "file" && p.File != nil:
			media, data, ok := parseDataURL(p.File.FileData)
			format, known := bedrockDocumentFormats[media]
			if !ok || !known {
				return nil, untranslatable(pp, "Bedrock takes documents as data URLs of a known type (pdf, csv, doc, docx, xls, xlsx, html, txt, md); file ids are not supported")
			}
			raw, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				return nil, badRequest(pp, "the file's data URL is not valid base64")
			}
			out = append(out, cvBlock{Document: &cvDocument{Format: format, Name: documentName(p.File.Filename, j), Source: cvSource{Bytes: raw}}})
		default:
			return nil, untranslatable(pp, "content part %q cannot be sent to Bedrock Converse", p.Type)
		}
		if len(p.CacheControl) > 0 {
			out = append(out, cvBlock{CachePoint: &cvCachePoint{Type: "default"}})
		}
	}
	return out, nil
}

var bedrockImageFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

var bedrockDocumentFormats = map[string]string{
	"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html": "html", "text/plain": "txt", "text/markdown": "md",
}

// documentNameUnsafe is what Bedrock refuses in a document name (it allows letters, digits,
// single spaces, hyphens, parentheses and square brackets).
var documentNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9\-()\[\] ]+`)

// documentName is a name Bedrock accepts, from the file name without its extension.
func documentName(filename string, i int) string {
	if dot := strings.LastIndexByte(filename, '.'); dot > 0 {
		filename = filename[:dot]
	}
	n := strings.Join(strings.Fields(documentNameUnsafe.ReplaceAllString(filename, " ")), " ")
	if n == "" {
		return "document-" + strconv.Itoa(i+1)
	}
	return n
}

// converseAssistantBlocks converts an assistant turn: reasoning first (only signed reasoning
// can go back), then text, then tool calls.
func converseAssistantBlocks(param string, m *oaMessage) ([]cvBlock, error) {
	var out []cvBlock
	for _, tb := range m.ThinkingBlocks {
		switch {
		case tb.Type == "thinking" && tb.Thinking != nil && tb.Signature != nil && *tb.Signature != "":
			out = append(out, cvBlock{ReasoningContent: &cvReasoningContent{ReasoningText: &cvReasoningText{Text: *tb.Thinking, Signature: *tb.Signature}}})
		case tb.Type == "redacted_thinking" && tb.Data != "":
			raw, err := base64.StdEncoding.DecodeString(tb.Data)
			if err != nil {
				return nil, badRequest(param+".thinking_blocks", "redacted_thinking data is not base64")
			}
			out = append(out, cvBlock{ReasoningContent: &cvReasoningContent{RedactedContent: raw}})
		}
	}
	texts, err := textParts(param, &m.Content)
	if err != nil && m.Refusal == nil {
		return nil, err
	}
	for _, s := range texts {
		if s != "" {
			out = append(out, cvBlock{Text: ptr(s)})
		}
	}
	for j, tc := range m.ToolCalls {
		args := []byte(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			args = []byte("{}")
		}
		if !isJSONObject(args) {
			return nil, badRequest(param+".tool_calls["+strconv.Itoa(j)+"].function.arguments", "tool call arguments must be a JSON object")
		}
		out = append(out, cvBlock{ToolUse: &cvToolUse{ToolUseID: tc.ID, Name: tc.Function.Name, Input: compactJSON(args)}})
	}
	return out, nil
}

// converseTools converts tools and tool_choice. Converse has no "none": with none the tools
// are left out, unless the conversation holds tool calls (Bedrock then needs their
// definitions), when they are sent without a choice.
func converseTools(in *oaChatRequest, out *cvRequest) error {
	if len(in.Tools) == 0 {
		return nil
	}
	cfg := &cvToolConfig{}
	for i, tl := range in.Tools {
		if tl.Type != "function" || tl.Function == nil {
			return untranslatable("tools["+strconv.Itoa(i)+"]", "tool type %q cannot be sent to Bedrock Converse", tl.Type)
		}
		schema := tl.Function.Parameters
		if len(schema) == 0 || isJSONNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		cfg.Tools = append(cfg.Tools, cvTool{ToolSpec: &cvToolSpec{Name: tl.Function.Name, Description: tl.Function.Description, InputSchema: cvJSONValue{JSON: schema}, Strict: tl.Function.Strict}})
		if len(tl.CacheControl) > 0 {
			cfg.Tools = append(cfg.Tools, cvTool{CachePoint: &cvCachePoint{Type: "default"}})
		}
	}
	if c := in.ToolChoice; c != nil {
		switch {
		case c.Mode == "auto":
			cfg.ToolChoice = &cvToolChoice{Auto: &struct{}{}}
		case c.Mode == "required":
			cfg.ToolChoice = &cvToolChoice{Any: &struct{}{}}
		case c.Mode == "none":
			if !hasToolBlocks(out.Messages) {
				return nil
			}
		case c.Function != "":
			cfg.ToolChoice = &cvToolChoice{Tool: &cvToolChoiceOne{Name: c.Function}}
		default:
			return untranslatable("tool_choice", "tool_choice %q cannot be sent to Bedrock Converse", c.Mode+c.Type)
		}
	}
	out.ToolConfig = cfg
	return nil
}

func hasToolBlocks(msgs []cvMessage) bool {
	for _, m := range msgs {
		for _, b := range m.Content {
			if b.ToolUse != nil || b.ToolResult != nil {
				return true
			}
		}
	}
	return false
}
