package demo

import (
	"bytes"
	"encoding/json"
)

// Anthropic Messages request and response bodies.

// messagesRequest is the body of POST /v1/messages and /v1/messages/count_tokens.
type messagesRequest struct {
	Model      *string              `json:"model"`
	MaxTokens  *int                 `json:"max_tokens"`
	Messages   []anthropicMessage   `json:"messages"`
	System     anthropicContent     `json:"system"`
	Stream     bool                 `json:"stream"`
	Tools      []anthropicTool      `json:"tools"`
	ToolChoice *anthropicToolChoice `json:"tool_choice"`
	Thinking   *thinkingConfig      `json:"thinking"`
}

type anthropicMessage struct {
	Role    string           `json:"role"`
	Content anthropicContent `json:"content"`
}

// anthropicContent is a string or an array of content blocks (message content and system).
type anthropicContent struct {
	text   string
	blocks []contentBlock
}

func (c *anthropicContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.text)
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &c.blocks)
	}
	return nil
}

// contentBlock is one input block. Only text is read; other blocks (images, tool_use,
// tool_result, documents) are kept raw because they only count towards the prompt.
type contentBlock struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	CacheControl rawText `json:"cache_control"`
	raw          string
}

func (c *contentBlock) UnmarshalJSON(b []byte) error {
	type plain contentBlock
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	if c.Type != "text" {
		c.raw = string(b)
	}
	return nil
}

// meter feeds the content to the prompt meter, marking a cache breakpoint after every block
// that carries cache_control.
func (c *anthropicContent) meter(m *promptMeter) {
	m.write(c.text)
	for i := range c.blocks {
		m.write(c.blocks[i].Text)
		m.write(c.blocks[i].raw)
		if c.blocks[i].CacheControl != "" {
			m.mark()
		}
	}
}

// hash is the FNV-1a hash of the content's text, which selects the answer.
func (c *anthropicContent) hash() uint64 {
	h := fnv64(fnvOffset, c.text)
	for i := range c.blocks {
		h = fnv64(h, c.blocks[i].Text)
	}
	return h
}

// lastText is the text the user typed last: the string content, or the last text block. Agents
// put context (system reminders, tool lists) in earlier blocks and the prompt last, and only the
// prompt decides whether a tool is called.
func (c *anthropicContent) lastText() string {
	for i := len(c.blocks) - 1; i >= 0; i-- {
		if c.blocks[i].Text != "" {
			return c.blocks[i].Text
		}
	}
	return c.text
}

// hasToolResult reports whether the content carries a tool_result block.
func (c *anthropicContent) hasToolResult() bool {
	for i := range c.blocks {
		if c.blocks[i].Type == "tool_result" {
			return true
		}
	}
	return false
}

// anthropicTool is one client tool; raw keeps the definition for prompt metering.
type anthropicTool struct {
	Name         string     `json:"name"`
	InputSchema  toolSchema `json:"input_schema"`
	CacheControl rawText    `json:"cache_control"`
	raw          string
}

func (t *anthropicTool) UnmarshalJSON(b []byte) error {
	type plain anthropicTool
	if err := json.Unmarshal(b, (*plain)(t)); err != nil {
		return err
	}
	t.raw = string(b)
	return nil
}

// anthropicToolChoice is {"type":"auto"|"any"|"tool"|"none","name":...}.
type anthropicToolChoice struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// thinkingConfig enables extended thinking.
type thinkingConfig struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens"`
}

// anthropicMessageResponse is a message, both as the non-streamed answer and inside message_start.
type anthropicMessageResponse struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []responseBlock `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        anthropicUsage  `json:"usage"`
}

// responseBlock is an output content block; the pointer fields select which kind it is.
type responseBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// Stream event bodies that are sent once per stream and so go through encoding/json.
type messageStartEvent struct {
	Type    string                   `json:"type"`
	Message anthropicMessageResponse `json:"message"`
}

type blockStartEvent struct {
	Type         string        `json:"type"`
	Index        int           `json:"index"`
	ContentBlock responseBlock `json:"content_block"`
}

type messageDeltaEvent struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage struct {
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

// tokensCount is the answer of count_tokens.
type tokensCount struct {
	InputTokens int `json:"input_tokens"`
}
