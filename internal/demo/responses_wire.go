package demo

import (
	"bytes"
	"encoding/json"
	"strings"
)

// OpenAI Responses API bodies (POST /v1/responses). As for chat, requests decode only what the
// simulator acts on; every input item and tool is kept raw for prompt metering.

// responsesRequest is the body of POST /v1/responses.
type responsesRequest struct {
	Model              *string             `json:"model"`
	Input              responsesInput      `json:"input"`
	Instructions       rawText             `json:"instructions"`
	MaxOutputTokens    *int                `json:"max_output_tokens"`
	Stream             bool                `json:"stream"`
	StreamOptions      *streamOptions      `json:"stream_options"`
	Tools              []responsesTool     `json:"tools"`
	ToolChoice         responsesToolChoice `json:"tool_choice"`
	Reasoning          *responsesReasoning `json:"reasoning"`
	Include            []string            `json:"include"`
	Store              *bool               `json:"store"`
	PreviousResponseID *string             `json:"previous_response_id"`
	Metadata           json.RawMessage     `json:"metadata"`
	ParallelToolCalls  *bool               `json:"parallel_tool_calls"`
	Temperature        *float64            `json:"temperature"`
	TopP               *float64            `json:"top_p"`
}

// responsesReasoning is the request's reasoning configuration.
type responsesReasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// responsesInput is a string (one user message) or an array of input items.
type responsesInput struct {
	text  string
	items []responsesItem
}

func (in *responsesInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &in.text)
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &in.items)
	}
	return nil
}

// responsesItem is one input item: a message (with or without "type": "message"), a function
// call or its output, a reasoning item sent back, or any other item kind, kept raw.
type responsesItem struct {
	Type    string      `json:"type"`
	Role    string      `json:"role"`
	Content chatContent `json:"content"`
	raw     string
}

func (it *responsesItem) UnmarshalJSON(b []byte) error {
	type plain responsesItem
	if err := json.Unmarshal(b, (*plain)(it)); err != nil {
		return err
	}
	if it.Type == "" && it.Role != "" {
		it.Type = "message"
	}
	if it.Type != "message" {
		it.raw = string(b)
	}
	return nil
}

// toolOutput reports whether the item returns a tool's result to the model
// (function_call_output, custom_tool_call_output, local_shell_call_output, ...).
func (it *responsesItem) toolOutput() bool {
	return strings.HasSuffix(it.Type, "_output")
}

// responsesTool is one entry of tools: function tools are flat ({"type":"function","name":...,
// "parameters":...}); other kinds (custom, web_search, ...) are only metered.
type responsesTool struct {
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Parameters toolSchema `json:"parameters"`
	raw        string
}

func (t *responsesTool) UnmarshalJSON(b []byte) error {
	type plain responsesTool
	if err := json.Unmarshal(b, (*plain)(t)); err != nil {
		return err
	}
	t.raw = string(b)
	return nil
}

// responsesToolChoice is "none", "auto", "required" or {"type":"function","name":...}; other
// object forms (allowed_tools, hosted tools) are read as "auto".
type responsesToolChoice struct {
	mode string
	name string
	raw  json.RawMessage
}

func (c *responsesToolChoice) UnmarshalJSON(b []byte) error {
	c.raw = append(json.RawMessage(nil), b...)
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.mode)
	}
	var obj struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	c.mode = "auto"
	if obj.Type == "function" {
		c.mode, c.name = "named", obj.Name
	}
	return nil
}

// response is a Responses API response object: the non-streamed answer and the payload of the
// response.* lifecycle events. Fields are in OpenAI's order.
type response struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	CompletedAt        *int64            `json:"completed_at"`
	Error              *apiError         `json:"error"`
	IncompleteDetails  *incomplete       `json:"incomplete_details"`
	Instructions       json.RawMessage   `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	MaxToolCalls       *int              `json:"max_tool_calls"`
	Model              string            `json:"model"`
	Output             []outputItem      `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	PromptCacheKey     *string           `json:"prompt_cache_key"`
	Reasoning          reasoningConfig   `json:"reasoning"`
	SafetyIdentifier   *string           `json:"safety_identifier"`
	ServiceTier        string            `json:"service_tier"`
	Store              bool              `json:"store"`
	Temperature        float64           `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              []json.RawMessage `json:"tools"`
	TopLogprobs        int               `json:"top_logprobs"`
	TopP               float64           `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *responseUsage    `json:"usage"`
	User               *string           `json:"user"`
	Metadata           json.RawMessage   `json:"metadata"`
}

type incomplete struct {
	Reason string `json:"reason"`
}

type reasoningConfig struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// outputItem is one item of a response's output; Type selects which fields apply.
type outputItem struct {
	ID               string         `json:"id"`
	Type             string         `json:"type"`
	Status           string         `json:"status,omitempty"`
	Summary          *[]summaryPart `json:"summary,omitempty"`
	EncryptedContent *string        `json:"encrypted_content,omitempty"`
	Content          *[]outputText  `json:"content,omitempty"`
	Role             string         `json:"role,omitempty"`
	Arguments        *string        `json:"arguments,omitempty"`
	CallID           string         `json:"call_id,omitempty"`
	Name             string         `json:"name,omitempty"`
}

// summaryPart is one part of a reasoning summary.
type summaryPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// outputText is a message's output_text content part.
type outputText struct {
	Type        string      `json:"type"`
	Annotations [0]struct{} `json:"annotations"`
	Logprobs    [0]struct{} `json:"logprobs"`
	Text        string      `json:"text"`
}

// responseUsage is the Responses API usage object.
type responseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}
