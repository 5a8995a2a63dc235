package translate

import (
	"encoding/json"
	"fmt"
)

// This file holds the OpenAI Responses API wire types that the Responses translators read and
// write, following the API reference (platform.openai.com/docs/api-reference/responses). Input
// items and output items are one flat struct each, discriminated by Type, as with content
// blocks; fields aigw does not translate are not declared.

// rsRequest is a Responses request body.
type rsRequest struct {
	Model              string          `json:"model"`
	Instructions       *string         `json:"instructions,omitempty"`
	Input              rsInput         `json:"input"`
	Tools              []rsTool        `json:"tools,omitempty"`
	ToolChoice         json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls,omitempty"`
	MaxOutputTokens    *int64          `json:"max_output_tokens,omitempty"`
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"top_p,omitempty"`
	Reasoning          *rsReasoning    `json:"reasoning,omitempty"`
	Text               *rsText         `json:"text,omitempty"`
	Stream             bool            `json:"stream,omitempty"`
	User               string          `json:"user,omitempty"`
	SafetyIdentifier   string          `json:"safety_identifier,omitempty"`
	PreviousResponseID string          `json:"previous_response_id,omitempty"`
	Conversation       json.RawMessage `json:"conversation,omitempty"` // read only, to reject it
	Background         bool            `json:"background,omitempty"`
	Prompt             json.RawMessage `json:"prompt,omitempty"` // read only, to reject it
	// Thinking is Anthropic's thinking object, sent by clients aimed at Claude; passed on.
	Thinking *anThinking `json:"thinking,omitempty"`
}

// rsInput is the input: a string (one user message) or a list of items.
type rsInput struct {
	Text  *string
	Items []rsItem
}

func (c *rsInput) UnmarshalJSON(b []byte) error {
	return unmarshalTextOr(b, &c.Text, &c.Items, "input items")
}

// rsItem is one input or output item: a message, a function call or its output, a reasoning
// item, a custom tool call or its output.
type rsItem struct {
	Type   string `json:"type,omitempty"` // absent means message
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`
	// message
	Role    string    `json:"role,omitempty"`
	Content rsContent `json:"content,omitzero"`
	// function_call, custom_tool_call, and their outputs
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Namespace string          `json:"namespace,omitempty"` // of a function in a namespace tool
	Arguments *string         `json:"arguments,omitempty"`
	Input     *string         `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	// reasoning
	Summary          []rsPart `json:"summary,omitzero"`
	EncryptedContent *string  `json:"encrypted_content,omitempty"`
}

// rsContent is message content: a string or a list of parts.
type rsContent struct {
	Text  *string
	Parts []rsPart
}

func (c rsContent) IsZero() bool { return c.Text == nil && c.Parts == nil }

func (c rsContent) MarshalJSON() ([]byte, error) { return marshalTextOr(c.Text, c.Parts) }

func (c *rsContent) UnmarshalJSON(b []byte) error {
	return unmarshalTextOr(b, &c.Text, &c.Parts, "content parts")
}

// text is the content's text, its text parts joined.
func (c *rsContent) text() string {
	if c.Text != nil {
		return *c.Text
	}
	s := ""
	for _, p := range c.Parts {
		if p.Text != nil {
			s += *p.Text
		}
	}
	return s
}

// rsPart is one content part (input_text, input_image, input_file, output_text, refusal) or
// one part of a reasoning summary or content (summary_text, reasoning_text).
type rsPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text,omitempty"`
	Refusal  *string `json:"refusal,omitempty"`
	ImageURL string  `json:"image_url,omitempty"`
	FileID   string  `json:"file_id,omitempty"`
	FileData string  `json:"file_data,omitempty"`
	FileURL  string  `json:"file_url,omitempty"`
	Filename string  `json:"filename,omitempty"`
	// Annotations is written (always empty) on output_text parts, where clients expect it.
	Annotations *[]json.RawMessage `json:"annotations,omitempty"`
}

type rsTool struct {
	Type        string          `json:"type"` // function, custom, or a hosted tool
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	// Tools are the functions of a namespace tool.
	Tools []rsTool `json:"tools,omitempty"`
}

type rsReasoning struct {
	Effort string `json:"effort,omitempty"`
}

type rsText struct {
	Format *rsTextFormat `json:"format,omitempty"`
}

type rsTextFormat struct {
	Type        string          `json:"type"` // text, json_object, json_schema
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// rsToolChoice reads tool_choice: "auto", "none", "required", or an object.
func rsToolChoice(raw json.RawMessage) (mode, typ, name string, err error) {
	if isJSONNull(raw) {
		return "", "", "", nil
	}
	if raw[0] == '"' {
		return jsonString(raw), "", "", nil
	}
	var o struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", "", "", fmt.Errorf("tool_choice must be a string or an object")
	}
	return "", o.Type, o.Name, nil
}

// rsResponse is a Responses response object, whole or as a stream event carries it.
type rsResponse struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	CreatedAt         int64         `json:"created_at"`
	Status            string        `json:"status"` // in_progress, completed, incomplete, failed
	Error             *rsError      `json:"error"`
	IncompleteDetails *rsIncomplete `json:"incomplete_details"`
	Model             string        `json:"model"`
	Output            []rsItem      `json:"output"`
	// The request's parameters, echoed as the Responses API does.
	Instructions       *string         `json:"instructions"`
	MaxOutputTokens    *int64          `json:"max_output_tokens"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Reasoning          json.RawMessage `json:"reasoning"`
	Store              bool            `json:"store"`
	Temperature        *float64        `json:"temperature"`
	Text               json.RawMessage `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopP               *float64        `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              *rsUsage        `json:"usage"`
	Metadata           json.RawMessage `json:"metadata"`
}

type rsError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type rsIncomplete struct {
	Reason string `json:"reason"` // max_output_tokens, content_filter
}

type rsUsage struct {
	InputTokens         int64                `json:"input_tokens"`
	InputTokensDetails  rsInputTokenDetails  `json:"input_tokens_details"`
	OutputTokens        int64                `json:"output_tokens"`
	OutputTokensDetails rsOutputTokenDetails `json:"output_tokens_details"`
	TotalTokens         int64                `json:"total_tokens"`
}

type rsInputTokenDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

type rsOutputTokenDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// rsUsageFromChat is Chat Completions usage in the Responses shape (the same counts: input
// includes cached tokens, output includes reasoning tokens).
func rsUsageFromChat(u *oaUsage) *rsUsage {
	if u == nil {
		return nil
	}
	n := u.usage()
	return &rsUsage{
		InputTokens:         n.InputTokens,
		InputTokensDetails:  rsInputTokenDetails{CachedTokens: n.CachedInputTokens},
		OutputTokens:        n.OutputTokens,
		OutputTokensDetails: rsOutputTokenDetails{ReasoningTokens: n.ReasoningTokens},
		TotalTokens:         n.TotalTokens,
	}
}

// The stream events, one struct per shape.

type rsResponseEvent struct {
	Type     string     `json:"type"`
	Sequence int        `json:"sequence_number"`
	Response rsResponse `json:"response"`
}

type rsItemEvent struct {
	Type        string `json:"type"`
	Sequence    int    `json:"sequence_number"`
	OutputIndex int    `json:"output_index"`
	Item        rsItem `json:"item"`
}

type rsPartEvent struct {
	Type         string `json:"type"`
	Sequence     int    `json:"sequence_number"`
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex *int   `json:"content_index,omitempty"`
	SummaryIndex *int   `json:"summary_index,omitempty"`
	Part         rsPart `json:"part"`
}

type rsDeltaEvent struct {
	Type         string             `json:"type"`
	Sequence     int                `json:"sequence_number"`
	ItemID       string             `json:"item_id"`
	OutputIndex  int                `json:"output_index"`
	ContentIndex *int               `json:"content_index,omitempty"`
	SummaryIndex *int               `json:"summary_index,omitempty"`
	Delta        *string            `json:"delta,omitempty"`
	Text         *string            `json:"text,omitempty"`
	Arguments    *string            `json:"arguments,omitempty"`
	Logprobs     *[]json.RawMessage `json:"logprobs,omitempty"`
}

type rsErrorEvent struct {
	Type     string  `json:"type"`
	Sequence int     `json:"sequence_number"`
	Code     string  `json:"code"`
	Message  string  `json:"message"`
	Param    *string `json:"param"`
}
