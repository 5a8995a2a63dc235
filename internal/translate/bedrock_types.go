package translate

import (
	"encoding/json"
)

// This file holds the Bedrock Converse wire types (docs.aws.amazon.com/bedrock/latest/APIReference,
// API_runtime_Converse and API_runtime_ConverseStream), with the JSON names of the REST API.
// Unions (ContentBlock, SystemContentBlock, Tool, ToolChoice) are structs of pointers with one
// set, as the API defines them. The tests decode every request aigw writes into the SDK's own
// types (service/bedrockruntime/types) strictly, so these cannot drift from the service's shape.

// cvRequest is a Converse / ConverseStream request body (the model id is in the path).
type cvRequest struct {
	Messages                          []cvMessage       `json:"messages"`
	System                            []cvSystemBlock   `json:"system,omitempty"`
	InferenceConfig                   *cvInference      `json:"inferenceConfig,omitempty"`
	ToolConfig                        *cvToolConfig     `json:"toolConfig,omitempty"`
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths,omitempty"`
	PerformanceConfig                 json.RawMessage   `json:"performanceConfig,omitempty"`
	PromptVariables                   json.RawMessage   `json:"promptVariables,omitempty"`
	RequestMetadata                   map[string]string `json:"requestMetadata,omitempty"`
	ServiceTier                       *cvServiceTier    `json:"serviceTier,omitempty"`
	OutputConfig                      *cvOutputConfig   `json:"outputConfig,omitempty"`
}

// cvOutputConfig is Converse's OutputConfig: the effort of adaptive thinking and structured
// output.
type cvOutputConfig struct {
	Effort     string          `json:"effort,omitempty"` // low, medium, high, xhigh, max
	TextFormat *cvOutputFormat `json:"textFormat,omitempty"`
}

// cvOutputFormat is an OutputFormat: a JSON schema the text answer must follow.
type cvOutputFormat struct {
	Type      string            `json:"type"` // json_schema
	Structure cvOutputStructure `json:"structure"`
}

// cvOutputStructure is the OutputFormatStructure union; jsonSchema is its one member.
type cvOutputStructure struct {
	JSONSchema *cvJSONSchemaDefinition `json:"jsonSchema,omitempty"`
}

// cvJSONSchemaDefinition carries the schema as a JSON string, as the API defines it.
type cvJSONSchemaDefinition struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

type cvServiceTier struct {
	Type string `json:"type"` // priority, default, flex, reserved
}

type cvMessage struct {
	Role    string    `json:"role"`
	Content []cvBlock `json:"content"`
}

// cvBlock is a ContentBlock: exactly one field is set.
type cvBlock struct {
	Text             *string             `json:"text,omitempty"`
	Image            *cvImage            `json:"image,omitempty"`
	Document         *cvDocument         `json:"document,omitempty"`
	ToolUse          *cvToolUse          `json:"toolUse,omitempty"`
	ToolResult       *cvToolResult       `json:"toolResult,omitempty"`
	ReasoningContent *cvReasoningContent `json:"reasoningContent,omitempty"`
	CachePoint       *cvCachePoint       `json:"cachePoint,omitempty"`
	GuardContent     json.RawMessage     `json:"guardContent,omitempty"`
}

type cvSystemBlock struct {
	Text         *string         `json:"text,omitempty"`
	CachePoint   *cvCachePoint   `json:"cachePoint,omitempty"`
	GuardContent json.RawMessage `json:"guardContent,omitempty"`
}

type cvCachePoint struct {
	Type string `json:"type"` // default
}

type cvImage struct {
	Format string   `json:"format"` // png, jpeg, gif, webp
	Source cvSource `json:"source"`
}

type cvDocument struct {
	Format string   `json:"format"` // pdf, csv, doc, docx, xls, xlsx, html, txt, md
	Name   string   `json:"name"`
	Source cvSource `json:"source"`
}

// cvSource carries the bytes of an image or document (base64 in JSON).
type cvSource struct {
	Bytes []byte `json:"bytes"`
}

type cvToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type cvToolResult struct {
	ToolUseID string                `json:"toolUseId"`
	Content   []cvToolResultContent `json:"content"`
	Status    string                `json:"status,omitempty"` // success, error
}

type cvToolResultContent struct {
	Text  *string         `json:"text,omitempty"`
	JSON  json.RawMessage `json:"json,omitempty"`
	Image *cvImage        `json:"image,omitempty"`
}

// cvReasoningContent is a reasoning block: text with its signature, or redacted bytes.
type cvReasoningContent struct {
	ReasoningText   *cvReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte           `json:"redactedContent,omitempty"`
}

type cvReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

type cvInference struct {
	MaxTokens     *int64   `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

type cvToolConfig struct {
	Tools      []cvTool      `json:"tools"`
	ToolChoice *cvToolChoice `json:"toolChoice,omitempty"`
}

type cvTool struct {
	ToolSpec   *cvToolSpec   `json:"toolSpec,omitempty"`
	CachePoint *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvToolSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	InputSchema cvJSONValue `json:"inputSchema"`
	Strict      *bool       `json:"strict,omitempty"`
}

// cvJSONValue is a ToolInputSchema: the schema under "json".
type cvJSONValue struct {
	JSON json.RawMessage `json:"json"`
}

// cvToolChoice is auto, any or one tool: exactly one field is set.
type cvToolChoice struct {
	Auto *struct{}        `json:"auto,omitempty"`
	Any  *struct{}        `json:"any,omitempty"`
	Tool *cvToolChoiceOne `json:"tool,omitempty"`
}

type cvToolChoiceOne struct {
	Name string `json:"name"`
}

// cvResponse is a Converse response.
type cvResponse struct {
	Output *struct {
		Message *cvMessage `json:"message"`
	} `json:"output"`
	StopReason string   `json:"stopReason"`
	Usage      *cvUsage `json:"usage"`
}

type cvUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

// usage converts to aigw's convention: Bedrock's inputTokens excludes cache reads and writes,
// aigw's InputTokens includes them (as OpenAI's prompt_tokens does).
func (u *cvUsage) usage() Usage {
	in := u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
	total := u.TotalTokens
	if total < in+u.OutputTokens {
		total = in + u.OutputTokens
	}
	return Usage{InputTokens: in, CachedInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheWriteInputTokens, OutputTokens: u.OutputTokens, TotalTokens: total}
}

// ConverseStream event payloads (the event type is the frame's :event-type header).
type cvStreamEvent struct {
	Role              string          `json:"role"`              // messageStart
	ContentBlockIndex int             `json:"contentBlockIndex"` // contentBlock*
	Start             *cvBlockStart   `json:"start"`             // contentBlockStart
	Delta             *cvBlockDelta   `json:"delta"`             // contentBlockDelta
	StopReason        string          `json:"stopReason"`        // messageStop
	Usage             *cvUsage        `json:"usage"`             // metadata
	Message           string          `json:"message"`           // exceptions
	Extra             json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

type cvBlockStart struct {
	ToolUse *struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	} `json:"toolUse"`
}

type cvBlockDelta struct {
	Text    *string `json:"text"`
	ToolUse *struct {
		Input string `json:"input"`
	} `json:"toolUse"`
	ReasoningContent *struct {
		Text            *string `json:"text"`
		Signature       *string `json:"signature"`
		RedactedContent []byte  `json:"redactedContent"`
	} `json:"reasoningContent"`
}

// bedrockModelPath is /model/{modelId}/{op} with the model id escaped as one path segment, so
// inference profile ids ("us.anthropic...:0") and ARNs ("arn:aws:bedrock:...:inference-profile/x")
// stay one segment: every byte outside the unreserved set is percent-encoded, as the SDK does.
func bedrockModelPath(model, op string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len("/model//")+3*len(model)+len(op))
	b = append(b, "/model/"...)
	for i := 0; i < len(model); i++ {
		c := model[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	b = append(b, '/')
	return string(append(b, op...))
}
