package run

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestErrorsThroughSDKs drives every gateway error case with the official SDKs (retries off)
// through a running aigw, and requires each SDK to surface the right status and error shape.
func TestErrorsThroughSDKs(t *testing.T) {
	ctx := context.Background()
	chat := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	}
	openAIStatus := func(t *testing.T, err error, want int, mentions string) {
		t.Helper()
		var e *openai.Error
		if !errors.As(err, &e) {
			t.Fatalf("got %v, want an *openai.Error", err)
		}
		if e.StatusCode != want || !strings.Contains(e.Message, mentions) {
			t.Fatalf("status %d message %q, want %d mentioning %q", e.StatusCode, e.Message, want, mentions)
		}
	}

	demo := startGateway(t, Options{Demo: true, MaxRequestBodyBytes: 4 << 10})
	oc := openAIClient(demo)
	t.Run("missing model is 400", func(t *testing.T) {
		_, err := oc.Chat.Completions.New(ctx, chat(""))
		openAIStatus(t, err, 400, "model")
	})
	t.Run("provider 404 passes through", func(t *testing.T) {
		_, err := oc.Chat.Completions.New(ctx, chat("unknown-model"))
		openAIStatus(t, err, 404, "unknown-model")
	})
	t.Run("too large is 413", func(t *testing.T) {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(strings.Repeat("x", 8<<10))}})
		openAIStatus(t, err, 413, "limit")
	})
	t.Run("unknown path is 404", func(t *testing.T) {
		err := oc.Post(ctx, "/nope", map[string]string{}, nil)
		openAIStatus(t, err, 404, "/v1/nope")
	})
	t.Run("anthropic shape", func(t *testing.T) {
		ac := anthropicClient(demo.Gateway)
		_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "", MaxTokens: 5, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		var e *anthropic.Error
		if !errors.As(err, &e) || e.StatusCode != 400 || e.Type() != "invalid_request_error" {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("unreachable provider is 502", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", "http://"+dead+"/v1")})
		c := openAIClient(g)
		_, err := c.Chat.Completions.New(ctx, chat("gpt-4o"))
		openAIStatus(t, err, 502, "unreachable")
	})

	t.Run("slow provider is 504", func(t *testing.T) {
		cancelled := make(chan bool, 1)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // so the server notices the connection closing
			select {
			case <-r.Context().Done():
				cancelled <- true
			case <-time.After(3 * time.Second):
				cancelled <- false
			}
		}))
		defer slow.Close()
		u := strings.TrimPrefix(slow.URL, "http://127.0.0.1:")
		path := tempConfig(t, crdConfig(map[string]string{"slow": u}, `
    - backendRefs: [{name: slow}]
      timeouts: {request: 300ms}
`))
		g := startGateway(t, Options{ConfigPath: path})
		start := time.Now()
		c := openAIClient(g)
		_, err := c.Chat.Completions.New(ctx, chat("gpt-4o"), option.WithRequestTimeout(5*time.Second))
		openAIStatus(t, err, 504, "timed out")
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("504 after %s", took)
		}
		if !<-cancelled {
			t.Error("the provider's request was left running after the timeout")
		}
	})

	t.Run("streamed provider error keeps its status", func(t *testing.T) {
		s := oc.Chat.Completions.NewStreaming(ctx, chat("unknown-model"))
		for s.Next() {
		}
		openAIStatus(t, s.Err(), 404, "unknown-model")
	})
}
