package demo

import (
	"bytes"
	"encoding/json"
)

// OpenAI request and response bodies. Requests decode only what the simulator acts on; unknown
// fields are ignored, as OpenAI ignores nothing but the simulator has no use for them.

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	Model               *string        `json:"model"`
	Messages            []chatMessage  `json:"messages"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	Tools               []functionTool `json:"tools"`
	ToolChoice          chatToolChoice `json:"tool_choice"`
	ReasoningEffort     string         `json:"reasoning_effort"`
}

// streamOptions are the chat and completion stream_options.
type streamOptions struct {
	IncludeUsage       bool  `json:"include_usage"`
	IncludeObfuscation *bool `json:"include_obfuscation"`
}

// chatMessage is one input message; tool calls of earlier assistant turns are kept raw because
// they only count towards the prompt.
type chatMessage struct {
	Role      string      `json:"role"`
	Content   chatContent `json:"content"`
	ToolCalls rawText     `json:"tool_calls"`
}

// chatContent is a message's content: a string, or an array of parts, or null.
type chatContent struct {
	text  string
	parts []chatPart
}

// chatPart is one content part; non-text parts (images, audio, files) are kept raw for metering.
type chatPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
	raw  string
}

func (c *chatContent) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.text)
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &c.parts)
	}
	return nil // null: an assistant turn that only called tools
}

func (p *chatPart) UnmarshalJSON(b []byte) error {
	type plain chatPart
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	switch p.Type {
	case "text", "input_text", "output_text": // chat parts, and Responses message parts
	default:
		p.raw = string(b)
	}
	return nil
}

// meter feeds the content to the prompt meter.
func (c *chatContent) meter(m *promptMeter) {
	m.write(c.text)
	for i := range c.parts {
		m.write(c.parts[i].Text)
		m.write(c.parts[i].raw)
	}
}

// hash is the FNV-1a hash of the content's text, which selects the answer.
func (c *chatContent) hash() uint64 {
	h := fnv64(fnvOffset, c.text)
	for i := range c.parts {
		h = fnv64(h, c.parts[i].Text)
	}
	return h
}

// lastText is the text the user typed last: the string content, or the last text part. Agents
// put context (system reminders, tool lists) in earlier parts and the prompt last, and only the
// prompt decides whether a tool is called.
func (c *chatContent) lastText() string {
	for i := len(c.parts) - 1; i >= 0; i-- {
		if c.parts[i].Text != "" {
			return c.parts[i].Text
		}
	}
	return c.text
}

// rawText keeps a JSON value verbatim, for parts of a request that only count towards its size.
type rawText string

func (r *rawText) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		*r = rawText(b)
	}
	return nil
}

// functionTool is one entry of tools; raw keeps the definition for prompt metering.
type functionTool struct {
	Type     string `json:"type"`
	Function struct {
		Name       string     `json:"name"`
		Parameters toolSchema `json:"parameters"`
	} `json:"function"`
	raw string
}

func (t *functionTool) UnmarshalJSON(b []byte) error {
	type plain functionTool
	if err := json.Unmarshal(b, (*plain)(t)); err != nil {
		return err
	}
	t.raw = string(b)
	return nil
}

// chatToolChoice is "none", "auto", "required" or {"type":"function","function":{"name":...}}.
type chatToolChoice struct {
	mode string // "", "none", "auto", "required" or "function"
	name string
}

func (c *chatToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.mode)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	c.mode, c.name = obj.Type, obj.Function.Name
	return nil
}

// chatCompletion is a non-streamed chat answer, fields in OpenAI's order.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             chatUsage    `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      responseMessage `json:"message"`
	Logprobs     *struct{}       `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type responseMessage struct {
	Role        string           `json:"role"`
	Content     *string          `json:"content"`
	ToolCalls   []toolCallObject `json:"tool_calls,omitempty"`
	Refusal     *string          `json:"refusal"`
	Annotations [0]struct{}      `json:"annotations"`
}

type toolCallObject struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// chatUsage is the usage object of chat completions, with both detail objects always present.
type chatUsage struct {
	PromptTokens            int               `json:"prompt_tokens"`
	CompletionTokens        int               `json:"completion_tokens"`
	TotalTokens             int               `json:"total_tokens"`
	PromptTokensDetails     promptDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails completionDetails `json:"completion_tokens_details"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type completionDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}
