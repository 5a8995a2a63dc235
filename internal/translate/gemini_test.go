package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/aigw/aigw/internal/config"
)

var geminiSuite = goldenSuite{
	dir:      "gemini_openai",
	endpoint: EndpointChatCompletions,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "vertex", Schema: config.Schema{Name: config.SchemaGCPVertexAI}}
	},
	defaultReq: `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}]}`,
}

func TestGoldenOpenAIToGemini(t *testing.T) { geminiSuite.run(t) }

// genaiRequest is the generateContent body in google.golang.org/genai's types (the SDK builds
// this shape from its GenerateContentConfig); decoding into it with unknown fields refused
// checks every field name and type aigw writes.
type genaiRequest struct {
	Contents          []*genai.Content        `json:"contents"`
	SystemInstruction *genai.Content          `json:"systemInstruction,omitempty"`
	Tools             []*genai.Tool           `json:"tools,omitempty"`
	ToolConfig        *genai.ToolConfig       `json:"toolConfig,omitempty"`
	SafetySettings    []*genai.SafetySetting  `json:"safetySettings,omitempty"`
	GenerationConfig  *genai.GenerationConfig `json:"generationConfig,omitempty"`
	CachedContent     string                  `json:"cachedContent,omitempty"`
	Labels            map[string]string       `json:"labels,omitempty"`
}

// decodeGenAI decodes a request body strictly into genai's types.
func decodeGenAI(t *testing.T, body []byte) *genaiRequest {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	var r genaiRequest
	if err := d.Decode(&r); err != nil {
		t.Fatalf("the Gemini request does not decode strictly into genai types: %v\n%s", err, body)
	}
	return &r
}

// TestGeminiRequestsMatchGenAI runs every request fixture that translates and decodes the body
// strictly into genai's types, and checks what the types make of it.
func TestGeminiRequestsMatchGenAI(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", geminiSuite.dir, "req_*.in.json"))
	checked := 0
	for _, f := range files {
		body := readFile(t, f)
		tr, err := New(EndpointChatCompletions, Target{Backend: geminiSuite.backend(""), Model: modelOf(body)})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: body, Model: modelOf(body), Header: http.Header{}})
		if err != nil {
			continue // the error cases have their goldens
		}
		r := decodeGenAI(t, up.Body)
		checked++
		for _, c := range r.Contents {
			if c.Role != genai.RoleUser && c.Role != genai.RoleModel {
				t.Errorf("%s: role %q", f, c.Role)
			}
			for _, p := range c.Parts {
				if p.FunctionCall != nil && p.FunctionCall.Name == "" {
					t.Errorf("%s: a function call without name", f)
				}
			}
		}
		if strings.Contains(f, "tools_two_turns") {
			calls := r.Contents[1].Parts
			if string(calls[0].ThoughtSignature) != "sig-1" || calls[0].FunctionCall.Args["city"] != "Paris" {
				t.Errorf("the signed call went back as %+v", calls[0])
			}
			res := r.Contents[2].Parts
			if len(res) != 2 || res[0].FunctionResponse.Response["temp_c"] != float64(18) || res[1].FunctionResponse.Response["content"] != "sunny, 24C" {
				t.Errorf("the tool results went as one turn of %d parts: %+v", len(res), res)
			}
			if r.ToolConfig.FunctionCallingConfig.Mode != genai.FunctionCallingConfigModeAny || r.GenerationConfig.ThinkingConfig.ThinkingLevel != genai.ThinkingLevelLow {
				t.Errorf("tool config %+v, thinking %+v", r.ToolConfig.FunctionCallingConfig, r.GenerationConfig.ThinkingConfig)
			}
		}
		if strings.Contains(f, "media") {
			p := r.Contents[0].Parts
			if len(p) != 6 || p[1].InlineData.MIMEType != "image/png" || string(p[1].InlineData.Data) != "\x89PNG\r\n\x1a\n" || p[2].FileData.MIMEType != "image/webp" || p[4].FileData.FileURI != "gs://bucket/doc.pdf" {
				t.Errorf("media parts %+v", p)
			}
			if r.GenerationConfig.MediaResolution != genai.MediaResolutionLow {
				t.Errorf("media resolution %q", r.GenerationConfig.MediaResolution)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d request fixtures checked", checked)
	}
}

// TestGeminiStreamEveryBoundary feeds every Gemini stream fixture split in two at every byte
// boundary, and in one-byte chunks, and requires what the client gets whole.
func TestGeminiStreamEveryBoundary(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", geminiSuite.dir, "stream_*.in.sse"))
	if len(files) == 0 {
		t.Fatal("no stream fixtures")
	}
	for _, f := range files {
		name := strings.SplitN(filepath.Base(f), ".", 2)[0]
		stream := readFile(t, f)
		whole := feedStream(t, geminiSuite.prepared(t, name, "text/event-stream"), stream, nil)
		wholeUsage := geminiSuite.usageAfter(t, name, stream, nil)
		for i := 1; i < len(stream); i++ {
			tr := geminiSuite.prepared(t, name, "text/event-stream")
			got := feedStream(t, tr, stream, []int{i, len(stream)})
			if !bytes.Equal(got, whole) {
				t.Fatalf("%s split at %d:\n%s\nwant\n%s", name, i, got, whole)
			}
			if u := tr.Usage(); u != wholeUsage {
				t.Fatalf("%s split at %d: usage %+v, want %+v", name, i, u, wholeUsage)
			}
		}
		if got := feedStream(t, geminiSuite.prepared(t, name, "text/event-stream"), stream, []int{1}); !bytes.Equal(got, whole) {
			t.Fatalf("%s in bytes:\n%s", name, got)
		}
	}
}

func (s goldenSuite) usageAfter(t *testing.T, name string, stream []byte, sizes []int) Usage {
	tr := s.prepared(t, name, "text/event-stream")
	feedStream(t, tr, stream, sizes)
	return tr.Usage()
}

func TestGeminiUsage(t *testing.T) {
	tr := geminiSuite.prepared(t, "resp_text", "application/json")
	if _, err := tr.ResponseBody(readFile(t, filepath.Join("testdata", "gemini_openai", "resp_text.in.json")), true); err != nil {
		t.Fatal(err)
	}
	want := Usage{InputTokens: 120, CachedInputTokens: 100, OutputTokens: 38, ReasoningTokens: 30, TotalTokens: 158}
	if u := tr.Usage(); u != want {
		t.Errorf("usage %+v, want %+v", u, want)
	}
	if tr.ResponseModel() != "gemini-2.5-flash" {
		t.Errorf("model %q", tr.ResponseModel())
	}
}

func TestGeminiPath(t *testing.T) {
	for stream, want := range map[bool]string{
		false: "/publishers/google/models/gemini-2.5-flash:generateContent",
		true:  "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
	} {
		body := `{"model":"gemini-2.5-flash","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"x"}]}`
		tr, _ := New(EndpointChatCompletions, Target{Backend: geminiSuite.backend(""), Model: "gemini-2.5-flash"})
		up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(body), Model: "gemini-2.5-flash", Stream: stream})
		if err != nil || up.Path != want {
			t.Errorf("stream=%v: %v %q", stream, err, up.Path)
		}
	}
	tr, _ := New(EndpointChatCompletions, Target{Backend: geminiSuite.backend(""), Model: "../x?y"})
	up, _ := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(`{"model":"../x?y","messages":[{"role":"user","content":"x"}]}`)})
	if strings.Count(up.Path, "/") != 4 || strings.Contains(up.Path, "?y") {
		t.Errorf("a model id left its path segment: %s", up.Path)
	}
}

// clockCreated is a chunk's "created" second, which the translator takes from the clock when
// the backend sends no createTime.
var clockCreated = regexp.MustCompile(`"created":[0-9]+`)

// FuzzGeminiStream feeds arbitrary bytes, split anywhere, as a Gemini stream: the translator
// must not panic, must give the same bytes however the input is split, and must end every
// stream either with [DONE] or with an error object.
func FuzzGeminiStream(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "gemini_openai", "stream_*.in.sse"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(7))
	}
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"x\",\"args\":null}}]},\"finishReason\":\"STOP\"}]}\n\n"), uint16(3))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		run := func(sizes []int) []byte {
			tr, err := New(EndpointChatCompletions, Target{Backend: geminiSuite.backend(""), Model: "gemini-2.5-flash"})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"model":"gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`)
			if _, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: body, Model: "gemini-2.5-flash", Stream: true}); err != nil {
				t.Fatal(err)
			}
			if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
				t.Fatal(err)
			}
			if len(stream) == 0 {
				out, _ := tr.ResponseBody(nil, true)
				return out
			}
			return feedStream(t, tr, stream, sizes)
		}
		whole := run(nil)
		if n := int(split)%(len(stream)+1) + 1; n < len(stream) {
			// Without a createTime, "created" is the clock's: two runs may straddle a second.
			if got := run([]int{n}); !bytes.Equal(clockCreated.ReplaceAll(got, nil), clockCreated.ReplaceAll(whole, nil)) {
				t.Fatalf("split %d differs:\n%q\n%q", n, got, whole)
			}
		}
		if !bytes.HasSuffix(whole, []byte("data: [DONE]\n\n")) && !bytes.Contains(whole, []byte(`{"error":`)) {
			t.Fatalf("the stream ended with neither [DONE] nor an error:\n%q", whole)
		}
	})
}

// BenchmarkGeminiChat measures one whole chat completion through the Gemini translator: the
// request converted, a streamed answer converted event by event.
func BenchmarkGeminiChat(b *testing.B) {
	req := []byte(`{"model":"gemini-2.5-pro","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"reasoning_effort":"low"}`)
	stream, err := os.ReadFile(filepath.Join("testdata", "gemini_openai", "stream_text.in.sse"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tr, _ := New(EndpointChatCompletions, Target{Backend: geminiSuite.backend(""), Model: "gemini-2.5-pro"})
		if _, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: req, Model: "gemini-2.5-pro", Stream: true}); err != nil {
			b.Fatal(err)
		}
		_ = tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}})
		if _, err := tr.ResponseBody(stream, true); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGeminiTextSignatureThroughResponses: a text part's thought signature reaches a Responses
// client as a reasoning item's encrypted_content, and that item sent back puts the signature on
// the text of the assistant turn.
func TestGeminiTextSignatureThroughResponses(t *testing.T) {
	tr, err := New(EndpointResponses, Target{Backend: geminiSuite.backend(""), Model: "gemini-3-pro-preview"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"gemini-3-pro-preview","input":[{"role":"user","content":"Hi"},` +
		`{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"aigw.anthropic.signature.aigw.gemini.text.c2lnLTc="},` +
		`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello"}]},{"role":"user","content":"Again"}]}`
	up, err := tr.RequestBody(&Request{Endpoint: EndpointResponses, Body: []byte(body), Model: "gemini-3-pro-preview", Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	r := decodeGenAI(t, up.Body)
	if p := r.Contents[1].Parts; len(p) != 1 || p[0].Text != "Hello" || string(p[0].ThoughtSignature) != "sig-7" || p[0].Thought {
		t.Errorf("assistant turn %+v", r.Contents[1])
	}
	if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"application/json"}}); err != nil {
		t.Fatal(err)
	}
	out, err := tr.ResponseBody([]byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi again","thoughtSignature":"c2lnLTg="}]},"finishReason":"STOP"}],"responseId":"g3"}`), true)
	if err != nil || !bytes.Contains(out, []byte(`"encrypted_content":"aigw.anthropic.signature.aigw.gemini.text.c2lnLTg="`)) {
		t.Errorf("%v %s", err, out)
	}
}
