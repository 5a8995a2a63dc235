package run

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/observe"
)

// toolCallStream streams a chat answer that calls a tool, with usage.
func toolCallStream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":"tool_calls"}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":9,"total_tokens":49}}`,
			`[DONE]`,
		} {
			_, _ = io.WriteString(w, "data: "+d+"\n\n")
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// endEventOf sends one streamed chat request through a gateway started with opts and returns
// the end event the admin event stream carries for it.
func endEventOf(t *testing.T, opts Options) *observe.Event {
	t.Helper()
	g := startGateway(t, opts)
	resp, err := http.Get(g.Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := make(chan *observe.Event, 64)
	go sseEvents(resp.Body, evs)
	_, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[`+
		`{"role":"system","content":"Be terse."},{"role":"user","content":"Weather in Paris?"}],`+
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`)
	if !strings.Contains(body, "[DONE]") {
		t.Fatalf("the stream did not complete: %s", body)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-evs:
			if ev != nil && ev.Kind == observe.KindEnd {
				return ev
			}
		case <-timeout:
			t.Fatal("no end event")
		}
	}
}

// TestContentCapture: with --capture-content the end event carries the request's messages and
// the streamed tool call, reassembled; without it, none; the OpenInference hiding variables
// apply as they do to traces.
func TestContentCapture(t *testing.T) {
	up := toolCallStream(t)
	base := []string{"OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL + "/v1"}

	if ev := endEventOf(t, Options{Getenv: env(base...)}); ev.Content != nil {
		t.Errorf("content without --capture-content: %+v", ev.Content)
	}

	ev := endEventOf(t, Options{Getenv: env(base...), CaptureContent: true})
	c := ev.Content
	if c == nil {
		t.Fatal("no content with --capture-content")
	}
	if len(c.Input) != 2 || c.Input[0].Role != "system" || c.Input[0].Text != "Be terse." || c.Input[1].Text != "Weather in Paris?" {
		t.Errorf("input messages: %+v", c.Input)
	}
	if len(c.Output) != 1 || len(c.Output[0].ToolCalls) != 1 {
		t.Fatalf("output messages: %+v", c.Output)
	}
	if tc := c.Output[0].ToolCalls[0]; tc.ID != "call_7" || tc.Name != "get_weather" || tc.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool call: %+v", tc)
	}
	if strings.Contains(ev.End.Error, "sk-test") {
		t.Error("the key reached the event")
	}

	// Traced too: the content comes from the answer the span keeps (not assembled twice), the same.
	_, endpoint := newHTTPReceiver(t)
	traced := endEventOf(t, Options{Getenv: env(append(base, "OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none")...), CaptureContent: true})
	if tc := traced.Content; tc == nil || len(tc.Output) != 1 || len(tc.Output[0].ToolCalls) != 1 || tc.Output[0].ToolCalls[0].Arguments != `{"city":"Paris"}` || len(tc.Input) != 2 {
		t.Errorf("content with tracing on: %+v", tc)
	}

	hidden := endEventOf(t, Options{Getenv: env(append(base, "OPENINFERENCE_HIDE_INPUT_MESSAGES", "true")...), CaptureContent: true})
	if hc := hidden.Content; hc == nil || len(hc.Output) != 1 {
		t.Fatalf("content with input messages hidden: %+v", hc)
	}
	if hc := hidden.Content; len(hc.Input) > 0 || strings.Contains(hc.InputValue, "Paris") {
		t.Errorf("hidden input messages reached the event: %+v %q", hc.Input, hc.InputValue)
	}
}
