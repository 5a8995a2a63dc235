package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
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
		msg := geminiAnswer(t, tr, parts, stream)
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

// FuzzAnthropicToGeminiStream feeds Gemini streams (seeded with every Gemini stream fixture) to
// the Messages → Gemini chain in pieces, and holds what the client gets to Anthropic's event
// protocol: message_start first; blocks started in index order; deltas only to an open block of
// their kind (text_delta to text, thinking_delta and at most one signature_delta to thinking,
// input_json_delta to tool_use); every block stopped once; message_stop last, or an error event.
func FuzzAnthropicToGeminiStream(f *testing.F) {
	for _, dir := range []string{anthropicToGeminiSuite.dir, geminiSuite.dir} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "stream_*.in.sse"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, uint8(7))
		}
	}
	s := anthropicToGeminiSuite
	body := `{"model":"gemini-3-pro-preview","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hi"}],` +
		`"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"thinking":{"type":"enabled","budget_tokens":2048}}`
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		tr := s.translatorFor(t, "fuzz", []byte(body))
		if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: []byte(body), Model: "gemini-3-pro-preview", Stream: true, Header: http.Header{}}); err != nil {
			t.Fatal(err)
		}
		if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
			t.Fatal(err)
		}
		out := feedStream(t, tr, in, []int{int(cut%64) + 1})
		if len(in) == 0 { // feedStream sends nothing then; the body still ends
			b, err := tr.ResponseBody(nil, true)
			if err != nil {
				t.Fatal(err)
			}
			out = b
		}
		checkAnthropicEvents(t, out)
	})
}

// checkAnthropicEvents holds a Messages stream to Anthropic's event protocol (see
// FuzzAnthropicToGeminiStream).
func checkAnthropicEvents(t *testing.T, out []byte) {
	t.Helper()
	type block struct {
		kind       string
		open       bool
		signatures int
	}
	var blocks []block
	var types []string
	for _, ev := range bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n")) {
		_, data, ok := bytes.Cut(ev, []byte("data: "))
		if !ok {
			t.Fatalf("an event without data: %q", ev)
		}
		var e struct {
			Type         string `json:"type"`
			Index        int    `json:"index"`
			ContentBlock struct {
				Type string `json:"type"`
			} `json:"content_block"`
			Delta struct {
				Type string `json:"type"`
			} `json:"delta"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if len(types) > 0 && (types[len(types)-1] == "message_stop" || types[len(types)-1] == "error") {
			t.Fatalf("%s after the end of the stream:\n%s", e.Type, out)
		}
		types = append(types, e.Type)
		switch {
		case len(types) == 1 && e.Type != "message_start" && e.Type != "error":
			t.Fatalf("the stream starts with %s", e.Type)
		case e.Type == "content_block_start":
			if e.Index != len(blocks) {
				t.Fatalf("block %d started after %d blocks:\n%s", e.Index, len(blocks), out)
			}
			blocks = append(blocks, block{kind: e.ContentBlock.Type, open: true})
		case e.Type == "content_block_delta" || e.Type == "content_block_stop":
			if e.Index < 0 || e.Index >= len(blocks) || !blocks[e.Index].open {
				t.Fatalf("%s for block %d, which is not open:\n%s", e.Type, e.Index, out)
			}
			b := &blocks[e.Index]
			if e.Type == "content_block_stop" {
				b.open = false
				continue
			}
			want := map[string]string{"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "thinking", "input_json_delta": "tool_use"}[e.Delta.Type]
			if want != b.kind || b.signatures > 0 {
				t.Fatalf("%s to a %s block (signed %d times):\n%s", e.Delta.Type, b.kind, b.signatures, out)
			}
			if e.Delta.Type == "signature_delta" {
				b.signatures++
			}
		}
	}
	if last := types[len(types)-1]; last != "message_stop" && last != "error" {
		t.Fatalf("the stream ends with %s", last)
	}
	if types[len(types)-1] == "message_stop" {
		for i, b := range blocks {
			if b.open {
				t.Fatalf("block %d never stopped:\n%s", i, out)
			}
		}
	}
}

// TestAnthropicToGeminiWholeMatchesStream answers every sequence of Gemini parts in the order
// Gemini sends them (thoughts, unsigned or signed; text, its last part signed or not, and a lone
// signature after it; calls, signed or not) whole and streamed one part an event, and requires
// the same message from both as the Anthropic SDK reads them, and a stream that keeps to
// Anthropic's event protocol.
func TestAnthropicToGeminiWholeMatchesStream(t *testing.T) {
	seqs := func(n int) []string { // every string of at most n letters u and s
		out := []string{""}
		for prev := []string{""}; n > 0; n-- {
			var next []string
			for _, p := range prev {
				next = append(next, p+"u", p+"s")
			}
			out, prev = append(out, next...), next
		}
		return out
	}
	sig := func(n int) string {
		return `"thoughtSignature":"` + base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "sig-%d", n)) + `"`
	}
	cases := 0
	for _, thoughts := range seqs(3) {
		for plain := range 3 {
			for _, last := range []string{"", "S", "L", "SL"} {
				for _, calls := range seqs(2) {
					var parts []string
					for i, k := range thoughts {
						p := fmt.Sprintf(`{"text":"thought %d. ","thought":true`, i)
						if k == 's' {
							p += "," + sig(len(parts))
						}
						parts = append(parts, p+"}")
					}
					for i := range plain {
						parts = append(parts, fmt.Sprintf(`{"text":"text %d. "}`, i))
					}
					for _, k := range last {
						text := "last."
						if k == 'L' {
							text = ""
						}
						parts = append(parts, fmt.Sprintf(`{"text":%q,%s}`, text, sig(len(parts))))
					}
					for i, k := range calls {
						p := fmt.Sprintf(`{"functionCall":{"name":"f%d","args":{"n":%d}}`, i, i)
						if k == 's' {
							p += "," + sig(len(parts))
						}
						parts = append(parts, p+"}")
					}
					if len(parts) == 0 {
						continue
					}
					cases++
					name := fmt.Sprintf("thoughts=%q text=%d last=%q calls=%q", thoughts, plain, last, calls)
					whole, streamed := anthropicFromGemini(t, parts, false), anthropicFromGemini(t, parts, true)
					if whole != streamed {
						t.Fatalf("%s:\nwhole    %s\nstreamed %s", name, whole, streamed)
					}
				}
			}
		}
	}
	t.Logf("%d part sequences", cases)
}

// anthropicFromGemini is the message a Messages client gets for Gemini's parts, whole or
// streamed one part an event, as the Anthropic SDK reads it: its content as JSON.
func anthropicFromGemini(t *testing.T, parts []string, stream bool) string {
	t.Helper()
	const model = "gemini-3-pro-preview"
	body := `{"model":"` + model + `","max_tokens":100,"stream":` + fmt.Sprint(stream) + `,"messages":[{"role":"user","content":"Hi"}]}`
	tr, err := New(EndpointMessages, Target{Backend: anthropicToGeminiSuite.backend(""), Model: model})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.RequestBody(&Request{Endpoint: EndpointMessages, Body: []byte(body), Model: model, Stream: stream, Header: http.Header{}}); err != nil {
		t.Fatal(err)
	}
	msg := geminiAnswer(t, tr, parts, stream)
	type block struct {
		Type, Text, Thinking, Signature, ID, Name string
		Input                                     json.RawMessage
	}
	var blocks []block
	for _, b := range msg.Content {
		blocks = append(blocks, block{b.Type, b.Text, b.Thinking, b.Signature, b.ID, b.Name, b.Input})
	}
	return mustJSON(t, map[string]any{"content": blocks, "stop": msg.StopReason})
}

// geminiAnswer feeds parts to tr as Gemini's answer (one response whole, or one SSE event per
// part streamed) and returns the Anthropic message the SDK reads from what tr wrote; a stream is
// held to Anthropic's event protocol.
func geminiAnswer(t *testing.T, tr Translator, parts []string, stream bool) anthropic.Message {
	t.Helper()
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
		checkAnthropicEvents(t, out)
		for _, ev := range bytes.Split(out, []byte("\n\n")) {
			if _, data, ok := bytes.Cut(ev, []byte("data: ")); ok {
				var e anthropic.MessageStreamEventUnion
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatal(err)
				}
				if err := msg.Accumulate(e); err != nil {
					t.Fatalf("the SDK refused %s: %v", data, err)
				}
			}
		}
	}
	return msg
}
