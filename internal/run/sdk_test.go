package run

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func openAIClient(g *gateway) openai.Client {
	return openai.NewClient(option.WithBaseURL(g.Gateway+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

func anthropicClient(base string) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(base), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
}

// TestDemoWithSDKs drives `aigw run --demo` with the official OpenAI and Anthropic Go SDKs,
// streamed and not, and checks that what they received is what /metrics counted.
func TestDemoWithSDKs(t *testing.T) {
	g := startGateway(t, Options{Demo: true})
	ctx := context.Background()
	oc := openAIClient(g)

	t.Run("openai chat", func(t *testing.T) {
		res, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 1 || res.Choices[0].Message.Content == "" {
			t.Fatalf("no content: %+v", res)
		}
		if res.Usage.CompletionTokens == 0 || res.Usage.PromptTokens == 0 {
			t.Fatalf("no usage: %+v", res.Usage)
		}
	})

	t.Run("openai stream without include_usage", func(t *testing.T) {
		s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream please")},
		})
		var text strings.Builder
		chunks := 0
		for s.Next() {
			c := s.Current()
			chunks++
			if c.JSON.Usage.Valid() {
				t.Errorf("client got a usage field it did not ask for: %s", c.RawJSON())
			}
			if len(c.Choices) == 0 {
				t.Errorf("client got a chunk without choices: %s", c.RawJSON())
				continue
			}
			text.WriteString(c.Choices[0].Delta.Content)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if text.Len() == 0 || chunks < 3 {
			t.Fatalf("stream too short: %d chunks, %q", chunks, text.String())
		}
	})

	var streamedOutput int64
	t.Run("openai stream with include_usage", func(t *testing.T) {
		s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "gpt-4.1",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Count for me")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		acc := openai.ChatCompletionAccumulator{}
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Usage.CompletionTokens == 0 {
			t.Fatalf("no usage chunk reached the client that asked for it")
		}
		streamedOutput = acc.Usage.CompletionTokens
	})

	t.Run("anthropic messages", func(t *testing.T) {
		for _, base := range []string{g.Gateway, g.Gateway + "/anthropic"} {
			ac := anthropicClient(base)
			msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{
				Model:     "claude-sonnet-4-5",
				MaxTokens: 64,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello Claude"))},
			})
			if err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.Usage.OutputTokens == 0 {
				t.Fatalf("%s: bad message %+v", base, msg)
			}
		}
	})

	t.Run("anthropic stream", func(t *testing.T) {
		ac := anthropicClient(g.Gateway)
		s := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
			Model:     "claude-haiku-4-5",
			MaxTokens: 64,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Stream, Claude"))},
		})
		msg := anthropic.Message{}
		for s.Next() {
			if err := msg.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if msg.Content[0].Text == "" || msg.Usage.OutputTokens == 0 || msg.StopReason == "" {
			t.Fatalf("bad accumulated message: %+v", msg)
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		res, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || len(res.Data[0].Embedding) == 0 {
			t.Fatalf("bad embeddings: %d", len(res.Data))
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := oc.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, m := range page.Data {
			ids[m.ID] = true
		}
		if !ids["gpt-4o-mini"] || !ids["claude-sonnet-4-5"] {
			t.Fatalf("models list lacks demo models: %v", ids)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_request_model="text-embedding-3-small"`)
		m := g.metrics(t)
		for _, want := range []struct{ model, typ string }{
			{"gpt-4o-mini", "input"}, {"gpt-4o-mini", "output"},
			{"gpt-4o", "output"}, // streamed without include_usage: still counted
			{"claude-sonnet-4-5", "output"}, {"claude-haiku-4-5", "output"},
			{"text-embedding-3-small", "input"},
		} {
			v, ok := metricValue(m, "gen_ai_client_token_usage_sum", `gen_ai_request_model="`+want.model+`"`, `gen_ai_token_type="`+want.typ+`"`)
			if !ok || v == "0" {
				t.Errorf("no %s tokens recorded for %s (got %q)", want.typ, want.model, v)
			}
		}
		v, _ := metricValue(m, "gen_ai_client_token_usage_sum", `gen_ai_request_model="gpt-4.1"`, `gen_ai_token_type="output"`)
		if want := itoa(streamedOutput); v != want {
			t.Errorf("gpt-4.1 output tokens in metrics %q, client saw %s", v, want)
		}
		if _, ok := metricValue(m, "gen_ai_server_request_duration_seconds_count", `gen_ai_operation_name="messages"`, `gen_ai_provider_name="anthropic"`); !ok {
			t.Errorf("no request duration for anthropic messages:\n%s", m)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
