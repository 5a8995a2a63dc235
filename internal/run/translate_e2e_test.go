package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/demo"
)

// upstreamRequest is one request the fake provider received.
type upstreamRequest struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// fakeProvider records every request and answers it with the demo simulator.
type fakeProvider struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []upstreamRequest
	// cached, when set, is the simulator's X-Demo-Cached-Tokens for the next request only (a
	// client's test header does not pass the gateway's header allow-list).
	cached string
}

// cacheNext makes the simulator report n cached tokens for the next request.
func (f *fakeProvider) cacheNext(n string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cached = n
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{}
	sim := demo.New(demo.Options{})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, upstreamRequest{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		if f.cached != "" {
			r.Header.Set("X-Demo-Cached-Tokens", f.cached)
			f.cached = ""
		}
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// take returns the one request received since the last take.
func (f *fakeProvider) take(t *testing.T) upstreamRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	reqs := f.reqs
	f.reqs = nil
	if len(reqs) != 1 {
		t.Fatalf("provider received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// present asserts that a path exists (true) or does not (false).
type present bool

// checkJSON fails t for each gjson path of body whose value is not want.
func checkJSON(t *testing.T, body string, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := gjson.Get(body, path)
		ok := false
		switch w := w.(type) {
		case present:
			ok = got.Exists() == bool(w)
		case bool: // absent counts as false
			ok = got.Type != gjson.String && got.Type != gjson.Number && got.Bool() == w
		case int:
			ok = got.Type == gjson.Number && got.Int() == int64(w)
		case string:
			ok = got.String() == w
		}
		if !ok {
			t.Errorf("provider body %s = %s, want %v\nbody: %s", path, got.Raw, w, body)
		}
	}
}

// checkHeaders fails t for each header that differs from want: "*" is any value, "" absent.
func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got := h.Get(k)
		if (w == "*" && got == "") || (w != "*" && got != w) {
			t.Errorf("provider header %s = %q, want %q", k, got, w)
		}
	}
}

var weatherSchema = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}},
	"required":   []string{"city"},
}

// TestTranslateOpenAIToAnthropic drives an Anthropic backend with openai-go through the gateway.
func TestTranslateOpenAIToAnthropic(t *testing.T) {
	fake := newFakeProvider(t)
	g := startGateway(t, Options{Getenv: env("ANTHROPIC_BASE_URL", fake.URL, "ANTHROPIC_API_KEY", "sk-ant-test")})
	oc := openAIClient(g)
	ctx := context.Background()

	question := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are a weather bot."),
		openai.UserMessage("What is the weather in Paris?"),
	}
	params := func(msgs []openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model:               "claude-sonnet-4-5",
			Messages:            msgs,
			MaxCompletionTokens: openai.Int(256),
			Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: "get_weather", Description: openai.String("Current weather"), Parameters: weatherSchema,
			})},
		}
	}
	// chat sends p, streamed or not, and returns what the client assembled, whether a usage
	// chunk arrived and the reasoning_content it saw.
	chat := func(t *testing.T, p openai.ChatCompletionNewParams, stream, includeUsage bool, opts ...option.RequestOption) (openai.ChatCompletion, bool, string) {
		t.Helper()
		if !stream {
			res, err := oc.Chat.Completions.New(ctx, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Choices) != 1 {
				t.Fatalf("%d choices", len(res.Choices))
			}
			return *res, true, gjson.Get(res.Choices[0].Message.RawJSON(), "reasoning_content").String()
		}
		if includeUsage {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		s := oc.Chat.Completions.NewStreaming(ctx, p, opts...)
		acc := openai.ChatCompletionAccumulator{}
		sawUsage := false
		var reasoning strings.Builder
		for s.Next() {
			c := s.Current()
			acc.AddChunk(c)
			sawUsage = sawUsage || c.JSON.Usage.Valid()
			for _, ch := range c.Choices {
				reasoning.WriteString(gjson.Get(ch.Delta.RawJSON(), "reasoning_content").String())
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 {
			t.Fatalf("%d choices", len(acc.Choices))
		}
		return acc.ChatCompletion, sawUsage, reasoning.String()
	}
	checkUpstream := func(t *testing.T, stream bool) upstreamRequest {
		t.Helper()
		r := fake.take(t)
		if r.Method != http.MethodPost || r.Path != "/v1/messages" {
			t.Errorf("provider got %s %s, want POST /v1/messages", r.Method, r.Path)
		}
		checkHeaders(t, r.Header, map[string]string{"X-Api-Key": "sk-ant-test", "Anthropic-Version": "*", "Authorization": ""})
		checkJSON(t, r.Body, map[string]any{
			"model": "claude-sonnet-4-5", "system.0.text": "You are a weather bot.", "max_tokens": 256,
			"tools.0.name": "get_weather", "tools.0.input_schema.properties.city.type": "string",
			"stream": stream, "max_completion_tokens": present(false), "stream_options": present(false),
		})
		return r
	}

	modes := []struct {
		name                 string
		stream, includeUsage bool
	}{{"non-streamed", false, false}, {"streamed", true, false}, {"streamed with usage", true, true}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			// Turn 1: the model calls the tool; the simulator reports 16 cache-read tokens.
			fake.cacheNext("16")
			res, sawUsage, _ := chat(t, params(question), m.stream, m.includeUsage)
			checkUpstream(t, m.stream)
			choice := res.Choices[0]
			if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 {
				t.Fatalf("finish_reason %q, %d tool calls, want one tool call: %s", choice.FinishReason, len(choice.Message.ToolCalls), res.RawJSON())
			}
			call := choice.Message.ToolCalls[0]
			var args map[string]any
			if call.Function.Name != "get_weather" || call.ID == "" || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil || args["city"] == nil {
				t.Errorf("bad tool call id %q name %q arguments %q", call.ID, call.Function.Name, call.Function.Arguments)
			}
			wantUsage := !m.stream || m.includeUsage
			if sawUsage != wantUsage {
				t.Errorf("usage chunk received %v, want %v", sawUsage, wantUsage)
			}
			if u := res.Usage; wantUsage && (u.PromptTokens <= 16 || u.CompletionTokens == 0 || u.PromptTokensDetails.CachedTokens != 16) {
				t.Errorf("usage %s, want prompt_tokens > 16 including cached_tokens 16", u.RawJSON())
			}

			// Turn 2: the tool result goes back and the model answers.
			turn2 := append(append([]openai.ChatCompletionMessageParamUnion{}, question...),
				choice.Message.ToParam(), openai.ToolMessage(`{"temp_c":21}`, call.ID))
			res2, _, _ := chat(t, params(turn2), m.stream, m.includeUsage)
			r := checkUpstream(t, m.stream)
			checkJSON(t, r.Body, map[string]any{
				"messages.#": 3, "messages.0.role": "user",
				"messages.1.role": "assistant", "messages.1.content.0.type": "tool_use",
				"messages.1.content.0.id": call.ID, "messages.1.content.0.name": "get_weather",
				"messages.1.content.0.input.city": present(true),
				"messages.2.role":                 "user", "messages.2.content.0.type": "tool_result",
				"messages.2.content.0.tool_use_id": call.ID,
			})
			if !strings.Contains(gjson.Get(r.Body, "messages.2.content.0.content").Raw, "temp_c") {
				t.Errorf("tool_result lost its content: %s", r.Body)
			}
			if c := res2.Choices[0]; c.FinishReason != "stop" || c.Message.Content == "" || len(c.Message.ToolCalls) != 0 {
				t.Errorf("turn 2: finish_reason %q, content %q, %d tool calls", c.FinishReason, c.Message.Content, len(c.Message.ToolCalls))
			}
		})
	}

	for _, m := range modes[:2] {
		t.Run("reasoning_effort low "+m.name, func(t *testing.T) {
			p := params([]openai.ChatCompletionMessageParamUnion{openai.UserMessage("Think about it.")})
			p.MaxCompletionTokens = openai.Int(2048)
			p.ReasoningEffort = shared.ReasoningEffortLow
			res, _, reasoning := chat(t, p, m.stream, false)
			r := fake.take(t)
			checkJSON(t, r.Body, map[string]any{"thinking.type": "enabled", "thinking.budget_tokens": 1024, "max_tokens": 2048, "reasoning_effort": present(false)})
			if reasoning == "" || res.Choices[0].Message.Content == "" || res.Choices[0].FinishReason != "stop" {
				t.Errorf("reasoning_content %q, content %q, finish_reason %q", reasoning, res.Choices[0].Message.Content, res.Choices[0].FinishReason)
			}
		})
	}

	t.Run("no max_tokens gets the model's maximum output", func(t *testing.T) {
		p := openai.ChatCompletionNewParams{Model: "claude-sonnet-4-5", Messages: question}
		res, err := oc.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		r := fake.take(t)
		checkJSON(t, r.Body, map[string]any{"max_tokens": 64000})
		if len(res.Choices) != 1 || res.Choices[0].Message.Content == "" {
			t.Errorf("no answer: %+v", res.Choices)
		}
	})

	errCases := []struct {
		name, model string
		max         int64
		stream      bool
		status      int
		typ, msg    string
	}{
		{"unknown model", "unknown-model", 64, false, http.StatusNotFound, "not_found_error", "unknown-model"},
		{"unknown model streamed", "unknown-model", 64, true, http.StatusNotFound, "not_found_error", "unknown-model"},
	}
	for _, c := range errCases {
		t.Run("error "+c.name, func(t *testing.T) {
			p := openai.ChatCompletionNewParams{Model: c.model, Messages: question}
			if c.max > 0 {
				p.MaxCompletionTokens = openai.Int(c.max)
			}
			var err error
			if c.stream {
				s := oc.Chat.Completions.NewStreaming(ctx, p)
				for s.Next() {
				}
				err = s.Err()
			} else {
				_, err = oc.Chat.Completions.New(ctx, p)
			}
			fake.take(t)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %T %v, want *openai.Error", err, err)
			}
			if apiErr.StatusCode != c.status || apiErr.Type != c.typ || !strings.Contains(apiErr.Message, c.msg) {
				t.Errorf("status %d type %q message %q, want %d %s mentioning %q", apiErr.StatusCode, apiErr.Type, apiErr.Message, c.status, c.typ, c.msg)
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		for _, typ := range []string{"input", "output"} {
			v, m := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_provider_name="anthropic"`, `gen_ai_request_model="claude-sonnet-4-5"`, `gen_ai_token_type="`+typ+`"`)
			if v == "" || v == "0" {
				t.Errorf("no %s tokens for the Anthropic backend (got %q):\n%s", typ, v, m)
			}
		}
	})
}

// TestTranslateAnthropicToOpenAI drives an OpenAI backend with anthropic-sdk-go through the gateway.
func TestTranslateAnthropicToOpenAI(t *testing.T) {
	fake := newFakeProvider(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", fake.URL+"/v1", "OPENAI_API_KEY", "sk-oa-test")})
	ctx := context.Background()
	beta := aoption.WithHeader("anthropic-beta", "fine-grained-tool-streaming-2025-05-14")

	question := anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))
	params := func(msgs ...anthropic.MessageParam) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{
			Model:     "gpt-4o-mini",
			MaxTokens: 256,
			System:    []anthropic.TextBlockParam{{Text: "You are a weather bot."}},
			Messages:  msgs,
			Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
				Properties: weatherSchema["properties"], Required: []string{"city"},
			}, "get_weather")},
		}
	}
	send := func(t *testing.T, ac anthropic.Client, p anthropic.MessageNewParams, stream bool, opts ...aoption.RequestOption) anthropic.Message {
		t.Helper()
		opts = append(opts, beta)
		if !stream {
			msg, err := ac.Messages.New(ctx, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return *msg
		}
		s := ac.Messages.NewStreaming(ctx, p, opts...)
		msg := anthropic.Message{}
		for s.Next() {
			if err := msg.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	checkUpstream := func(t *testing.T, stream bool) upstreamRequest {
		t.Helper()
		r := fake.take(t)
		if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" {
			t.Errorf("provider got %s %s, want POST /v1/chat/completions", r.Method, r.Path)
		}
		checkHeaders(t, r.Header, map[string]string{"Authorization": "Bearer sk-oa-test", "X-Api-Key": "", "Anthropic-Version": "", "Anthropic-Beta": ""})
		checkJSON(t, r.Body, map[string]any{
			"model": "gpt-4o-mini", "messages.0.role": "system", "messages.0.content": "You are a weather bot.",
			"tools.0.type": "function", "tools.0.function.name": "get_weather",
			"tools.0.function.parameters.properties.city.type": "string",
			"stream": stream, "stream_options.include_usage": stream, "system": present(false),
		})
		if gjson.Get(r.Body, "max_tokens").Int() != 256 && gjson.Get(r.Body, "max_completion_tokens").Int() != 256 {
			t.Errorf("max_tokens 256 not carried: %s", r.Body)
		}
		return r
	}

	for _, base := range []string{g.Gateway, g.Gateway + "/anthropic"} {
		ac := anthropicClient(base)
		for _, stream := range []bool{false, true} {
			name := map[bool]string{false: "root", true: "anthropic prefix"}[base != g.Gateway] + map[bool]string{false: " non-streamed", true: " streamed"}[stream]
			t.Run(name, func(t *testing.T) {
				// Turn 1: the model calls the tool; the simulator reports 16 cached tokens.
				fake.cacheNext("16")
				msg := send(t, ac, params(question), stream)
				checkUpstream(t, stream)
				var use *anthropic.ContentBlockUnion
				for i := range msg.Content {
					if msg.Content[i].Type == "tool_use" {
						use = &msg.Content[i]
					}
				}
				if msg.StopReason != anthropic.StopReasonToolUse || use == nil {
					t.Fatalf("stop_reason %q, content %+v, want a tool_use block", msg.StopReason, msg.Content)
				}
				var input map[string]any
				if use.Name != "get_weather" || use.ID == "" || json.Unmarshal(use.Input, &input) != nil || input["city"] == nil {
					t.Errorf("bad tool_use id %q name %q input %s", use.ID, use.Name, use.Input)
				}
				if u := msg.Usage; u.InputTokens == 0 || u.OutputTokens == 0 || u.CacheReadInputTokens != 16 {
					t.Errorf("usage %+v, want input and output tokens and cache_read_input_tokens 16", u)
				}

				// Turn 2: the tool result goes back, with a follow-up text after it.
				result := anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, `{"temp_c":21}`, false), anthropic.NewTextBlock("Answer in one sentence."))
				msg2 := send(t, ac, params(question, msg.ToParam(), result), stream)
				r := checkUpstream(t, stream)
				checkJSON(t, r.Body, map[string]any{
					"messages.#": 5, "messages.1.role": "user",
					"messages.2.role": "assistant", "messages.2.tool_calls.0.id": use.ID,
					"messages.2.tool_calls.0.function.name": "get_weather",
					"messages.3.role":                       "tool", "messages.3.tool_call_id": use.ID,
					"messages.4.role": "user",
				})
				if !json.Valid([]byte(gjson.Get(r.Body, "messages.2.tool_calls.0.function.arguments").String())) ||
					!strings.Contains(gjson.Get(r.Body, "messages.3.content").Raw, "temp_c") ||
					!strings.Contains(gjson.Get(r.Body, "messages.4.content").Raw, "one sentence") {
					t.Errorf("tool turn not carried: %s", r.Body)
				}
				if msg2.StopReason != anthropic.StopReasonEndTurn || len(msg2.Content) == 0 || msg2.Content[0].Text == "" || msg2.Usage.OutputTokens == 0 {
					t.Errorf("turn 2: stop_reason %q, content %+v, usage %+v", msg2.StopReason, msg2.Content, msg2.Usage)
				}
			})
		}
	}

	for _, stream := range []bool{false, true} {
		t.Run("error unknown model"+map[bool]string{true: " streamed"}[stream], func(t *testing.T) {
			p := params(question)
			p.Model = "unknown-model"
			ac := anthropicClient(g.Gateway)
			var err error
			if stream {
				s := ac.Messages.NewStreaming(ctx, p)
				for s.Next() {
				}
				err = s.Err()
			} else {
				_, err = ac.Messages.New(ctx, p)
			}
			fake.take(t)
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %T %v, want *anthropic.Error", err, err)
			}
			if apiErr.StatusCode != http.StatusNotFound || apiErr.Type() != "not_found_error" || apiErr.Message == "" {
				t.Errorf("status %d type %q message %q, want 404 not_found_error: %s", apiErr.StatusCode, apiErr.Type(), apiErr.Message, apiErr.RawJSON())
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		for _, typ := range []string{"input", "output"} {
			v, m := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_provider_name="openai"`, `gen_ai_request_model="gpt-4o-mini"`, `gen_ai_token_type="`+typ+`"`)
			if v == "" || v == "0" {
				t.Errorf("no %s tokens for the OpenAI backend (got %q):\n%s", typ, v, m)
			}
		}
	})
}
