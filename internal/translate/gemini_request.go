package translate

import (
	"encoding/json"
	"mime"
	"net/http"
	"path"
	"strings"
)

// gmExtras are the request fields oaChatRequest does not declare that the Gemini translation
// reads: OpenAI's sampling knobs and the extensions Gemini users send through OpenAI clients
// (LiteLLM's and vLLM's names).
type gmExtras struct {
	PresencePenalty  *float64          `json:"presence_penalty"`
	FrequencyPenalty *float64          `json:"frequency_penalty"`
	Seed             *int64            `json:"seed"`
	SafetySettings   []json.RawMessage `json:"safety_settings"`
	MediaResolution  string            `json:"media_resolution"`
	CachedContent    string            `json:"cached_content"`
	Labels           map[string]string `json:"labels"`
	GuidedJSON       json.RawMessage   `json:"guided_json"`
	GuidedChoice     []string          `json:"guided_choice"`
	GuidedRegex      string            `json:"guided_regex"`
}

// gmThoughtSep joins a tool call id and the thought signature of its call (LiteLLM's
// convention), so that the signature Gemini 3 requires back comes back with the tool result.
const gmThoughtSep = "__thought__"

// geminiRequest converts a chat request to a generateContent request.
func geminiRequest(in *oaChatRequest, x *gmExtras, model string) (*gmRequest, error) {
	if in.N != nil && *in.N < 1 {
		return nil, badRequest("n", "n must be at least 1")
	}
	out := &gmRequest{SafetySettings: x.SafetySettings, CachedContent: x.CachedContent, Labels: x.Labels}
	names := map[string]string{} // tool call id → function name, for the results
	for i := range in.Messages {
		m := &in.Messages[i]
		switch m.Role {
		case "system", "developer":
			parts, err := gmParts(&m.Content, "messages")
			if err != nil {
				return nil, err
			}
			if out.SystemInstruction == nil {
				out.SystemInstruction = &gmContent{}
			}
			out.SystemInstruction.Parts = append(out.SystemInstruction.Parts, parts...)
		case "user":
			parts, err := gmParts(&m.Content, "messages")
			if err != nil {
				return nil, err
			}
			out.Contents = gmAppend(out.Contents, "user", parts)
		case "assistant":
			parts, err := gmAssistantParts(m, names)
			if err != nil {
				return nil, err
			}
			out.Contents = gmAppend(out.Contents, "model", parts)
		case "tool":
			name, ok := names[m.ToolCallID]
			if !ok {
				return nil, badRequest("messages", "tool message for unknown tool_call_id %q", m.ToolCallID)
			}
			out.Contents = gmAppend(out.Contents, "user", []gmPart{{FunctionResponse: &gmFunctionResp{Name: name, Response: gmToolResult(&m.Content)}}})
		default:
			return nil, badRequest("messages", "unknown message role %q", m.Role)
		}
	}
	if len(out.Contents) == 0 {
		return nil, badRequest("messages", "the request has no user or assistant message")
	}
	if err := gmTools(in, out); err != nil {
		return nil, err
	}
	g, err := gmGeneration(in, x, model)
	if err != nil {
		return nil, err
	}
	if b, _ := marshalJSON(g); string(b) != "{}" {
		out.GenerationConfig = g
	}
	return out, nil
}

// gmAppend adds parts as a turn of role, merging them into the previous turn of the same role:
// Gemini wants the results of one turn's calls together in the next.
func gmAppend(cs []gmContent, role string, parts []gmPart) []gmContent {
	if len(parts) == 0 {
		return cs
	}
	if n := len(cs); n > 0 && cs[n-1].Role == role {
		cs[n-1].Parts = append(cs[n-1].Parts, parts...)
		return cs
	}
	return append(cs, gmContent{Role: role, Parts: parts})
}

// gmParts converts message content: text, images and other media, audio, files.
func gmParts(c *oaContent, param string) ([]gmPart, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return []gmPart{{Text: c.Text}}, nil
	}
	var parts []gmPart
	for _, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != nil && *p.Text != "" {
				parts = append(parts, gmPart{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, badRequest(param, "image_url part without image_url")
			}
			part, err := gmMedia(p.ImageURL.URL, param)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		case "input_audio":
			var a struct{ Data, Format string }
			if err := json.Unmarshal(p.InputAudio, &a); err != nil || a.Data == "" {
				return nil, badRequest(param, "input_audio needs data and format")
			}
			parts = append(parts, gmPart{InlineData: &gmBlob{MIMEType: "audio/" + a.Format, Data: a.Data}})
		case "file":
			if p.File == nil || p.File.FileData == "" {
				return nil, untranslatable(param, "file parts need file_data (a data URL) for Gemini; file ids are OpenAI's")
			}
			part, err := gmMedia(p.File.FileData, param)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		default:
			return nil, untranslatable(param, "content part type %q is not supported for Gemini backends", p.Type)
		}
	}
	return parts, nil
}

// gmMedia turns a data URL into inline data and any other URL (https, gs://) into file data
// whose type is guessed from its extension.
func gmMedia(u, param string) (gmPart, error) {
	if mt, data, ok := parseDataURL(u); ok {
		return gmPart{InlineData: &gmBlob{MIMEType: mt, Data: data}}, nil
	}
	if strings.HasPrefix(u, "data:") {
		return gmPart{}, badRequest(param, "only base64 data URLs are supported")
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "gs://") {
		return gmPart{}, badRequest(param, "media URL %q is neither a data URL nor an http(s) or gs:// URL", u)
	}
	ext := path.Ext(strings.SplitN(strings.SplitN(u, "?", 2)[0], "#", 2)[0])
	mt := mime.TypeByExtension(ext)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	if mt == "" {
		mt = "image/jpeg"
	}
	return gmPart{FileData: &gmFileData{MIMEType: mt, FileURI: u}}, nil
}

// gmAssistantParts converts an assistant message: its thinking blocks (with their signatures),
// text and tool calls; ids of tool calls are remembered so results can name their function.
func gmAssistantParts(m *oaMessage, names map[string]string) ([]gmPart, error) {
	var parts []gmPart
	var textSigs []string
	for _, b := range m.ThinkingBlocks {
		if b.Type != "thinking" || b.Signature == nil {
			continue
		}
		if sig, ok := strings.CutPrefix(*b.Signature, gmTextSignaturePrefix); ok {
			textSigs = append(textSigs, sig)
		} else if b.Thinking != nil {
			parts = append(parts, gmPart{Text: b.Thinking, Thought: true, ThoughtSignature: *b.Signature})
		}
	}
	text, err := gmParts(&m.Content, "messages")
	if err != nil {
		return nil, err
	}
	parts = append(parts, gmSignText(text, textSigs)...)
	for _, tc := range m.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			return nil, untranslatable("messages", "tool call type %q is not supported for Gemini backends", tc.Type)
		}
		args := json.RawMessage(strings.TrimSpace(tc.Function.Arguments))
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		if !isJSONObject(args) {
			return nil, badRequest("messages", "tool call %q: arguments must be a JSON object", tc.ID)
		}
		names[tc.ID] = tc.Function.Name
		_, sig, _ := strings.Cut(tc.ID, gmThoughtSep)
		parts = append(parts, gmPart{FunctionCall: &gmFunctionCall{Name: tc.Function.Name, Args: args}, ThoughtSignature: sig})
	}
	return parts, nil
}

// gmSignText puts the thought signatures of an answer's text parts back: the first on the last
// text part, any further one on an empty text part after it (as Gemini sends a signature alone in
// the last event of a stream).
func gmSignText(parts []gmPart, sigs []string) []gmPart {
	if len(sigs) == 0 {
		return parts
	}
	last := -1
	for i := range parts {
		if parts[i].Text != nil {
			last = i
		}
	}
	if last >= 0 {
		parts[last].ThoughtSignature, sigs = sigs[0], sigs[1:]
	}
	for _, sig := range sigs {
		parts = append(parts, gmPart{Text: ptr(""), ThoughtSignature: sig})
	}
	return parts
}

// gmToolResult is a tool message's content as a function response object: a JSON object as it
// is, anything else under "content".
func gmToolResult(c *oaContent) json.RawMessage {
	var text strings.Builder
	if c.Text != nil {
		text.WriteString(*c.Text)
	}
	for _, p := range c.Parts {
		if p.Type == "text" && p.Text != nil {
			text.WriteString(*p.Text)
		}
	}
	s := strings.TrimSpace(text.String())
	if isJSONObject([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := marshalJSON(map[string]string{"content": text.String()})
	return b
}

// gmTools converts tools and tool_choice. Google's own tools are asked for as tool types
// google_search and enterprise_search.
func gmTools(in *oaChatRequest, out *gmRequest) error {
	var decls []gmFunctionDecl
	for _, t := range in.Tools {
		switch t.Type {
		case "function":
			if t.Function == nil || t.Function.Name == "" {
				return badRequest("tools", "a function tool needs a name")
			}
			decls = append(decls, gmFunctionDecl{Name: t.Function.Name, Description: t.Function.Description, ParametersJSONSchema: t.Function.Parameters})
		case "google_search", "googleSearch":
			out.Tools = append(out.Tools, gmTool{GoogleSearch: &struct{}{}})
		case "enterprise_search", "enterpriseWebSearch":
			out.Tools = append(out.Tools, gmTool{EnterpriseWebSearch: &struct{}{}})
		default:
			return untranslatable("tools", "tool type %q is not supported for Gemini backends", t.Type)
		}
	}
	if len(decls) > 0 {
		out.Tools = append([]gmTool{{FunctionDeclarations: decls}}, out.Tools...)
	}
	if in.ToolChoice == nil || len(decls) == 0 {
		return nil
	}
	c := in.ToolChoice
	var fc gmFunctionCallingConfig
	switch {
	case c.Mode == "auto":
		fc.Mode = "AUTO"
	case c.Mode == "none":
		fc.Mode = "NONE"
	case c.Mode == "required":
		fc.Mode = "ANY"
	case c.Mode == "" && c.Function != "":
		fc = gmFunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{c.Function}}
	default:
		return untranslatable("tool_choice", "tool_choice %q is not supported for Gemini backends", c.Mode+c.Type)
	}
	out.ToolConfig = &gmToolConfig{FunctionCallingConfig: fc}
	return nil
}

// gmMediaResolutions maps media_resolution values to Gemini's.
var gmMediaResolutions = map[string]string{
	"low": "MEDIA_RESOLUTION_LOW", "medium": "MEDIA_RESOLUTION_MEDIUM", "high": "MEDIA_RESOLUTION_HIGH",
}

// gmGeneration builds generationConfig: sampling, limits, structured output and thinking.
func gmGeneration(in *oaChatRequest, x *gmExtras, model string) (*gmGenConfig, error) {
	g := &gmGenConfig{Temperature: in.Temperature, TopP: in.TopP, PresencePenalty: x.PresencePenalty, FrequencyPenalty: x.FrequencyPenalty, Seed: x.Seed}
	if in.TopK != nil {
		g.TopK = ptr(float64(*in.TopK))
	}
	g.MaxOutputTokens = in.MaxCompletionTokens
	if g.MaxOutputTokens == nil {
		g.MaxOutputTokens = in.MaxTokens
	}
	if len(in.Stop) > 0 {
		g.StopSequences = in.Stop
	}
	if in.N != nil && *in.N > 1 {
		g.CandidateCount = in.N
	}
	if x.MediaResolution != "" {
		r, ok := gmMediaResolutions[strings.ToLower(x.MediaResolution)]
		if !ok {
			return nil, badRequest("media_resolution", "media_resolution must be low, medium or high")
		}
		g.MediaResolution = r
	}
	if f := in.ResponseFormat; f != nil {
		switch f.Type {
		case "json_object":
			g.ResponseMIMEType = "application/json"
		case "json_schema":
			if f.JSONSchema == nil || len(f.JSONSchema.Schema) == 0 {
				return nil, badRequest("response_format", "json_schema needs a schema")
			}
			g.ResponseMIMEType, g.ResponseJSONSchema = "application/json", f.JSONSchema.Schema
		case "text", "":
		default:
			return nil, untranslatable("response_format", "response_format %q is not supported for Gemini backends", f.Type)
		}
	}
	switch {
	case len(x.GuidedJSON) > 0:
		g.ResponseMIMEType, g.ResponseJSONSchema = "application/json", x.GuidedJSON
	case len(x.GuidedChoice) > 0:
		schema, _ := marshalJSON(map[string]any{"type": "STRING", "enum": x.GuidedChoice})
		g.ResponseMIMEType, g.ResponseSchema = "text/x.enum", schema
	case x.GuidedRegex != "":
		return nil, untranslatable("guided_regex", "Gemini cannot constrain plain text to a regular expression: its controlled generation takes a JSON schema (guided_json, response_format) or a list of choices (guided_choice), and a schema's pattern constrains a quoted JSON string, not the answer")
	}
	t, err := gmThinkingConfig(in, model)
	if err != nil {
		return nil, err
	}
	g.ThinkingConfig = t
	return g, nil
}

// gmThinkingLevels maps reasoning_effort to Gemini 3's thinking_level.
var gmThinkingLevels = map[string]string{
	"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH", "max": "HIGH",
}

// gmMaxBudget is the largest thinking budget of a Gemini 2.5 model: 24576 for Flash models,
// 32768 for Pro.
func gmMaxBudget(model string) int64 {
	if strings.Contains(model, "flash") {
		return 24576
	}
	return 32768
}

// gmThinkingConfig maps reasoning_effort (or Anthropic's thinking object) to thinkingConfig:
// Gemini 3 models take a thinking level, 2.5 models a token budget (reasoning.go's table; "none"
// is a budget of 0). Thought summaries are asked for whenever reasoning is, so they can come
// back as reasoning_content.
func gmThinkingConfig(in *oaChatRequest, model string) (*gmThinking, error) {
	effort := in.ReasoningEffort
	if th := in.Thinking; th != nil && effort == "" {
		switch {
		case th.Type == "disabled":
			effort = "none"
		case th.BudgetTokens != nil:
			if strings.HasPrefix(model, "gemini-3") {
				effort = effortForBudget(*th.BudgetTokens)
			} else {
				return &gmThinking{IncludeThoughts: true, ThinkingBudget: ptr(min(*th.BudgetTokens, gmMaxBudget(model)))}, nil
			}
		default:
			effort = "medium"
		}
	}
	if effort == "" {
		return nil, nil
	}
	if strings.HasPrefix(model, "gemini-3") {
		level, ok := gmThinkingLevels[effort]
		if !ok {
			return nil, badRequest("reasoning_effort", "unknown reasoning_effort %q", effort)
		}
		return &gmThinking{IncludeThoughts: effort != "none", ThinkingLevel: level}, nil
	}
	if effort == "none" {
		return &gmThinking{ThinkingBudget: ptr(int64(0))}, nil
	}
	l, ok := effortByName(effort)
	if !ok {
		return nil, badRequest("reasoning_effort", "unknown reasoning_effort %q", effort)
	}
	return &gmThinking{IncludeThoughts: true, ThinkingBudget: ptr(min(l.budget, gmMaxBudget(model)))}, nil
}

// geminiPath is the path of a Gemini model method relative to the Vertex location (the GCP
// credential handler roots it at /v1/projects/<project>/locations/<region>).
func geminiPath(model, method string) string {
	return "/publishers/google/models/" + pathEscapeModel(model) + ":" + method
}

// pathEscapeModel keeps a model id one path segment.
func pathEscapeModel(m string) string {
	r := strings.NewReplacer("/", "%2F", "?", "%3F", "#", "%23", " ", "%20", ":", "%3A")
	return r.Replace(m)
}

// geminiHeaders are the headers of a request to Vertex.
func geminiHeaders() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return h
}
