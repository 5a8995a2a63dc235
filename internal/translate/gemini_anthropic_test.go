package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
)

// TestAnthropicToGeminiRequestsMatchGenAI decodes every Messages → Gemini request fixture that
// translates strictly into genai's types, and checks where the signatures went.
func TestAnthropicToGeminiRequestsMatchGenAI(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", anthropicToGeminiSuite.dir, "req_*.in.json"))
	checked := 0
	for _, f := range files {
		body := readFile(t, f)
		up, err := anthropicToGeminiSuite.translatorFor(t, f, body).RequestBody(&Request{Endpoint: EndpointMessages, Body: body, Model: modelOf(body), Header: http.Header{}})
		if err != nil {
			continue // the error cases have their goldens
		}
		r := decodeGenAI(t, up.Body)
		checked++
		if strings.Contains(f, "thinking_two_turns") {
			p := r.Contents[1].Parts
			if len(p) != 3 || !p[0].Thought || p[0].Text != "I should call the tool." || string(p[0].ThoughtSignature) != "sig-thought" ||
				p[1].Thought || p[1].Text != "Let me check." || string(p[1].ThoughtSignature) != "sig-text" ||
				p[2].FunctionCall == nil || string(p[2].ThoughtSignature) != "sig-call" {
				t.Errorf("%s: model turn %s", f, mustJSON(t, r.Contents[1]))
			}
			if b := r.GenerationConfig.ThinkingConfig.ThinkingBudget; b == nil || *b != 24576 {
				t.Errorf("%s: thinking %+v", f, r.GenerationConfig.ThinkingConfig)
			}
			if bytes.Contains(up.Body, []byte("cache_control")) || bytes.Contains(up.Body, []byte("ephemeral")) {
				t.Errorf("%s: cache_control reached Gemini: %s", f, up.Body)
			}
		}
	}
	if checked < 3 {
		t.Errorf("only %d request fixtures checked", checked)
	}
}

// TestAnthropicToGeminiStreamEveryBoundary feeds every stream fixture split in two at every byte
// boundary, and in one-byte chunks, and requires what the client gets whole.
func TestAnthropicToGeminiStreamEveryBoundary(t *testing.T) {
	s := anthropicToGeminiSuite
	files, _ := filepath.Glob(filepath.Join("testdata", s.dir, "stream_*.in.sse"))
	if len(files) == 0 {
		t.Fatal("no stream fixtures")
	}
	for _, f := range files {
		name := strings.SplitN(filepath.Base(f), ".", 2)[0]
		stream := readFile(t, f)
		whole := feedStream(t, s.prepared(t, name, "text/event-stream"), stream, nil)
		for i := 1; i < len(stream); i++ {
			if got := feedStream(t, s.prepared(t, name, "text/event-stream"), stream, []int{i, len(stream)}); !bytes.Equal(got, whole) {
				t.Fatalf("%s split at %d:\n%s\nwant\n%s", name, i, got, whole)
			}
		}
		if got := feedStream(t, s.prepared(t, name, "text/event-stream"), stream, []int{1}); !bytes.Equal(got, whole) {
			t.Fatalf("%s in bytes:\n%s", name, got)
		}
	}
}

// TestAnthropicToGeminiSignatureRoundTrip takes a Gemini 3 answer with a signed thought, an
// unsigned one, signed text and a signed call, whole and streamed, as the Anthropic SDK reads it,
// sends the SDK's own param of that message back on the next turn, and requires each signature
// on the part Gemini gave it.
func TestAnthropicToGeminiSignatureRoundTrip(t *testing.T) {
	parts := []string{
		`{"text":"Plan: ","thought":true}`,
		`{"text":"call the tool.","thought":true,"thoughtSignature":"c2lnLXRob3VnaHQ="}`,
		`{"text":"Checking "}`,
		`{"text":"now.","thoughtSignature":"c2lnLXRleHQ="}`,
		`{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLWNhbGw="}`,
	}
	const model = "gemini-3-pro-preview"
	first := `{"model":"` + model + `","max_tokens":1024,"messages":[{"role":"user","content":"Weather?"}],` +
		`"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"thinking":{"type":"enabled","budget_tokens":4096}}`
	for _, stream := range []bool{false, true} {
		tr, err := New(EndpointMessages, Target{Backend: anthropicToGeminiSuite.backend(""), Model: model})
		if err != nil {
			t.Fatal(err)
		}
		body := first
		if stream {
			body = strings.Replace(body, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
		}
		if _, err := tr.RequestBody(&Request{Endpoint: EndpointMessages, Body: []byte(body), Model: model, Stream: stream, Header: http.Header{}}); err != nil {
			t.Fatal(err)
		}
		var msg anthropic.Message
		if !stream {
			if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"application/json"}}); err != nil {
				t.Fatal(err)
			}
			out, err := tr.ResponseBody([]byte(`{"candidates":[{"content":{"role":"model","parts":[`+strings.Join(parts, ",")+`]},"finishReason":"STOP"}],"responseId":"r1"}`), true)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &msg); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
				t.Fatal(err)
			}
			var sse []byte
			for i, p := range parts {
				finish := ""
				if i == len(parts)-1 {
					finish = `,"finishReason":"STOP"`
				}
				sse = append(sse, `data: {"candidates":[{"content":{"role":"model","parts":[`+p+`]}`+finish+`}],"responseId":"r1"}`+"\n\n"...)
			}
			out := feedStream(t, tr, sse, nil)
			for _, ev := range bytes.Split(out, []byte("\n\n")) {
				_, data, ok := bytes.Cut(ev, []byte("data: "))
				if !ok {
					continue
				}
				var e anthropic.MessageStreamEventUnion
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatal(err)
				}
				if err := msg.Accumulate(e); err != nil {
					t.Fatalf("the SDK refused %s: %v", data, err)
				}
			}
		}
		var kinds []string
		for _, b := range msg.Content {
			kinds = append(kinds, b.Type+":"+b.Signature)
		}
		want := "thinking: thinking:sig-thought text: thinking:aigw.gemini.text.sig-text tool_use:"
		if got := strings.ReplaceAll(strings.Join(kinds, " "), "c2lnLXRob3VnaHQ=", "sig-thought"); strings.ReplaceAll(got, "c2lnLXRleHQ=", "sig-text") != want {
			t.Fatalf("stream %v: blocks %s", stream, strings.Join(kinds, " "))
		}
		if msg.Content[1].Thinking != "call the tool." || msg.Content[2].Text != "Checking now." {
			t.Errorf("stream %v: %s", stream, mustJSON(t, msg.Content))
		}

		next := anthropic.MessageNewParams{
			Model: model, MaxTokens: 1024,
			Messages: []anthropic.MessageParam{
				anthropic.NewUserMessage(anthropic.NewTextBlock("Weather?")),
				msg.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[4].ID, "18C", false)),
			},
			Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{}}}},
		}
		nb, err := json.Marshal(next)
		if err != nil {
			t.Fatal(err)
		}
		tr2, err := New(EndpointMessages, Target{Backend: anthropicToGeminiSuite.backend(""), Model: model})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr2.RequestBody(&Request{Endpoint: EndpointMessages, Body: nb, Model: model, Header: http.Header{}})
		if err != nil {
			t.Fatal(err)
		}
		r := decodeGenAI(t, up.Body)
		p := r.Contents[1].Parts
		if len(p) != 3 || !p[0].Thought || p[0].Text != "call the tool." || string(p[0].ThoughtSignature) != "sig-thought" ||
			p[1].Thought || p[1].Text != "Checking now." || string(p[1].ThoughtSignature) != "sig-text" ||
			p[2].FunctionCall == nil || p[2].FunctionCall.Name != "get_weather" || string(p[2].ThoughtSignature) != "sig-call" {
			t.Errorf("stream %v: model turn sent back %s", stream, mustJSON(t, r.Contents[1]))
		}
		if res := r.Contents[2].Parts; len(res) != 1 || res[0].FunctionResponse == nil || res[0].FunctionResponse.Name != "get_weather" {
			t.Errorf("stream %v: tool result %s", stream, mustJSON(t, r.Contents[2]))
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
