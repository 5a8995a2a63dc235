package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// The official SDKs are the strictest wire-format check available: they are what gateway users
// run, and they fail on shapes a hand-written decoder would forgive.

func TestOpenAISDK(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 12})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("demo"), option.WithMaxRetries(0))
	ctx := context.Background()

	params := openai.ChatCompletionNewParams{
		Model:         "gpt-4o-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello!")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	c, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content == "" || c.Usage.CompletionTokens != 12 || c.Choices[0].FinishReason != "stop" {
		t.Errorf("chat: %+v", c)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != c.Choices[0].Message.Content || acc.Usage.CompletionTokens != 12 {
		t.Errorf("stream accumulated %q usage %+v, want %q", acc.Choices[0].Message.Content, acc.Usage, c.Choices[0].Message.Content)
	}

	tools := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "get_weather",
			Parameters: shared.FunctionParameters{"type": "object",
				"properties": map[string]any{"location": map[string]any{"type": "string"}}},
		})},
	}
	stream = client.Chat.Completions.NewStreaming(ctx, tools)
	acc = openai.ChatCompletionAccumulator{}
	var finished *openai.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = &tc
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if finished == nil || finished.Name != "get_weather" || !json.Valid([]byte(finished.Arguments)) ||
		acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("tool call %+v, finish %q", finished, acc.Choices[0].FinishReason)
	}

	comp, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:  "gpt-3.5-turbo-instruct",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hi")},
	})
	if err != nil || comp.Choices[0].Text == "" || comp.Usage.CompletionTokens != 12 {
		t.Errorf("completion %+v: %v", comp, err)
	}

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, ""} {
		emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          "text-embedding-3-small",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
			Dimensions:     openai.Int(64),
			EncodingFormat: format,
		})
		if err != nil || len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 64 {
			t.Errorf("embeddings (%q): %v", format, err)
		}
	}

	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "unknown-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" {
		t.Errorf("unknown model: %v", err)
	}
}

func TestAnthropicSDK(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 12})
	client := anthropic.NewClient(aoption.WithBaseURL(url), aoption.WithAPIKey("demo"), aoption.WithMaxRetries(0))
	ctx := context.Background()
	long := strings.Repeat("Cache me if you can. ", 400)
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 2048,
		System:    []anthropic.TextBlockParam{{Text: long, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))},
	}
	m, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if m.StopReason != anthropic.StopReasonEndTurn || m.Usage.OutputTokens != 12 || m.Usage.CacheCreationInputTokens == 0 {
		t.Errorf("message %+v", m)
	}

	params.Thinking = anthropic.ThinkingConfigParamOfEnabled(1024)
	stream := client.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 2 || acc.Content[0].Type != "thinking" || acc.Content[0].Signature == "" ||
		acc.Content[1].Text != m.Content[0].Text || acc.Usage.CacheReadInputTokens == 0 {
		t.Errorf("streamed message %+v", acc)
	}

	params = anthropic.MessageNewParams{
		Model:     "claude-haiku-4-5",
		MaxTokens: 512,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("weather in Oslo?"))},
		Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}},
		}, "get_weather")},
	}
	stream = client.Messages.NewStreaming(ctx, params)
	acc = anthropic.Message{}
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.StopReason != anthropic.StopReasonToolUse || len(acc.Content) != 1 || acc.Content[0].Name != "get_weather" ||
		!strings.Contains(string(acc.Content[0].Input), "San Francisco") {
		t.Errorf("tool message %+v", acc)
	}

	count, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there"))},
	})
	if err != nil || count.InputTokens < 1 {
		t.Errorf("count_tokens %+v: %v", count, err)
	}

	_, err = client.Messages.New(ctx, anthropic.MessageNewParams{Model: "unknown-model", MaxTokens: 5,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "not_found_error") {
		t.Errorf("unknown model: %v", err)
	}
}
