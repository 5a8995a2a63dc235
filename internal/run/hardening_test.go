package run

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"

	"github.com/aigw/aigw/internal/proxy"
)

// TestStreamFailureThroughSDKs: a provider that dies mid-stream must make the official SDKs
// report an error (not a short but successful answer), and the access log must record a failed
// request.
func TestStreamFailureThroughSDKs(t *testing.T) {
	die := func(first string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, first)
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		}
	}
	oa := httptest.NewServer(die(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}` + "\n\n"))
	defer oa.Close()
	an := httptest.NewServer(die("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"))
	defer an.Close()
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", oa.URL+"/v1", "OPENAI_API_KEY", "sk-test",
		"ANTHROPIC_BASE_URL", an.URL, "ANTHROPIC_API_KEY", "sk-ant-test")})
	ctx := context.Background()

	t.Run("openai-go", func(t *testing.T) {
		oc := openAIClient(g)
		s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		var text strings.Builder
		for s.Next() {
			if c := s.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		if s.Err() == nil {
			t.Fatalf("the SDK saw a complete stream (%q)", text.String())
		}
		if text.String() != "Hel" {
			t.Errorf("text before the failure %q", text.String())
		}
	})
	for _, model := range []string{"claude-sonnet-4-5", "gpt-4o"} { // passthrough, and translated from OpenAI
		t.Run("anthropic-sdk-go "+model, func(t *testing.T) {
			ac := anthropicClient(g.Gateway)
			s := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model: anthropic.Model(model), MaxTokens: 10,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
			})
			events := 0
			for s.Next() {
				events++
			}
			if s.Err() == nil {
				t.Fatalf("the SDK saw a complete stream after %d events", events)
			}
		})
	}

	// Every one of the three requests is in the access log as a failure.
	deadline := time.Now().Add(3 * time.Second)
	for {
		failed := 0
		b, _ := os.ReadFile(g.LogFile)
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Status   int    `json:"status"`
				Error    string `json:"error"`
				Endpoint string `json:"endpoint"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Endpoint != "" && ev.Status >= 500 && strings.Contains(ev.Error, "broke off") {
				failed++
			}
		}
		if failed >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failed streams in the access log, want 3:\n%s", failed, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAdminReachableUnderFlood: hundreds of connections whose bodies never finish neither take
// the admin server down nor hold their descriptors past the body timeout.
func TestAdminReachableUnderFlood(t *testing.T) {
	g := startGateway(t, Options{Demo: true, Limits: proxy.Limits{RequestBodyTimeout: 500 * time.Millisecond, MaxConnections: 64}})
	addr := strings.TrimPrefix(g.Gateway, "http://")
	const n = 300
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"m\r\n")
	}
	// While they stall, the admin server answers at once.
	client := &http.Client{Timeout: time.Second}
	for i := 0; i < 5; i++ {
		resp, err := client.Get(g.Admin + "/health")
		if err != nil {
			t.Fatalf("admin server unreachable under the flood: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/health %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every stalled connection gets its 408 and is closed within a few body timeouts.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("connection %d: status %d", i, resp.StatusCode)
		}
	}
	// And the gateway serves again.
	resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("after the flood: %d %s", resp.StatusCode, body)
	}
}
