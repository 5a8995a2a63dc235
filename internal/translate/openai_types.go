package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// This file holds the OpenAI Chat Completions wire types that the cross-schema translators read
// and write. Fields follow the API reference (platform.openai.com/docs/api-reference/chat);
// fields aigw cannot translate are not declared and are dropped by design, each drop noted where
// the request is converted. Two de facto extensions are declared because OpenAI-compatible
// backends and clients use them for reasoning: reasoning_content (DeepSeek, vLLM) and
// thinking_blocks (LiteLLM; carries Anthropic's thinking signatures so they can round-trip).

// oaChatRequest is a Chat Completions request body.
type oaChatRequest struct {
	Model               string            `json:"model"`
	Messages            []oaMessage       `json:"messages"`
	MaxTokens           *int64            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	TopK                *int64            `json:"top_k,omitempty"` // not OpenAI's; sent by some clients
	Stop                oaStop            `json:"stop,omitempty"`
	N                   *int64            `json:"n,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *oaStreamOptions  `json:"stream_options,omitempty"`
	Tools               []oaTool          `json:"tools,omitempty"`
	ToolChoice          *oaToolChoice     `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *oaResponseFormat `json:"response_format,omitempty"`
	ReasoningEffort     string            `json:"reasoning_effort,omitempty"`
	User                string            `json:"user,omitempty"`
	// Thinking is Anthropic's thinking object, which OpenAI-shaped clients aimed at Claude
	// (LiteLLM, the Vercel AI SDK's Anthropic options) send as is; never written to OpenAI.
	Thinking *anThinking `json:"thinking,omitempty"`
}

type oaStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// oaStop is the stop parameter: a string or an array of strings; always written as an array.
type oaStop []string

func (s *oaStop) UnmarshalJSON(b []byte) error {
	switch {
	case isJSONNull(b):
		*s = nil
		return nil
	case b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = oaStop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// oaMessage is one message of a request, the message of a response, or (as oaDelta) a stream
// delta. Role decides which fields apply.
type oaMessage struct {
	Role       string       `json:"role"`
	Content    oaContent    `json:"content"`
	Name       string       `json:"name,omitempty"`
	Refusal    *string      `json:"refusal,omitempty"`
	ToolCalls  []oaToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
	// ReasoningContent is the reasoning text of an assistant message.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
	// Reasoning is the same under the name newer vLLM and OpenRouter use; read, never written.
	Reasoning json.RawMessage `json:"reasoning,omitempty"`
	// ThinkingBlocks carries Anthropic thinking blocks with their signatures.
	ThinkingBlocks []oaThinkingBlock `json:"thinking_blocks,omitempty"`
	// CacheControl on a whole message applies to its last content block (LiteLLM's convention).
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"` // legacy; rejected
}

// reasoningText is the message's reasoning under either field name.
func (m *oaMessage) reasoningText() string {
	if m.ReasoningContent != nil {
		return *m.ReasoningContent
	}
	return jsonString(m.Reasoning)
}

// oaContent is message content: a string, an array of parts, or null (when both are nil).
type oaContent struct {
	Text  *string
	Parts []oaContentPart
}

func (c oaContent) MarshalJSON() ([]byte, error) { return marshalTextOr(c.Text, c.Parts) }

func (c *oaContent) UnmarshalJSON(b []byte) error {
	return unmarshalTextOr(b, &c.Text, &c.Parts, "content parts")
}

// oaContentPart is one part of a content array; Type says which fields are set.
type oaContentPart struct {
	Type         string          `json:"type"` // text, image_url, input_audio, file, refusal
	Text         *string         `json:"text,omitempty"`
	Refusal      *string         `json:"refusal,omitempty"`
	ImageURL     *oaImageURL     `json:"image_url,omitempty"`
	InputAudio   json.RawMessage `json:"input_audio,omitempty"`
	File         *oaFile         `json:"file,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type oaImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type oaFile struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// oaThinkingBlock is an Anthropic thinking or redacted_thinking block carried on an OpenAI
// message or delta.
type oaThinkingBlock struct {
	Type      string  `json:"type"`
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
	Data      string  `json:"data,omitempty"`
}

type oaTool struct {
	Type         string          `json:"type"`
	Function     *oaFunction     `json:"function,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type oaFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// oaToolChoice is "auto", "none", "required", or an object naming one function.
type oaToolChoice struct {
	Mode     string // set when the choice is a string
	Function string // the function's name when the choice is {"type":"function",...}
	Type     string // the object's type; "allowed_tools" and "custom" are not translated
}

type oaToolChoiceObject struct {
	Type     string `json:"type"`
	Function *struct {
		Name string `json:"name"`
	} `json:"function,omitempty"`
}

func (c oaToolChoice) MarshalJSON() ([]byte, error) {
	if c.Mode != "" {
		return marshalJSON(c.Mode)
	}
	o := oaToolChoiceObject{Type: "function"}
	o.Function = &struct {
		Name string `json:"name"`
	}{c.Function}
	return marshalJSON(o)
}

func (c *oaToolChoice) UnmarshalJSON(b []byte) error {
	*c = oaToolChoice{}
	if isJSONNull(b) {
		return nil
	}
	if b[0] == '"' {
		return json.Unmarshal(b, &c.Mode)
	}
	var o oaToolChoiceObject
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("tool_choice must be a string or an object")
	}
	c.Type = o.Type
	if o.Function != nil {
		c.Function = o.Function.Name
	}
	return nil
}

type oaResponseFormat struct {
	Type       string        `json:"type"` // text, json_object, json_schema
	JSONSchema *oaJSONSchema `json:"json_schema,omitempty"`
}

type oaJSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// oaToolCall is a tool call of an assistant message, or a fragment of one in a stream delta
// (where Index says which call it continues).
type oaToolCall struct {
	Index    *int           `json:"index,omitempty"`
	ID       string         `json:"id,omitempty"`
	Type     string         `json:"type,omitempty"`
	Function oaFunctionCall `json:"function"`
}

type oaFunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// oaChatCompletion is a non-streamed Chat Completions response.
type oaChatCompletion struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"`
	Created int64      `json:"created"`
	Model   string     `json:"model"`
	Choices []oaChoice `json:"choices"`
	Usage   *oaUsage   `json:"usage,omitempty"`
}

type oaChoice struct {
	Index        int             `json:"index"`
	Message      oaMessage       `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"` // always null: Anthropic has none
	FinishReason *string         `json:"finish_reason"`
}

// oaChunk is one chat.completion.chunk of a stream, or an error object sent in its place.
type oaChunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []oaChunkChoice `json:"choices"`
	// Usage is null on every chunk but the last when the client asked for stream usage, and
	// absent when it did not, as OpenAI sends it.
	Usage json.RawMessage `json:"usage,omitempty"`
}

type oaChunkChoice struct {
	Index        int             `json:"index"`
	Delta        oaDelta         `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// oaDelta is the delta of a streamed choice.
type oaDelta struct {
	Role             string            `json:"role,omitempty"`
	Content          *string           `json:"content,omitempty"`
	ReasoningContent *string           `json:"reasoning_content,omitempty"`
	Reasoning        json.RawMessage   `json:"reasoning,omitempty"` // read, never written
	Refusal          *string           `json:"refusal,omitempty"`
	ToolCalls        []oaToolCall      `json:"tool_calls,omitempty"`
	ThinkingBlocks   []oaThinkingBlock `json:"thinking_blocks,omitempty"`
}

// reasoningText is the delta's reasoning fragment under either field name.
func (d *oaDelta) reasoningText() string {
	if d.ReasoningContent != nil {
		return *d.ReasoningContent
	}
	return jsonString(d.Reasoning)
}

// oaChunkIn is how a chunk is read from an upstream: the same fields, usage typed, and the
// error object some servers send mid-stream.
type oaChunkIn struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Delta        oaDelta `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage       `json:"usage"`
	Error *oaErrorDetail `json:"error"`
}

// oaCompletionIn is how a whole chat.completion is read from an upstream, by every translator
// that turns one into another API's answer.
type oaCompletionIn struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Message      oaMessage `json:"message"`
		FinishReason *string   `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
}

// oaErrorDetail is an OpenAI error object as upstreams send it; code is a string at OpenAI and
// a number at some compatible servers.
type oaErrorDetail struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// oaErrorIn reads an OpenAI-compatible error body: {"error":{...}} at OpenAI and Azure,
// {"object":"error","message":...} at vLLM, {"error":"text"} at some others.
type oaErrorIn struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
}

// message finds the error message, or "" when the body has none of the known shapes.
func (e *oaErrorIn) message() string {
	if len(e.Error) > 0 && e.Error[0] == '{' {
		var d oaErrorDetail
		if json.Unmarshal(e.Error, &d) == nil && d.Message != "" {
			return d.Message
		}
	}
	if s := jsonString(e.Error); s != "" {
		return s
	}
	return e.Message
}

type oaUsage struct {
	PromptTokens            int64                      `json:"prompt_tokens"`
	CompletionTokens        int64                      `json:"completion_tokens"`
	TotalTokens             int64                      `json:"total_tokens"`
	PromptTokensDetails     *oaPromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *oaCompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	// CacheCreationInputTokens is LiteLLM's field for the prompt tokens written to a cache
	// (part of prompt_tokens), which OpenAI's usage has no place for; aigw's Bedrock Converse
	// translation reports it, and the Messages translation reads it back.
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
}

type oaPromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

type oaCompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// usage converts to aigw's convention (prompt_tokens already includes cached tokens).
func (u *oaUsage) usage() Usage {
	out := Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens, CacheCreationInputTokens: u.CacheCreationInputTokens}
	if u.PromptTokensDetails != nil {
		out.CachedInputTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.InputTokens + out.OutputTokens
	}
	return out
}

// isJSONObject reports whether raw is a JSON object.
func isJSONObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}
