package translate

import (
	"encoding/json"
)

// This file holds the Anthropic Messages wire types that the cross-schema translators read and
// write, following the API reference (platform.claude.com/docs/en/api/messages). Content blocks
// are one flat struct discriminated by Type, as Anthropic's own SDKs model response blocks;
// fields aigw cannot translate are not declared and are dropped by design.

// anRequest is a Messages request body.
type anRequest struct {
	Model         string           `json:"model"`
	MaxTokens     *int64           `json:"max_tokens,omitempty"`
	System        *anContent       `json:"system,omitempty"`
	Messages      []anMessageParam `json:"messages"`
	Metadata      *anMetadata      `json:"metadata,omitempty"`
	StopSequences []string         `json:"stop_sequences,omitempty"`
	Stream        bool             `json:"stream,omitempty"`
	Temperature   *float64         `json:"temperature,omitempty"`
	TopP          *float64         `json:"top_p,omitempty"`
	TopK          *int64           `json:"top_k,omitempty"`
	Tools         []anTool         `json:"tools,omitempty"`
	ToolChoice    *anToolChoice    `json:"tool_choice,omitempty"`
	Thinking      *anThinking      `json:"thinking,omitempty"`
	OutputConfig  *anOutputConfig  `json:"output_config,omitempty"`
	// OutputFormat is the structured-outputs beta spelling of output_config.format; read only.
	OutputFormat *anOutputFormat `json:"output_format,omitempty"`
	MCPServers   json.RawMessage `json:"mcp_servers,omitempty"` // read only, to reject it
}

type anMetadata struct {
	UserID string `json:"user_id,omitempty"`
}

type anMessageParam struct {
	Role    string    `json:"role"`
	Content anContent `json:"content"`
}

// anContent is a string or an array of content blocks (message content, system, tool results).
type anContent struct {
	Text   *string
	Blocks []anBlock
}

func (c anContent) MarshalJSON() ([]byte, error) { return marshalTextOr(c.Text, c.Blocks) }

func (c *anContent) UnmarshalJSON(b []byte) error {
	return unmarshalTextOr(b, &c.Text, &c.Blocks, "content blocks")
}

// blocks is the content as blocks, a string becoming one text block.
func (c *anContent) blocks() []anBlock {
	if c.Blocks != nil || c.Text == nil {
		return c.Blocks
	}
	return []anBlock{{Type: "text", Text: c.Text}}
}

// anBlock is one content block; Type says which fields are set.
type anBlock struct {
	Type string `json:"type"`
	// text
	Text *string `json:"text,omitempty"`
	// image, document
	Source *anSource `json:"source,omitempty"`
	Title  string    `json:"title,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string     `json:"tool_use_id,omitempty"`
	Content   *anContent `json:"content,omitempty"`
	IsError   bool       `json:"is_error,omitempty"`
	// thinking
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
	// redacted_thinking
	Data string `json:"data,omitempty"`

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// anSource is the source of an image or document block.
type anSource struct {
	Type      string `json:"type"` // base64, url, text, file, content
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
	FileID    string `json:"file_id,omitempty"`
}

type anTool struct {
	Type         string          `json:"type,omitempty"` // "custom" or absent; anything else is a server tool
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	Strict       *bool           `json:"strict,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type anToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
}

type anThinking struct {
	Type         string `json:"type"` // enabled, adaptive, disabled
	BudgetTokens *int64 `json:"budget_tokens,omitempty"`
	// Display is how thinking is returned: "summarized" or "omitted".
	Display string `json:"display,omitempty"`
}

type anOutputConfig struct {
	Effort string          `json:"effort,omitempty"`
	Format *anOutputFormat `json:"format,omitempty"`
}

type anOutputFormat struct {
	Type   string          `json:"type"` // json_schema
	Schema json.RawMessage `json:"schema,omitempty"`
}

// anMessage is a Messages response, and the message of a message_start event.
type anMessage struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Role         string    `json:"role"`
	Model        string    `json:"model"`
	Content      []anBlock `json:"content"`
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        anUsage   `json:"usage"`
}

// anUsage is Anthropic usage. Fields are pointers because message_delta events carry only the
// counts that changed; input_tokens excludes cache reads and writes.
type anUsage struct {
	InputTokens              *int64                 `json:"input_tokens,omitempty"`
	CacheCreationInputTokens *int64                 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int64                 `json:"cache_read_input_tokens,omitempty"`
	OutputTokens             *int64                 `json:"output_tokens,omitempty"`
	OutputTokensDetails      *anOutputTokensDetails `json:"output_tokens_details,omitempty"`
}

type anOutputTokensDetails struct {
	ThinkingTokens int64 `json:"thinking_tokens"`
}

// anStreamEvent is any Messages stream event, as read from an upstream.
type anStreamEvent struct {
	Type         string                `json:"type"`
	Message      *anMessage            `json:"message"`
	Index        int                   `json:"index"`
	ContentBlock *anBlock              `json:"content_block"`
	Delta        *anStreamDelta        `json:"delta"`
	Usage        *anUsage              `json:"usage"`
	Error        *anthropicErrorDetail `json:"error"`
}

// anStreamDelta is the delta of a content_block_delta or message_delta event.
type anStreamDelta struct {
	Type        string  `json:"type"` // text_delta, input_json_delta, thinking_delta, signature_delta
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	Thinking    string  `json:"thinking"`
	Signature   string  `json:"signature"`
	StopReason  *string `json:"stop_reason"`
}

// The events below are how a translator writes a stream, one struct per event type so that each
// is written with exactly its documented fields.

type anMessageStartEvent struct {
	Type    string    `json:"type"`
	Message anMessage `json:"message"`
}

type anBlockStartEvent struct {
	Type         string  `json:"type"`
	Index        int     `json:"index"`
	ContentBlock anBlock `json:"content_block"`
}

type anBlockDeltaEvent struct {
	Type  string       `json:"type"`
	Index int          `json:"index"`
	Delta anBlockDelta `json:"delta"`
}

type anBlockDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	Signature   *string `json:"signature,omitempty"`
}

type anBlockStopEvent struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type anMessageDeltaEvent struct {
	Type  string              `json:"type"`
	Delta anMessageDeltaDelta `json:"delta"`
	Usage anUsage             `json:"usage"`
}

type anMessageDeltaDelta struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

type anTypeOnlyEvent struct {
	Type string `json:"type"`
}

// anthropicErrorStatus is the HTTP status Anthropic documents for each error type, used to pick
// the OpenAI error type for an error that arrives inside a stream.
var anthropicErrorStatus = map[string]int{
	"invalid_request_error": 400,
	"authentication_error":  401,
	"billing_error":         402,
	"permission_error":      403,
	"not_found_error":       404,
	"request_too_large":     413,
	"rate_limit_error":      429,
	"api_error":             500,
	"timeout_error":         504,
	"overloaded_error":      529,
}

// openAI is the usage in OpenAI's shape: prompt_tokens counts cache reads and writes, and
// cached_tokens the reads.
func (a *anthropicUsage) openAI() *oaUsage {
	u := a.Usage()
	out := &oaUsage{
		PromptTokens:        u.InputTokens,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         u.TotalTokens,
		PromptTokensDetails: &oaPromptTokensDetails{CachedTokens: u.CachedInputTokens},
	}
	if a.thinking > 0 {
		out.CompletionTokensDetails = &oaCompletionTokensDetails{ReasoningTokens: a.thinking}
	}
	return out
}

// anthropicUsageFromOpenAI is OpenAI usage in Anthropic's shape, where input_tokens excludes
// the cached tokens that cache_read_input_tokens counts. OpenAI reports no cache writes.
func anthropicUsageFromOpenAI(u *oaUsage) anUsage {
	var in, cached, written, out int64
	if u != nil {
		in, out, written = u.PromptTokens, u.CompletionTokens, u.CacheCreationInputTokens
		if u.PromptTokensDetails != nil {
			cached = u.PromptTokensDetails.CachedTokens
		}
	}
	return anUsage{
		InputTokens:              ptr(max(in-cached-written, 0)),
		CacheCreationInputTokens: ptr(written),
		CacheReadInputTokens:     ptr(cached),
		OutputTokens:             ptr(out),
	}
}
